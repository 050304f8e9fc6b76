package group

import (
	"bytes"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/wire"
)

// groupState is a classic group's state (Kafka ClassicGroupState). The
// transitions are:
//
//   - Empty → PreparingRebalance: the first member joins.
//   - PreparingRebalance → CompletingRebalance: the join phase completes
//     (everyone rejoined, or the rebalance timeout ran out) with members;
//     → Empty if none are left.
//   - CompletingRebalance → Stable: the leader's assignment is durable.
//   - Stable or CompletingRebalance → PreparingRebalance: a member joins,
//     rejoins with new metadata, leaves or fails.
//   - Empty → Dead: the group is deleted (DeleteGroups, offset expiry);
//     here Dead lasts until the tombstone is durable.
type groupState int8

// The classic group states.
const (
	stateEmpty groupState = iota
	statePreparingRebalance
	stateCompletingRebalance
	stateStable
	stateDead
)

// String is the state's name as DescribeGroups and ListGroups report it.
func (s groupState) String() string {
	switch s {
	case stateEmpty:
		return "Empty"
	case statePreparingRebalance:
		return "PreparingRebalance"
	case stateCompletingRebalance:
		return "CompletingRebalance"
	case stateStable:
		return "Stable"
	default:
		return "Dead"
	}
}

// validPrevious is ClassicGroupState's validPreviousStates.
func (s groupState) validPrevious(from groupState) bool {
	switch s {
	case stateEmpty:
		return from == statePreparingRebalance
	case statePreparingRebalance:
		return from == stateStable || from == stateCompletingRebalance || from == stateEmpty
	case stateCompletingRebalance:
		return from == statePreparingRebalance
	case stateStable:
		return from == stateCompletingRebalance
	default:
		return true
	}
}

// consumerProtocolType is ConsumerProtocol.PROTOCOL_TYPE.
const consumerProtocolType = "consumer"

type protocol struct {
	name     string
	metadata []byte
}

// parked is a request waiting for its response: the waiter and the
// request version the response must be encoded at.
type parked struct {
	to      uint64
	version int16
}

// member is a ClassicGroupMember.
type member struct {
	id               string
	instanceID       *string
	clientID         string
	clientHost       string
	rebalanceTimeout int32 // ms
	sessionTimeout   int32 // ms
	protocolType     string
	protocols        []protocol
	assignment       []byte

	join *parked // awaiting a JoinGroup response
	sync *parked // awaiting a SyncGroup response

	// isNew is set while a newly added member waits for its first join
	// response: it may then be expired even while awaiting join.
	isNew bool
}

// hasSatisfiedHeartbeat is ClassicGroupMember.hasSatisfiedHeartbeat:
// members awaiting a rebalance response need no heartbeat.
func (m *member) hasSatisfiedHeartbeat() bool {
	if m.isNew {
		return false
	}
	return m.join != nil || m.sync != nil
}

// metadataFor returns the member's metadata for a protocol name.
func (m *member) metadataFor(name string) []byte {
	for _, p := range m.protocols {
		if p.name == name {
			return p.metadata
		}
	}
	return nil
}

// matches reports whether the member joined with exactly these protocols,
// in order (ClassicGroupMember.matches).
func (m *member) matches(ps []kmsg.JoinGroupRequestProtocol) bool {
	if len(ps) != len(m.protocols) {
		return false
	}
	for i, p := range ps {
		if p.Name != m.protocols[i].name || !bytes.Equal(p.Metadata, m.protocols[i].metadata) {
			return false
		}
	}
	return true
}

// vote is the member's most preferred protocol among candidates.
func (m *member) vote(candidates map[string]bool) string {
	for _, p := range m.protocols {
		if candidates[p.name] {
			return p.name
		}
	}
	return ""
}

// toProtocols copies a request's protocols. A name listed twice keeps its
// first entry: Kafka keys the collection by name.
func toProtocols(ps []kmsg.JoinGroupRequestProtocol) []protocol {
	out := make([]protocol, 0, len(ps))
	for _, p := range ps {
		if slices.ContainsFunc(out, func(q protocol) bool { return q.name == p.Name }) {
			continue
		}
		out = append(out, protocol{name: p.Name, metadata: p.Metadata})
	}
	return out
}

