package fetcher

// Pipelined fetching from a Tandem source (LinkFetch, wire.LinkFetchKey;
// docs/mirroring.md, "Pipelined fetch from a Tandem source").
//
// Kafka's Fetch names each partition's offset, so a fetcher has one fetch
// in flight per partition and learns the next offset from the answer. On a
// path with round trip RTT, under continuous load, a record written just
// after a fetch was answered waits for the next fetch to arrive (a round
// trip: the answer travels back, the next request out) and then half a
// round trip to come back: replication latency is spread over [RTT/2,
// 3·RTT/2], p99 ≈ 1.5 × RTT. A second Kafka fetch in flight would have to
// name the same offset and would carry the same bytes across the path
// again.
//
// A Tandem source keeps each partition's next offset (its cursor) in a
// LinkFetch session, and a partition sent as "continue" reads from the
// cursor. The source answers a connection's requests in order, so the
// worker keeps pipelineDepth requests in flight, each continuing where the
// one before it stopped, with nothing fetched twice. Each request waits at
// the source until LingerMillis after its turn came, then answers with
// what arrived (or at once when half its MaxBytes is ready): with the
// linger at RTT/(depth-1), one request is always waiting at the source,
// and a record leaves at most one linger after it was written: p99 ≈
// RTT/2 + RTT/(depth-1).
//
// Consistency: the engine is unchanged; each partition answer is applied
// through fetchState.onFetch exactly when the offset the source read from
// (PipelinedData.FetchOffset) is the partition's fetch offset and its
// state is the one the request was built from (phase Fetching, leader
// epoch, not paused, no held data). Anything else — a command, an error,
// a truncation, data held for a leader-epoch effect — leaves the
// partition "unsynced": it is left out of further requests until none
// carrying it is in flight, and then sent with an explicit offset, which
// resets its cursor. So the worker never applies bytes it did not ask for,
// whatever was in flight when its state changed. A request that fails,
// or a session the source no longer knows, resets the whole session.

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// pipelineDepth is how many LinkFetch requests a worker keeps in flight.
// Five gives a linger of RTT/4: at 100 ms RTT a record waits at most
// 25 ms at the source for the request that carries it.
const pipelineDepth = 5

// minLinger bounds the linger below on a LAN: answering every append at
// once would turn each producer batch into a response.
const minLinger = time.Millisecond

// pipeReq is one LinkFetch in flight.
type pipeReq struct {
	req    *PipelinedFetchRequest
	start  time.Time
	done   chan pipeResult
	cancel context.CancelFunc
}

type pipeResult struct {
	resp *PipelinedFetchResponse
	err  error
}

// pipeline is a worker's LinkFetch session. Owned by the worker goroutine
// (the request goroutines only send and deliver to their done channel).
type pipeline struct {
	ep        PipelinedEndpoint
	sessionID int64
	seq       int32
	inflight  []*pipeReq
	// carried counts the requests in flight that carry each partition;
	// synced says that the partition's cursor at the source, once they
	// are answered, will be the partition's fetch offset.
	carried map[TopicPartition]int
	synced  map[TopicPartition]bool
}

func newPipeline(ep PipelinedEndpoint) *pipeline {
	p := &pipeline{ep: ep}
	p.reset()
	return p
}

// reset abandons the session and its requests; the next request opens a
// new session with every partition's offset explicit.
func (p *pipeline) reset() {
	for _, r := range p.inflight {
		r.cancel()
	}
	p.inflight = nil
	var b [8]byte
	_, _ = rand.Read(b[:])
	p.sessionID = int64(binary.BigEndian.Uint64(b[:]) | 1) // never 0
	p.seq = 0
	p.carried = make(map[TopicPartition]int)
	p.synced = make(map[TopicPartition]bool)
}

// build turns the partitions that may be fetched now (fetch: the engine's
// plan, with their states' offsets) into the next request: a synced
// partition continues from its cursor; an unsynced one is sent with its
// offset once no request carrying it is in flight, and left out until
// then. Nil when no partition can be sent.
func (p *pipeline) build(fetch []FetchPartition, maxWait, linger time.Duration, minBytes, maxBytes int32) *PipelinedFetchRequest {
	var parts []PipelinedPartition
	fetchable := make(map[TopicPartition]bool, len(fetch))
	for _, fp := range fetch {
		fetchable[fp.TopicPartition] = true
		switch {
		case p.synced[fp.TopicPartition]:
			parts = append(parts, PipelinedPartition{FetchPartition: fp, Continue: true})
		case p.carried[fp.TopicPartition] == 0:
			parts = append(parts, PipelinedPartition{FetchPartition: fp})
			p.synced[fp.TopicPartition] = true
		}
	}
	// A partition that cannot be fetched now (paused, backing off,
	// truncating, holding data) may come back at another offset.
	for tp := range p.synced {
		if !fetchable[tp] {
			delete(p.synced, tp)
		}
	}
	if len(parts) == 0 {
		return nil
	}
	for _, pp := range parts {
		p.carried[pp.TopicPartition]++
	}
	req := &PipelinedFetchRequest{SessionID: p.sessionID, Sequence: p.seq, MaxWait: maxWait, Linger: linger,
		MinBytes: minBytes, MaxBytes: maxBytes, Partitions: parts}
	p.seq++
	return req
}

