package fetcher

import "time"

// Effects: what a partition's state machine needs from the Fetcher's
// owner (raising a mirror partition's leader epoch) travels up as an
// Effect and comes back down as an acknowledgement command, so that a
// worker never calls into its owner, and never waits for the owner's
// locks (the owner's control calls wait for workers; the other way round
// would deadlock).
//
//	worker: engine returns effects ─▶ emitEffects (effMu, leaf; never blocks)
//	effectLoop goroutine: Config.OnEffect(e) with no Fetcher lock held
//	                      ─▶ ackEffect: opMu, then a cmdCall to the
//	                         partition's current worker (or applied
//	                         directly while it has none)
//	worker: engine.ackLeaderEpoch replays the held batches

// account applies a roundResult on a worker goroutine: counters, a
// metadata refresh, effects for the owner.
func (f *Fetcher) account(r roundResult) {
	if r.needMetadata {
		f.requestMetadata()
	}
	f.stats.bytes.Add(r.bytes)
	f.stats.records.Add(r.records)
	f.stats.batches.Add(r.batches)
	f.stats.corrupt.Add(r.corrupt)
	f.emitEffects(r.effects)
}

// emitEffects queues effects for effectLoop; never blocks.
func (f *Fetcher) emitEffects(es []Effect) {
	if len(es) == 0 {
		return
	}
	f.effMu.Lock()
	f.effQ = append(f.effQ, es...)
	f.effMu.Unlock()
	select {
	case f.effWake <- struct{}{}:
	default:
	}
}

// effectLoop delivers effects to Config.OnEffect, one at a time, in the
// order they were emitted, and routes the acknowledgements back.
func (f *Fetcher) effectLoop() {
	defer f.wg.Done()
	for {
		select {
		case <-f.ctx.Done():
			return
		case <-f.effWake:
		}
		for f.ctx.Err() == nil {
			f.effMu.Lock()
			if len(f.effQ) == 0 {
				f.effMu.Unlock()
				break
			}
			e := f.effQ[0]
			f.effQ = f.effQ[1:]
			f.effMu.Unlock()
			var err error
			if f.cfg.OnEffect != nil {
				err = f.cfg.OnEffect(e)
			}
			f.ackEffect(e, err)
		}
	}
}

// ackEffect hands an acknowledgement to the partition's owner: its worker
// (as a command, applied between network calls) or, while it has none,
// the opMu holder. Effects of removed partitions are dropped.
func (f *Fetcher) ackEffect(e Effect, err error) {
	f.opMu.Lock()
	defer f.opMu.Unlock()
	if f.ctx.Err() != nil {
		return
	}
	f.mu.Lock()
	p := f.parts[e.TopicPartition]
	f.mu.Unlock()
	if p == nil {
		return
	}
	if e.Kind != EffectRaiseLeaderEpoch {
		return
	}
	if p.owner != nil {
		_ = p.owner.post(&command{op: cmdCall, p: p, call: func(w *worker) {
			f.account(w.eng.ackLeaderEpoch(f.cfg.Now(), e.TopicPartition, e.LeaderEpoch, err))
		}})
		return
	}
	now := f.cfg.Now()
	p.st.onLeaderEpochAck(f.unownedEnv(now), e.LeaderEpoch, err)
	p.publish(now)
}

// unownedEnv is the step environment of a partition without a worker
// (nothing is fetched for it; only bookkeeping happens).
func (f *Fetcher) unownedEnv(now time.Time) stepEnv {
	return stepEnv{now: now, backoff: f.cfg.FetchBackoff, policy: f.cfg.Policy, logger: f.logger}
}
