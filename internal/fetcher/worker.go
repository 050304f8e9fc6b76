package fetcher

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// workerKey is Kafka's BrokerIdAndFetcherId.
type workerKey struct {
	broker    int32
	fetcherID int
}

func (k workerKey) String() string { return fmt.Sprintf("broker-%d-fetcher-%d", k.broker, k.fetcherID) }

// worker is one fetcher thread (AbstractFetcherThread's doWork loop): one
// goroutine that owns an engine, i.e. the fetch state of the partitions
// led by one source broker (for one fetcher id), and talks to that broker
// through a LeaderEndpoint.
//
// Ownership: the goroutine is the only one that reads or writes the
// engine, the partitions' fetchStates and their Targets. Everything else
// reaches it through commands (add, remove, pause, resume, leader epoch,
// stop) that it applies between network calls; the poster waits until
// the command is applied, so after "remove" returns nobody touches the
// partition's Target any more. A command posted while a request is in
// flight cancels that request (the response, a read, is simply dropped),
// so commands wait at most for the local work of the current round.
//
// Lock: worker.mu guards inbox and inflight only; it is a leaf lock (see
// docs/mirroring.md). The worker never takes the Fetcher's locks.
type worker struct {
	key workerKey
	f   *Fetcher // configuration, clock, stats, metadata wake-up (no locks)
	ep  LeaderEndpoint
	eng *engine
	// sizer adapts the fetch size of each partition (sizing.go); owned
	// by the goroutine.
	sizer *fetchSizer
	// parts maps to the registry objects whose status the worker
	// publishes; owned by the goroutine.
	parts map[TopicPartition]*partition
	// rtt is the shortest round trip seen since the last capabilities
	// probe: the probe (an ApiVersions, answered at once; on a new
	// connection it also carries the connection's set-up) and then every
	// LinkFetch answer (at least a round trip; one that found data
	// waiting and no request before it is one). The pipelined mode's
	// linger follows it. pipe is the LinkFetch session while the worker
	// runs pipelined (pipeline.go), else nil. Both owned by the
	// goroutine.
	rtt  time.Duration
	pipe *pipeline

	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{}
	done   chan struct{}

	mu       sync.Mutex
	inbox    []*command
	inflight context.CancelFunc
}

type cmdOp uint8

const (
	cmdAdd cmdOp = iota
	cmdRemove
	cmdPause
	cmdResume
	cmdLeader
	cmdStop
	cmdCall // run call on the worker goroutine (effect acknowledgements)
)

type command struct {
	op      cmdOp
	p       *partition
	leader  int32
	epoch   int32
	topicID [16]byte
	call    func(*worker)
	done    chan struct{}
}

