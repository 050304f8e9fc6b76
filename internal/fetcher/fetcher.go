package fetcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Fetcher copies partitions of one source cluster into local Targets. It
// is Kafka's AbstractFetcherManager: partitions are placed on one worker
// (fetcher thread) per (source leader broker, fetcher id) and moved when
// the source's metadata says their leader moved, or when the owner tells
// it a new leader (PartitionConfig.Leader, SetLeaders). What happens to
// fetched data is Config.Policy's; effects the partitions need from the
// owner go to Config.OnEffect. See docs/mirroring.md.
//
// All methods are safe for concurrent use. Locks, outermost first:
// Fetcher.opMu → Fetcher.mu → worker.mu, and Fetcher.effMu (each a leaf
// for the next; a worker goroutine takes only its own worker.mu and
// effMu).
type Fetcher struct {
	cfg       Config
	src       Source
	ownSource bool
	logger    *slog.Logger
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	metaWake  chan struct{}
	stats     stats

	// Effects on their way to Config.OnEffect (effects.go): queued by
	// workers under effMu, a leaf lock; drained by effectLoop.
	effMu   sync.Mutex
	effQ    []Effect
	effWake chan struct{}

	// opMu serializes control operations (AddPartitions,
	// RemovePartitions, Pause, Resume, metadata application, Close). It is
	// held while waiting for workers to apply commands, which is bounded
	// (commands preempt network calls). Unassigned partitions are owned by
	// its holder.
	opMu sync.Mutex
	meta atomic.Pointer[ClusterMetadata] // last successful metadata; written under opMu

	// mu guards the registry; held only for map operations.
	mu      sync.Mutex
	parts   map[TopicPartition]*partition
	workers map[workerKey]*worker
	addrs   map[int32]string // told leaders' addresses, by broker id
	closed  bool
}

// partition is the registry entry of one partition.
type partition struct {
	tp TopicPartition
	// st is owned by owner's goroutine when owner != nil, else by the
	// holder of Fetcher.opMu.
	st *fetchState
	// Manager's view, guarded by Fetcher.opMu.
	owner   *worker
	leader  int32
	epoch   int32
	topicID [16]byte
	failed  bool
	// told is the leader the owner gave (nil: discovered from metadata).
	told *Leader
	// status is the last published Status; read without locks.
	status atomic.Pointer[Status]
}

func (p *partition) publish(now time.Time) {
	st := p.st.status(now)
	p.status.Store(&st)
}

type stats struct {
	fetches, fetchErrors, listOffsets, epochRequests, linkFetches atomic.Int64
	metadata, metadataErrors                                      atomic.Int64
	bytes, records, batches                                       atomic.Int64
	corrupt                                                       atomic.Int64
}

// Stats are the Fetcher's counters, cumulative since New (plain counters
// for the caller to export).
type Stats struct {
	FetchRequests, FetchErrors int64
	// LinkFetchRequests counts the FetchRequests that were LinkFetch
	// (pipelined, from a Tandem source; pipeline.go).
	LinkFetchRequests                  int64
	ListOffsetsRequests, EpochRequests int64
	MetadataRequests, MetadataErrors   int64
	BytesFetched, RecordsFetched       int64
	BatchesFetched                     int64
	// CorruptPartitionResponses counts partition answers whose records
	// failed validation (CRC, framing, invalid records): dropped and
	// fetched again, as Kafka retries a CorruptRecordException.
	CorruptPartitionResponses int64
	Partitions, Workers       int
}

