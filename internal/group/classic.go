package group

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The classic group protocol (JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup), ported from Kafka's GroupMetadataManager (classicGroup*
// methods) and ClassicGroup. Method names follow Kafka's so that the two
// can be read side by side.

// newMemberJoinTimeout bounds how long a new member's JoinGroup may stay
// parked (Kafka's classic.group.new.member.join.timeout, 5 minutes): a
// client that gave up and retried would otherwise leave a defunct member
// that holds up the rebalance until the rebalance timeout.
const newMemberJoinTimeout = 5 * time.Minute

// joinOp is a JoinGroup with what the coordinator knows of the client.
type joinOp struct {
	req        *kmsg.JoinGroupRequest
	clientID   string
	clientHost string
}

func joinError(req *kmsg.JoinGroupRequest, code int16, memberID string) *kmsg.JoinGroupResponse {
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.ErrorCode = code
	resp.MemberID = memberID
	return resp
}

// joinResponse is a successful JoinGroup response for m at the group's
// current generation; the leader also gets the members.
func (g *group) joinResponse(version int16, memberID string, withMembers bool) *kmsg.JoinGroupResponse {
	resp := kmsg.NewPtrJoinGroupResponse()
	resp.Version = version
	resp.MemberID = memberID
	resp.Generation = g.generation
	resp.Protocol = g.protocolName
	if g.protocolType != "" {
		pt := g.protocolType
		resp.ProtocolType = &pt
	}
	resp.LeaderID = g.leader
	if withMembers {
		resp.Members = g.joinMembers()
	}
	return resp
}

// completeJoin answers m's parked JoinGroup (ClassicGroup.completeJoinFuture).
func (s *shardState) completeJoin(g *group, m *member, resp *kmsg.JoinGroupResponse) bool {
	if m.join == nil {
		return false
	}
	resp.Version = m.join.version
	s.sendNow(m.join.to, resp)
	m.join = nil
	g.awaitingJoin--
	return true
}

// completeSync answers m's parked SyncGroup (ClassicGroup.completeSyncFuture).
func (s *shardState) completeSync(m *member, resp *kmsg.SyncGroupResponse) bool {
	if m.sync == nil {
		return false
	}
	resp.Version = m.sync.version
	s.sendNow(m.sync.to, resp)
	m.sync = nil
	return true
}

func syncError(version int16, code int16) *kmsg.SyncGroupResponse {
	resp := kmsg.NewPtrSyncGroupResponse()
	resp.Version = version
	resp.ErrorCode = code
	return resp
}

// removeMember drops a member, answering any request it has parked with
// code; Kafka answers a parked join this way (UNKNOWN_MEMBER_ID makes a
// live client rejoin) and, to leave no request hanging, so do we a parked
// sync.
func (s *shardState) removeMember(g *group, m *member, code int16) {
	s.completeJoin(g, m, joinError(&kmsg.JoinGroupRequest{Version: 0}, code, ""))
	s.completeSync(m, syncError(0, code))
	g.remove(m.id)
	s.timers.cancel(heartbeatKey(g.id, m.id))
}

// joinGroup is classicGroupJoin / classicGroupJoinToClassicGroup.
func (s *shardState) joinGroup(op joinOp) {
	req := op.req
	if req.Group == "" {
		s.respond(joinError(req, kerr.InvalidGroupID.Code, req.MemberID), nil)
		return
	}
	if session := int64(req.SessionTimeoutMillis); session < s.cfg.MinSessionTimeout.Milliseconds() ||
		session > s.cfg.MaxSessionTimeout.Milliseconds() {
		s.respond(joinError(req, kerr.InvalidSessionTimeout.Code, req.MemberID), nil)
		return
	}
	isUnknown := req.MemberID == ""
	g := s.groups[req.Group]
	created := false
	if g == nil {
		if !isUnknown {
			// A member id for a group that does not exist: the group
			// expired or moved; the member must rejoin from scratch.
			s.respond(joinError(req, kerr.UnknownMemberID.Code, req.MemberID), nil)
			return
		}
		g = newGroup(req.Group, s.nowMs())
		s.groups[g.id] = g
		created = true
	}
	switch {
	case !s.acceptJoiningMember(g, req.MemberID):
		if m, ok := g.members[req.MemberID]; ok {
			s.removeMember(g, m, kerr.GroupMaxSizeReached.Code)
			s.maybeCompleteJoinPhase(g)
		} else {
			delete(g.pendingJoin, req.MemberID)
			s.timers.cancel(heartbeatKey(g.id, req.MemberID))
		}
		s.respond(joinError(req, kerr.GroupMaxSizeReached.Code, ""), nil)
	case isUnknown:
		s.joinNewMember(op, g)
	default:
		s.joinExistingMember(op, g)
	}
	if created && g.pristine() {
		// The join failed before adding anyone: keep no trace of it.
		delete(s.groups, g.id)
	}
}

