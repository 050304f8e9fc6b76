package link

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/usererr"
	"github.com/tandem-streaming/tandem/internal/wire"
)

// Failback operations, the asking side (docs/design/links-bidirectional.md
// §5; reference cluster-linking.md §2.5): truncate-and-restore on the old
// primary, reverse-and-start / reverse-and-pause on the cluster that holds
// the mirror. Every cross-cluster step goes over the link to the peer half
// (peerFor) as a LinkMirrorOp; the peer answers in failback_answer.go.

// errPeerUnreachable marks a LinkMirrorOp that got no answer (as opposed
// to one the peer refused): the step may or may not have happened there.
var errPeerUnreachable = errors.New("the peer cluster did not answer")

// peerMirrorOp sends one LinkMirrorOp over link l to its peer half and returns
// the per-topic results by topic. A transport failure wraps
// errPeerUnreachable; a top-level refusal is an error naming why.
func (m *Manager) peerMirrorOp(ctx context.Context, l metadata.Link, op int8, topics []wire.LinkMirrorOpTopic) (map[string]wire.LinkMirrorOpTopicResult, error) {
	if err := m.refuseUnpaired(l.Name); err != nil {
		return nil, err
	}
	pc, err := m.peerCaller(l.Name)
	if err != nil {
		return nil, usererr.New(errors.Join(ErrNoPeer, errPeerUnreachable), "cluster link '%s' cannot reach its peer half: %w", l.Name, err)
	}
	cctx, cancel := context.WithTimeout(ctx, Millis(l.Configs, "request.timeout.ms"))
	defer cancel()
	resp, err := pc.LinkMirrorOp(cctx, &wire.LinkMirrorOpRequest{LinkName: l.Name, LinkID: l.ID, ClusterID: m.cluster.ClusterID(), Op: op, Topics: topics})
	if err != nil {
		return nil, usererr.New(errors.Join(ErrSourceCluster, errPeerUnreachable, errSourceUnreachable), "the peer half of cluster link '%s' did not answer: %w", l.Name, sourceError(err))
	}
	if resp.ErrorCode != 0 {
		msg := kerr.ErrorForCode(resp.ErrorCode).Error()
		if resp.ErrorMessage != nil {
			msg = *resp.ErrorMessage
		}
		return nil, usererr.New(errors.Join(ErrNoPeer, kerr.ErrorForCode(resp.ErrorCode)), "the peer half of cluster link '%s' refused: %s", l.Name, msg)
	}
	out := make(map[string]wire.LinkMirrorOpTopicResult, len(resp.Topics))
	for _, r := range resp.Topics {
		out[r.Topic] = r
	}
	return out, nil
}

// opTopic is the LinkMirrorOp request topic for local topic name, with
// its topic id: the peer checks it against the SourceTopicID its mirror
// of name recorded (checkPeerTopicID), so a topic deleted and re-created
// on either side since is never truncated to or fenced for the other
// incarnation's offsets.
func (m *Manager) opTopic(name string) wire.LinkMirrorOpTopic {
	o := wire.LinkMirrorOpTopic{Topic: name}
	if t, err := m.cluster.TopicByName(name); err == nil {
		o.TopicID = t.ID
	}
	return o
}

// peerTopicErr is a per-topic refusal of the peer, or nil.
func peerTopicErr(r wire.LinkMirrorOpTopicResult, ok bool, topic string) error {
	if !ok {
		return usererr.New(ErrMirrorState, "the peer cluster did not answer for topic '%s'", topic)
	}
	if r.ErrorCode == 0 {
		return nil
	}
	msg := kerr.ErrorForCode(r.ErrorCode).Error()
	if r.ErrorMessage != nil {
		msg = *r.ErrorMessage
	}
	if r.ErrorCode == kerr.UnknownTopicOrPartition.Code {
		return usererr.New(errors.Join(ErrMirrorState, kerr.UnknownTopicOrPartition), "%s", msg)
	}
	return usererr.New(ErrMirrorState, "%s", msg)
}

