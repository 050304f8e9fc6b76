package link

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/usererr"
	"github.com/tandem-streaming/tandem/internal/wire"
)

// The answering side of failback (docs/design/links-bidirectional.md
// §5.2–5.4): the peer half asks this cluster, over LinkMirrorOp, to
// describe its stopped mirrors (truncate-and-restore), or to fence,
// unfence and restore its topics (the two phases of a reverse). This
// cluster acts on its own topics with its own authority; the broker has
// checked the caller may ALTER the cluster.

// LinkMirrorOp executes a peer half's LinkMirrorOp request on this
// cluster's topics. A request this half cannot take at all (no such
// link, another link id, a link that cannot fail back) is refused as a
// whole with a top-level error; otherwise each topic has its own error.
func (m *Manager) LinkMirrorOp(ctx context.Context, req *wire.LinkMirrorOpRequest) *wire.LinkMirrorOpResponse {
	resp := &wire.LinkMirrorOpResponse{Version: req.Version}
	refuse := func(code int16, format string, args ...any) *wire.LinkMirrorOpResponse {
		msg := fmt.Sprintf(format, args...)
		resp.ErrorCode, resp.ErrorMessage = code, &msg
		return resp
	}
	if m == nil {
		return refuse(kerr.InvalidRequest.Code, "cluster linking is disabled on this cluster (cluster.link.enable=false)")
	}
	l, ok := m.store.Link(req.LinkName)
	if !ok {
		return refuse(kerr.InvalidRequest.Code, "cluster link '%s' does not exist", req.LinkName)
	}
	if req.LinkID != l.ID {
		// §2.3: the two halves of one link carry one cluster_link_id.
		return refuse(kerr.InvalidRequest.Code, "cluster link '%s' on cluster %s has id %s, the asking half has id %s: one of them was re-created; delete and re-create that half with cluster_link_id=%s",
			l.Name, m.cluster.ClusterID(), metadata.UUIDString(l.ID), metadata.UUIDString(req.LinkID), metadata.UUIDString(l.ID))
	}
	if err := failbackLink(l, m.cluster.ClusterID()); err != nil {
		return refuse(kerr.InvalidRequest.Code, "%s", err.Error())
	}
	for _, rt := range req.Topics {
		var res wire.LinkMirrorOpTopicResult
		switch req.Op {
		case wire.MirrorOpDescribeStop:
			res = m.describeStop(l, rt)
		case wire.MirrorOpFence:
			res = m.fence(ctx, l, rt)
		case wire.MirrorOpUnfence:
			res = m.unfence(ctx, l, rt.Topic)
		case wire.MirrorOpRestore:
			res = m.restoreForPeer(ctx, l, rt)
		default:
			return refuse(kerr.InvalidRequest.Code, "unknown LinkMirrorOp operation %d", req.Op)
		}
		res.Topic = rt.Topic
		resp.Topics = append(resp.Topics, res)
	}
	return resp
}

// failbackLink checks that link half l can take part in a failback:
// BIDIRECTIONAL (reference §4.2: only bidirectional links support
// reverse and truncate-and-restore) and without cluster.link.prefix
// (§2.5: "Not supported on links with cluster.link.prefix"; the two
// topics must have one name, design §4).
func failbackLink(l metadata.Link, cluster string) error {
	if mode := LinkMode(l.Configs); mode != ModeBidirectional {
		return usererr.New(ErrNoPeer, "cluster link '%s' on cluster %s is a link.mode=%s link: failback (truncate-and-restore, reverse-and-start, reverse-and-pause) needs link.mode=BIDIRECTIONAL on both clusters", l.Name, cluster, mode)
	}
	if p := Value(l.Configs, "cluster.link.prefix"); p != "" {
		return usererr.New(ErrNotSupported, "cluster link '%s' on cluster %s has cluster.link.prefix=%s: failback needs the two topics to have one name, so it is not supported on links with a prefix", l.Name, cluster, p)
	}
	return nil
}

