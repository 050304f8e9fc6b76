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
// cursor. The worker keeps pipelineDepth requests in flight; the source
// numbers its answers in the order it served them (Sequence), and the
// worker applies them in that order, so each continues where the one
// before it stopped, with nothing fetched twice. A request is answered
// with what arrived once LingerMillis have passed since the session's
// previous answer (at once when half its MaxBytes is ready): with the
// linger at RTT/(depth-2), one request is always queued at the source,
// and a record leaves at most one linger after it was written: p99 ≈
// RTT/2 + RTT/(depth-2).
//
// Consistency: the engine is unchanged; each partition answer is applied
// through fetchState.onFetch exactly when the offset the source read from
// (PipelinedData.FetchOffset) is the partition's fetch offset and its
// state is the one the request was built from (phase Fetching, leader
// epoch, not paused, no held data). Anything else — a command, an error,
// a truncation, data held for a leader-epoch effect — leaves the
// partition "unsynced": it is left out of further requests until none
// carrying it is in flight, and then sent with an explicit offset, alone
// until that answer is applied, which resets its cursor. So the worker
// never applies bytes it did not ask for, whatever was in flight when its
// state changed. A request that fails, a session the source no longer
// knows, or a partition that must name its offset while the requests
// outstanding are parked long polls (an idle worker) starts a new
// session.

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// pipelineDepth is how many LinkFetch requests a worker keeps in flight.
// Each spends a round trip on the path and a linger being answered; with
// the linger at RTT/(depth-2) the others cover that and one linger more,
// so a request is always queued at the source. Six gives a linger of
// RTT/4: at 100 ms RTT a record waits at most 25 ms at the source for the
// request that carries it.
const pipelineDepth = 6

// minLinger bounds the linger below on a LAN: answering every append at
// once would turn each producer batch into a response.
const minLinger = time.Millisecond

// pipeReq is one LinkFetch in flight.
type pipeReq struct {
	id  int32 // the worker's count of requests issued in the session (logs)
	req *PipelinedFetchRequest
	// states are the partitions' states the request was built from (by
	// index in req.Partitions): an answer is applied only to the state
	// it was asked for. A partition removed and added again is a new
	// state, whose target may differ from what the cursor was checked
	// against (KIP-595: the new state's first fetch names its own last
	// epoch), even at the same offset.
	states []*fetchState
	start  time.Time
	done   chan pipeResult // one result, buffered: the sender never blocks
	cancel context.CancelFunc
}

type pipeResult struct {
	resp *PipelinedFetchResponse
	err  error
}

// pipeAnswer is an answer waiting for the answers the source served
// before it.
type pipeAnswer struct {
	r    *pipeReq
	resp *PipelinedFetchResponse
}

// pipeline is a worker's LinkFetch session. Owned by the worker goroutine;
// the request goroutines only deliver their result to the request's done
// channel and poke wake.
//
// Requests are issued by one goroutine each, so they may reach the source
// in any order, and the source serves them in the order they arrive,
// numbering its answers (Sequence). Answers are applied in that order,
// which is the order in which the cursors moved: an answer that arrives
// early waits in ready for those before it.
type pipeline struct {
	ep        PipelinedEndpoint
	sessionID int64
	issued    int32
	inflight  []*pipeReq           // issued and not answered, in issue order
	ready     map[int32]pipeAnswer // answered, by Sequence, not yet applied
	next      int32                // the Sequence of the next answer to apply
	wake      chan struct{}
	// carried counts the requests issued and not yet applied that carry
	// each partition; synced says that the partition's cursor at the
	// source, once they are applied, will be the partition's fetch
	// offset.
	carried map[TopicPartition]int
	synced  map[TopicPartition]bool
	// naming holds the partitions whose offset an outstanding request
	// names (each is alone in flight until that answer is applied).
	naming map[TopicPartition]bool
	// refused is when the source last refused or restarted a session
	// (kept across reset).
	refused time.Time
	// cursor is each partition's cursor at the source as of the last
	// answer applied (its NextOffset; absent: none, or unknown). With
	// nothing carrying the partition outstanding it is the source's
	// cursor, and a partition whose fetch offset is there continues
	// instead of naming its offset (after data held for a leader-epoch
	// effect was replayed, say).
	cursor map[TopicPartition]int64
}

func newPipeline(ep PipelinedEndpoint) *pipeline {
	p := &pipeline{ep: ep, wake: make(chan struct{}, 1)}
	p.reset()
	return p
}