// failbackRuntime checks that link can run a failback operation here and
// returns it with its runtime.
func (m *Manager) failbackRuntime(link string) (metadata.Link, *runtime, error) {
	l, ok := m.store.Link(link)
	if !ok {
		return l, nil, errUnknownLink(link)
	}
	if err := failbackLink(l, m.cluster.ClusterID()); err != nil {
		return l, nil, err
	}
	rt := m.runtimeOf(link)
	if rt == nil {
		return l, nil, usererr.New(ErrSourceCluster, "cluster link '%s' is not running (paused or failed): failback needs both clusters reachable over it", link)
	}
	// Known not to pair (design §2.3): say so rather than ask. A state
	// not known yet (no exchange since the start) does not stop the
	// operation: the peer checks the link id itself.
	if rt.remote().State == RemoteLinkNotFound {
		return l, nil, m.requirePeer(rt)
	}
	return l, rt, nil
}

// TruncateResult is one topic's outcome of truncate-and-restore.
type TruncateResult struct {
	Topic string
	Err   error
	// Plan is the truncation per partition (offset_truncated_to,
	// messages_truncated, and the range removed).
	Plan []metadata.MirrorRestorePartition
	Info MirrorInfo
}

// MessagesTruncated is Confluent's messages_truncated: records removed.
func (r TruncateResult) MessagesTruncated() int64 {
	var n int64
	for _, p := range r.Plan {
		n += p.Records
	}
	return n
}

// TruncateAndRestore runs truncate-and-restore (§5.2) on the named local
// topics (or those matching pattern: ordinary topics and mirrors of the
// link): each is truncated to the log end offsets the peer's STOPPED
// mirror of the same name had when it was failed over, and becomes a
// mirror of it over link, fetching from the truncation point. With
// validateOnly it only reports the plan. Per-topic errors are in the
// results; the error is for the request as a whole (no such link, a link
// that cannot fail back, a peer that does not answer: nothing changed).
func (m *Manager) TruncateAndRestore(ctx context.Context, link string, names []string, pattern string, validateOnly bool) ([]TruncateResult, error) {
	if m == nil {
		return nil, ErrDisabled
	}
	l, _, err := m.failbackRuntime(link)
	if err != nil {
		return nil, err
	}
	var candidates []metadata.Topic
	for _, t := range m.cluster.Topics() {
		if !internalTopic(t.Name, false) && (t.Mirror == nil || t.Mirror.Link == link) {
			candidates = append(candidates, t)
		}
	}
	if names, err = matchNames(names, pattern, candidates); err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, nil
	}
	ask := make([]wire.LinkMirrorOpTopic, 0, len(names))
	for _, n := range names {
		ask = append(ask, m.opTopic(n))
	}
	stops, err := m.peerMirrorOp(ctx, l, wire.MirrorOpDescribeStop, ask)
	if err != nil {
		return nil, err
	}
	out := make([]TruncateResult, 0, len(names))
	for _, n := range names {
		r := TruncateResult{Topic: n}
		stop, ok := stops[n]
		r.Err = peerTopicErr(stop, ok, n)
		if r.Err == nil {
			targets := make(map[int32]int64, len(stop.Partitions))
			for _, p := range stop.Partitions {
				targets[p.Partition] = p.Offset
			}
			r.Plan, r.Err = m.restore(ctx, link, n, n, targets, restoreOpts{validateOnly: validateOnly, sourceTopicID: stop.TopicID})
			if r.Err != nil && !validateOnly {
				m.noteTransitionError(n, fmt.Errorf("truncate-and-restore: %w", r.Err))
			}
		}
		if t, err := m.cluster.TopicByName(n); err == nil && t.Mirror != nil {
			r.Info = m.mirrorInfo(t)
		}
		out = append(out, r)
	}
	return out, nil
}