func newWorker(f *Fetcher, key workerKey) *worker {
	ctx, cancel := context.WithCancel(f.ctx)
	w := &worker{
		key: key, f: f, ep: f.endpoint(key),
		eng:   f.newEngine(key),
		sizer: newFetchSizer(f.cfg.PartitionMaxBytes, f.cfg.FetchMaxBytes),
		parts: make(map[TopicPartition]*partition),
		ctx:   ctx, cancel: cancel,
		wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
	return w
}

// post queues a command and waits until it is applied (or the worker has
// exited, which only Fetcher.Close causes: then ErrClosed).
func (w *worker) post(c *command) error {
	c.done = make(chan struct{})
	w.mu.Lock()
	w.inbox = append(w.inbox, c)
	if w.inflight != nil {
		w.inflight()
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	select {
	case <-c.done:
		return nil
	case <-w.done:
		// The worker may have applied it just before exiting.
		select {
		case <-c.done:
			return nil
		default:
			return ErrClosed
		}
	}
}

func (w *worker) run() {
	defer close(w.done)
	defer w.cancel()
	if wm, ok := w.ep.(warmer); ok {
		go wm.warm(w.ctx)
	}
	for {
		if !w.applyCommands() || w.ctx.Err() != nil {
			return
		}
		if len(w.parts) == 0 {
			w.idle(time.Time{})
			continue
		}
		if !w.eng.capsKnown {
			w.probe()
			continue
		}
		if ep, ok := w.ep.(PipelinedEndpoint); ok && w.eng.caps.Pipelined {
			if !w.pipelined(ep) {
				return
			}
			continue
		}
		w.round()
	}
}

// applyCommands applies queued commands; false means stop.
func (w *worker) applyCommands() bool {
	w.mu.Lock()
	cmds := w.inbox
	w.inbox = nil
	w.mu.Unlock()
	keep := true
	for _, c := range cmds {
		switch c.op {
		case cmdAdd:
			w.parts[c.p.tp] = c.p
			w.eng.add(c.p.st)
		case cmdRemove:
			w.eng.remove(c.p.tp)
			w.sizer.forget(c.p.tp)
			delete(w.parts, c.p.tp)
		case cmdPause:
			c.p.st.setPaused(true)
		case cmdResume:
			c.p.st.setPaused(false)
		case cmdLeader:
			w.eng.setLeaderEpoch(c.p.tp, c.leader, c.epoch, c.topicID)
		case cmdStop:
			keep = false
		case cmdCall:
			c.call(w)
		}
		if c.p != nil && w.pipe != nil {
			// Whatever the command changed, the partition's next
			// LinkFetch is built afresh (pipeline.go).
			delete(w.pipe.synced, c.p.tp)
			if c.op == cmdRemove {
				delete(w.pipe.cursor, c.p.tp)
			}
		}
		if c.p != nil && c.op != cmdRemove {
			c.p.publish(w.f.cfg.Now())
		}
		close(c.done)
	}
	return keep
}

// network runs one request, cancellable by commands. preempted means a
// command (or shutdown) cancelled it: the caller drops the result and goes
// back to applying commands.
func (w *worker) network(what string, timeout time.Duration, fn func(ctx context.Context) error) (preempted bool, err error) {
	if w.eng.logger.Enabled(w.ctx, slog.LevelDebug) { // no cost on the fetch path unless asked for
		start := time.Now()
		defer func() {
			w.eng.logger.Debug("fetcher: request", "what", what, "took", time.Since(start), "preempted", preempted, "err", err)
		}()
	}
	ctx, cancel := context.WithTimeout(w.ctx, timeout)
	defer cancel()
	w.mu.Lock()
	if len(w.inbox) > 0 {
		w.mu.Unlock()
		return true, nil
	}
	w.inflight = cancel
	w.mu.Unlock()
	err = fn(ctx)
	w.mu.Lock()
	w.inflight = nil
	preempted = len(w.inbox) > 0 || w.ctx.Err() != nil
	w.mu.Unlock()
	return preempted, err
}

// probe negotiates the leader's capabilities (ApiVersions).
func (w *worker) probe() {
	var caps Capabilities
	start := time.Now()
	pre, err := w.network("ApiVersions", w.f.cfg.RequestTimeout, func(ctx context.Context) (err error) {
		caps, err = w.ep.Capabilities(ctx)
		return err
	})
	if err == nil {
		w.rtt = time.Since(start)
	}
	if pre {
		return
	}
	now := w.f.cfg.Now()
	if err != nil {
		w.eng.delayAll(now, fmt.Errorf("source broker %d: %w", w.key.broker, err))
		w.publishAll(now)
		w.f.requestMetadata()
		w.idle(now.Add(w.f.cfg.FetchBackoff))
		return
	}
	if _, ok := w.ep.(PipelinedEndpoint); !ok || w.f.cfg.DisablePipelining {
		caps.Pipelined = false
	}
	w.eng.logger.Debug("fetcher: leader capabilities", "fetchVersion", caps.FetchVersion,
		"truncationOnFetch", caps.TruncationOnFetch, "offsetForLeaderEpoch", caps.OffsetForLeaderEpoch,
		"pipelined", caps.Pipelined, "rtt", w.rtt)
	w.eng.setCaps(caps)
	w.publishAll(now)
}

// round is one doWork: ListOffsets for Resolving partitions,
// OffsetForLeaderEpoch for Truncating ones (maybeTruncate), then one Fetch
// (maybeFetch).
func (w *worker) round() {
	f := w.f
	now := f.cfg.Now()
	plan := w.eng.plan(now)
	if plan.needMetadata {
		f.requestMetadata()
	}
	if plan.empty() {
		w.publishAll(now)
		w.idle(w.eng.nextDeadline(now))
		return
	}
	defer func() { w.publishAll(f.cfg.Now()) }()
	apply := f.account
	if len(plan.offsets) > 0 {
		if roundTrip(w, "ListOffsets", plan.offsets, &f.stats.listOffsets, w.ep.ListOffsets, w.eng.applyOffsets, apply) {
			return
		}
	}
	if len(plan.epochs) > 0 {
		if roundTrip(w, "OffsetForLeaderEpoch", plan.epochs, &f.stats.epochRequests, w.ep.EpochEndOffsets, w.eng.applyEpochs, apply) {
			return
		}
	}
	if len(plan.offsets) > 0 || len(plan.epochs) > 0 {
		// Partitions that just finished resolving or truncating join this
		// round's fetch (Kafka's doWork: maybeTruncate, then maybeFetch
		// builds the fetch from the updated states).
		plan.fetch = w.eng.plan(f.cfg.Now()).fetch
	}
	if plan.fetch != nil {
		w.sizer.apply(plan.fetch)
		var resp *FetchResponse
		start := time.Now()
		f.stats.fetches.Add(1)
		pre, err := w.network("Fetch", f.cfg.FetchMaxWait+f.cfg.RequestTimeout, func(ctx context.Context) (err error) {
			resp, err = w.ep.Fetch(ctx, plan.fetch)
			return err
		})
		if pre {
			return
		}
		if err != nil {
			f.stats.fetchErrors.Add(1)
			w.eng.logger.Warn("fetcher: fetch failed", "err", err)
		}
		if f.cfg.ObserveFetch != nil {
			f.cfg.ObserveFetch(w.key.broker, time.Since(start), err != nil)
		}
		apply(w.eng.applyFetch(f.cfg.Now(), plan.fetch, resp, err))
		w.sizer.observe(plan.fetch, resp)
	}
}

// roundTrip sends one ListOffsets or OffsetForLeaderEpoch request and
// applies the answers; true when a command preempted it.
func roundTrip[Q, A any](w *worker, what string, qs []Q, counter *atomic.Int64,
	call func(context.Context, []Q) (map[TopicPartition]A, error),
	applyTo func(time.Time, []Q, map[TopicPartition]A, error) roundResult,
	apply func(roundResult)) bool {
	var res map[TopicPartition]A
	counter.Add(1)
	pre, err := w.network(what, w.f.cfg.RequestTimeout, func(ctx context.Context) (err error) {
		res, err = call(ctx, qs)
		return err
	})
	if pre {
		return true
	}
	apply(applyTo(w.f.cfg.Now(), qs, res, err))
	return false
}

// idle waits for a command, the deadline (zero: none) or shutdown
// (Kafka's partitionMapCond.await when no partition is ready).
func (w *worker) idle(deadline time.Time) {
	var timer <-chan time.Time
	if !deadline.IsZero() {
		d := deadline.Sub(w.f.cfg.Now())
		if d <= 0 {
			return
		}
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-w.wake:
	case <-timer:
	case <-w.ctx.Done():
	}
}

func (w *worker) publishAll(now time.Time) {
	for _, p := range w.parts {
		p.publish(now)
	}
}