// New starts a Fetcher. With cfg.Source nil it creates franz-go clients
// from cfg.ClientOpts (NewKafkaSource) and closes them on Close.
func New(cfg Config) (*Fetcher, error) {
	cfg = cfg.normalize()
	if cfg.Policy == nil {
		cfg.Policy = MirrorPolicy{Logger: cfg.Logger}
	}
	f := &Fetcher{
		cfg: cfg, src: cfg.Source, logger: cfg.Logger.With("component", "fetcher"),
		metaWake: make(chan struct{}, 1),
		effWake:  make(chan struct{}, 1),
		parts:    make(map[TopicPartition]*partition),
		workers:  make(map[workerKey]*worker),
		addrs:    make(map[int32]string),
	}
	if f.src == nil {
		if len(cfg.ClientOpts) == 0 {
			return nil, fmt.Errorf("%w: neither Source nor ClientOpts set", ErrInvalidConfig)
		}
		src, err := NewKafkaSource(cfg.ClientOpts, cfg.NumFetchers)
		if err != nil {
			return nil, err
		}
		f.src, f.ownSource = src, true
	}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.wg.Add(2)
	go f.metadataLoop()
	go f.effectLoop()
	return f, nil
}

// AddPartitions starts fetching partitions into their targets. Each
// target is then written only by the Fetcher until RemovePartitions
// returns. Adding a partition twice is ErrPartitionAdded (nothing is
// added then). Partitions with a Leader are placed on it; the others on
// the leader the source's metadata names.
func (f *Fetcher) AddPartitions(parts map[TopicPartition]PartitionConfig) error {
	f.opMu.Lock()
	defer f.opMu.Unlock()
	f.mu.Lock()
	closed := f.closed
	var dup []string
	for tp, pc := range parts {
		if _, ok := f.parts[tp]; ok {
			dup = append(dup, tp.String())
		}
		if pc.Target == nil {
			f.mu.Unlock()
			return fmt.Errorf("%w: partition %s has no target", ErrInvalidConfig, tp)
		}
		if pc.RaiseLeaderEpoch && f.cfg.OnEffect == nil {
			f.mu.Unlock()
			return fmt.Errorf("%w: partition %s raises its leader epoch but Config.OnEffect is not set", ErrInvalidConfig, tp)
		}
	}
	f.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if len(dup) > 0 {
		sort.Strings(dup)
		return fmt.Errorf("%w: %s", ErrPartitionAdded, strings.Join(dup, ", "))
	}
	states := make(map[TopicPartition]*fetchState, len(parts))
	for tp, pc := range parts {
		st, err := newFetchState(tp, pc, f.cfg.Policy)
		if err != nil {
			return err
		}
		states[tp] = st
	}
	now := f.cfg.Now()
	discover := false
	for tp, pc := range parts {
		p := &partition{tp: tp, st: states[tp], leader: -1, epoch: -1, topicID: pc.SourceTopicID}
		p.publish(now)
		f.mu.Lock()
		f.parts[tp] = p
		f.mu.Unlock()
		if pc.Leader != nil {
			f.placeTold(p, *pc.Leader, now)
			continue
		}
		discover = true
		if md := f.meta.Load(); md != nil {
			if _, ok := md.Topics[tp.Topic]; ok {
				f.place(p, md, now)
			}
		}
	}
	if discover {
		f.requestMetadata()
	}
	return nil
}

// RemovePartitions stops fetching partitions. When it returns, the
// Fetcher no longer touches their targets (the caller may close or
// delete them). Unknown partitions are ErrUnknownPart, after the known
// ones were removed.
func (f *Fetcher) RemovePartitions(tps ...TopicPartition) error {
	f.opMu.Lock()
	defer f.opMu.Unlock()
	err := f.each(tps, func(p *partition) error {
		err := f.unassign(p)
		f.mu.Lock()
		delete(f.parts, p.tp)
		f.mu.Unlock()
		return err
	})
	f.stopIdleWorkers()
	return err
}

// Pause stops fetching the partitions without removing them; when it
// returns no more data is appended to their targets until Resume.
func (f *Fetcher) Pause(tps ...TopicPartition) error { return f.setPaused(tps, true) }

// Resume undoes Pause.
func (f *Fetcher) Resume(tps ...TopicPartition) error { return f.setPaused(tps, false) }

func (f *Fetcher) setPaused(tps []TopicPartition, paused bool) error {
	f.opMu.Lock()
	defer f.opMu.Unlock()
	return f.each(tps, func(p *partition) error {
		if p.owner != nil {
			op := cmdResume
			if paused {
				op = cmdPause
			}
			return p.owner.post(&command{op: op, p: p})
		}
		p.st.setPaused(paused)
		p.publish(f.cfg.Now())
		return nil
	})
}