// topicResult is a per-topic error of a LinkMirrorOp answer: unknown
// topics as Kafka says them, anything else INVALID_REQUEST with the
// reason.
func topicResult(err error) wire.LinkMirrorOpTopicResult {
	code := kerr.InvalidRequest.Code
	if errors.Is(err, metadata.ErrUnknownTopic) {
		code = kerr.UnknownTopicOrPartition.Code
	}
	msg := err.Error()
	return wire.LinkMirrorOpTopicResult{ErrorCode: code, ErrorMessage: &msg}
}

// peerTopic looks topic up for a peer's request: it must exist and be an
// ordinary topic or a mirror of link l.
func (m *Manager) peerTopic(l metadata.Link, topic string) (metadata.Topic, error) {
	t, err := m.cluster.TopicByName(topic)
	if err != nil {
		if errors.Is(err, metadata.ErrUnknownTopic) {
			return t, usererr.New(metadata.ErrUnknownTopic, "Topic '%s' does not exist on cluster %s", topic, m.cluster.ClusterID())
		}
		return t, err
	}
	if internalTopic(topic, false) {
		return t, usererr.New(ErrRestore, "Topic '%s' is an internal topic; it takes no part in a failback", topic)
	}
	if t.Mirror != nil && (t.Mirror.Link != l.Name || !m.owns(t)) {
		return t, usererr.New(ErrNotMirror, "Topic '%s' on cluster %s is a mirror topic of cluster link '%s', not of '%s'", topic, m.cluster.ClusterID(), t.Mirror.Link, l.Name)
	}
	return t, nil
}

// checkPeerTopicID refuses a peer's request about topic t when t is a
// mirror that recorded another source topic id than the asker's topic
// has now (design §5.3, "each side keeps its own topic id and records
// the other's as SourceTopicID"): one of the two topics was deleted and
// re-created since, and its offsets say nothing about the other. A zero
// id on either side (not known) skips the check, as the fetcher does.
func (m *Manager) checkPeerTopicID(t metadata.Topic, asker [16]byte) error {
	if t.Mirror == nil || t.Mirror.SourceTopicID == ([16]byte{}) || asker == ([16]byte{}) || t.Mirror.SourceTopicID == asker {
		return nil
	}
	return usererr.New(ErrMirrorState, "Topic '%s' on cluster %s mirrored the topic with id %s; the peer's topic '%s' has id %s: one of them was deleted and re-created since, so they cannot fail back to each other",
		t.Name, m.cluster.ClusterID(), metadata.UUIDString(t.Mirror.SourceTopicID), t.Mirror.SourceTopic, metadata.UUIDString(asker))
}

// describeStop answers DESCRIBE_STOP for one topic (§5.2 step 1): a
// STOPPED mirror of the link reports the log end offsets it had when it
// stopped, its topic id and (by their number) its partition count.
func (m *Manager) describeStop(l metadata.Link, req wire.LinkMirrorOpTopic) wire.LinkMirrorOpTopicResult {
	topic := req.Topic
	t, err := m.peerTopic(l, topic)
	if err == nil {
		err = m.checkPeerTopicID(t, req.TopicID)
	}
	if err != nil {
		return topicResult(err)
	}
	if t.Mirror == nil {
		return topicResult(usererr.New(ErrMirrorState, "Topic '%s' on cluster %s is not a mirror topic of cluster link '%s', so it has no stop offsets to restore to", topic, m.cluster.ClusterID(), l.Name))
	}
	if t.Mirror.State != MirrorStopped || len(t.Mirror.StopOffsets) != int(t.Partitions) {
		res := topicResult(usererr.New(ErrMirrorState, "Topic '%s' on cluster %s is %s, not a stopped mirror of cluster link '%s': fail it over on %s first",
			topic, m.cluster.ClusterID(), m.mirrorInfo(t).State, l.Name, m.cluster.ClusterID()))
		res.State = string(t.Mirror.State)
		return res
	}
	res := wire.LinkMirrorOpTopicResult{State: string(t.Mirror.State), TopicID: t.ID}
	for _, o := range t.Mirror.StopOffsets {
		res.Partitions = append(res.Partitions, wire.LinkMirrorOpPartition{Partition: o.Partition, Offset: o.LogEndOffset})
	}
	return res
}