// acceptJoiningMember enforces group.max.size (GroupMetadataManager).
func (s *shardState) acceptJoiningMember(g *group, memberID string) bool {
	switch g.state {
	case statePreparingRebalance:
		// Counting awaiting members (not all members) lets the last
		// rejoining members be kicked out when the limit was lowered.
		if m, ok := g.members[memberID]; ok && m.join != nil {
			return true
		}
		return g.awaitingJoin < s.cfg.MaxSize
	case stateCompletingRebalance, stateStable:
		if _, ok := g.members[memberID]; ok {
			return true
		}
		return len(g.members) < s.cfg.MaxSize
	default:
		return true
	}
}

func (s *shardState) joinNewMember(op joinOp, g *group) {
	req := op.req
	switch {
	case g.is(stateDead):
		// Being deleted; the client retries and finds the new group.
		s.respond(joinError(req, kerr.CoordinatorNotAvailable.Code, ""), nil)
	case !g.supportsProtocols(req.ProtocolType, protocolNames(req.Protocols)):
		s.respond(joinError(req, kerr.InconsistentGroupProtocol.Code, ""), nil)
	default:
		// ClassicGroup.generateMemberId: <client id or instance id>-<uuid>.
		prefix := op.clientID
		if req.InstanceID != nil {
			prefix = *req.InstanceID
		}
		newID := prefix + "-" + s.newUUID()
		switch {
		case req.InstanceID != nil:
			if old, ok := g.static[*req.InstanceID]; ok {
				s.updateStaticMemberThenRebalanceOrCompleteJoin(op, g, old, newID)
			} else {
				s.addMemberThenRebalanceOrCompleteJoin(op, g, newID)
			}
		case req.Version >= 4:
			// KIP-394: hand out the id and make the client come back
			// with it, so a client that keeps failing its first join
			// leaves no member behind (the pending id expires after
			// the session timeout).
			g.pendingJoin[newID] = struct{}{}
			gid := g.id
			s.timers.schedule(heartbeatKey(gid, newID), s.now.Add(ms(req.SessionTimeoutMillis)), func() {
				s.expireHeartbeat(gid, newID)
			})
			s.respond(joinError(req, kerr.MemberIDRequired.Code, newID), nil)
		default:
			s.addMemberThenRebalanceOrCompleteJoin(op, g, newID)
		}
	}
}