func protocolNames(ps []kmsg.JoinGroupRequestProtocol) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		if !slices.Contains(out, p.Name) {
			out = append(out, p.Name)
		}
	}
	return out
}

type topicPartition struct {
	topic     string
	partition int32
}

// offset is a committed offset (Kafka OffsetAndMetadata).
type offset struct {
	offset          int64
	leaderEpoch     int32 // -1: none
	metadata        string
	commitTimestamp int64 // ms
	expireTimestamp int64 // ms; -1 unless committed with v2-4 retention
}

// group is a classic group (Kafka ClassicGroup) plus its committed offsets
// (Kafka keeps those in OffsetMetadataManager, keyed by group id).
type group struct {
	id        string
	state     groupState
	prevState groupState
	// stateTimestamp is when the group entered its state, in ms; -1 when
	// unknown (loaded from a record that predates the field).
	stateTimestamp int64

	protocolType string // "" until the first member joins
	protocolName *string
	generation   int32
	leader       string // "" when none

	// members in insertion order, which is the order Kafka's LinkedHashMap
	// would not guarantee but tests and responses benefit from.
	order   []string
	members map[string]*member
	static  map[string]string // group.instance.id → member id

	// pendingJoin are member ids handed out with MEMBER_ID_REQUIRED that
	// have not joined yet (KIP-394).
	pendingJoin  map[string]struct{}
	awaitingJoin int
	// supported counts, per protocol name, the members supporting it.
	supported   map[string]int
	pendingSync map[string]struct{}

	// subscribed is the union of the members' subscribed topics for the
	// consumer protocol; nil when unknown (not a consumer group, or the
	// metadata did not parse).
	subscribed     map[string]struct{}
	newMemberAdded bool

	offsets map[string]map[int32]offset
	// pendingCommits counts offset commits written but not yet durable.
	pendingCommits map[topicPartition]int
}

func newGroup(id string, nowMs int64) *group {
	return &group{
		id:             id,
		state:          stateEmpty,
		prevState:      stateDead,
		stateTimestamp: nowMs,
		members:        map[string]*member{},
		static:         map[string]string{},
		pendingJoin:    map[string]struct{}{},
		supported:      map[string]int{},
		pendingSync:    map[string]struct{}{},
		offsets:        map[string]map[int32]offset{},
		pendingCommits: map[topicPartition]int{},
	}
}

func (g *group) is(s groupState) bool { return g.state == s }

func (g *group) transitionTo(s groupState, nowMs int64) {
	if !s.validPrevious(g.state) {
		panic("group: invalid transition of " + g.id + " from " + g.state.String() + " to " + s.String())
	}
	g.prevState, g.state = g.state, s
	g.stateTimestamp = nowMs
}

func (g *group) usesConsumerProtocol() bool { return g.protocolType == consumerProtocolType }

func (g *group) isLeader(id string) bool { return g.leader != "" && g.leader == id }

func (g *group) add(m *member, join *parked) {
	if m.instanceID != nil {
		g.static[*m.instanceID] = m.id
	}
	if len(g.members) == 0 {
		g.protocolType = m.protocolType
	}
	if g.leader == "" {
		g.leader = m.id
	}
	g.members[m.id] = m
	g.order = append(g.order, m.id)
	for _, p := range m.protocols {
		g.supported[p.name]++
	}
	m.join = join
	if join != nil {
		g.awaitingJoin++
	}
	delete(g.pendingJoin, m.id)
}

// remove drops a member (ClassicGroup.remove); parked requests of the
// member must have been answered by the caller.
func (g *group) remove(id string) {
	if m, ok := g.members[id]; ok {
		delete(g.members, id)
		g.order = slices.DeleteFunc(g.order, func(x string) bool { return x == id })
		for _, p := range m.protocols {
			g.supported[p.name]--
		}
		if m.join != nil {
			g.awaitingJoin--
		}
		if m.instanceID != nil {
			delete(g.static, *m.instanceID)
		}
	}
	if g.isLeader(id) {
		g.leader = ""
		if len(g.order) > 0 {
			g.leader = g.order[0]
		}
	}
	delete(g.pendingJoin, id)
	delete(g.pendingSync, id)
}