// fence answers FENCE (§5.3 step 1): the topic, a STOPPED mirror of the
// link or an ordinary topic, turns PENDING_SETUP_FOR_RESTORE (read-only:
// producers get "Cannot append records to read-only mirror topic") and
// its log end offsets are reported once what was appended is durable.
// Fencing a fenced topic answers the same (a retry).
func (m *Manager) fence(ctx context.Context, l metadata.Link, req wire.LinkMirrorOpTopic) wire.LinkMirrorOpTopicResult {
	topic := req.Topic
	unlock := m.lockMirror(topic)
	t, err := m.fenceLocked(ctx, l, req)
	unlock()
	if err != nil {
		return topicResult(err)
	}
	// Records acknowledged before the fence are readable by the peer's
	// fetcher only once durable (below the high watermark): the ends
	// reported are where the peer's mirror must arrive.
	m.awaitDurable(ctx, topic)
	return m.endsResult(t)
}

func (m *Manager) fenceLocked(ctx context.Context, l metadata.Link, req wire.LinkMirrorOpTopic) (metadata.Topic, error) {
	topic := req.Topic
	t, err := m.peerTopic(l, topic)
	if err == nil {
		err = m.checkPeerTopicID(t, req.TopicID)
	}
	if err != nil {
		return t, err
	}
	if t.Mirror == nil {
		// An ordinary topic (the usual case of a planned reverse: this
		// cluster was the primary). PreviousState "" remembers that an
		// unfence or a failover makes it ordinary again. The asker's
		// topic id is recorded now: its restore checks it.
		next := metadata.Mirror{Link: l.Name, LinkID: l.ID, SourceTopic: topic, SourceTopicID: req.TopicID,
			State: metadata.MirrorPendingSetupForRestore, PendingOp: opFence}
		if err := m.cluster.SetMirrorState(topic, next); err != nil {
			return t, fmt.Errorf("fencing %s: %w", topic, err)
		}
		m.logger.Info("mirror state", "topic", topic, "event", evFence.String(), "state", string(next.State))
		return m.cluster.TopicByName(topic)
	}
	if _, err := mirrorTransition(*t.Mirror, evFence); err != nil {
		return t, usererr.New(ErrMirrorState, "Topic '%s' on cluster %s is %s, so it cannot become the mirror in a reverse: %w", topic, m.cluster.ClusterID(), m.mirrorInfo(t).State, err)
	}
	return m.transitionLocked(ctx, nil, topic, evFence, transitionArgs{})
}

func (m *Manager) endsResult(t metadata.Topic) wire.LinkMirrorOpTopicResult {
	res := wire.LinkMirrorOpTopicResult{TopicID: t.ID}
	if t.Mirror != nil {
		res.State = string(t.Mirror.State)
	}
	leo, err := m.cluster.LogEndOffsets(t.Name)
	if err != nil {
		return topicResult(err)
	}
	for p := int32(0); p < t.Partitions; p++ {
		res.Partitions = append(res.Partitions, wire.LinkMirrorOpPartition{Partition: p, Offset: leo[p]})
	}
	return res
}