func (s *shardState) joinExistingMember(op joinOp, g *group) {
	req := op.req
	memberID := req.MemberID
	_, pending := g.pendingJoin[memberID]
	switch {
	case g.is(stateDead):
		s.respond(joinError(req, kerr.CoordinatorNotAvailable.Code, memberID), nil)
		return
	case !g.supportsProtocols(req.ProtocolType, protocolNames(req.Protocols)):
		s.respond(joinError(req, kerr.InconsistentGroupProtocol.Code, memberID), nil)
		return
	case pending && req.InstanceID == nil:
		s.addMemberThenRebalanceOrCompleteJoin(op, g, memberID)
		return
	}
	if err := g.validateMember(memberID, req.InstanceID); err != nil {
		s.respond(joinError(req, err.Code, memberID), nil)
		return
	}
	m := g.members[memberID]
	switch g.state {
	case statePreparingRebalance:
		s.updateMemberThenRebalanceOrCompleteJoin(op, g, m)
	case stateCompletingRebalance:
		if m.matches(req.Protocols) {
			// The member lost the join response and asks again: give it
			// the current generation.
			s.respond(g.joinResponse(req.Version, memberID, g.isLeader(memberID)), nil)
		} else {
			s.updateMemberThenRebalanceOrCompleteJoin(op, g, m)
		}
	case stateStable:
		if g.isLeader(memberID) || !m.matches(req.Protocols) {
			// A leader's rejoin forces a rebalance, so it can react to
			// changes that do not show in member metadata (topic
			// metadata); a follower's only if its metadata changed.
			s.updateMemberThenRebalanceOrCompleteJoin(op, g, m)
		} else {
			s.respond(g.joinResponse(req.Version, memberID, false), nil)
		}
	default:
		// Empty: the member was removed; it must rejoin from scratch.
		s.respond(joinError(req, kerr.UnknownMemberID.Code, memberID), nil)
	}
}

func (s *shardState) updateMemberThenRebalanceOrCompleteJoin(op joinOp, g *group, m *member) {
	req := op.req
	s.supersedeJoin(g, m)
	g.updateMember(m, toProtocols(req.Protocols), rebalanceTimeoutOf(req), req.SessionTimeoutMillis,
		&parked{to: s.ev.to, version: req.Version})
	s.maybePrepareRebalanceOrCompleteJoin(g)
}

// supersedeJoin answers a JoinGroup the member already has parked before
// a new one replaces it. Kafka drops the older future; its client gave up
// on it, but its connection may still be waiting, and REBALANCE_IN_PROGRESS
// is the answer that makes any client simply join again.
func (s *shardState) supersedeJoin(g *group, m *member) {
	s.completeJoin(g, m, joinError(&kmsg.JoinGroupRequest{}, kerr.RebalanceInProgress.Code, m.id))
}

func rebalanceTimeoutOf(req *kmsg.JoinGroupRequest) int32 {
	if req.Version == 0 {
		// v0 has no rebalance timeout; Kafka uses the session timeout.
		return req.SessionTimeoutMillis
	}
	return req.RebalanceTimeoutMillis
}

func (s *shardState) addMemberThenRebalanceOrCompleteJoin(op joinOp, g *group, memberID string) {
	req := op.req
	m := &member{
		id:               memberID,
		instanceID:       req.InstanceID,
		clientID:         op.clientID,
		clientHost:       op.clientHost,
		rebalanceTimeout: rebalanceTimeoutOf(req),
		sessionTimeout:   req.SessionTimeoutMillis,
		protocolType:     req.ProtocolType,
		protocols:        toProtocols(req.Protocols),
		isNew:            true,
	}
	// A new member during the initial rebalance extends its delay.
	if g.is(statePreparingRebalance) && g.prevState == stateEmpty {
		g.newMemberAdded = true
	}
	g.add(m, &parked{to: s.ev.to, version: req.Version})
	// The session timeout cannot apply to a member that has no id yet to
	// heartbeat with; bound its parked join instead.
	s.scheduleHeartbeat(g, m, newMemberJoinTimeout)
	s.maybePrepareRebalanceOrCompleteJoin(g)
}