// ReverseMirrors runs reverse-and-start-mirror (paused=false) or
// reverse-and-pause-mirror (paused=true) on the named mirrors of link (or
// those matching pattern), §5.3: the local mirror becomes the writable
// source and the peer's topic of the same name becomes its mirror
// (ACTIVE, or PAUSED). Two phases, so the two topics are never both
// writable: the peer's topic is fenced first, then this one stops (once
// caught up with the fenced ends), then the peer restores.
func (m *Manager) ReverseMirrors(ctx context.Context, link string, names []string, pattern string, paused, validateOnly bool) ([]AlterResult, error) {
	if m == nil {
		return nil, ErrDisabled
	}
	l, rt, err := m.failbackRuntime(link)
	if err != nil {
		return nil, err
	}
	if names, err = matchNames(names, pattern, m.mirrorsOf(link)); err != nil {
		return nil, err
	}
	var out []AlterResult
	for _, name := range names {
		err := m.reverseOne(ctx, l, rt, name, paused, validateOnly)
		r := AlterResult{Topic: name, Err: err}
		if t, terr := m.cluster.TopicByName(name); terr == nil && t.Mirror != nil {
			r.Info = m.mirrorInfo(t)
		}
		out = append(out, r)
	}
	return out, nil
}

func reverseOp(paused bool) (mirrorEvent, string) {
	if paused {
		return evReversePause, opReversePause
	}
	return evReverseStart, opReverseStart
}

func (m *Manager) reverseOne(ctx context.Context, l metadata.Link, rt *runtime, name string, paused, validateOnly bool) error {
	unlock := m.lockMirror(name)
	defer unlock()
	t, err := m.cluster.TopicByName(name)
	if err != nil {
		return notMirror(name, l.Name, err)
	}
	if t.Mirror == nil || t.Mirror.Link != l.Name || !m.owns(t) {
		return notMirror(name, l.Name, nil)
	}
	ev, op := reverseOp(paused)
	if t.Mirror.State == MirrorStopped && (t.Mirror.RemoteOp == opRestore || t.Mirror.RemoteOp == opRestorePause) && !validateOnly {
		// Reversed here already; the peer's restore is pending (a
		// retry after an answer that reported it): send it again.
		return m.remoteRestore(ctx, l, t)
	}
	if _, err := mirrorTransition(*t.Mirror, ev); err != nil {
		if t.Mirror.State == MirrorStopped {
			return usererr.New(ErrMirrorState, "Topic '%s' has already stopped its mirror from '%s'", name, l.Name)
		}
		return fmt.Errorf("mirror topic '%s': %w", name, err)
	}
	if validateOnly {
		// The peer must answer for the topic (without changing it) and
		// this mirror must have caught up with its source now.
		res, err := m.peerMirrorOp(ctx, l, wire.MirrorOpDescribeStop, []wire.LinkMirrorOpTopic{m.opTopic(name)})
		if err != nil {
			return err
		}
		if r := res[name]; r.ErrorCode == kerr.UnknownTopicOrPartition.Code {
			return peerTopicErr(r, true, name)
		} else if r.State != "" && r.State != string(MirrorStopped) && r.State != string(metadata.MirrorPendingSetupForRestore) {
			return peerTopicErr(r, true, name)
		}
		_, err = m.caughtUp(ctx, rt, t)
		return err
	}
	// The intent first: a crash after the peer fenced its topic is
	// completed by the pending-operations task (design §5.3).
	if err := m.setRemoteOp(name, op); err != nil {
		return err
	}
	return m.reverseLocked(ctx, l, rt, name, ev, false)
}

