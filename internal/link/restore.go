package link

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/partition"
	"github.com/tandem-streaming/tandem/internal/usererr"
)

// Truncate-and-restore's local half (docs/design/links-bidirectional.md,
// "Failback"; reference cluster-linking.md §2.5). Given, per partition,
// the log end offsets the remote topic had when its mirror was stopped
// (failed over), the local topic — an ordinary topic, or a STOPPED mirror
// of the same link — is truncated to them and becomes a mirror of the
// remote topic again, fetching from exactly the truncation point.
//
// Reached through TruncateAndRestore (failback.go), which asks the peer
// half for its stop offsets, and through the peer's RESTORE of a reverse
// (failback_answer.go).
//
// Order, each step crash-safe:
//  1. plan (log.PlanTruncation per partition; changes nothing);
//  2. persist PENDING_RESTORE with the plan (the topic turns read-only:
//     no write can land between the plan and the truncation); plan
//     again now that nothing moves, and persist the final plan if it
//     differs;
//  3. effTruncate: log each range, then log.TruncateTo per partition.
//     TruncateTo is idempotent (at or beyond the end it does nothing),
//     so a crash anywhere here is healed by recovery (evRecover of
//     PENDING_RESTORE), which truncates again from the persisted plan;
//     a partition is never left with a corrupt tail: TruncateTo only
//     renames whole later segments away and cuts the active one at a
//     batch boundary, and each intermediate state is a valid prefix of
//     the log that the redo brings to the target;
//  4. local consumer groups committed past the truncation point are
//     lowered to it (clampOffsets, as a stop does);
//  5. evRestored: persist ACTIVE (or PAUSED for reverse-and-pause); the
//     broker raises the leader epochs past the logs as it leaves
//     PENDING_RESTORE, so consumers and fetchers holding the old epoch
//     are fenced and find the truncation with OffsetsForLeaderEpoch
//     (KIP-320), as after a Kafka leader change that truncated; the data
//     path then starts from the log end offset (fresh=false), which is
//     the truncation point.

// ErrRestore: a truncate-and-restore that cannot be done as asked (bad
// target offsets, a topic of another link).
var ErrRestore = errors.New("truncate-and-restore refused")

// mirrorPartitions is what a Cluster offers truncate-and-restore: the
// hosted partition logs (the broker's MirrorPartition). A Cluster without
// it cannot restore.
type mirrorPartitions interface {
	MirrorPartition(topic string, p int32) (*partition.Partition, error)
}

// restoreLocal runs truncate-and-restore's local half on topic: it ends a
// mirror of sourceTopic over link, ACTIVE (or PAUSED when paused), its
// partitions truncated to targets. With validateOnly it only reports the
// plan. The plan is returned in partition order.
func (m *Manager) restoreLocal(ctx context.Context, link, topic, sourceTopic string, targets map[int32]int64, paused, validateOnly bool) ([]metadata.MirrorRestorePartition, error) {
	return m.restore(ctx, link, topic, sourceTopic, targets, restoreOpts{paused: paused, validateOnly: validateOnly})
}

// restoreOpts are restore's parameters beyond the topic and targets.
type restoreOpts struct {
	paused, validateOnly bool
	// sourceTopicID is the remote topic's id (DESCRIBE_STOP's answer),
	// recorded as the mirror's SourceTopicID: after a failback the two
	// topic ids swap roles (reference §2.3). Zero keeps what is known.
	sourceTopicID [16]byte
	// exact refuses a plan that would remove anything: a reverse's
	// remote half (design §5.3 step 3), whose topic was fenced before
	// the targets were taken, so its ends must equal them.
	exact bool
}