// updateStaticMemberThenRebalanceOrCompleteJoin handles a static member
// that rejoins with an unknown member id (typically after a restart,
// KIP-345): it takes over the old member's place under a new member id,
// and the old id is fenced.
func (s *shardState) updateStaticMemberThenRebalanceOrCompleteJoin(op joinOp, g *group, oldID, newID string) {
	req := op.req
	instanceID := *req.InstanceID
	currentLeader := g.leader
	newMember := s.replaceStaticMember(g, instanceID, oldID, newID)
	s.scheduleHeartbeat(g, newMember, ms(newMember.sessionTimeout))

	oldRebalance, oldSession, oldProtocols := newMember.rebalanceTimeout, newMember.sessionTimeout, newMember.protocols
	join := &parked{to: s.ev.to, version: req.Version}
	g.updateMember(newMember, toProtocols(req.Protocols), rebalanceTimeoutOf(req), req.SessionTimeoutMillis, join)

	switch g.state {
	case stateStable:
		if g.protocolName != nil && *g.protocolName == g.selectProtocol() {
			// The selected protocol stays, so the member keeps its
			// assignment without a rebalance; persist the new member id
			// first. With v9+ the leader is told to skip the assignment
			// (KIP-814), and given the members so it can check their
			// subscriptions itself; before v9 the old leader id is
			// returned, so a rejoining leader acts as a follower.
			s.write([]Record{groupMetadataRecord(g, g.assignments())}, func(err error) {
				if err != nil {
					s.logger.Warn("persisting static member failed; reverting to its old member id",
						"group", g.id, "instance_id", instanceID, "member_id", newID, "old_member_id", oldID, "err", err)
					if s.groups[g.id] == g && g.members[newID] == newMember && g.static[instanceID] == newID {
						answered := newMember.join
						g.updateMember(newMember, oldProtocols, oldRebalance, oldSession, nil)
						old := s.replaceStaticMember(g, instanceID, newID, oldID)
						s.scheduleHeartbeat(g, old, ms(old.sessionTimeout))
						if answered == join {
							resp := g.joinResponse(req.Version, "", false)
							resp.LeaderID = currentLeader
							resp.ErrorCode = appendErrorCode(err, false)
							s.sendNow(join.to, resp)
						}
					} else if newMember.join == join {
						s.completeJoin(g, newMember, joinError(req, appendErrorCode(err, false), ""))
					}
					return
				}
				if newMember.join != join {
					return
				}
				if req.Version >= 9 {
					isLeader := g.isLeader(newID)
					resp := g.joinResponse(req.Version, newID, isLeader)
					resp.SkipAssignment = isLeader
					s.completeJoin(g, newMember, resp)
				} else {
					resp := g.joinResponse(req.Version, newID, false)
					resp.LeaderID = currentLeader
					s.completeJoin(g, newMember, resp)
				}
			})
		} else {
			s.maybePrepareRebalanceOrCompleteJoin(g)
		}
	case stateCompletingRebalance:
		// The leader may already be assigning with the old member id,
		// whose assignment the new id would never get: rebalance.
		s.prepareRebalance(g)
	default:
		s.maybeCompleteJoinPhase(g)
	}
}

// replaceStaticMember is ClassicGroup.replaceStaticMember: the member
// keeps everything but its id, and a request parked by the old id is
// fenced.
func (s *shardState) replaceStaticMember(g *group, instanceID, oldID, newID string) *member {
	old := g.members[oldID]
	fenced := joinError(&kmsg.JoinGroupRequest{}, kerr.FencedInstanceID.Code, oldID)
	s.completeJoin(g, old, fenced)
	s.completeSync(old, syncError(0, kerr.FencedInstanceID.Code))
	s.timers.cancel(heartbeatKey(g.id, oldID))

	m := *old
	m.id, m.join, m.sync = newID, nil, nil
	delete(g.members, oldID)
	g.members[newID] = &m
	for i, id := range g.order {
		if id == oldID {
			g.order[i] = newID
		}
	}
	if g.isLeader(oldID) {
		g.leader = newID
	}
	if _, ok := g.pendingSync[oldID]; ok {
		delete(g.pendingSync, oldID)
		g.pendingSync[newID] = struct{}{}
	}
	g.static[instanceID] = newID
	return &m
}

func (s *shardState) maybePrepareRebalanceOrCompleteJoin(g *group) {
	if g.canRebalance() {
		s.prepareRebalance(g)
	} else {
		s.maybeCompleteJoinPhase(g)
	}
}

// maybeCompleteJoinPhase completes the join phase once every member has
// rejoined, except during the initial rebalance, which waits for its
// delay.
func (s *shardState) maybeCompleteJoinPhase(g *group) {
	if !g.is(statePreparingRebalance) || g.prevState == stateEmpty || !g.hasAllMembersJoined() {
		return
	}
	s.completeJoinPhase(g)
}