// reverseLocked runs a reverse from its first phase on mirror name, whose
// RemoteOp records it; the caller holds the mirror's lock. retrying: the
// pending-operations task completes a reverse whose asker went away.
func (m *Manager) reverseLocked(ctx context.Context, l metadata.Link, rt *runtime, name string, ev mirrorEvent, retrying bool) error {
	fenced, err := m.peerMirrorOp(ctx, l, wire.MirrorOpFence, []wire.LinkMirrorOpTopic{m.opTopic(name)})
	if err != nil {
		if retrying && errors.Is(err, errPeerUnreachable) {
			// The reverse was asked for and may be half done (the
			// peer fenced): try again at the next run.
			m.noteTransitionError(name, err)
			return err
		}
		// Unanswered: the fence may have happened there. Undo it in the
		// background until the peer answers (unfence is idempotent):
		// the user was told the reverse failed.
		remote := opUnfence
		if !errors.Is(err, errPeerUnreachable) {
			remote = ""
		}
		if serr := m.setRemoteOp(name, remote); serr != nil {
			return errors.Join(err, serr)
		}
		return fmt.Errorf("nothing was changed: %w", err)
	}
	r := fenced[name]
	if err := peerTopicErr(r, true, name); err != nil {
		if serr := m.setRemoteOp(name, ""); serr != nil {
			return errors.Join(err, serr)
		}
		return fmt.Errorf("nothing was changed: %w", err)
	}
	// The peer's topic is read-only now: its ends cannot move. Give the
	// data path the moment it needs to fetch what was written last
	// before the caught-up check decides.
	m.awaitEnds(ctx, rt, name, r.Partitions)
	t, err := m.transitionLocked(ctx, rt, name, ev, transitionArgs{})
	if err != nil {
		if cur, cerr := m.cluster.TopicByName(name); cerr == nil && cur.Mirror != nil && cur.Mirror.RemoteOp == opUnfence {
			// The caught-up check failed (or a promote-like abort):
			// this mirror is back where it was; so is the peer.
			if uerr := m.remoteUnfence(ctx, l, name); uerr != nil {
				m.noteTransitionError(name, uerr)
				return errors.Join(err, uerr)
			}
		}
		m.noteTransitionError(name, err)
		return err
	}
	if t.Mirror == nil || t.Mirror.State != MirrorStopped {
		return nil
	}
	return m.remoteRestore(ctx, l, t)
}