// unfence answers UNFENCE: a topic this link fenced is writable again
// (an ordinary topic becomes ordinary again). A topic that is not fenced
// answers success: the peer retries until it hears so.
func (m *Manager) unfence(ctx context.Context, l metadata.Link, topic string) wire.LinkMirrorOpTopicResult {
	unlock := m.lockMirror(topic)
	defer unlock()
	t, err := m.peerTopic(l, topic)
	if err != nil {
		if errors.Is(err, metadata.ErrUnknownTopic) {
			return wire.LinkMirrorOpTopicResult{} // deleted since: nothing to undo
		}
		return topicResult(err)
	}
	if t.Mirror == nil || t.Mirror.State == MirrorStopped {
		return m.endsResult(t)
	}
	if t.Mirror.State != metadata.MirrorPendingSetupForRestore {
		return topicResult(usererr.New(ErrMirrorState, "Topic '%s' on cluster %s is %s, not fenced for a reverse", topic, m.cluster.ClusterID(), m.mirrorInfo(t).State))
	}
	// A topic that was ordinary before the fence is ordinary again
	// (transitionLocked, fencedOrdinary).
	if t, err = m.transitionLocked(ctx, nil, topic, evUnfence, transitionArgs{}); err != nil {
		return topicResult(err)
	}
	return m.endsResult(t)
}

// restoreForPeer answers RESTORE (§5.3 step 3): the fenced topic becomes
// a mirror of the asker's topic of the same name, ACTIVE (PAUSED when
// asked), from the targets, truncating nothing. A topic already restored
// to the same targets answers the same (a retry after a lost answer).
func (m *Manager) restoreForPeer(ctx context.Context, l metadata.Link, req wire.LinkMirrorOpTopic) wire.LinkMirrorOpTopicResult {
	t, err := m.peerTopic(l, req.Topic)
	if err == nil {
		err = m.checkPeerTopicID(t, req.TopicID)
	}
	if err != nil {
		return topicResult(err)
	}
	targets := make(map[int32]int64, len(req.Partitions))
	for _, p := range req.Partitions {
		targets[p.Partition] = p.Offset
	}
	if t.Mirror != nil && t.Mirror.State == metadata.MirrorPendingRestore {
		// A restore this cluster began and did not finish (a crash, a
		// truncation error): finish it now, as recovery would.
		if _, err := m.transition(ctx, m.runtimeOf(l.Name), req.Topic, evRecover, transitionArgs{}); err != nil {
			return topicResult(err)
		}
		if t, err = m.cluster.TopicByName(req.Topic); err != nil {
			return topicResult(err)
		}
		if _, ok := restored(*t.Mirror, req.Topic, targets); !ok {
			return topicResult(usererr.New(ErrMirrorState, "Topic '%s' on cluster %s was restored to other offsets", req.Topic, m.cluster.ClusterID()))
		}
		return m.endsResult(t)
	}
	if t.Mirror == nil || t.Mirror.State != metadata.MirrorPendingSetupForRestore {
		if t.Mirror == nil || t.Mirror.Link != l.Name {
			return topicResult(usererr.New(ErrMirrorState, "Topic '%s' on cluster %s is not fenced for a reverse: it was made writable again (failed over) on %s", req.Topic, m.cluster.ClusterID(), m.cluster.ClusterID()))
		}
		if _, ok := restored(*t.Mirror, req.Topic, targets); !ok {
			return topicResult(usererr.New(ErrMirrorState, "Topic '%s' on cluster %s is %s, not fenced for a reverse: it was failed over on %s meanwhile, or restored to other offsets", req.Topic, m.cluster.ClusterID(), m.mirrorInfo(t).State, m.cluster.ClusterID()))
		}
	}
	if _, err := m.restore(ctx, l.Name, req.Topic, req.Topic, targets, restoreOpts{paused: req.Paused, exact: true, sourceTopicID: req.TopicID}); err != nil {
		m.noteTransitionError(req.Topic, fmt.Errorf("restoring as a mirror of the peer cluster: %w", err))
		return topicResult(err)
	}
	t, err = m.cluster.TopicByName(req.Topic)
	if err != nil {
		return topicResult(err)
	}
	return m.endsResult(t)
}