// prepareRebalance moves the group to PreparingRebalance.
func (s *shardState) prepareRebalance(g *group) {
	if g.is(stateCompletingRebalance) {
		// Members waiting for their assignment must rejoin instead.
		s.resetAndPropagateAssignmentWithError(g, kerr.RebalanceInProgress.Code)
	}
	s.removeSyncExpiration(g)

	initial := g.is(stateEmpty)
	if initial {
		// group.initial.rebalance.delay.ms: give the other members of a
		// new group time to join before the first generation, extended
		// by each new member up to the rebalance timeout.
		delay := s.cfg.InitialRebalanceDelay
		remaining := max(ms(g.rebalanceTimeout())-delay, 0)
		s.scheduleInitialRebalance(g, delay, remaining)
	}
	g.transitionTo(statePreparingRebalance, s.nowMs())
	s.logger.Info("preparing to rebalance group", "group", g.id, "generation", g.generation, "members", len(g.members))
	if !initial {
		s.maybeCompleteJoinElseSchedule(g)
	}
}

func (s *shardState) maybeCompleteJoinElseSchedule(g *group) {
	if g.hasAllMembersJoined() {
		s.completeJoinPhase(g)
		return
	}
	s.scheduleJoin(g, ms(g.rebalanceTimeout()))
}

func (s *shardState) scheduleJoin(g *group, d time.Duration) {
	gid := g.id
	s.timers.schedule(joinKey(gid), s.now.Add(d), func() {
		if g := s.groups[gid]; g != nil && g.is(statePreparingRebalance) {
			s.completeJoinPhase(g)
		}
	})
}

func (s *shardState) scheduleInitialRebalance(g *group, delay, remaining time.Duration) {
	gid := g.id
	s.timers.schedule(joinKey(gid), s.now.Add(delay), func() {
		g := s.groups[gid]
		if g == nil || !g.is(statePreparingRebalance) {
			return
		}
		if g.newMemberAdded && remaining != 0 {
			g.newMemberAdded = false
			s.scheduleInitialRebalance(g, min(s.cfg.InitialRebalanceDelay, remaining), max(remaining-delay, 0))
			return
		}
		s.completeJoinPhase(g)
	})
}

// completeJoinPhase is completeClassicGroupJoin: dynamic members that did
// not rejoin are dropped, the next generation starts, and every member
// gets its JoinGroup response (the leader with the member list).
func (s *shardState) completeJoinPhase(g *group) {
	s.timers.cancel(joinKey(g.id))
	for _, id := range g.memberIDs() {
		m := g.members[id]
		if m.join == nil && m.instanceID == nil {
			s.removeMember(g, m, kerr.UnknownMemberID.Code)
		}
	}
	switch {
	case g.is(stateDead):
	case !g.maybeElectNewJoinedLeader() && len(g.members) > 0:
		// Only static members remain and none rejoined: wait another
		// rebalance timeout for their sessions to expire.
		s.scheduleJoin(g, ms(g.rebalanceTimeout()))
	default:
		g.initNextGeneration(s.nowMs())
		if g.is(stateEmpty) {
			s.logger.Info("group is now empty", "group", g.id, "generation", g.generation)
			s.write([]Record{groupMetadataRecord(g, nil)}, func(err error) {
				// Nothing waits on this: if it is lost, the previous
				// generation comes back after a restart and its members
				// time out.
				if err != nil {
					s.logger.Warn("persisting empty group failed", "group", g.id, "err", err)
				}
			})
			return
		}
		s.logger.Info("group stabilized", "group", g.id, "generation", g.generation, "members", len(g.members),
			"protocol", *g.protocolName)
		for _, id := range g.order {
			m := g.members[id]
			s.completeJoin(g, m, g.joinResponse(0, id, g.isLeader(id)))
			s.scheduleHeartbeat(g, m, ms(m.sessionTimeout))
			m.isNew = false
			g.pendingSync[id] = struct{}{}
		}
		s.schedulePendingSync(g)
	}
}