// reset abandons the session and its requests; the next request names a
// new session, with every partition's offset explicit.
func (p *pipeline) reset() {
	for _, r := range p.inflight {
		r.cancel()
	}
	for _, a := range p.ready {
		a.r.cancel() // answered, never applied
	}
	p.inflight = nil
	var b [8]byte
	_, _ = rand.Read(b[:])
	p.sessionID = int64(binary.BigEndian.Uint64(b[:]) | 1) // never 0
	p.issued, p.next = 0, 0
	p.ready = make(map[int32]pipeAnswer)
	p.carried = make(map[TopicPartition]int)
	p.naming = make(map[TopicPartition]bool)
	p.synced = make(map[TopicPartition]bool)
	p.cursor = make(map[TopicPartition]int64)
}

// applyReady applies, in the source's order, the answers whose
// predecessors have all been applied.
func (p *pipeline) applyReady(apply func(pipeAnswer)) {
	for {
		a, ok := p.ready[p.next]
		if !ok {
			return
		}
		delete(p.ready, p.next)
		p.next++
		apply(a)
	}
}

// outstanding is the number of requests issued and not yet applied.
func (p *pipeline) outstanding() int { return len(p.inflight) + len(p.ready) }

// build turns the partitions that may be fetched now (fetch: the engine's
// plan, with their states' offsets) into the next request: a synced
// partition continues from its cursor; an unsynced one is sent with its
// offset once no request carrying it is outstanding, and is synced (and
// continued) once that request's answer is applied: requests may reach the
// source in another order than issued, and a continuation overtaking the
// request that names the offset would see the cursor move back behind it.
// Nil when no partition can be sent.
func (p *pipeline) build(fetch []FetchPartition, maxWait, linger time.Duration, minBytes, maxBytes int32) *PipelinedFetchRequest {
	var parts []PipelinedPartition
	fetchable := make(map[TopicPartition]bool, len(fetch))
	for _, fp := range fetch {
		fetchable[fp.TopicPartition] = true
		switch {
		case p.synced[fp.TopicPartition]:
			parts = append(parts, PipelinedPartition{FetchPartition: fp, Continue: true})
		case p.carried[fp.TopicPartition] == 0:
			if c, ok := p.cursor[fp.TopicPartition]; ok && c == fp.FetchOffset {
				// The source's cursor is where the partition is.
				p.synced[fp.TopicPartition] = true
				parts = append(parts, PipelinedPartition{FetchPartition: fp, Continue: true})
				continue
			}
			// Alone in flight for this partition until its answer is
			// applied: a continuation issued after it could reach the
			// source first, and the cursor would then move back.
			parts = append(parts, PipelinedPartition{FetchPartition: fp})
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
		if !pp.Continue {
			p.naming[pp.TopicPartition] = true
		}
	}
	return &PipelinedFetchRequest{SessionID: p.sessionID, MaxWait: maxWait, Linger: linger,
		MinBytes: minBytes, MaxBytes: maxBytes, Partitions: parts}
}

// applied forgets a request whose answer was applied (or dropped).
func (p *pipeline) applied(r *pipeReq) {
	for _, pp := range r.req.Partitions {
		tp := pp.TopicPartition
		if p.carried[tp]--; p.carried[tp] <= 0 {
			delete(p.carried, tp)
		}
		if !pp.Continue {
			delete(p.naming, tp)
		}
	}
	r.cancel()
}

// waiting reports whether a partition of fetch has to name its offset
// (new, resumed, re-added, recovered) but cannot yet: requests carrying
// it are outstanding, or the pipeline is full.
func (p *pipeline) waiting(fetch []FetchPartition) bool {
	for _, fp := range fetch {
		tp := fp.TopicPartition
		if p.synced[tp] || p.naming[tp] {
			continue // continues, or its offset is on its way
		}
		if p.carried[tp] == 0 && p.outstanding() < pipelineDepth {
			continue // goes in the next request
		}
		return true
	}
	return false
}

// parkedSince is when the oldest request outstanding was issued (zero:
// none). Under load answers come back within a round trip and a couple of
// lingers of their issue; a request older than that is a long poll parked
// at the source, answered at max wait.
func (p *pipeline) parkedSince() time.Time {
	if len(p.inflight) == 0 {
		return time.Time{}
	}
	return p.inflight[0].start
}

// apply applies one answer through the engine and updates the
// partitions' bookkeeping.
func (p *pipeline) apply(e *engine, now time.Time, a pipeAnswer) (roundResult, []TopicPartition) {
	result, unsynced := e.applyPipelined(now, a.r.req, a.r.states, a.resp)
	p.applied(a.r)
	for _, pp := range a.r.req.Partitions {
		// The source's cursor after this answer (answers are applied in
		// the order the source served them).
		tp := pp.TopicPartition
		d, ok := a.resp.Partitions[tp]
		if ok && d.Err == nil && d.DivergingEpoch == nil && d.NextOffset >= 0 {
			p.cursor[tp] = d.NextOffset
		} else {
			delete(p.cursor, tp)
		}
	}
	for _, pp := range a.r.req.Partitions {
		// A partition whose offset this request named, applied as asked:
		// its cursor is where it is, continuations may follow.
		if !pp.Continue && !slices.Contains(unsynced, pp.TopicPartition) {
			p.synced[pp.TopicPartition] = true
		}
	}
	return result, p.unsync(unsynced)
}

// unsync marks partitions whose answers could not be applied: they name
// their offsets again (build). No request continuing a partition is
// issued while the one naming its offset is outstanding, so every answer
// that could not be applied means the partition lost step.
func (p *pipeline) unsync(tps []TopicPartition) []TopicPartition {
	for _, tp := range tps {
		delete(p.synced, tp)
	}
	return tps
}

// collect takes the results that arrived: answers go to ready; a request
// that failed, or a session the source refused or restarted, is returned
// as err (the caller resets). failed is the request that failed, if any.
func (p *pipeline) collect() (failed *pipeReq, err error) {
	kept := p.inflight[:0]
	for i, r := range p.inflight {
		var res pipeResult
		select {
		case res = <-r.done:
		default:
			kept = append(kept, r)
			continue
		}
		if res.err != nil || res.resp.Err != nil {
			// Not applied (applied cancels those that are): release its
			// context's timer now rather than at its deadline.
			r.cancel()
		}
		switch seq := int32(-1); {
		case res.err != nil:
			failed, err = r, res.err
		case res.resp.Err != nil:
			err = res.resp.Err
		default:
			seq = res.resp.Sequence
			if _, dup := p.ready[seq]; dup || seq < p.next {
				r.cancel()
				// The source dropped the session and started a new
				// one under our id.
				err = fmt.Errorf("%w: LinkFetch answer %d after %d (the source restarted the session)",
					kerr.FetchSessionIDNotFound, seq, p.next)
			} else {
				p.ready[seq] = pipeAnswer{r: r, resp: res.resp}
			}
		}
		if err != nil {
			kept = append(kept, p.inflight[i+1:]...)
			p.inflight = kept
			return failed, err
		}
	}
	p.inflight = kept
	if len(p.inflight) == 0 && len(p.ready) > 0 {
		if _, ok := p.ready[p.next]; !ok {
			return nil, fmt.Errorf("%w: LinkFetch answer %d never came", kerr.FetchSessionIDNotFound, p.next)
		}
	}
	return nil, nil
}

// statesOf is the state of each partition of req (by index), to which
// its answer may be applied (pipeReq.states).
func (e *engine) statesOf(req *PipelinedFetchRequest) []*fetchState {
	out := make([]*fetchState, len(req.Partitions))
	for i, pp := range req.Partitions {
		out[i] = e.parts[pp.TopicPartition]
	}
	return out
}

// applyPipelined applies one LinkFetch answer (in request order) and
// reports the partitions that are no longer synced with their cursors.
// states are the states req was built from (statesOf).
func (e *engine) applyPipelined(now time.Time, req *PipelinedFetchRequest, states []*fetchState, resp *PipelinedFetchResponse) (roundResult, []TopicPartition) {
	env := e.env(now)
	var (
		r        roundResult
		moved    []*fetchState
		unsynced []TopicPartition
	)
	for i, sent := range req.Partitions {
		tp := sent.TopicPartition
		s := e.parts[tp]
		d, ok := resp.Partitions[tp]
		if s == nil {
			continue
		}
		if s != states[i] {
			// Removed and added again since the request was built:
			// its answer was checked against the old state's log.
			unsynced = append(unsynced, tp)
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
		// A partition that must name its offset while the requests
		// outstanding are long polls parked at the source would wait for
		// them, one after the other: up to pipelineDepth × max wait for a
		// new mirror or a resume. Start a new session instead: its first
		// request names every partition's offset, and the source answers
		// the old session's parked polls at once (their connection named
		// another session, 32004_link_fetch.go). Under load the answers
		// come back within a round trip or two and the partition waits
		// for them.
		var renewAt time.Time
		if plan.fetch != nil && p.waiting(plan.fetch.Partitions) {
			if since := p.parkedSince(); !since.IsZero() {
				renewAt = since.Add(w.parkedAfter())
				if !time.Now().Before(renewAt) {
					w.eng.logger.Debug("fetcher: LinkFetch session renewed: a partition must name its offset and the requests outstanding are parked", "broker", w.key.broker)
					p.reset()
					renewAt = time.Time{}
				}
			}
		}
		if plan.fetch != nil {
			w.fill(p, plan.fetch)
		}
		w.publishAll(now)
		if !w.awaitPipelined(p, renewAt) {
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
	for p.outstanding() < pipelineDepth {
		req := p.build(fetch.Partitions, maxWait, linger, minBytes, maxBytes)
		if req == nil {
			return
		}
		// A request may wait at the source for those before it, each at
		// most maxWait.
		ctx, cancel := context.WithTimeout(w.ctx, f.cfg.RequestTimeout+time.Duration(pipelineDepth+1)*maxWait)
		r := &pipeReq{id: p.issued, req: req, states: w.eng.statesOf(req), start: time.Now(), done: make(chan pipeResult, 1), cancel: cancel}
		p.issued++
		p.inflight = append(p.inflight, r)
		f.stats.fetches.Add(1)
		f.stats.linkFetches.Add(1)
		ep, wake := p.ep, p.wake
		go func() {
			resp, err := ep.LinkFetch(ctx, req)
			r.done <- pipeResult{resp, err}
			select {
			case wake <- struct{}{}:
			default:
			}
		}()
	}
}

// parkedAfter is how long after its issue an unanswered request counts as
// a long poll parked at the source: a round trip and three lingers (under
// load a request spends a round trip on the path, about a linger queued
// and a linger being answered), and at least 100 ms, so that a busy
// machine's slow answers are not taken for parked polls (a renewal costs
// a new session and, with franz-go, a new connection).
func (w *worker) parkedAfter() time.Duration {
	return max(w.rtt+3*w.linger(), 100*time.Millisecond)
}

// linger is RTT/(pipelineDepth-2) from the shortest round trip seen (the
// probe, then the answers: an overestimate from a probe on a new
// connection shrinks with the first answer that found data waiting), at
// least minLinger and at most the fetch wait.
func (w *worker) linger() time.Duration {
	l := w.rtt / (pipelineDepth - 2)
	return min(max(l, minLinger), w.f.cfg.FetchMaxWait)
}

// awaitPipelined waits for answers, a command, the next partition
// back-off deadline or renewAt (a session renewal to consider), and applies the answers that are next in the
// source's order; false when the worker must leave pipelined mode (a
// request failed: the leader is probed again).
func (w *worker) awaitPipelined(p *pipeline, renewAt time.Time) bool {
	f := w.f
	var timer <-chan time.Time
	d := w.eng.nextDeadline(f.cfg.Now())
	if !renewAt.IsZero() && (d.IsZero() || renewAt.Before(d)) {
		d = renewAt
	}
	if !d.IsZero() {
		t := time.NewTimer(max(d.Sub(f.cfg.Now()), 0))
		defer t.Stop()
		timer = t.C
	}
	if len(p.inflight) == 0 && timer == nil {
		w.idle(time.Time{})
		return true
	}
	select {
	case <-p.wake:
	case <-w.wake:
		return true
	case <-timer:
		return true
	case <-w.ctx.Done():
		return false
	}
	failed, err := p.collect()
	p.applyReady(func(a pipeAnswer) { w.applyAnswer(p, a) })
	switch {
	case err == nil:
		return true
	case failed != nil:
		if f.cfg.ObserveFetch != nil {
			f.cfg.ObserveFetch(w.key.broker, time.Since(failed.start), true)
		}
		f.stats.fetchErrors.Add(1)
		w.eng.logger.Warn("fetcher: fetch failed", "err", err)
		tps := make([]TopicPartition, len(failed.req.Partitions))
		for i, pp := range failed.req.Partitions {
			tps[i] = pp.TopicPartition
		}
		f.account(w.eng.requestFailed(f.cfg.Now(), tps, fmt.Errorf("fetch: %w", err)))
		p.reset()
		return false
	default:
		// The source refused or restarted the session (it was dropped
		// while idle or to make room): start a new one. Twice within
		// replica.fetch.backoff.ms is a source that keeps refusing: back
		// off before the next session, as after a failed fetch.
		w.eng.logger.Info("fetcher: LinkFetch session reset", "broker", w.key.broker, "err", err)
		p.reset()
		now := f.cfg.Now()
		if !p.refused.IsZero() && now.Sub(p.refused) < f.cfg.FetchBackoff {
			w.idle(now.Add(f.cfg.FetchBackoff))
		}
		p.refused = now
		return true
	}
}

// applyAnswer applies one answer, in the source's order.
func (w *worker) applyAnswer(p *pipeline, a pipeAnswer) {
	f := w.f
	took := time.Since(a.r.start)
	if f.cfg.ObserveFetch != nil {
		f.cfg.ObserveFetch(w.key.broker, took, false)
	}
	w.rtt = min(w.rtt, took)
	result, unsynced := p.apply(w.eng, f.cfg.Now(), a)
	if w.eng.logger.Enabled(w.ctx, slog.LevelDebug) {
		w.eng.logger.Debug("fetcher: LinkFetch answered", "request", a.r.id, "sequence", a.resp.Sequence, "took", time.Since(a.r.start),
			"partitions", len(a.r.req.Partitions), "bytes", result.bytes, "unsynced", unsynced, "outstanding", p.outstanding())
	}
	f.account(result)
	w.sizer.observe(pipelinedAsFetch(a.r.req, a.resp))
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