// maybeElectNewJoinedLeader keeps the leader if it rejoined, else picks
// the first member that did; false if no member rejoined.
func (g *group) maybeElectNewJoinedLeader() bool {
	if g.leader == "" {
		return false
	}
	if g.members[g.leader].join != nil {
		return true
	}
	for _, id := range g.order {
		if g.members[id].join != nil {
			g.leader = id
			return true
		}
	}
	return false
}

func (g *group) hasAllMembersJoined() bool {
	return len(g.members) == g.awaitingJoin && len(g.pendingJoin) == 0
}

// rebalanceTimeout is the largest rebalance timeout of the members, in ms.
func (g *group) rebalanceTimeout() int32 {
	var max int32
	for _, m := range g.members {
		if m.rebalanceTimeout > max {
			max = m.rebalanceTimeout
		}
	}
	return max
}

// validateMember is ClassicGroup.validateMember: a static member must be
// known under its instance id with this member id (else it was fenced by a
// newer instance, KIP-345), and the member must exist.
func (g *group) validateMember(memberID string, instanceID *string) *kerr.Error {
	if instanceID != nil {
		existing, ok := g.static[*instanceID]
		if !ok {
			return kerr.UnknownMemberID
		}
		if existing != memberID {
			return kerr.FencedInstanceID
		}
	}
	if _, ok := g.members[memberID]; !ok {
		return kerr.UnknownMemberID
	}
	return nil
}

func (g *group) canRebalance() bool { return statePreparingRebalance.validPrevious(g.state) }

// supportsProtocols is ClassicGroup.supportsProtocols: an Empty group
// accepts any non-empty protocol type and list; otherwise the type must
// match and one of the protocols must be supported by every member.
func (g *group) supportsProtocols(protocolType string, names []string) bool {
	if g.is(stateEmpty) {
		return protocolType != "" && len(names) > 0
	}
	if g.protocolType != protocolType {
		return false
	}
	for _, n := range names {
		if g.supported[n] == len(g.members) {
			return true
		}
	}
	return false
}

// selectProtocol is ClassicGroup.selectProtocol: among the protocols every
// member supports, each member votes for its most preferred one, and the
// one with the most votes wins. Kafka breaks a tie by hash-map order; here
// the tie goes to the leader's preference, so the choice is deterministic.
func (g *group) selectProtocol() string {
	candidates := map[string]bool{}
	for name, n := range g.supported {
		if n == len(g.members) && n > 0 {
			candidates[name] = true
		}
	}
	votes := map[string]int{}
	for _, id := range g.order {
		if v := g.members[id].vote(candidates); v != "" {
			votes[v]++
		}
	}
	best, bestVotes := "", -1
	pref := g.order
	if g.leader != "" {
		pref = append([]string{g.leader}, g.order...)
	}
	for _, id := range pref {
		for _, p := range g.members[id].protocols {
			if n, ok := votes[p.name]; ok && n > bestVotes {
				best, bestVotes = p.name, n
			}
		}
	}
	return best
}

// computeSubscribedTopics is ClassicGroup.computeSubscribedTopics: the
// union of the topics in the members' consumer-protocol subscriptions,
// parsed as kmsg.ConsumerMemberMetadata; nil if the group does not use the
// consumer protocol, has no protocol yet, or a subscription does not parse.
func (g *group) computeSubscribedTopics() map[string]struct{} {
	if !g.usesConsumerProtocol() {
		return nil
	}
	if len(g.members) == 0 {
		return map[string]struct{}{}
	}
	if g.protocolName == nil {
		return nil
	}
	topics := map[string]struct{}{}
	for _, m := range g.members {
		b := m.metadataFor(*g.protocolName)
		// A subscription is opaque JoinGroup bytes whose topic names
		// decode to up to 8 times their size (issue #9): one too costly
		// to decode counts as unparseable.
		if _, err := wire.PrescanConsumerMemberMetadata(b, maxSubscriptionDecodedBytes); err != nil {
			return nil
		}
		var meta kmsg.ConsumerMemberMetadata
		if err := meta.ReadFrom(b); err != nil {
			return nil
		}
		for _, t := range meta.Topics {
			topics[t] = struct{}{}
		}
	}
	return topics
}