func (s *shardState) schedulePendingSync(g *group) {
	gid, gen := g.id, g.generation
	s.timers.schedule(syncKey(gid), s.now.Add(ms(g.rebalanceTimeout())), func() {
		s.expirePendingSync(gid, gen)
	})
}

// expirePendingSync removes the members that did not send SyncGroup within
// the rebalance timeout (KIP-345 follow-up KAFKA-13766) and rebalances.
func (s *shardState) expirePendingSync(gid string, generation int32) {
	g := s.groups[gid]
	if g == nil || g.generation != generation || !(g.is(stateCompletingRebalance) || g.is(stateStable)) || len(g.pendingSync) == 0 {
		return
	}
	for _, id := range g.memberIDs() {
		if _, ok := g.pendingSync[id]; ok {
			s.removeMember(g, g.members[id], kerr.UnknownMemberID.Code)
		}
	}
	s.logger.Info("removed members that did not sync", "group", gid, "generation", generation)
	s.prepareRebalance(g)
}

func (s *shardState) removeSyncExpiration(g *group) {
	clear(g.pendingSync)
	s.timers.cancel(syncKey(g.id))
}

func (s *shardState) removePendingSyncMember(g *group, memberID string) {
	delete(g.pendingSync, memberID)
	switch g.state {
	case stateCompletingRebalance, stateStable:
		if len(g.pendingSync) == 0 {
			s.timers.cancel(syncKey(g.id))
		}
	default:
		s.timers.cancel(syncKey(g.id))
	}
}

func (s *shardState) scheduleHeartbeat(g *group, m *member, d time.Duration) {
	gid, mid := g.id, m.id
	s.timers.schedule(heartbeatKey(gid, mid), s.now.Add(d), func() { s.expireHeartbeat(gid, mid) })
}

// expireHeartbeat is expireClassicGroupMemberHeartbeat: a member whose
// session ran out is removed, unless it is waiting for a rebalance
// response; a pending member's id is withdrawn.
func (s *shardState) expireHeartbeat(gid, memberID string) {
	g := s.groups[gid]
	if g == nil || g.is(stateDead) {
		return
	}
	if _, ok := g.pendingJoin[memberID]; ok {
		s.logger.Info("pending member expired", "group", gid, "member_id", memberID)
		g.remove(memberID)
		if g.is(statePreparingRebalance) && g.hasAllMembersJoined() {
			s.completeJoinPhase(g)
		}
		return
	}
	m := g.members[memberID]
	if m == nil || m.hasSatisfiedHeartbeat() {
		return
	}
	s.logger.Info("member session expired", "group", gid, "member_id", memberID, "state", g.state.String())
	s.removeMemberAndUpdateGroup(g, m)
}

func (s *shardState) removeMemberAndUpdateGroup(g *group, m *member) {
	s.removeMember(g, m, kerr.UnknownMemberID.Code)
	switch {
	case g.is(stateStable), g.is(stateCompletingRebalance):
		s.maybePrepareRebalanceOrCompleteJoin(g)
	case g.is(statePreparingRebalance) && g.hasAllMembersJoined():
		s.completeJoinPhase(g)
	}
}

func (s *shardState) resetAndPropagateAssignmentWithError(g *group, code int16) {
	for _, m := range g.members {
		m.assignment = nil
	}
	s.propagateAssignment(g, code)
}

func (s *shardState) setAndPropagateAssignment(g *group, assignment map[string][]byte) {
	for id, m := range g.members {
		m.assignment = assignment[id]
	}
	s.propagateAssignment(g, 0)
}

// propagateAssignment answers every parked SyncGroup, and restarts the
// session of each member answered: their sessions were not tracked while
// they waited.
func (s *shardState) propagateAssignment(g *group, code int16) {
	for _, id := range g.order {
		m := g.members[id]
		resp := syncError(0, code)
		if code == 0 {
			resp.Protocol = g.protocolName
			if g.protocolType != "" {
				pt := g.protocolType
				resp.ProtocolType = &pt
			}
			resp.MemberAssignment = nonNil(m.assignment)
		} else {
			resp.MemberAssignment = []byte{}
		}
		if s.completeSync(m, resp) {
			s.scheduleHeartbeat(g, m, ms(m.sessionTimeout))
		}
	}
}