// each runs fn on the named partitions; unknown ones are ErrUnknownPart.
// Errors are joined. Caller holds opMu.
func (f *Fetcher) each(tps []TopicPartition, fn func(*partition) error) error {
	var errs []error
	for _, tp := range tps {
		f.mu.Lock()
		p := f.parts[tp]
		f.mu.Unlock()
		if p == nil {
			errs = append(errs, fmt.Errorf("%w: %s", ErrUnknownPart, tp))
			continue
		}
		if err := fn(p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Status returns the last published status of a partition.
func (f *Fetcher) Status(tp TopicPartition) (Status, bool) {
	f.mu.Lock()
	p := f.parts[tp]
	f.mu.Unlock()
	if p == nil {
		return Status{}, false
	}
	return *p.status.Load(), true
}

// Statuses returns the status of every partition, sorted.
func (f *Fetcher) Statuses() []Status {
	f.mu.Lock()
	out := make([]Status, 0, len(f.parts))
	for _, p := range f.parts {
		out = append(out, *p.status.Load())
	}
	f.mu.Unlock()
	slices.SortFunc(out, func(a, b Status) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition) - int(b.Partition)
	})
	return out
}

// SourceMetadata returns the last metadata the source answered (nil
// before the first answer): partition counts, topic ids and the cluster
// id, for the caller's own checks (new partitions, a changed cluster).
// The value is shared and must not be modified.
func (f *Fetcher) SourceMetadata() *ClusterMetadata {
	return f.meta.Load()
}

// Stats returns the counters.
func (f *Fetcher) Stats() Stats {
	f.mu.Lock()
	np, nw := len(f.parts), len(f.workers)
	f.mu.Unlock()
	s := &f.stats
	return Stats{
		FetchRequests: s.fetches.Load(), FetchErrors: s.fetchErrors.Load(), LinkFetchRequests: s.linkFetches.Load(),
		ListOffsetsRequests: s.listOffsets.Load(), EpochRequests: s.epochRequests.Load(),
		MetadataRequests: s.metadata.Load(), MetadataErrors: s.metadataErrors.Load(),
		BytesFetched: s.bytes.Load(), RecordsFetched: s.records.Load(), BatchesFetched: s.batches.Load(),
		CorruptPartitionResponses: s.corrupt.Load(), Partitions: np, Workers: nw,
	}
}

// Close stops all fetching and waits for it. A round in progress
// finishes its local work (an append is never cut short); network calls
// are abandoned; an OnEffect call in progress is waited for (its
// acknowledgement is dropped), so Close must not be called while holding
// a lock OnEffect needs. Targets are not closed. Partitions stay
// registered for Status.
func (f *Fetcher) Close() error {
	f.opMu.Lock()
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		f.opMu.Unlock()
		return nil
	}
	f.closed = true
	f.mu.Unlock()
	f.cancel()
	f.opMu.Unlock()
	f.wg.Wait()
	if f.ownSource {
		f.src.Close()
	}
	return nil
}

// requestMetadata asks the metadata loop for a refresh (coalesced; never
// blocks, safe from any goroutine).
func (f *Fetcher) requestMetadata() {
	select {
	case f.metaWake <- struct{}{}:
	default:
	}
}

// --- Placement ------------------------------------------------------------