// restore is restoreLocal with all its options.
func (m *Manager) restore(ctx context.Context, link, topic, sourceTopic string, targets map[int32]int64, o restoreOpts) ([]metadata.MirrorRestorePartition, error) {
	paused, validateOnly := o.paused, o.validateOnly
	if m == nil {
		return nil, ErrDisabled
	}
	l, ok := m.store.Link(link)
	if !ok {
		return nil, errUnknownLink(link)
	}
	pc, ok := m.cluster.(mirrorPartitions)
	if !ok {
		return nil, usererr.New(ErrNotSupported, "truncate-and-restore is not supported by this build of Tandem (it has no partition logs)")
	}
	if internalTopic(topic, false) {
		return nil, usererr.New(ErrRestore, "topic '%s' is an internal topic; it cannot be truncated and restored", topic)
	}
	unlock := m.lockMirror(topic)
	defer unlock()
	t, err := m.cluster.TopicByName(topic)
	if err != nil {
		return nil, err
	}
	from := metadata.Mirror{State: MirrorStopped}
	if t.Mirror != nil {
		if t.Mirror.Link != link || !m.owns(t) {
			return nil, usererr.New(ErrRestore, "topic '%s' is a mirror topic of cluster link '%s', not of '%s'", topic, t.Mirror.Link, link)
		}
		from = *t.Mirror
		if done, ok := restored(from, sourceTopic, targets); ok && !validateOnly {
			// Asked again (a retry after a lost answer): already done.
			return done, nil
		}
	}
	ev := evRestore
	if paused {
		ev = evRestorePaused
	}
	step, err := mirrorTransition(from, ev)
	if err != nil {
		return nil, usererr.New(ErrMirrorState, "Topic '%s' cannot be truncated and restored: %w", topic, err)
	}
	plan, err := planRestore(pc, t, targets)
	if err == nil && o.exact {
		err = exactPlan(topic, m.cluster.ClusterID(), plan)
	}
	if err != nil || validateOnly {
		return plan, err
	}
	next := metadata.Mirror{Link: link, LinkID: l.ID, SourceTopic: sourceTopic, State: step.To,
		PendingOp: step.PendingOp, PreviousState: step.PreviousState, Restore: plan}
	if t.Mirror != nil && t.Mirror.SourceTopic == sourceTopic {
		next.SourceTopicID = t.Mirror.SourceTopicID
	}
	if o.sourceTopicID != ([16]byte{}) {
		next.SourceTopicID = o.sourceTopicID
	}
	if err := m.cluster.SetMirrorState(topic, next); err != nil {
		return plan, fmt.Errorf("persisting mirror %s %s: %w", topic, next.State, err)
	}
	m.logger.Info("mirror state", "topic", topic, "event", ev.String(), "state", string(next.State))
	// Read-only now: the plan cannot move any more. Writes accepted
	// between the first plan and the persist are counted here.
	final, err := planRestore(pc, t, targets)
	if err != nil {
		return plan, err
	}
	if !slices.Equal(final, plan) {
		next.Restore = final
		if err := m.cluster.SetMirrorState(topic, next); err != nil {
			return plan, fmt.Errorf("persisting mirror %s %s: %w", topic, next.State, err)
		}
		plan = final
	}
	if _, err := m.transitionLocked(ctx, m.runtimeOf(link), topic, evRecover, transitionArgs{}); err != nil {
		return plan, err
	}
	return plan, nil
}

// exactPlan refuses a plan that removes records: after a fence nothing
// can have been written, so a removal means something is wrong and
// nothing is truncated.
func exactPlan(topic, cluster string, plan []metadata.MirrorRestorePartition) error {
	for _, p := range plan {
		if p.LogEndOffset > p.TruncatedTo {
			return usererr.New(ErrRestore, "records were written to '%s' on cluster %s after the reverse started (partition %d ends at %d, the new source at %d); nothing was truncated",
				topic, cluster, p.Partition, p.LogEndOffset, p.Target)
		}
	}
	return nil
}

// planRestore plans the truncation of every partition of t to its target.
func planRestore(pc mirrorPartitions, t metadata.Topic, targets map[int32]int64) ([]metadata.MirrorRestorePartition, error) {
	if len(targets) != int(t.Partitions) {
		return nil, usererr.New(ErrRestore, "topic '%s' has %d partitions; the remote topic's stop offsets name %d", t.Name, t.Partitions, len(targets))
	}
	out := make([]metadata.MirrorRestorePartition, 0, t.Partitions)
	for p := int32(0); p < t.Partitions; p++ {
		target, ok := targets[p]
		if !ok || target < 0 {
			return nil, usererr.New(ErrRestore, "no valid stop offset for partition %d of topic '%s'", p, t.Name)
		}
		pt, err := pc.MirrorPartition(t.Name, p)
		if err != nil {
			return nil, err
		}
		if pt.Log == nil {
			return nil, fmt.Errorf("%w: %s-%d: %w", partition.ErrPartitionOffline, t.Name, p, pt.OpenErr)
		}
		tp, err := pt.Log.PlanTruncation(target)
		if err != nil {
			return nil, fmt.Errorf("planning the truncation of %s-%d to %d: %w", t.Name, p, target, err)
		}
		out = append(out, metadata.MirrorRestorePartition{Partition: p, Target: target, TruncatedTo: tp.TruncatedTo,
			LogEndOffset: tp.LogEndOffset, Records: tp.Records, FirstOffset: tp.FirstOffset, LastOffset: tp.LastOffset})
	}
	return out, nil
}