// syncGroup is classicGroupSync / classicGroupSyncToClassicGroup.
func (s *shardState) syncGroup(req *kmsg.SyncGroupRequest) {
	fail := func(code int16) { s.respond(syncError(req.Version, code), nil) }
	if req.Group == "" {
		fail(kerr.InvalidGroupID.Code)
		return
	}
	g := s.groups[req.Group]
	if g == nil || g.is(stateEmpty) {
		fail(kerr.UnknownMemberID.Code)
		return
	}
	if g.is(stateDead) {
		fail(kerr.CoordinatorNotAvailable.Code)
		return
	}
	if err := g.validateMember(req.MemberID, req.InstanceID); err != nil {
		fail(err.Code)
		return
	}
	if req.Generation != g.generation {
		fail(kerr.IllegalGeneration.Code)
		return
	}
	if inconsistent(req.ProtocolType, g.protocolType, g.protocolType != "") ||
		(g.protocolName != nil && inconsistent(req.Protocol, *g.protocolName, true)) {
		fail(kerr.InconsistentGroupProtocol.Code)
		return
	}
	m := g.members[req.MemberID]
	switch g.state {
	case statePreparingRebalance:
		fail(kerr.RebalanceInProgress.Code)
	case stateCompletingRebalance:
		if m.sync != nil {
			s.completeSync(m, syncError(0, kerr.RebalanceInProgress.Code))
		}
		m.sync = &parked{to: s.ev.to, version: req.Version}
		s.removePendingSyncMember(g, req.MemberID)
		if g.isLeader(req.MemberID) {
			s.leaderSync(g, req)
		}
	case stateStable:
		s.removePendingSyncMember(g, req.MemberID)
		resp := syncError(req.Version, 0)
		resp.Protocol = g.protocolName
		if g.protocolType != "" {
			pt := g.protocolType
			resp.ProtocolType = &pt
		}
		resp.MemberAssignment = nonNil(m.assignment)
		s.respond(resp, nil)
	}
}

// leaderSync persists the leader's assignment and, once it is durable,
// hands every member its part and moves the group to Stable. Members
// missing from the assignment get an empty one, as cooperative protocols
// expect for members that own nothing.
func (s *shardState) leaderSync(g *group, req *kmsg.SyncGroupRequest) {
	assignment := make(map[string][]byte, len(g.members))
	for _, a := range req.GroupAssignment {
		assignment[a.MemberID] = a.MemberAssignment
	}
	for id := range g.members {
		if _, ok := assignment[id]; !ok {
			assignment[id] = []byte{}
		}
	}
	s.logger.Info("assignment received from leader", "group", g.id, "generation", g.generation,
		"leader", req.MemberID, "members", len(g.members))
	gen := req.Generation
	s.write([]Record{groupMetadataRecord(g, assignment)}, func(err error) {
		// The group may have moved on while the write was in flight
		// (a member joined or left); then there is nothing to do.
		if s.groups[g.id] != g || !g.is(stateCompletingRebalance) || g.generation != gen {
			return
		}
		if err != nil {
			s.logger.Warn("persisting group assignment failed", "group", g.id, "generation", gen, "err", err)
			s.resetAndPropagateAssignmentWithError(g, appendErrorCode(err, false))
			s.maybePrepareRebalanceOrCompleteJoin(g)
			return
		}
		s.setAndPropagateAssignment(g, assignment)
		g.transitionTo(stateStable, s.nowMs())
	})
}

// inconsistent is isProtocolInconsistent: both given and different.
func inconsistent(requested *string, current string, hasCurrent bool) bool {
	return requested != nil && hasCurrent && *requested != current
}

