package fetcher

import (
	"fmt"
	"log/slog"
	"time"
)

// engine is the part of AbstractFetcherThread that is not I/O, for one
// fetcher (one source broker and fetcher id): the partitions it serves, in
// fetch order, the planning of each round's requests (Kafka's doWork:
// maybeTruncate, then maybeFetch; plus the ListOffsets look-ups Kafka makes
// inline) and the application of their answers. What to do with fetched
// data, where to start and how to recover from OFFSET_OUT_OF_RANGE is its
// Policy's. Effects the partitions need from the owner come back in the
// roundResult; their acknowledgements go in through ackLeaderEpoch. The
// worker drives it with a LeaderEndpoint; the transcript tests drive it
// with scripted answers. It is not safe for concurrent use: its owner
// goroutine is the only caller.
type engine struct {
	cfg       engineConfig
	policy    Policy
	logger    *slog.Logger
	caps      Capabilities
	capsKnown bool
	parts     map[TopicPartition]*fetchState
	// order is the fetch order. Partitions that received data move to the
	// end (PartitionStates.updateAndMoveToEnd), so every partition in turn
	// leads a request, where KIP-74 returns its first batch whole.
	order []*fetchState
}

// engineConfig is the part of Config an engine uses.
type engineConfig struct {
	maxWait           time.Duration
	minBytes          int32
	maxBytes          int32
	partitionMaxBytes int32
	backoff           time.Duration
}

// roundPlan is what one round sends.
type roundPlan struct {
	offsets      []OffsetQuery
	epochs       []EpochQuery
	fetch        *FetchRequest // nil: nothing to fetch
	needMetadata bool
}

func (p roundPlan) empty() bool { return len(p.offsets) == 0 && len(p.epochs) == 0 && p.fetch == nil }

// roundResult sums the outcomes of one response.
type roundResult struct {
	needMetadata bool
	bytes        int64
	records      int64
	batches      int64
	corrupt      int64    // partition answers dropped as corrupt
	effects      []Effect // for the owner (Config.OnEffect)
}

func (r *roundResult) add(o outcome) {
	r.needMetadata = r.needMetadata || o.needMetadata
	r.effects = append(r.effects, o.effects...)
	if o.corrupt {
		r.corrupt++
	}
	r.bytes += int64(o.appended.Bytes)
	r.records += int64(o.appended.Records)
	r.batches += int64(o.appended.Batches)
}

func newEngine(cfg engineConfig, policy Policy, logger *slog.Logger) *engine {
	return &engine{cfg: cfg, policy: policy, logger: logger, parts: make(map[TopicPartition]*fetchState)}
}

func (e *engine) env(now time.Time) stepEnv {
	return stepEnv{now: now, caps: e.caps, backoff: e.cfg.backoff, policy: e.policy, logger: e.logger}
}

// add takes over a partition (addPartitions). Its state is reinitialized
// for this leader once the leader's capabilities are known.
func (e *engine) add(s *fetchState) {
	if _, ok := e.parts[s.tp]; ok {
		return
	}
	if e.capsKnown {
		s.reinit(e.caps)
	}
	e.parts[s.tp] = s
	e.order = append(e.order, s)
}

// remove gives a partition up (removePartitions).
func (e *engine) remove(tp TopicPartition) *fetchState {
	s, ok := e.parts[tp]
	if !ok {
		return nil
	}
	delete(e.parts, tp)
	s.held = nil // fetched from this worker's leader
	for i, o := range e.order {
		if o == s {
			e.order = append(e.order[:i], e.order[i+1:]...)
			break
		}
	}
	return s
}

// setLeaderEpoch applies a new leader epoch of the same leader.
func (e *engine) setLeaderEpoch(tp TopicPartition, leader, epoch int32, topicID [16]byte) {
	s := e.parts[tp]
	if s == nil {
		return
	}
	if s.topicID == ([16]byte{}) {
		s.topicID = topicID
	}
	if s.setLeader(leader, epoch) && e.capsKnown {
		s.reinit(e.caps)
	}
}

// setCaps records the leader's capabilities; when they change, every
// partition is reinitialized (the truncation mechanism depends on them).
func (e *engine) setCaps(c Capabilities) {
	if e.capsKnown && c == e.caps {
		return
	}
	e.caps, e.capsKnown = c, true
	for _, s := range e.order {
		s.reinit(c)
	}
}

// ackLeaderEpoch applies the owner's acknowledgement of an
// EffectRaiseLeaderEpoch (err nil: the epoch is in place); data held back
// for it is processed now.
func (e *engine) ackLeaderEpoch(now time.Time, tp TopicPartition, epoch int32, err error) roundResult {
	var r roundResult
	s := e.parts[tp]
	if s == nil {
		return r
	}
	o := s.onLeaderEpochAck(e.env(now), epoch, err)
	r.add(o)
	if o.progressed {
		e.moveToEnd([]*fetchState{s})
	}
	return r
}

// forgetCaps makes the next round probe the leader again (after a request
// failed: the broker may have restarted with another version).
func (e *engine) forgetCaps() { e.capsKnown = false }