// metadataLoop refreshes source metadata every MetadataMaxAge, on request
// (leadership errors, new partitions), and with exponential back-off
// while it fails or leaves partitions without a leader; each answer
// re-places partitions on their leaders' workers.
func (f *Fetcher) metadataLoop() {
	defer f.wg.Done()
	var (
		timer    = time.NewTimer(f.cfg.MetadataMaxAge)
		last     time.Time
		failures int
	)
	defer timer.Stop()
	for {
		select {
		case <-f.ctx.Done():
			return
		case <-f.metaWake:
		case <-timer.C:
		}
		// Refreshes are spaced by RetryBackoff (Kafka's consumer spaces
		// metadata requests by retry.backoff.ms).
		if wait := time.Until(last.Add(f.cfg.RetryBackoff)); wait > 0 {
			select {
			case <-f.ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		select {
		case <-f.metaWake:
		default:
		}
		next := f.cfg.MetadataMaxAge
		if topics := f.topics(); len(topics) > 0 {
			last = time.Now()
			f.stats.metadata.Add(1)
			ctx, cancel := context.WithTimeout(f.ctx, f.cfg.RequestTimeout)
			mdStart := time.Now()
			md, err := f.src.Metadata(ctx, topics)
			f.logger.Debug("fetcher: metadata", "took", time.Since(mdStart), "err", err)
			cancel()
			switch {
			case f.ctx.Err() != nil:
				return
			case err != nil:
				failures++
				f.stats.metadataErrors.Add(1)
				f.logger.Warn("fetcher: source metadata failed", "err", err, "failures", failures)
				f.noteUnassignedError(fmt.Errorf("source metadata: %w", err))
				next = f.retryBackoff(failures)
			default:
				if f.applyMetadata(md, topics) {
					failures++
					next = f.retryBackoff(failures)
				} else {
					failures = 0
				}
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(next)
	}
}

func (f *Fetcher) retryBackoff(failures int) time.Duration {
	d := f.cfg.RetryBackoff
	for i := 1; i < failures && d < f.cfg.RetryBackoffMax; i++ {
		d *= 2
	}
	return min(d, f.cfg.RetryBackoffMax)
}

// topics lists the source topics of the partitions placed from metadata
// (not the told ones).
func (f *Fetcher) topics() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	set := map[string]bool{}
	for tp, p := range f.parts {
		if !p.discovered() {
			continue
		}
		set[tp.Topic] = true
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

func (f *Fetcher) snapshot() []*partition {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*partition, 0, len(f.parts))
	for _, p := range f.parts {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *partition) int {
		if c := strings.Compare(a.tp.Topic, b.tp.Topic); c != 0 {
			return c
		}
		return int(a.tp.Partition) - int(b.tp.Partition)
	})
	return out
}

// applyMetadata places every partition of the requested topics per md
// (partitions added since the request wait for the next answer); it
// reports whether some partition is left without a leader, so the loop
// retries soon.
func (f *Fetcher) applyMetadata(md *ClusterMetadata, requested []string) (pending bool) {
	f.opMu.Lock()
	defer f.opMu.Unlock()
	if f.ctx.Err() != nil {
		return false
	}
	f.meta.Store(md)
	asked := make(map[string]bool, len(requested))
	for _, t := range requested {
		asked[t] = true
	}
	now := f.cfg.Now()
	for _, p := range f.snapshot() {
		if !asked[p.tp.Topic] {
			pending = true
			continue
		}
		if !f.place(p, md, now) {
			pending = true
		}
	}
	f.stopIdleWorkers()
	return pending
}

// place puts p on the worker of its leader per md, moving it if needed;
// false when p has no usable leader. Caller holds opMu.
func (f *Fetcher) place(p *partition, md *ClusterMetadata, now time.Time) bool {
	if p.failed || !p.discovered() {
		return true
	}
	tm, ok := md.Topics[p.tp.Topic]
	switch {
	case !ok || errors.Is(tm.Err, kerr.UnknownTopicOrPartition):
		f.park(p, now, fmt.Errorf("%w: %s", ErrSourceTopicNotFound, p.tp.Topic))
		return false
	case tm.Err != nil:
		f.park(p, now, fmt.Errorf("source metadata for %s: %w", p.tp.Topic, tm.Err))
		return false
	case p.topicID != ([16]byte{}) && tm.ID != ([16]byte{}) && tm.ID != p.topicID:
		_ = f.unassign(p)
		p.failed = true
		p.st.leader = -1
		p.st.fail(stepEnv{now: now, logger: f.logger}, fmt.Errorf("%w: %s: expected %x, source has %x", ErrSourceTopicIDChanged, p.tp.Topic, p.topicID, tm.ID))
		p.publish(now)
		return true
	}
	if p.topicID == ([16]byte{}) {
		p.topicID = tm.ID
	}
	pm, ok := tm.Partitions[p.tp.Partition]
	switch {
	case !ok:
		f.park(p, now, fmt.Errorf("%w: %s (the source topic has %d partitions)", ErrSourcePartitionMissing, p.tp, len(tm.Partitions)))
		return false
	case pm.Leader < 0 || !md.Brokers[pm.Leader]:
		err := fmt.Errorf("%w: %s", ErrLeaderNotAvailable, p.tp)
		if pm.Err != nil {
			err = fmt.Errorf("%w: %w", err, pm.Err)
		}
		f.park(p, now, err)
		return false
	case p.owner != nil && pm.LeaderEpoch >= 0 && pm.LeaderEpoch < p.epoch:
		// Stale metadata (a broker that has not seen the new epoch yet):
		// keep the placement we have.
		return true
	}
	f.assign(p, pm.Leader, pm.LeaderEpoch)
	return true
}

// assign puts p on the worker of (leader, its fetcher id), moving it if
// needed; on the same worker a new epoch is passed on. Caller holds opMu.
func (f *Fetcher) assign(p *partition, leader, epoch int32) {
	key := workerKey{leader, fetcherID(p.tp, f.cfg.NumFetchers)}
	if p.owner != nil && p.owner.key == key {
		if epoch != p.epoch || leader != p.leader {
			p.leader, p.epoch = leader, epoch
			_ = p.owner.post(&command{op: cmdLeader, p: p, leader: leader, epoch: epoch, topicID: p.topicID})
		}
		return
	}
	// Move (or first placement): take it back from its worker, then hand
	// it to the leader's.
	if err := f.unassign(p); err != nil {
		return // closing
	}
	w := f.worker(key)
	if w == nil {
		return // closing
	}
	p.leader, p.epoch = leader, epoch
	if p.st.topicID == ([16]byte{}) {
		p.st.topicID = p.topicID
	}
	p.st.setLeader(leader, epoch)
	if err := w.post(&command{op: cmdAdd, p: p}); err == nil {
		p.owner = w
	}
}

// park takes p off its worker (no usable leader) and records why.
func (f *Fetcher) park(p *partition, now time.Time, err error) {
	_ = f.unassign(p)
	p.leader = -1
	p.st.leader = -1
	p.st.noteError(stepEnv{now: now}, err)
	p.publish(now)
}

// unassign takes p back from its worker, if any. Caller holds opMu.
func (f *Fetcher) unassign(p *partition) error {
	if p.owner == nil {
		return nil
	}
	if err := p.owner.post(&command{op: cmdRemove, p: p}); err != nil {
		return err
	}
	p.owner = nil
	return nil
}

// noteUnassignedError records a metadata failure on partitions waiting for
// a leader.
func (f *Fetcher) noteUnassignedError(err error) {
	f.opMu.Lock()
	defer f.opMu.Unlock()
	now := f.cfg.Now()
	for _, p := range f.snapshot() {
		if p.owner == nil && !p.failed && p.discovered() {
			p.st.noteError(stepEnv{now: now}, err)
			p.publish(now)
		}
	}
}

// worker returns the worker for key, starting it if needed; nil when
// closed. Caller holds opMu.
func (f *Fetcher) worker(key workerKey) *worker {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	if w, ok := f.workers[key]; ok {
		return w
	}
	w := newWorker(f, key)
	f.workers[key] = w
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		w.run()
	}()
	return w
}

// stopIdleWorkers stops workers left without partitions
// (shutdownIdleFetcherThreads). Caller holds opMu.
func (f *Fetcher) stopIdleWorkers() {
	busy := map[*worker]bool{}
	for _, p := range f.snapshot() {
		if p.owner != nil {
			busy[p.owner] = true
		}
	}
	f.mu.Lock()
	var idle []*worker
	for k, w := range f.workers {
		if !busy[w] {
			idle = append(idle, w)
			delete(f.workers, k)
		}
	}
	f.mu.Unlock()
	for _, w := range idle {
		_ = w.post(&command{op: cmdStop})
	}
}