// heartbeat is classicGroupHeartbeat.
func (s *shardState) heartbeat(req *kmsg.HeartbeatRequest) {
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	s.respond(resp, nil)
	if req.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return
	}
	g := s.groups[req.Group]
	switch {
	case g == nil:
		resp.ErrorCode = kerr.UnknownMemberID.Code
		return
	case g.is(stateDead):
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return
	}
	if err := g.validateMember(req.MemberID, req.InstanceID); err != nil {
		resp.ErrorCode = err.Code
		return
	}
	if req.Generation != g.generation {
		resp.ErrorCode = kerr.IllegalGeneration.Code
		return
	}
	m := g.members[req.MemberID]
	switch g.state {
	case stateEmpty:
		resp.ErrorCode = kerr.UnknownMemberID.Code
	case statePreparingRebalance:
		s.scheduleHeartbeat(g, m, ms(m.sessionTimeout))
		resp.ErrorCode = kerr.RebalanceInProgress.Code
	default:
		// Members heartbeat from the moment they have their join
		// response, so CompletingRebalance counts as alive too.
		s.scheduleHeartbeat(g, m, ms(m.sessionTimeout))
	}
}

// leaveGroup is classicGroupLeave. v0-2 name one member; v3+ a batch,
// where a member may be named by instance id alone (administrative
// removal, KIP-345).
func (s *shardState) leaveGroup(req *kmsg.LeaveGroupRequest) {
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	members := req.Members
	if req.Version < 3 {
		members = []kmsg.LeaveGroupRequestMember{{MemberID: req.MemberID}}
	}
	defer func() {
		if req.Version < 3 {
			// One member: its error is the response's error.
			for _, m := range resp.Members {
				if resp.ErrorCode == 0 {
					resp.ErrorCode = m.ErrorCode
				}
			}
			resp.Members = nil
		}
		s.respond(resp, func(err error) any { return leaveError(req, appendErrorCode(err, false)) })
	}()
	if req.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return
	}
	g := s.groups[req.Group]
	if g != nil && g.is(stateDead) {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return
	}
	left := 0
	for _, lm := range members {
		mr := kmsg.NewLeaveGroupResponseMember()
		mr.MemberID, mr.InstanceID = lm.MemberID, lm.InstanceID
		switch {
		case g == nil:
			mr.ErrorCode = kerr.UnknownMemberID.Code
		case lm.MemberID == "":
			if lm.InstanceID != nil && g.static[*lm.InstanceID] != "" {
				m := g.members[g.static[*lm.InstanceID]]
				s.logger.Info("static member removed by LeaveGroup", "group", g.id, "instance_id", *lm.InstanceID)
				s.removeMember(g, m, kerr.UnknownMemberID.Code)
				left++
			} else {
				mr.ErrorCode = kerr.UnknownMemberID.Code
			}
		default:
			if _, ok := g.pendingJoin[lm.MemberID]; ok {
				g.remove(lm.MemberID)
				s.timers.cancel(heartbeatKey(g.id, lm.MemberID))
				left++
				break
			}
			if err := g.validateMember(lm.MemberID, lm.InstanceID); err != nil {
				mr.ErrorCode = err.Code
				break
			}
			s.logger.Info("member left group", "group", g.id, "member_id", lm.MemberID)
			s.removeMember(g, g.members[lm.MemberID], kerr.UnknownMemberID.Code)
			left++
		}
		resp.Members = append(resp.Members, mr)
	}
	if left > 0 {
		switch g.state {
		case stateStable, stateCompletingRebalance:
			s.maybePrepareRebalanceOrCompleteJoin(g)
		case statePreparingRebalance:
			s.maybeCompleteJoinPhase(g)
		}
	}
}

func leaveError(req *kmsg.LeaveGroupRequest, code int16) *kmsg.LeaveGroupResponse {
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	resp.ErrorCode = code
	return resp
}

func heartbeatKey(g, m string) timerKey { return timerKey{kind: timerHeartbeat, group: g, member: m} }
func joinKey(g string) timerKey         { return timerKey{kind: timerJoin, group: g} }
func syncKey(g string) timerKey         { return timerKey{kind: timerSync, group: g} }

func ms(v int32) time.Duration { return time.Duration(v) * time.Millisecond }

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