// plan builds one round's requests from the partitions that are ready.
func (e *engine) plan(now time.Time) roundPlan {
	var p roundPlan
	if !e.capsKnown {
		return p
	}
	env := e.env(now)
	var fetch []FetchPartition
	for _, s := range e.order {
		if !s.ready(now) {
			continue
		}
		switch s.phase {
		case phaseResolving:
			p.offsets = append(p.offsets, s.offsetQuery())
			continue
		case phaseTruncating:
			if q, ok := s.epochQuery(); ok {
				p.epochs = append(p.epochs, q)
				continue
			}
			// No local epochs: truncation completed at once, fetch now.
		}
		if s.phase != phaseFetching {
			continue
		}
		if e.caps.TopicIDs && s.topicID == ([16]byte{}) {
			s.delay(env, fmt.Errorf("%w: %s", ErrNoTopicID, s.tp))
			p.needMetadata = true
			continue
		}
		fetch = append(fetch, s.fetchPartition(e.caps, e.cfg.partitionMaxBytes))
	}
	if len(fetch) > 0 {
		p.fetch = &FetchRequest{MaxWait: e.cfg.maxWait, MinBytes: e.cfg.minBytes, MaxBytes: e.cfg.maxBytes, Partitions: fetch}
	}
	return p
}

// nextDeadline is when the earliest delayed partition becomes ready; zero
// when none is waiting on a delay.
func (e *engine) nextDeadline(now time.Time) time.Time {
	var next time.Time
	for _, s := range e.order {
		if s.paused || !s.active() || s.leader < 0 || !now.Before(s.delayUntil) {
			continue
		}
		if next.IsZero() || s.delayUntil.Before(next) {
			next = s.delayUntil
		}
	}
	return next
}

// requestFailed handles a request that failed as a whole (connection
// lost, broker gone, request timeout): every partition in it backs off
// (processFetchRequest's partitionsWithError = all), metadata is
// refreshed, and the leader's capabilities are probed again.
func (e *engine) requestFailed(now time.Time, tps []TopicPartition, err error) roundResult {
	env := e.env(now)
	for _, tp := range tps {
		if s := e.parts[tp]; s != nil && s.active() {
			s.delay(env, err)
		}
	}
	e.forgetCaps()
	return roundResult{needMetadata: true}
}

// delayAll backs every partition off (the capabilities probe failed).
func (e *engine) delayAll(now time.Time, err error) {
	env := e.env(now)
	for _, s := range e.order {
		if s.active() {
			s.delay(env, err)
		}
	}
}

func (e *engine) applyOffsets(now time.Time, qs []OffsetQuery, res map[TopicPartition]OffsetResult, err error) roundResult {
	return applyAnswers(e, now, "ListOffsets", qs, res, err, (*fetchState).onOffsets)
}

func (e *engine) applyEpochs(now time.Time, qs []EpochQuery, res map[TopicPartition]EpochEndOffset, err error) roundResult {
	return applyAnswers(e, now, "OffsetForLeaderEpoch", qs, res, err, (*fetchState).onEpochEndOffset)
}

// applyAnswers hands each partition the answer to its query (ListOffsets,
// OffsetForLeaderEpoch); a request that failed as a whole backs them all
// off.
func applyAnswers[Q interface{ topicPartition() TopicPartition }, A any](e *engine, now time.Time, op string,
	qs []Q, res map[TopicPartition]A, err error, on func(*fetchState, stepEnv, Q, A) outcome) roundResult {
	if err != nil {
		tps := make([]TopicPartition, len(qs))
		for i, q := range qs {
			tps[i] = q.topicPartition()
		}
		return e.requestFailed(now, tps, fmt.Errorf("%s: %w", op, err))
	}
	env := e.env(now)
	var r roundResult
	for _, q := range qs {
		a, ok := res[q.topicPartition()]
		s := e.parts[q.topicPartition()]
		if !ok || s == nil {
			continue
		}
		r.add(on(s, env, q, a))
	}
	return r
}

// applyFetch processes a fetch response (processFetchRequest).
func (e *engine) applyFetch(now time.Time, req *FetchRequest, resp *FetchResponse, err error) roundResult {
	if err != nil {
		tps := make([]TopicPartition, len(req.Partitions))
		for i, p := range req.Partitions {
			tps[i] = p.TopicPartition
		}
		return e.requestFailed(now, tps, fmt.Errorf("fetch: %w", err))
	}
	if (resp.Version >= 12) != e.caps.TruncationOnFetch {
		// The broker answered at another version than negotiated (it
		// was replaced or downgraded under the same connection): the
		// response may lack the divergence check we relied on. Drop it
		// and start over with the capabilities it implies.
		c := e.caps
		c.FetchVersion, c.TruncationOnFetch, c.EpochFencing, c.TopicIDs = resp.Version, resp.Version >= 12, resp.Version >= 9, resp.Version >= 13
		e.logger.Warn("fetcher: fetch answered at an unexpected version; renegotiating", "version", resp.Version, "expected", e.caps.FetchVersion)
		e.setCaps(c)
		return roundResult{}
	}
	env := e.env(now)
	var r roundResult
	var moved []*fetchState
	for _, fp := range req.Partitions {
		d, ok := resp.Partitions[fp.TopicPartition]
		s := e.parts[fp.TopicPartition]
		if !ok || s == nil {
			continue
		}
		o := s.onFetch(env, fp, d)
		r.add(o)
		if o.progressed {
			moved = append(moved, s)
		}
	}
	if len(moved) > 0 {
		e.moveToEnd(moved)
	}
	return r
}

func (e *engine) moveToEnd(moved []*fetchState) {
	m := make(map[*fetchState]bool, len(moved))
	for _, s := range moved {
		m[s] = true
	}
	kept := e.order[:0:0]
	for _, s := range e.order {
		if !m[s] {
			kept = append(kept, s)
		}
	}
	for _, s := range e.order {
		if m[s] {
			kept = append(kept, s)
		}
	}
	e.order = kept
}