// maxSubscriptionDecodedBytes bounds the memory decoding one member's
// subscription may take: a million topic names fit.
const maxSubscriptionDecodedBytes = 64 << 20

// isSubscribedToTopic is ClassicGroup.isSubscribedToTopic: when the
// subscriptions are unknown, a consumer group is assumed subscribed.
func (g *group) isSubscribedToTopic(topic string) bool {
	if g.subscribed == nil {
		return g.usesConsumerProtocol()
	}
	_, ok := g.subscribed[topic]
	return ok
}

// updateMember is ClassicGroup.updateMember.
func (g *group) updateMember(m *member, protocols []protocol, rebalanceTimeout, sessionTimeout int32, join *parked) {
	for _, p := range m.protocols {
		g.supported[p.name]--
	}
	m.protocols = protocols
	for _, p := range m.protocols {
		g.supported[p.name]++
	}
	m.rebalanceTimeout, m.sessionTimeout = rebalanceTimeout, sessionTimeout
	if join != nil && m.join == nil {
		g.awaitingJoin++
	} else if join == nil && m.join != nil {
		g.awaitingJoin--
	}
	m.join = join
}

// initNextGeneration is ClassicGroup.initNextGeneration.
func (g *group) initNextGeneration(nowMs int64) {
	g.generation++
	if len(g.members) > 0 {
		p := g.selectProtocol()
		g.protocolName = &p
		g.subscribed = g.computeSubscribedTopics()
		g.transitionTo(stateCompletingRebalance, nowMs)
	} else {
		g.protocolName = nil
		g.subscribed = g.computeSubscribedTopics()
		g.transitionTo(stateEmpty, nowMs)
	}
	clear(g.pendingSync)
}

// joinMembers lists the members with their metadata for the selected
// protocol, as the leader's JoinGroup response carries them.
func (g *group) joinMembers() []kmsg.JoinGroupResponseMember {
	out := make([]kmsg.JoinGroupResponseMember, 0, len(g.members))
	for _, id := range g.order {
		m := g.members[id]
		jm := kmsg.NewJoinGroupResponseMember()
		jm.MemberID, jm.InstanceID = m.id, m.instanceID
		if g.protocolName != nil {
			jm.ProtocolMetadata = m.metadataFor(*g.protocolName)
		}
		out = append(out, jm)
	}
	return out
}

// assignments returns every member's current assignment.
func (g *group) assignments() map[string][]byte {
	out := make(map[string][]byte, len(g.members))
	for id, m := range g.members {
		out[id] = m.assignment
	}
	return out
}

// hasOffsets reports whether the group has committed or in-flight offsets.
func (g *group) hasOffsets() bool { return len(g.offsets) > 0 || len(g.pendingCommits) > 0 }

// pristine reports whether the group holds nothing at all, so that
// dropping it loses no state (a group created by a request that then
// failed).
func (g *group) pristine() bool {
	return g.is(stateEmpty) && len(g.members) == 0 && len(g.pendingJoin) == 0 && g.generation == 0 &&
		g.protocolType == "" && !g.hasOffsets()
}

func (g *group) memberIDs() []string { return slices.Clone(g.order) }

// pendingOnly lists, in order, the partitions with a commit in flight and
// no committed offset yet.
func (g *group) pendingOnly() []topicPartition {
	var out []topicPartition
	for tp := range g.pendingCommits {
		if _, ok := g.offsets[tp.topic][tp.partition]; !ok {
			out = append(out, tp)
		}
	}
	slices.SortFunc(out, func(a, b topicPartition) int {
		if a.topic != b.topic {
			return strings.Compare(a.topic, b.topic)
		}
		return int(a.partition) - int(b.partition)
	})
	return out
}