// awaitEnds waits, at most request.timeout.ms, until mirror name's log
// ends reach the fenced peer's ends.
func (m *Manager) awaitEnds(ctx context.Context, rt *runtime, name string, ends []wire.LinkMirrorOpPartition) {
	deadline := time.Now().Add(Millis(rt.link.Configs, "request.timeout.ms"))
	for {
		leo, err := m.cluster.LogEndOffsets(name)
		if err != nil {
			return
		}
		done := true
		for _, e := range ends {
			done = done && leo[e.Partition] >= e.Offset
		}
		if done || !time.Now().Before(deadline) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// remoteRestore sends the reverse's last phase: the peer's fenced topic
// becomes a mirror of t from t's final log end offsets; then t's RemoteOp
// is cleared. A peer that does not answer is asked again by the
// pending-operations task; a refusal is final (recorded as a state
// transition error): the peer's topic was made writable meanwhile.
func (m *Manager) remoteRestore(ctx context.Context, l metadata.Link, t metadata.Topic) error {
	// TopicID: the peer records it as its new mirror's SourceTopicID
	// (design §5.3: the ids swap roles), also when its topic was an
	// ordinary one that never knew this side's id.
	topic := wire.LinkMirrorOpTopic{Topic: t.Name, TopicID: t.ID, Paused: t.Mirror.RemoteOp == opRestorePause}
	for _, o := range t.Mirror.StopOffsets {
		topic.Partitions = append(topic.Partitions, wire.LinkMirrorOpPartition{Partition: o.Partition, Offset: o.LogEndOffset})
	}
	res, err := m.peerMirrorOp(ctx, l, wire.MirrorOpRestore, []wire.LinkMirrorOpTopic{topic})
	if err == nil {
		err = peerTopicErr(res[t.Name], true, t.Name)
		if err != nil {
			if serr := m.setRemoteOp(t.Name, ""); serr != nil {
				err = errors.Join(err, serr)
			}
		}
	}
	if err != nil {
		err = fmt.Errorf("topic '%s' is writable here; turning the peer's topic into its mirror failed: %w", t.Name, err)
		m.noteTransitionError(t.Name, err)
		return err
	}
	return m.setRemoteOp(t.Name, "")
}

// remoteUnfence makes the peer's topic writable again after a reverse
// that did not happen, then clears RemoteOp.
func (m *Manager) remoteUnfence(ctx context.Context, l metadata.Link, name string) error {
	res, err := m.peerMirrorOp(ctx, l, wire.MirrorOpUnfence, []wire.LinkMirrorOpTopic{{Topic: name}})
	if err == nil {
		err = peerTopicErr(res[name], true, name)
	}
	if err != nil {
		return fmt.Errorf("making the peer's topic '%s' writable again: %w", name, err)
	}
	return m.setRemoteOp(name, "")
}

// setRemoteOp persists mirror name's RemoteOp (its state unchanged). The
// caller holds the mirror's lock.
func (m *Manager) setRemoteOp(name, op string) error {
	t, err := m.cluster.TopicByName(name)
	if err != nil {
		return err
	}
	if t.Mirror == nil || t.Mirror.RemoteOp == op {
		return nil
	}
	next := *t.Mirror
	next.RemoteOp = op
	if err := m.cluster.SetMirrorState(name, next); err != nil {
		return fmt.Errorf("persisting mirror %s: %w", name, err)
	}
	return nil
}

// resumeReverse completes a reverse whose asker went away after the
// intent was persisted: only if the peer's topic is still fenced. One that
// is not was never fenced (the crash came first) or was made writable
// again there (failed over, design §5.3: "if A never comes back"): the
// reverse is abandoned then, and noted, rather than fencing a topic its
// users took back.
func (m *Manager) resumeReverse(ctx context.Context, l metadata.Link, rt *runtime, name, op string) error {
	res, err := m.peerMirrorOp(ctx, l, wire.MirrorOpDescribeStop, []wire.LinkMirrorOpTopic{m.opTopic(name)})
	if err != nil {
		m.noteTransitionError(name, err)
		return err // asked again at the next run
	}
	if st := res[name].State; st != string(metadata.MirrorPendingSetupForRestore) {
		if st == "" {
			st = "not fenced"
		}
		m.noteTransitionError(name, usererr.New(ErrMirrorState, "%s of '%s' abandoned: the peer's topic is %s (failed over there, or never fenced)", op, name, st))
		return m.setRemoteOp(name, "")
	}
	ev, _ := reverseOp(op == opReversePause)
	return m.reverseLocked(ctx, l, rt, name, ev, true)
}

// remoteOpAfter is the RemoteOp a transition leaves on a mirror: a
// reverse's stop that completed owes the peer its restore; one that was
// aborted (not caught up) owes it an unfence; a failover that overrode a
// reverse owes nothing (the peer's topic stays fenced, read-only, until
// failed over there). Anything else keeps what was owed.
func remoteOpAfter(from metadata.Mirror, step mirrorStep) string {
	if from.State != MirrorPendingStopped || (from.PendingOp != opReverseStart && from.PendingOp != opReversePause) {
		return from.RemoteOp
	}
	switch {
	case step.To == MirrorStopped:
		if from.PendingOp == opReversePause {
			return opRestorePause
		}
		return opRestore
	case step.To == MirrorPendingStopped && step.PendingOp == opFailover:
		return ""
	case step.To == MirrorActive || step.To == MirrorPaused:
		return opUnfence
	}
	return from.RemoteOp
}

// retryRemoteOps is the pending-operations task's share of failback
// (design §5.3 crash points): it completes what each mirror of the link
// still owes the peer.
func (m *Manager) retryRemoteOps(ctx context.Context, rt *runtime) error {
	var errs []error
	for _, t := range m.mirrorsOf(rt.link.Name) {
		if t.Mirror.RemoteOp == "" || t.Mirror.State == MirrorPendingStopped {
			continue // a pending stop is finished by its own recovery
		}
		if err := m.retryRemoteOp(ctx, rt, t.Name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (m *Manager) retryRemoteOp(ctx context.Context, rt *runtime, name string) error {
	unlock := m.lockMirror(name)
	defer unlock()
	t, err := m.cluster.TopicByName(name)
	if err != nil || t.Mirror == nil || t.Mirror.RemoteOp == "" {
		return nil
	}
	l, ok := m.store.Link(t.Mirror.Link)
	if !ok {
		return nil
	}
	switch op := t.Mirror.RemoteOp; {
	case op == opRestore || op == opRestorePause:
		if t.Mirror.State == MirrorStopped {
			return m.remoteRestore(ctx, l, t)
		}
	case op == opUnfence:
		if err := m.remoteUnfence(ctx, l, name); err != nil {
			m.noteTransitionError(name, err)
			return err
		}
		return nil
	case op == opReverseStart || op == opReversePause:
		if t.Mirror.State == MirrorActive || t.Mirror.State == MirrorPaused {
			return m.resumeReverse(ctx, l, rt, name, op)
		}
	}
	// Owed in a state that cannot owe it (a failover, say): drop it.
	return m.setRemoteOp(name, "")
}