// answered forgets the oldest request once its answer is applied.
func (p *pipeline) answered() *pipeReq {
	r := p.inflight[0]
	p.inflight = p.inflight[1:]
	for _, pp := range r.req.Partitions {
		if p.carried[pp.TopicPartition]--; p.carried[pp.TopicPartition] <= 0 {
			delete(p.carried, pp.TopicPartition)
		}
	}
	r.cancel()
	return r
}

// isSessionError: the source lost or refused the session; a new one
// starts over with explicit offsets.
func isSessionError(err error) bool {
	return errors.Is(err, kerr.InvalidFetchSessionEpoch) || errors.Is(err, kerr.FetchSessionIDNotFound)
}

// applyPipelined applies one LinkFetch answer (in request order) and
// reports the partitions that are no longer synced with their cursors.
func (e *engine) applyPipelined(now time.Time, req *PipelinedFetchRequest, resp *PipelinedFetchResponse) (roundResult, []TopicPartition) {
	env := e.env(now)
	var (
		r        roundResult
		moved    []*fetchState
		unsynced []TopicPartition
	)
	for _, sent := range req.Partitions {
		tp := sent.TopicPartition
		s := e.parts[tp]
		d, ok := resp.Partitions[tp]
		if s == nil {
			continue
		}
		if !ok || errors.Is(d.Err, kerr.InvalidFetchSessionEpoch) {
			// No cursor at the source (an earlier answer ended it).
			unsynced = append(unsynced, tp)
			continue
		}
		served := d.FetchOffset
		if served < 0 && d.Err != nil {
			// Refused before reading (unknown topic, authorization,
			// fencing): the error is the partition's, whatever its offset.
			served = s.fetchOffset
		}
		if s.phase != phaseFetching || s.paused || s.held != nil || !s.active() ||
			served != s.fetchOffset || sent.CurrentLeaderEpoch != s.currentLeaderEpoch {
			unsynced = append(unsynced, tp)
			continue
		}
		fp := sent.FetchPartition
		fp.FetchOffset = served
		o := s.onFetch(env, fp, d.FetchData)
		r.add(o)
		if o.progressed {
			moved = append(moved, s)
		}
		if d.Err != nil || d.DivergingEpoch != nil || s.phase != phaseFetching || s.held != nil || s.fetchOffset != d.NextOffset {
			unsynced = append(unsynced, tp)
		}
	}
	if len(moved) > 0 {
		e.moveToEnd(moved)
	}
	return r, unsynced
}

// pipelined runs the worker with LinkFetch requests in flight until it
// must leave that mode: no partitions, capabilities to probe again, or a
// command to stop (false).
func (w *worker) pipelined(ep PipelinedEndpoint) bool {
	f := w.f
	p := newPipeline(ep)
	w.pipe = p
	defer func() { p.reset(); w.pipe = nil }()
	for {
		if !w.applyCommands() {
			return false
		}
		if w.ctx.Err() != nil || len(w.parts) == 0 || !w.eng.capsKnown || !w.eng.caps.Pipelined {
			return true
		}
		now := f.cfg.Now()
		plan := w.eng.plan(now)
		if plan.needMetadata {
			f.requestMetadata()
		}
		if len(plan.offsets) > 0 || len(plan.epochs) > 0 {
			// Resolving and truncating partitions take their round trips
			// as in round(); the answers in flight wait meanwhile.
			apply := f.account
			if len(plan.offsets) > 0 && roundTrip(w, "ListOffsets", plan.offsets, &f.stats.listOffsets, w.ep.ListOffsets, w.eng.applyOffsets, apply) {
				continue
			}
			if len(plan.epochs) > 0 && roundTrip(w, "OffsetForLeaderEpoch", plan.epochs, &f.stats.epochRequests, w.ep.EpochEndOffsets, w.eng.applyEpochs, apply) {
				continue
			}
			if !w.eng.capsKnown {
				return true
			}
			plan = w.eng.plan(f.cfg.Now())
		}
		if plan.fetch != nil {
			w.fill(p, plan.fetch)
		}
		w.publishAll(now)
		if !w.awaitPipelined(p) {
			return true
		}
	}
}

