package group

import (
	"slices"
	"unicode/utf16"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Offsets: OffsetCommit, OffsetFetch, OffsetDelete and offset expiration,
// after Kafka's OffsetMetadataManager. Committed offsets change only when
// their records are durable; until then a commit is "pending", which
// OffsetFetch with require_stable reports as UNSTABLE_OFFSET_COMMIT and
// expiration leaves alone (the old GroupMetadata.pendingOffsetCommits).

// commitOp is an OffsetCommit whose partitions the broker has checked:
// unknown[i][j] marks Topics[i].Partitions[j] as not existing.
type commitOp struct {
	req     *kmsg.OffsetCommitRequest
	unknown [][]bool
}

// offsetDeleteOp is an OffsetDelete checked likewise.
type offsetDeleteOp struct {
	req     *kmsg.OffsetDeleteRequest
	unknown [][]bool
}

// fetchOp asks for one group's offsets; topics nil means all.
type fetchOp struct {
	group         string
	topics        []kmsg.OffsetFetchRequestGroupTopic
	requireStable bool
}

// fetchGroupsOp is OffsetFetch v8+ for the groups of one shard.
type fetchGroupsOp struct{ groups []fetchOp }

// topicsDeletedOp drops every group's offsets for deleted topics.
type topicsDeletedOp struct{ topics []string }

// commitResponse builds the OffsetCommit response skeleton in request
// order, with UNKNOWN_TOPIC_OR_PARTITION where the broker said so.
func commitResponse(op commitOp) (*kmsg.OffsetCommitResponse, int) {
	req := op.req
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	known := 0
	for i, rt := range req.Topics {
		st := kmsg.NewOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		for j, rp := range rt.Partitions {
			sp := kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			if op.unknown != nil && op.unknown[i][j] {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else {
				known++
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, known
}

// setCommitErrors sets code on every partition that has no error yet.
func setCommitErrors(resp *kmsg.OffsetCommitResponse, code int16) {
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			if p := &resp.Topics[i].Partitions[j]; p.ErrorCode == 0 {
				p.ErrorCode = code
			}
		}
	}
}

// javaLength is String.length(): Kafka compares committed metadata with
// offset.metadata.max.bytes in UTF-16 code units, despite the name.
func javaLength(s string) int { return len(utf16.Encode([]rune(s))) }

// commitOffsets is commitOffset (OffsetMetadataManager).
func (s *shardState) commitOffsets(op commitOp) {
	req := op.req
	resp, known := commitResponse(op)
	if known == 0 {
		// Nothing to commit: Kafka answers without consulting the group.
		s.respond(resp, nil)
		return
	}
	g := s.groups[req.Group]
	created := false
	if g == nil {
		if req.Generation >= 0 {
			// A member of a group that no longer exists.
			code := kerr.IllegalGeneration.Code
			if req.Version >= 9 {
				code = kerr.GroupIDNotFound.Code
			}
			setCommitErrors(resp, code)
			s.respond(resp, nil)
			return
		}
		// Generation -1: a consumer that does not use group management
		// (or an admin client) commits into a "simple" group.
		g = newGroup(req.Group, s.nowMs())
		s.groups[g.id] = g
		created = true
	}
	if err := g.validateOffsetCommit(req.MemberID, req.InstanceID, req.Generation); err != nil {
		setCommitErrors(resp, err.Code)
		s.respond(resp, nil)
		return
	}
	if g.is(stateStable) || g.is(statePreparingRebalance) {
		// A commit keeps a classic member's session alive.
		if m := g.members[req.MemberID]; m != nil {
			s.scheduleHeartbeat(g, m, ms(m.sessionTimeout))
		}
	}

	nowMs := s.nowMs()
	expire := int64(-1)
	if req.Version >= 2 && req.Version <= 4 && req.RetentionTimeMillis != -1 {
		// v2-4 may override the retention per commit; that sets an
		// explicit expire timestamp (KIP-211 removed it in v5).
		expire = nowMs + req.RetentionTimeMillis
	}
	type staged struct {
		tp topicPartition
		o  offset
	}
	var (
		records []Record
		commits []staged
	)
	for i, rt := range req.Topics {
		for j, rp := range rt.Partitions {
			sp := &resp.Topics[i].Partitions[j]
			if sp.ErrorCode != 0 {
				continue
			}
			metadata := ""
			if rp.Metadata != nil {
				metadata = *rp.Metadata
			}
			if javaLength(metadata) > s.cfg.OffsetMetadataMaxBytes {
				sp.ErrorCode = kerr.OffsetMetadataTooLarge.Code
				continue
			}
			o := offset{offset: rp.Offset, leaderEpoch: -1, metadata: metadata, commitTimestamp: nowMs, expireTimestamp: expire}
			if req.Version >= 6 {
				o.leaderEpoch = rp.LeaderEpoch
			}
			if req.Version == 1 && rp.Timestamp != -1 {
				o.commitTimestamp = rp.Timestamp
			}
			records = append(records, offsetCommitRecord(g.id, rt.Topic, rp.Partition, o))
			commits = append(commits, staged{topicPartition{rt.Topic, rp.Partition}, o})
		}
	}
	if len(records) == 0 {
		if created {
			delete(s.groups, g.id)
		}
		s.respond(resp, nil)
		return
	}
	for _, c := range commits {
		g.pendingCommits[c.tp]++
	}
	s.write(records, func(err error) {
		for _, c := range commits {
			if g.pendingCommits[c.tp]--; g.pendingCommits[c.tp] <= 0 {
				delete(g.pendingCommits, c.tp)
			}
		}
		if err != nil {
			s.logger.Warn("offset commit failed", "group", g.id, "err", err)
			if s.groups[g.id] == g && g.pristine() {
				delete(s.groups, g.id)
			}
			return
		}
		for _, c := range commits {
			g.setOffset(c.tp.topic, c.tp.partition, c.o)
		}
	})
	s.respond(resp, func(err error) any {
		setCommitErrors(resp, appendErrorCode(err, true))
		return resp
	})
}

// validateOffsetCommit is ClassicGroup.validateOffsetCommit.
func (g *group) validateOffsetCommit(memberID string, instanceID *string, generation int32) *kerr.Error {
	if g.is(stateDead) {
		return kerr.CoordinatorNotAvailable
	}
	if generation < 0 && g.is(stateEmpty) {
		// Admin clients and consumers without group management commit
		// to empty groups.
		return nil
	}
	if generation >= 0 || memberID != "" || instanceID != nil {
		if err := g.validateMember(memberID, instanceID); err != nil {
			return err
		}
		if generation != g.generation {
			return kerr.IllegalGeneration
		}
	} else if !g.is(stateEmpty) {
		return kerr.UnknownMemberID
	}
	if g.is(stateCompletingRebalance) {
		// The member has its new generation but not yet its
		// assignment; it must finish the rebalance first.
		return kerr.RebalanceInProgress
	}
	return nil
}

// fetchOffsets is OffsetMetadataManager.fetchOffsets/fetchAllOffsets for
// one group. A group that does not exist (or is being deleted) has no
// offsets; that is not an error.
func (s *shardState) fetchOffsets(op fetchOp) kmsg.OffsetFetchResponseGroup {
	out := kmsg.NewOffsetFetchResponseGroup()
	out.Group = op.group
	g := s.groups[op.group]
	if g != nil && g.is(stateDead) {
		g = nil
	}
	fill := func(p *kmsg.OffsetFetchResponseGroupTopicPartition, topic string) {
		p.Offset, p.LeaderEpoch, p.Metadata = -1, -1, kmsg.StringPtr("")
		if g == nil {
			return
		}
		if op.requireStable && g.pendingCommits[topicPartition{topic, p.Partition}] > 0 {
			p.ErrorCode = kerr.UnstableOffsetCommit.Code
			return
		}
		if o, ok := g.offsets[topic][p.Partition]; ok {
			p.Offset, p.LeaderEpoch, p.Metadata = o.offset, o.leaderEpoch, kmsg.StringPtr(o.metadata)
		}
	}
	if op.topics == nil {
		if g == nil {
			return out
		}
		topics := make([]string, 0, len(g.offsets))
		for t := range g.offsets {
			topics = append(topics, t)
		}
		slices.Sort(topics)
		for _, t := range topics {
			ot := kmsg.NewOffsetFetchResponseGroupTopic()
			ot.Topic = t
			parts := make([]int32, 0, len(g.offsets[t]))
			for p := range g.offsets[t] {
				parts = append(parts, p)
			}
			slices.Sort(parts)
			for _, p := range parts {
				op := kmsg.NewOffsetFetchResponseGroupTopicPartition()
				op.Partition = p
				fill(&op, t)
				ot.Partitions = append(ot.Partitions, op)
			}
			out.Topics = append(out.Topics, ot)
		}
		return out
	}
	for _, rt := range op.topics {
		ot := kmsg.NewOffsetFetchResponseGroupTopic()
		ot.Topic = rt.Topic
		for _, p := range rt.Partitions {
			op := kmsg.NewOffsetFetchResponseGroupTopicPartition()
			op.Partition = p
			fill(&op, rt.Topic)
			ot.Partitions = append(ot.Partitions, op)
		}
		out.Topics = append(out.Topics, ot)
	}
	return out
}

// deleteOffsets is OffsetDelete (OffsetMetadataManager.deleteOffsets):
// offsets of topics the group no longer consumes can be deleted while it
// is alive (KIP-496); a classic group that is not a consumer group must be
// empty.
func (s *shardState) deleteOffsets(op offsetDeleteOp) {
	req := op.req
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	if req.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		s.respond(resp, nil)
		return
	}
	g := s.groups[req.Group]
	switch {
	case g == nil || g.is(stateDead):
		resp.ErrorCode = kerr.GroupIDNotFound.Code
		s.respond(resp, nil)
		return
	case !g.is(stateEmpty) && !g.usesConsumerProtocol():
		resp.ErrorCode = kerr.NonEmptyGroup.Code
		s.respond(resp, nil)
		return
	}
	var (
		records []Record
		deleted []topicPartition
	)
	for i, rt := range req.Topics {
		st := kmsg.OffsetDeleteResponseTopic{Topic: rt.Topic}
		subscribed := g.isSubscribedToTopic(rt.Topic)
		for j, rp := range rt.Partitions {
			sp := kmsg.OffsetDeleteResponseTopicPartition{Partition: rp.Partition}
			tp := topicPartition{rt.Topic, rp.Partition}
			_, committed := g.offsets[rt.Topic][rp.Partition]
			switch {
			case op.unknown != nil && op.unknown[i][j]:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case subscribed:
				sp.ErrorCode = kerr.GroupSubscribedToTopic.Code
			case committed || g.pendingCommits[tp] > 0:
				records = append(records, offsetTombstone(g.id, rt.Topic, rp.Partition))
				deleted = append(deleted, tp)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if len(records) > 0 {
		s.write(records, func(err error) {
			if err != nil {
				return
			}
			for _, tp := range deleted {
				g.deleteOffset(tp.topic, tp.partition)
			}
		})
	}
	s.respond(resp, func(err error) any {
		r := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
		r.ErrorCode = appendErrorCode(err, false)
		return r
	})
}

// scheduleRetention arms the next offset expiration cycle
// (offsets.retention.check.interval.ms).
func (s *shardState) scheduleRetention() {
	s.timers.schedule(timerKey{kind: timerRetention}, s.now.Add(s.cfg.OffsetsRetentionCheckInterval), s.expireOffsets)
}

// expirationBase returns what an offset's age is measured from, or false
// if the group's offsets cannot expire now (OffsetExpirationCondition,
// KIP-211):
//   - a group with members of some protocol keeps its offsets while it
//     has members, except that a Stable consumer group whose
//     subscriptions are known lets the offsets of topics it no longer
//     subscribes to expire from their commit time (KIP-496);
//   - an Empty group's offsets expire offsets.retention.minutes after it
//     became empty (or after the commit, if that time is unknown);
//   - a group that never had members ("simple" consumers committing
//     with generation -1) ages each offset from its commit.
func (g *group) expirationBase() (func(o offset) int64, bool) {
	commitTime := func(o offset) int64 { return o.commitTimestamp }
	if g.protocolType == "" {
		return commitTime, true
	}
	switch {
	case g.is(stateEmpty):
		if g.stateTimestamp < 0 {
			return commitTime, true
		}
		ts := g.stateTimestamp
		return func(offset) int64 { return ts }, true
	case g.is(stateStable) && g.usesConsumerProtocol() && g.subscribed != nil:
		return commitTime, true
	default:
		return nil, false
	}
}

// expireOffsets is the periodic cleanup (GroupCoordinatorShard
// .cleanupGroupMetadata): expired offsets get tombstones, and an Empty
// group whose offsets are all gone is deleted too. Offsets with a commit
// in flight are left for the next cycle.
func (s *shardState) expireOffsets() {
	defer s.scheduleRetention()
	nowMs := s.nowMs()
	retention := s.cfg.OffsetsRetention.Milliseconds()
	var (
		records []Record
		expired = map[*group][]topicPartition{}
		dead    []*group
	)
	for _, id := range s.sortedGroupIDs() {
		g := s.groups[id]
		if g.is(stateDead) {
			continue
		}
		all := len(g.pendingCommits) == 0
		if base, ok := g.expirationBase(); ok {
			for _, t := range sortedKeys(g.offsets) {
				if g.isSubscribedToTopic(t) {
					all = false
					continue
				}
				for _, p := range sortedKeys(g.offsets[t]) {
					o := g.offsets[t][p]
					tp := topicPartition{t, p}
					var isExpired bool
					if o.expireTimestamp >= 0 {
						isExpired = nowMs >= o.expireTimestamp
					} else {
						isExpired = nowMs-base(o) >= retention
					}
					if isExpired && g.pendingCommits[tp] == 0 {
						records = append(records, offsetTombstone(id, t, p))
						expired[g] = append(expired[g], tp)
					} else {
						all = false
					}
				}
			}
		} else if len(g.offsets) > 0 {
			all = false
		}
		// A group that is still forming (pending KIP-394 member ids)
		// is not deleted under its joining members.
		if all && g.is(stateEmpty) && len(g.pendingJoin) == 0 {
			records = append(records, groupTombstone(id))
			dead = append(dead, g)
		}
	}
	if len(records) == 0 {
		return
	}
	for _, g := range dead {
		s.markDead(g)
	}
	s.logger.Info("expiring offsets and groups", "shard", s.shard, "offsets", len(records)-len(dead), "groups", len(dead))
	s.write(records, func(err error) {
		if err != nil {
			s.logger.Warn("writing offset expiration failed", "shard", s.shard, "err", err)
			for _, g := range dead {
				s.reviveDead(g)
			}
			return
		}
		for g, tps := range expired {
			for _, tp := range tps {
				g.deleteOffset(tp.topic, tp.partition)
			}
		}
		for _, g := range dead {
			if s.groups[g.id] == g {
				delete(s.groups, g.id)
			}
		}
	})
}

// markDead moves a group being deleted to Dead, so that nothing joins or
// commits to it until its tombstone is durable, and stops its timers.
func (s *shardState) markDead(g *group) {
	g.transitionTo(stateDead, s.nowMs())
	s.timers.cancel(joinKey(g.id))
	s.timers.cancel(syncKey(g.id))
	for id := range g.pendingJoin {
		s.timers.cancel(heartbeatKey(g.id, id))
	}
	clear(g.pendingJoin)
}

// reviveDead undoes markDead after its tombstone failed to be written.
func (s *shardState) reviveDead(g *group) {
	if s.groups[g.id] == g && g.is(stateDead) {
		g.state, g.prevState = stateEmpty, stateDead
	}
}

// topicsDeleted writes tombstones for every group's offsets of deleted
// topics (GroupCoordinator.onPartitionsDeleted).
func (s *shardState) topicsDeleted(op topicsDeletedOp) {
	var (
		records []Record
		deleted = map[*group][]topicPartition{}
	)
	for _, id := range s.sortedGroupIDs() {
		g := s.groups[id]
		for _, t := range op.topics {
			for _, p := range sortedKeys(g.offsets[t]) {
				records = append(records, offsetTombstone(id, t, p))
				deleted[g] = append(deleted[g], topicPartition{t, p})
			}
		}
	}
	if len(records) > 0 {
		s.write(records, func(err error) {
			if err != nil {
				s.logger.Warn("deleting offsets of deleted topics failed", "shard", s.shard, "err", err)
				return
			}
			for g, tps := range deleted {
				for _, tp := range tps {
					g.deleteOffset(tp.topic, tp.partition)
				}
			}
		})
	}
	s.respond(struct{}{}, func(err error) any { return err })
}

func sortedKeys[K interface{ ~string | ~int32 }, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