// truncateForRestore is effTruncate: it truncates each partition of the
// PENDING_RESTORE topic t to its persisted plan, then completes the
// restore.
func (m *Manager) truncateForRestore(ctx context.Context, rt *runtime, t metadata.Topic) (metadata.Topic, error) {
	if err := m.truncatePlan(t); err != nil {
		return t, err
	}
	// Local groups committed past the truncation point would skip the
	// records the mirror now fetches there: lower them to it, as a stop
	// clamps (effClampOffsets). A failure leaves the restore pending; it
	// is retried with the truncation (a no-op by then).
	ends := make([]metadata.MirrorPartitionOffsets, 0, len(t.Mirror.Restore))
	for _, r := range t.Mirror.Restore {
		ends = append(ends, metadata.MirrorPartitionOffsets{Partition: r.Partition, LogEndOffset: r.TruncatedTo, SourceEndOffset: -1})
	}
	if err := m.clampOffsets(ctx, t.Name, ends); err != nil {
		return t, err
	}
	return m.transitionLocked(ctx, rt, t.Name, evRestored, transitionArgs{})
}

// truncatePlan truncates each partition of t to its persisted plan,
// naming each range in a log line first. A partition already at or below
// its TruncatedTo (done before a crash, or nothing to remove) is left
// alone.
func (m *Manager) truncatePlan(t metadata.Topic) error {
	pc, ok := m.cluster.(mirrorPartitions)
	if !ok {
		return usererr.New(ErrNotSupported, "truncate-and-restore is not supported by this build of Tandem (it has no partition logs)")
	}
	if m.data != nil {
		m.data.Stop(t.Name) // never fetching while PENDING_RESTORE
	}
	for _, r := range t.Mirror.Restore {
		if h := m.testCrashRestore; h != nil && h(t.Name, r.Partition) {
			return errTestCrash
		}
		pt, err := pc.MirrorPartition(t.Name, r.Partition)
		if err != nil {
			return err
		}
		if pt.Log == nil {
			return fmt.Errorf("%w: %s-%d: %w", partition.ErrPartitionOffline, t.Name, r.Partition, pt.OpenErr)
		}
		if pt.Log.LogEndOffset() <= r.TruncatedTo {
			continue
		}
		// Named before it happens: a crash right after the truncation
		// must not lose the line (the redo skips a truncated partition).
		m.logger.Warn("truncate-and-restore: truncating records", "topic", t.Name, "partition", r.Partition,
			"from_offset", r.TruncatedTo, "to_offset", r.LogEndOffset, "first_offset", r.FirstOffset,
			"last_offset", r.LastOffset, "messages_truncated", r.Records, "target", r.Target)
		if err := pt.Log.TruncateTo(r.Target); err != nil {
			return fmt.Errorf("truncating %s-%d to %d: %w", t.Name, r.Partition, r.Target, err)
		}
	}
	return nil
}

// restored reports whether mirror m is the outcome of a restore of
// sourceTopic to targets, and its plan: a repeated request is answered
// with what the first one did.
func restored(m metadata.Mirror, sourceTopic string, targets map[int32]int64) ([]metadata.MirrorRestorePartition, bool) {
	if (m.State != MirrorActive && m.State != MirrorPaused) || m.SourceTopic != sourceTopic || len(m.Restore) != len(targets) {
		return nil, false
	}
	for _, r := range m.Restore {
		if t, ok := targets[r.Partition]; !ok || t != r.Target {
			return nil, false
		}
	}
	return m.Restore, true
}