// fill sends requests until pipelineDepth are in flight.
func (w *worker) fill(p *pipeline, fetch *FetchRequest) {
	f := w.f
	maxWait := f.cfg.FetchMaxWait
	// Each request may carry a share of the response limit, so that the
	// answers in flight together hold no more than one classic fetch.
	maxBytes := max(f.cfg.FetchMaxBytes/pipelineDepth, f.cfg.PartitionMaxBytes)
	linger, minBytes := w.linger(), max(f.cfg.FetchMinBytes, maxBytes/2)
	if f.cfg.FetchMinBytes > 1 {
		// replica.fetch.min.bytes set: Kafka's semantics, no linger.
		linger, minBytes = maxWait, f.cfg.FetchMinBytes
	}
	w.sizer.apply(fetch)
	for i := range fetch.Partitions {
		fetch.Partitions[i].PartitionMaxBytes = min(fetch.Partitions[i].PartitionMaxBytes, maxBytes)
	}
	for len(p.inflight) < pipelineDepth {
		req := p.build(fetch.Partitions, maxWait, linger, minBytes, maxBytes)
		if req == nil {
			return
		}
		// A request waits for those before it (the source answers in
		// order), each at most maxWait.
		ctx, cancel := context.WithTimeout(w.ctx, f.cfg.RequestTimeout+time.Duration(pipelineDepth+1)*maxWait)
		r := &pipeReq{req: req, start: time.Now(), done: make(chan pipeResult, 1), cancel: cancel}
		p.inflight = append(p.inflight, r)
		f.stats.fetches.Add(1)
		f.stats.linkFetches.Add(1)
		go func() {
			resp, err := p.ep.LinkFetch(ctx, req)
			r.done <- pipeResult{resp, err}
		}()
	}
}

// linger is RTT/(pipelineDepth-1) from the round trip measured when the
// leader was probed, at least minLinger and at most the fetch wait.
func (w *worker) linger() time.Duration {
	l := w.rtt / (pipelineDepth - 1)
	return min(max(l, minLinger), w.f.cfg.FetchMaxWait)
}

// awaitPipelined waits for the oldest answer, a command or the next
// partition back-off deadline, and applies what came; false when the
// worker must leave pipelined mode (the request failed: the leader is
// probed again).
func (w *worker) awaitPipelined(p *pipeline) bool {
	f := w.f
	var timer <-chan time.Time
	if d := w.eng.nextDeadline(f.cfg.Now()); !d.IsZero() {
		t := time.NewTimer(max(d.Sub(f.cfg.Now()), 0))
		defer t.Stop()
		timer = t.C
	}
	var oldest <-chan pipeResult
	if len(p.inflight) > 0 {
		oldest = p.inflight[0].done
	} else if timer == nil {
		w.idle(time.Time{})
		return true
	}
	select {
	case res := <-oldest:
		r := p.answered()
		now := f.cfg.Now()
		if f.cfg.ObserveFetch != nil {
			f.cfg.ObserveFetch(w.key.broker, time.Since(r.start), res.err != nil)
		}
		err := res.err
		if err == nil && res.resp.Err != nil {
			err = res.resp.Err
		}
		switch {
		case err == nil:
			result, unsynced := w.eng.applyPipelined(now, r.req, res.resp)
			for _, tp := range unsynced {
				delete(p.synced, tp)
			}
			f.account(result)
			w.sizer.observe(pipelinedAsFetch(r.req, res.resp))
			return true
		case isSessionError(err):
			// The source no longer knows the session (it expired, or a
			// reconnection reordered it): start a new one.
			w.eng.logger.Info("fetcher: LinkFetch session reset", "broker", w.key.broker, "err", err)
			p.reset()
			return true
		default:
			f.stats.fetchErrors.Add(1)
			w.eng.logger.Warn("fetcher: fetch failed", "err", err)
			tps := make([]TopicPartition, len(r.req.Partitions))
			for i, pp := range r.req.Partitions {
				tps[i] = pp.TopicPartition
			}
			f.account(w.eng.requestFailed(now, tps, err))
			return false
		}
	case <-w.wake:
		return true
	case <-timer:
		return true
	case <-w.ctx.Done():
		return false
	}
}

// pipelinedAsFetch presents a LinkFetch and its answer to the sizer.
func pipelinedAsFetch(req *PipelinedFetchRequest, resp *PipelinedFetchResponse) (*FetchRequest, *FetchResponse) {
	fr := &FetchRequest{Partitions: make([]FetchPartition, len(req.Partitions))}
	for i, pp := range req.Partitions {
		fr.Partitions[i] = pp.FetchPartition
	}
	out := &FetchResponse{Partitions: make(map[TopicPartition]FetchData, len(resp.Partitions))}
	for tp, d := range resp.Partitions {
		out.Partitions[tp] = d.FetchData
	}
	return fr, out
}
