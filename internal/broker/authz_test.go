package broker_test

import (
	"net"
	"slices"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/record"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
	"github.com/tandem-streaming/tandem/internal/wire"
)

// grant is one (principal, operation, resource) the stub authorizer allows.
type grant struct {
	principal string
	op        acl.Operation
	res       acl.Resource
}

// stubAuthorizer allows exactly its grants, literally (no implied
// operations, no patterns: that is the real authorizer's job), and
// everything to User:admin. It also answers KIP-679's question.
type stubAuthorizer struct{ grants map[grant]bool }

func (s *stubAuthorizer) Authorize(ctx acl.RequestContext, op acl.Operation, res acl.Resource) bool {
	return ctx.Principal == admin || s.grants[grant{ctx.Principal.String(), op, res}]
}

func (s *stubAuthorizer) AuthorizeByResourceType(ctx acl.RequestContext, op acl.Operation, rt acl.ResourceType) bool {
	for g := range s.grants {
		if g.principal == ctx.Principal.String() && g.op == op && g.res.Type == rt {
			return true
		}
	}
	return ctx.Principal == admin
}

var (
	admin = auth.User("admin")
	alice = auth.User("alice") // topic "ok", group "g-ok", txn "tx-ok"; nothing on the cluster
	bob   = auth.User("bob")   // cluster operations only
	carol = auth.User("carol") // WRITE on topic "ok" only (KIP-679)
	eve   = auth.User("eve")   // nothing
)

const (
	read            = kmsg.ACLOperationRead
	write           = kmsg.ACLOperationWrite
	create          = kmsg.ACLOperationCreate
	del             = kmsg.ACLOperationDelete
	alter           = kmsg.ACLOperationAlter
	describe        = kmsg.ACLOperationDescribe
	clusterAction   = kmsg.ACLOperationClusterAction
	describeConfigs = kmsg.ACLOperationDescribeConfigs
	alterConfigs    = kmsg.ACLOperationAlterConfigs
	idempotentWrite = kmsg.ACLOperationIdempotentWrite
)

func grantsOf(p auth.Principal, res acl.Resource, ops ...acl.Operation) []grant {
	var out []grant
	for _, op := range ops {
		out = append(out, grant{p.String(), op, res})
	}
	return out
}

func bits(ops ...acl.Operation) int32 {
	var b int32
	for _, op := range ops {
		b |= 1 << op
	}
	return b
}

type authzEnv struct {
	t  *testing.T
	br *broker.Broker
	// okID and noID are the ids of the topics "ok" and "no".
	okID, noID [16]byte
}

// startAuthz starts a broker with the stub authorizer and, as admin,
// creates the topics "ok" and "no" with one record each and commits
// offsets on both for the groups "g-ok" and "g-no". Every request goes
// through Broker.Handle with the principal the test names.
func startAuthz(t *testing.T) *authzEnv {
	t.Helper()
	tb := tandemtest.Start(t)
	e := &authzEnv{t: t, br: tb.Node.Broker()}
	stub := &stubAuthorizer{grants: map[grant]bool{}}
	var gs []grant
	gs = append(gs, grantsOf(alice, acl.Topic("ok"), read, write, describe, del, alter, describeConfigs, alterConfigs)...)
	gs = append(gs, grantsOf(alice, acl.Topic("created"), create, describe, del)...)
	gs = append(gs, grantsOf(alice, acl.Topic("auto"), describe, create)...)
	gs = append(gs, grantsOf(alice, acl.Topic("noauto"), describe)...)
	gs = append(gs, grantsOf(alice, acl.Topic("ghost"), describe)...)
	gs = append(gs, grantsOf(alice, acl.Group("g-ok"), read, describe, del)...)
	gs = append(gs, grantsOf(alice, acl.TransactionalID("tx-ok"), write, describe)...)
	gs = append(gs, grantsOf(bob, acl.Cluster, describe, create, idempotentWrite, clusterAction, describeConfigs, alterConfigs)...)
	gs = append(gs, grantsOf(carol, acl.Topic("ok"), write)...)
	for _, g := range gs {
		stub.grants[g] = true
	}
	broker.SetAuthorizer(e.br, stub)

	for _, name := range []string{"ok", "no"} {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, 1
		req.Topics = append(req.Topics, rt)
		st := e.call(admin, req).(*kmsg.CreateTopicsResponse).Topics[0]
		if st.ErrorCode != 0 {
			t.Fatalf("create %s: %v", name, kerr.ErrorForCode(st.ErrorCode))
		}
		if name == "ok" {
			e.okID = st.TopicID
		} else {
			e.noID = st.TopicID
		}
		expectCode(t, "admin produce to "+name, e.produce(admin, name, nil, false)[0], nil)
		for _, g := range []string{"g-ok", "g-no"} {
			c := e.commit(admin, g, name)
			expectCode(t, "admin commit "+g+"/"+name, c.Topics[0].Partitions[0].ErrorCode, nil)
		}
	}
	return e
}

// call sends req (at the highest version the broker serves unless a
// version is set) as principal p and returns the response.
func (e *authzEnv) call(p auth.Principal, req kmsg.Request) kmsg.Response {
	e.t.Helper()
	if req.GetVersion() == 0 {
		for _, v := range broker.Versions() {
			if v.Key == req.Key() {
				req.SetVersion(v.Max)
			}
		}
	}
	h := wire.Header{Key: req.Key(), Version: req.GetVersion(), ClientID: "authz-test", Flexible: req.IsFlexible()}
	conn := &broker.Conn{Principal: p, Remote: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}, Listener: "PLAINTEXT"}
	reply, err := e.br.Handle(ctxT(e.t), conn, h, req.AppendTo(nil))
	if err != nil {
		e.t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
	}
	if reply.Wait != nil {
		return reply.Wait()
	}
	return reply.Resp
}

func expectCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	wantCode := int16(0)
	if want != nil {
		wantCode = want.Code
	}
	if got != wantCode {
		t.Errorf("%s: error %v, want %v", what, kerr.ErrorForCode(got), want)
	}
}

// produce sends one record to partition 0 of each topic; it returns each
// partition's error code.
func (e *authzEnv) produce(p auth.Principal, topic string, txnID *string, transactional bool) []int16 {
	e.t.Helper()
	bld := record.NewBuilder()
	if transactional {
		bld.Transactional, bld.ProducerID, bld.ProducerEpoch, bld.BaseSequence = true, 1000, 0, 0
	}
	bld.Append(1, []byte("k"), []byte("v"))
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis, req.TransactionID = -1, 10000, txnID
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = bld.Build()
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	var out []int16
	for _, st := range e.call(p, req).(*kmsg.ProduceResponse).Topics {
		for _, sp := range st.Partitions {
			out = append(out, sp.ErrorCode)
		}
	}
	return out
}

// commit commits offset 1 for partition 0 of each topic, as a consumer
// without group management does.
func (e *authzEnv) commit(p auth.Principal, group string, topics ...string) *kmsg.OffsetCommitResponse {
	e.t.Helper()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation = group, -1
	for _, name := range topics {
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = name
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Offset = 1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
	}
	return e.call(p, req).(*kmsg.OffsetCommitResponse)
}

// partitionErrors maps "topic/partition" to its error code for responses
// shaped topics → partitions.
type partitionErrors map[string]int16

func (pe partitionErrors) expect(t *testing.T, what, topic string, want *kerr.Error) {
	t.Helper()
	got, ok := pe[topic]
	if !ok {
		t.Errorf("%s: no answer for topic %q (answers %v)", what, topic, pe)
		return
	}
	expectCode(t, what+" "+topic, got, want)
}

func TestAuthzProduce(t *testing.T) {
	e := startAuthz(t)
	for _, c := range []struct {
		name  string
		p     auth.Principal
		topic string
		want  *kerr.Error
	}{
		{"allowed", alice, "ok", nil},
		{"no WRITE", alice, "no", kerr.TopicAuthorizationFailed},
		// An unknown topic is refused the same way: existence is not
		// revealed to a principal that may not write it.
		{"unknown topic", alice, "missing", kerr.TopicAuthorizationFailed},
		{"nothing granted", eve, "ok", kerr.TopicAuthorizationFailed},
		{"WRITE alone", carol, "ok", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			expectCode(t, "produce", e.produce(c.p, c.topic, nil, false)[0], c.want)
		})
	}
	// Transactional batches need WRITE on the transactional id, for every
	// partition of the request, before WRITE on the topic is considered.
	t.Run("transactional id refused", func(t *testing.T) {
		expectCode(t, "produce", e.produce(alice, "ok", kmsg.StringPtr("tx-no"), true)[0], kerr.TransactionalIDAuthorizationFailed)
		expectCode(t, "produce", e.produce(alice, "ok", nil, true)[0], kerr.TransactionalIDAuthorizationFailed)
	})
	t.Run("transactional id allowed", func(t *testing.T) {
		// Past authorization, Tandem refuses transactions (no coordinator).
		expectCode(t, "produce", e.produce(alice, "ok", kmsg.StringPtr("tx-ok"), true)[0], kerr.UnsupportedVersion)
	})
}

func fetchErrors(resp *kmsg.FetchResponse) partitionErrors {
	out := partitionErrors{}
	for _, st := range resp.Topics {
		for _, sp := range st.Partitions {
			out[st.Topic] = sp.ErrorCode
		}
	}
	return out
}

func TestAuthzFetch(t *testing.T) {
	e := startAuthz(t)
	fetch := func(p auth.Principal, replica int32, topics ...string) partitionErrors {
		req := kmsg.NewPtrFetchRequest()
		req.Version = 12 // by name
		req.ReplicaID, req.MaxBytes = replica, 1<<20
		for _, name := range topics {
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic = name
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.PartitionMaxBytes = 1 << 20
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
		}
		return fetchErrors(e.call(p, req).(*kmsg.FetchResponse))
	}
	errs := fetch(alice, -1, "ok", "no", "missing")
	errs.expect(t, "consumer", "ok", nil)
	errs.expect(t, "consumer", "no", kerr.TopicAuthorizationFailed)
	errs.expect(t, "consumer", "missing", kerr.TopicAuthorizationFailed)
	fetch(eve, -1, "ok").expect(t, "consumer without grants", "ok", kerr.TopicAuthorizationFailed)

	// Followers need CLUSTER_ACTION; with it they meet the single-node
	// refusal instead.
	fetch(alice, 1, "ok").expect(t, "follower without CLUSTER_ACTION", "ok", kerr.TopicAuthorizationFailed)
	fetch(bob, 1, "ok").expect(t, "follower with CLUSTER_ACTION", "ok", kerr.NotLeaderForPartition)

	// By id (v13+): unknown ids are not secret; known ones are checked.
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxBytes = -1, 1<<20
	for _, id := range [][16]byte{e.okID, e.noID, {1, 2, 3}} {
		rt := kmsg.NewFetchRequestTopic()
		rt.TopicID = id
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.PartitionMaxBytes = 1 << 20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
	}
	resp := e.call(alice, req).(*kmsg.FetchResponse)
	expectCode(t, "fetch by id ok", resp.Topics[0].Partitions[0].ErrorCode, nil)
	expectCode(t, "fetch by id no", resp.Topics[1].Partitions[0].ErrorCode, kerr.TopicAuthorizationFailed)
	expectCode(t, "fetch by unknown id", resp.Topics[2].Partitions[0].ErrorCode, kerr.UnknownTopicID)
}

func TestAuthzListOffsetsAndOffsetForLeaderEpoch(t *testing.T) {
	e := startAuthz(t)
	listOffsets := func(p auth.Principal, topics ...string) partitionErrors {
		req := kmsg.NewPtrListOffsetsRequest()
		req.ReplicaID = -1
		for _, name := range topics {
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = name
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Timestamp = -1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
		}
		out := partitionErrors{}
		for _, st := range e.call(p, req).(*kmsg.ListOffsetsResponse).Topics {
			out[st.Topic] = st.Partitions[0].ErrorCode
			if st.Partitions[0].ErrorCode != 0 && st.Partitions[0].Offset != -1 {
				t.Errorf("refused %s answered offset %d", st.Topic, st.Partitions[0].Offset)
			}
		}
		return out
	}
	errs := listOffsets(alice, "ok", "no", "missing")
	errs.expect(t, "ListOffsets", "ok", nil)
	errs.expect(t, "ListOffsets", "no", kerr.TopicAuthorizationFailed)
	errs.expect(t, "ListOffsets", "missing", kerr.TopicAuthorizationFailed)

	epochs := func(p auth.Principal, topics ...string) partitionErrors {
		req := kmsg.NewPtrOffsetForLeaderEpochRequest()
		req.ReplicaID = -1
		for _, name := range topics {
			rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
			rt.Topic = name
			rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
			rp.CurrentLeaderEpoch, rp.LeaderEpoch = -1, 0
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
		}
		out := partitionErrors{}
		for _, st := range e.call(p, req).(*kmsg.OffsetForLeaderEpochResponse).Topics {
			out[st.Topic] = st.Partitions[0].ErrorCode
		}
		return out
	}
	errs = epochs(alice, "ok", "no")
	errs.expect(t, "OffsetForLeaderEpoch", "ok", nil)
	errs.expect(t, "OffsetForLeaderEpoch", "no", kerr.TopicAuthorizationFailed)
	// CLUSTER_ACTION (the inter-broker use) allows every topic.
	epochs(bob, "no").expect(t, "OffsetForLeaderEpoch with CLUSTER_ACTION", "no", nil)
}

func TestAuthzMetadata(t *testing.T) {
	e := startAuthz(t)
	topicNames := func(resp *kmsg.MetadataResponse) []string {
		var out []string
		for _, mt := range resp.Topics {
			if mt.Topic != nil {
				out = append(out, *mt.Topic)
			}
		}
		return out
	}

	// All topics: only the describable ones, without error entries.
	req := kmsg.NewPtrMetadataRequest()
	resp := e.call(alice, req).(*kmsg.MetadataResponse)
	if got := topicNames(resp); !slices.Equal(got, []string{"ok"}) {
		t.Errorf("alice lists %v, want [ok]", got)
	}
	if got := topicNames(e.call(eve, kmsg.NewPtrMetadataRequest()).(*kmsg.MetadataResponse)); len(got) != 0 {
		t.Errorf("eve lists %v, want none", got)
	}
	if got := topicNames(e.call(admin, kmsg.NewPtrMetadataRequest()).(*kmsg.MetadataResponse)); !slices.Contains(got, "no") {
		t.Errorf("admin lists %v, want every topic", got)
	}

	// Named topics; "auto" may be auto-created (DESCRIBE+CREATE on it),
	// "noauto" may only be described, "missing" not even that.
	req = kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = true
	req.IncludeTopicAuthorizedOperations = true
	for _, name := range []string{"ok", "no", "missing", "auto", "noauto"} {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, rt)
	}
	byName := map[string]kmsg.MetadataResponseTopic{}
	for _, mt := range e.call(alice, req).(*kmsg.MetadataResponse).Topics {
		byName[*mt.Topic] = mt
	}
	okOps := bits(read, write, describe, del, alter, describeConfigs, alterConfigs)
	for _, c := range []struct {
		topic string
		want  *kerr.Error
		ops   int32
	}{
		{"ok", nil, okOps},
		{"no", kerr.TopicAuthorizationFailed, -2147483648},
		{"missing", kerr.TopicAuthorizationFailed, -2147483648},
		{"auto", nil, bits(describe, create)},
		{"noauto", kerr.TopicAuthorizationFailed, -2147483648},
	} {
		mt, ok := byName[c.topic]
		if !ok {
			t.Errorf("no entry for %s", c.topic)
			continue
		}
		expectCode(t, "metadata "+c.topic, mt.ErrorCode, c.want)
		if mt.AuthorizedOperations != c.ops {
			t.Errorf("metadata %s: authorized operations %#x, want %#x", c.topic, mt.AuthorizedOperations, c.ops)
		}
		if c.want != nil && (len(mt.Partitions) != 0 || mt.TopicID != [16]byte{}) {
			t.Errorf("metadata %s: refused entry reveals partitions %v or id %x", c.topic, mt.Partitions, mt.TopicID)
		}
	}

	// By id (v12+): the id is returned, the name is not.
	req = kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.TopicID = e.noID
	req.Topics = append(req.Topics, rt)
	mt := e.call(alice, req).(*kmsg.MetadataResponse).Topics[0]
	expectCode(t, "metadata by id", mt.ErrorCode, kerr.TopicAuthorizationFailed)
	if mt.Topic != nil || mt.TopicID != e.noID {
		t.Errorf("metadata by id: name %v id %x, want null name and the id", mt.Topic, mt.TopicID)
	}

	// Cluster authorized operations (v8-10): 0 without DESCRIBE on the
	// cluster, the allowed ones with it, the sentinel when not asked.
	for _, c := range []struct {
		p    auth.Principal
		ask  bool
		want int32
	}{
		{alice, true, 0},
		{bob, true, bits(describe, create, idempotentWrite, clusterAction, describeConfigs, alterConfigs)},
		{bob, false, -2147483648},
	} {
		req := kmsg.NewPtrMetadataRequest()
		req.Version = 10
		req.IncludeClusterAuthorizedOperations = c.ask
		if got := e.call(c.p, req).(*kmsg.MetadataResponse).AuthorizedOperations; got != c.want {
			t.Errorf("%s cluster authorized operations (asked %v): %#x, want %#x", c.p, c.ask, got, c.want)
		}
	}
}

func TestAuthzInitProducerIDAndFindCoordinator(t *testing.T) {
	e := startAuthz(t)
	for _, c := range []struct {
		name string
		p    auth.Principal
		txn  *string
		want *kerr.Error
	}{
		{"IDEMPOTENT_WRITE on the cluster", bob, nil, nil},
		{"WRITE on a topic (KIP-679)", carol, nil, nil},
		{"neither", eve, nil, kerr.ClusterAuthorizationFailed},
		{"transactional id refused", alice, kmsg.StringPtr("tx-no"), kerr.TransactionalIDAuthorizationFailed},
		{"transactional id allowed", alice, kmsg.StringPtr("tx-ok"), kerr.UnsupportedVersion},
	} {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID, req.TransactionTimeoutMillis = c.txn, 60000
		req.ProducerID, req.ProducerEpoch = -1, -1
		resp := e.call(c.p, req).(*kmsg.InitProducerIDResponse)
		expectCode(t, "InitProducerId "+c.name, resp.ErrorCode, c.want)
		if c.want != nil && resp.ProducerID != -1 {
			t.Errorf("InitProducerId %s: refused but got producer id %d", c.name, resp.ProducerID)
		}
	}

	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorType, req.CoordinatorKeys = 0, []string{"g-ok", "g-no"}
	resp := e.call(alice, req).(*kmsg.FindCoordinatorResponse)
	expectCode(t, "FindCoordinator g-ok", resp.Coordinators[0].ErrorCode, nil)
	expectCode(t, "FindCoordinator g-no", resp.Coordinators[1].ErrorCode, kerr.GroupAuthorizationFailed)
	if resp.Coordinators[1].NodeID != -1 {
		t.Errorf("refused key answered node %d", resp.Coordinators[1].NodeID)
	}
	req = kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorType, req.CoordinatorKeys = 1, []string{"tx-ok", "tx-no"}
	resp = e.call(alice, req).(*kmsg.FindCoordinatorResponse)
	expectCode(t, "FindCoordinator tx-ok", resp.Coordinators[0].ErrorCode, nil)
	expectCode(t, "FindCoordinator tx-no", resp.Coordinators[1].ErrorCode, kerr.TransactionalIDAuthorizationFailed)
	// Before v4 the error is the response's, with Kafka's message.
	req = kmsg.NewPtrFindCoordinatorRequest()
	req.Version, req.CoordinatorKey = 3, "g-no"
	resp = e.call(alice, req).(*kmsg.FindCoordinatorResponse)
	expectCode(t, "FindCoordinator v3", resp.ErrorCode, kerr.GroupAuthorizationFailed)
	if resp.ErrorMessage == nil || *resp.ErrorMessage != "Group authorization failed." {
		t.Errorf("FindCoordinator v3 message %v", resp.ErrorMessage)
	}
}

func TestAuthzGroupMembership(t *testing.T) {
	e := startAuthz(t)
	join := kmsg.NewPtrJoinGroupRequest()
	join.Group, join.ProtocolType, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = "g-no", "consumer", 10000, 10000
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{}}}
	expectCode(t, "JoinGroup g-no", e.call(alice, join).(*kmsg.JoinGroupResponse).ErrorCode, kerr.GroupAuthorizationFailed)
	join.Group = "g-ok"
	// Allowed: the coordinator answers (KIP-394: first join of a new
	// member asks it to rejoin with its id).
	expectCode(t, "JoinGroup g-ok", e.call(alice, join).(*kmsg.JoinGroupResponse).ErrorCode, kerr.MemberIDRequired)

	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation = "g-no", "m", 1
	expectCode(t, "Heartbeat g-no", e.call(alice, hb).(*kmsg.HeartbeatResponse).ErrorCode, kerr.GroupAuthorizationFailed)
	hb.Group = "g-ok"
	expectCode(t, "Heartbeat g-ok", e.call(alice, hb).(*kmsg.HeartbeatResponse).ErrorCode, kerr.UnknownMemberID)

	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = "g-no", "m", 1
	sync.ProtocolType, sync.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
	expectCode(t, "SyncGroup g-no", e.call(alice, sync).(*kmsg.SyncGroupResponse).ErrorCode, kerr.GroupAuthorizationFailed)

	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Group = "g-no"
	leave.Members = []kmsg.LeaveGroupRequestMember{{MemberID: "m"}}
	expectCode(t, "LeaveGroup g-no", e.call(alice, leave).(*kmsg.LeaveGroupResponse).ErrorCode, kerr.GroupAuthorizationFailed)
}

func commitErrors(resp *kmsg.OffsetCommitResponse) partitionErrors {
	out := partitionErrors{}
	for _, st := range resp.Topics {
		out[st.Topic] = st.Partitions[0].ErrorCode
	}
	return out
}

func TestAuthzOffsets(t *testing.T) {
	e := startAuthz(t)
	t.Run("OffsetCommit", func(t *testing.T) {
		errs := commitErrors(e.commit(alice, "g-no", "ok", "no"))
		errs.expect(t, "group refused", "ok", kerr.GroupAuthorizationFailed)
		errs.expect(t, "group refused", "no", kerr.GroupAuthorizationFailed)
		errs = commitErrors(e.commit(alice, "g-ok", "ok", "no", "missing"))
		errs.expect(t, "topics", "ok", nil)
		errs.expect(t, "topics", "no", kerr.TopicAuthorizationFailed)
		errs.expect(t, "topics", "missing", kerr.TopicAuthorizationFailed)
		errs = commitErrors(e.commit(alice, "g-ok", "no"))
		errs.expect(t, "every topic refused", "no", kerr.TopicAuthorizationFailed)
	})

	t.Run("OffsetFetch v8+", func(t *testing.T) {
		req := kmsg.NewPtrOffsetFetchRequest()
		for _, g := range []string{"g-ok", "g-no"} {
			rg := kmsg.NewOffsetFetchRequestGroup()
			rg.Group = g
			rg.Topics = []kmsg.OffsetFetchRequestGroupTopic{{Topic: "ok", Partitions: []int32{0}}, {Topic: "no", Partitions: []int32{0}}}
			req.Groups = append(req.Groups, rg)
		}
		all := kmsg.NewOffsetFetchRequestGroup()
		all.Group = "g-ok" // all topics: the refused one is left out
		req.Groups = append(req.Groups, all)
		resp := e.call(alice, req).(*kmsg.OffsetFetchResponse)
		if len(resp.Groups) != 3 {
			t.Fatalf("%d groups answered", len(resp.Groups))
		}
		g := resp.Groups[0]
		expectCode(t, "g-ok", g.ErrorCode, nil)
		got := map[string]kmsg.OffsetFetchResponseGroupTopicPartition{}
		for _, rt := range g.Topics {
			got[rt.Topic] = rt.Partitions[0]
		}
		if p := got["ok"]; p.ErrorCode != 0 || p.Offset != 1 {
			t.Errorf("g-ok/ok: %v offset %d, want offset 1", kerr.ErrorForCode(p.ErrorCode), p.Offset)
		}
		if p := got["no"]; p.ErrorCode != kerr.TopicAuthorizationFailed.Code || p.Offset != -1 {
			t.Errorf("g-ok/no: %v offset %d, want TOPIC_AUTHORIZATION_FAILED and -1", kerr.ErrorForCode(p.ErrorCode), p.Offset)
		}
		expectCode(t, "g-no", resp.Groups[1].ErrorCode, kerr.GroupAuthorizationFailed)
		var names []string
		for _, rt := range resp.Groups[2].Topics {
			names = append(names, rt.Topic)
		}
		if !slices.Equal(names, []string{"ok"}) {
			t.Errorf("all offsets of g-ok list topics %v, want [ok]", names)
		}
	})

	t.Run("OffsetFetch v7", func(t *testing.T) {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Version, req.Group = 7, "g-no"
		expectCode(t, "g-no", e.call(alice, req).(*kmsg.OffsetFetchResponse).ErrorCode, kerr.GroupAuthorizationFailed)
		req.Group = "g-ok"
		req.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "ok", Partitions: []int32{0}}, {Topic: "no", Partitions: []int32{0}}}
		errs := partitionErrors{}
		for _, rt := range e.call(alice, req).(*kmsg.OffsetFetchResponse).Topics {
			errs[rt.Topic] = rt.Partitions[0].ErrorCode
		}
		errs.expect(t, "v7", "ok", nil)
		errs.expect(t, "v7", "no", kerr.TopicAuthorizationFailed)
	})

	t.Run("OffsetDelete", func(t *testing.T) {
		req := kmsg.NewPtrOffsetDeleteRequest()
		req.Group = "g-no"
		req.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "ok", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}
		expectCode(t, "g-no", e.call(alice, req).(*kmsg.OffsetDeleteResponse).ErrorCode, kerr.GroupAuthorizationFailed)
		req.Group = "g-ok"
		req.Topics = append(req.Topics, kmsg.OffsetDeleteRequestTopic{Topic: "no", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}})
		resp := e.call(alice, req).(*kmsg.OffsetDeleteResponse)
		expectCode(t, "g-ok", resp.ErrorCode, nil)
		errs := partitionErrors{}
		for _, rt := range resp.Topics {
			errs[rt.Topic] = rt.Partitions[0].ErrorCode
		}
		errs.expect(t, "OffsetDelete", "ok", nil)
		errs.expect(t, "OffsetDelete", "no", kerr.TopicAuthorizationFailed)
	})
}

func TestAuthzGroupAdmin(t *testing.T) {
	e := startAuthz(t)
	desc := kmsg.NewPtrDescribeGroupsRequest()
	desc.Groups, desc.IncludeAuthorizedOperations = []string{"g-ok", "g-no"}, true
	resp := e.call(alice, desc).(*kmsg.DescribeGroupsResponse)
	expectCode(t, "DescribeGroups g-ok", resp.Groups[0].ErrorCode, nil)
	if got, want := resp.Groups[0].AuthorizedOperations, bits(read, describe, del); got != want {
		t.Errorf("g-ok authorized operations %#x, want %#x", got, want)
	}
	expectCode(t, "DescribeGroups g-no", resp.Groups[1].ErrorCode, kerr.GroupAuthorizationFailed)
	if g := resp.Groups[1]; g.State != "" || g.AuthorizedOperations != -2147483648 ||
		g.ErrorMessage == nil || *g.ErrorMessage != "Group authorization failed." {
		t.Errorf("refused group described: state %q ops %#x message %v", g.State, g.AuthorizedOperations, g.ErrorMessage)
	}

	list := func(p auth.Principal) []string {
		var out []string
		for _, g := range e.call(p, kmsg.NewPtrListGroupsRequest()).(*kmsg.ListGroupsResponse).Groups {
			out = append(out, g.Group)
		}
		slices.Sort(out)
		return out
	}
	if got := list(alice); !slices.Equal(got, []string{"g-ok"}) {
		t.Errorf("alice lists groups %v, want [g-ok]", got)
	}
	if got := list(bob); !slices.Equal(got, []string{"g-no", "g-ok"}) {
		t.Errorf("bob (DESCRIBE on the cluster) lists groups %v, want all", got)
	}
	if got := list(eve); len(got) != 0 {
		t.Errorf("eve lists groups %v", got)
	}

	delg := kmsg.NewPtrDeleteGroupsRequest()
	delg.Groups = []string{"g-no", "g-ok"}
	dresp := e.call(alice, delg).(*kmsg.DeleteGroupsResponse)
	expectCode(t, "DeleteGroups g-no", dresp.Groups[0].ErrorCode, kerr.GroupAuthorizationFailed)
	expectCode(t, "DeleteGroups g-ok", dresp.Groups[1].ErrorCode, nil)
	if dresp.Groups[0].Group != "g-no" || dresp.Groups[1].Group != "g-ok" {
		t.Errorf("DeleteGroups answered %s, %s", dresp.Groups[0].Group, dresp.Groups[1].Group)
	}
}

func TestAuthzTopicAdmin(t *testing.T) {
	e := startAuthz(t)
	createTopics := func(p auth.Principal, names ...string) []kmsg.CreateTopicsResponseTopic {
		req := kmsg.NewPtrCreateTopicsRequest()
		for _, n := range names {
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = n, 1, 1
			req.Topics = append(req.Topics, rt)
		}
		return e.call(p, req).(*kmsg.CreateTopicsResponse).Topics
	}
	ct := createTopics(eve, "created")
	expectCode(t, "CreateTopics without CREATE", ct[0].ErrorCode, kerr.TopicAuthorizationFailed)
	if ct[0].ErrorMessage == nil || *ct[0].ErrorMessage != "Authorization failed." {
		t.Errorf("CreateTopics refusal message %v", ct[0].ErrorMessage)
	}
	// CREATE on the topic, no DESCRIBE_CONFIGS: created, configs withheld.
	ct = createTopics(alice, "created")
	expectCode(t, "CreateTopics with CREATE on the topic", ct[0].ErrorCode, nil)
	if c := ct[0]; c.ConfigErrorCode != kerr.TopicAuthorizationFailed.Code || c.NumPartitions != -1 || len(c.Configs) != 0 {
		t.Errorf("configs without DESCRIBE_CONFIGS: config error %v partitions %d configs %d", kerr.ErrorForCode(c.ConfigErrorCode), c.NumPartitions, len(c.Configs))
	}
	// CREATE on the cluster allows any name.
	ct = createTopics(bob, "by-cluster")
	expectCode(t, "CreateTopics with CREATE on the cluster", ct[0].ErrorCode, nil)

	deleteTopics := func(p auth.Principal, names []string, ids [][16]byte) []kmsg.DeleteTopicsResponseTopic {
		req := kmsg.NewPtrDeleteTopicsRequest()
		for _, n := range names {
			req.Topics = append(req.Topics, kmsg.DeleteTopicsRequestTopic{Topic: kmsg.StringPtr(n)})
		}
		for _, id := range ids {
			req.Topics = append(req.Topics, kmsg.DeleteTopicsRequestTopic{TopicID: id})
		}
		return e.call(p, req).(*kmsg.DeleteTopicsResponse).Topics
	}
	dt := deleteTopics(alice, []string{"no", "missing", "ghost"}, [][16]byte{e.noID, {9, 9}})
	expectCode(t, "DeleteTopics no", dt[0].ErrorCode, kerr.TopicAuthorizationFailed)
	expectCode(t, "DeleteTopics missing (not describable)", dt[1].ErrorCode, kerr.TopicAuthorizationFailed)
	expectCode(t, "DeleteTopics ghost (describable, unknown)", dt[2].ErrorCode, kerr.UnknownTopicOrPartition)
	expectCode(t, "DeleteTopics by id of no", dt[3].ErrorCode, kerr.TopicAuthorizationFailed)
	if dt[3].Topic != nil {
		t.Errorf("DeleteTopics by id revealed the name %q", *dt[3].Topic)
	}
	expectCode(t, "DeleteTopics unknown id", dt[4].ErrorCode, kerr.UnknownTopicID)
	dt = deleteTopics(alice, []string{"created"}, nil)
	expectCode(t, "DeleteTopics with DELETE", dt[0].ErrorCode, nil)

	cp := kmsg.NewPtrCreatePartitionsRequest()
	cp.ValidateOnly = true
	cp.Topics = []kmsg.CreatePartitionsRequestTopic{{Topic: "ok", Count: 2}, {Topic: "no", Count: 2}}
	cpr := e.call(alice, cp).(*kmsg.CreatePartitionsResponse).Topics
	expectCode(t, "CreatePartitions ok", cpr[0].ErrorCode, nil)
	expectCode(t, "CreatePartitions no", cpr[1].ErrorCode, kerr.TopicAuthorizationFailed)

	dr := kmsg.NewPtrDeleteRecordsRequest()
	for _, n := range []string{"ok", "no"} {
		dr.Topics = append(dr.Topics, kmsg.DeleteRecordsRequestTopic{Topic: n, Partitions: []kmsg.DeleteRecordsRequestTopicPartition{{Partition: 0, Offset: 0}}})
	}
	drr := e.call(alice, dr).(*kmsg.DeleteRecordsResponse).Topics
	expectCode(t, "DeleteRecords ok", drr[0].Partitions[0].ErrorCode, nil)
	expectCode(t, "DeleteRecords no", drr[1].Partitions[0].ErrorCode, kerr.TopicAuthorizationFailed)
	if drr[1].Partitions[0].LowWatermark != -1 {
		t.Errorf("refused DeleteRecords low watermark %d", drr[1].Partitions[0].LowWatermark)
	}
}

func TestAuthzConfigsAndCluster(t *testing.T) {
	e := startAuthz(t)
	node := "1"
	for _, v := range e.call(admin, kmsg.NewPtrMetadataRequest()).(*kmsg.MetadataResponse).Brokers {
		node = strconv.Itoa(int(v.NodeID))
	}
	type resource struct {
		typ  kmsg.ConfigResourceType
		name string
	}
	resources := []resource{{kmsg.ConfigResourceTypeTopic, "ok"}, {kmsg.ConfigResourceTypeTopic, "no"}, {kmsg.ConfigResourceTypeBroker, node}}
	describeCfgs := func(p auth.Principal) []kmsg.DescribeConfigsResponseResource {
		req := kmsg.NewPtrDescribeConfigsRequest()
		for _, r := range resources {
			rr := kmsg.NewDescribeConfigsRequestResource()
			rr.ResourceType, rr.ResourceName = r.typ, r.name
			req.Resources = append(req.Resources, rr)
		}
		return e.call(p, req).(*kmsg.DescribeConfigsResponse).Resources
	}
	dc := describeCfgs(alice)
	expectCode(t, "DescribeConfigs topic ok", dc[0].ErrorCode, nil)
	expectCode(t, "DescribeConfigs topic no", dc[1].ErrorCode, kerr.TopicAuthorizationFailed)
	if len(dc[1].Configs) != 0 || dc[1].ErrorMessage == nil || *dc[1].ErrorMessage != "Topic authorization failed." {
		t.Errorf("refused DescribeConfigs: %d configs, message %v", len(dc[1].Configs), dc[1].ErrorMessage)
	}
	expectCode(t, "DescribeConfigs broker", dc[2].ErrorCode, kerr.ClusterAuthorizationFailed)
	expectCode(t, "DescribeConfigs broker with DESCRIBE_CONFIGS", describeCfgs(bob)[2].ErrorCode, nil)

	// Both alter APIs, validate-only, for each resource.
	alterCodes := func(p auth.Principal, incremental bool) []int16 {
		inc, legacy := kmsg.NewPtrIncrementalAlterConfigsRequest(), kmsg.NewPtrAlterConfigsRequest()
		inc.ValidateOnly, legacy.ValidateOnly = true, true
		for _, r := range resources {
			inc.Resources = append(inc.Resources, kmsg.IncrementalAlterConfigsRequestResource{ResourceType: r.typ, ResourceName: r.name})
			legacy.Resources = append(legacy.Resources, kmsg.AlterConfigsRequestResource{ResourceType: r.typ, ResourceName: r.name})
		}
		var out []int16
		if incremental {
			for _, rr := range e.call(p, inc).(*kmsg.IncrementalAlterConfigsResponse).Resources {
				out = append(out, rr.ErrorCode)
			}
			return out
		}
		for _, rr := range e.call(p, legacy).(*kmsg.AlterConfigsResponse).Resources {
			out = append(out, rr.ErrorCode)
		}
		return out
	}
	for _, incremental := range []bool{false, true} {
		codes := alterCodes(alice, incremental)
		expectCode(t, "alter configs topic ok", codes[0], nil)
		expectCode(t, "alter configs topic no", codes[1], kerr.TopicAuthorizationFailed)
		expectCode(t, "alter configs broker", codes[2], kerr.ClusterAuthorizationFailed)
		expectCode(t, "alter configs broker with ALTER_CONFIGS", alterCodes(bob, incremental)[2], nil)
	}

	logDirs := func(p auth.Principal) *kmsg.DescribeLogDirsResponse {
		return e.call(p, kmsg.NewPtrDescribeLogDirsRequest()).(*kmsg.DescribeLogDirsResponse)
	}
	if r := logDirs(alice); r.ErrorCode != kerr.ClusterAuthorizationFailed.Code || len(r.Dirs) != 0 {
		t.Errorf("DescribeLogDirs without DESCRIBE on the cluster: %v, %d dirs", kerr.ErrorForCode(r.ErrorCode), len(r.Dirs))
	}
	if r := logDirs(bob); r.ErrorCode != 0 || len(r.Dirs) != 1 {
		t.Errorf("DescribeLogDirs with DESCRIBE on the cluster: %v, %d dirs", kerr.ErrorForCode(r.ErrorCode), len(r.Dirs))
	}

	for _, c := range []struct {
		p    auth.Principal
		want int32
	}{
		{eve, 0},
		{bob, bits(describe, create, idempotentWrite, clusterAction, describeConfigs, alterConfigs)},
	} {
		req := kmsg.NewPtrDescribeClusterRequest()
		req.IncludeClusterAuthorizedOperations = true
		resp := e.call(c.p, req).(*kmsg.DescribeClusterResponse)
		expectCode(t, "DescribeCluster", resp.ErrorCode, nil)
		if resp.ClusterAuthorizedOperations != c.want {
			t.Errorf("DescribeCluster %s: authorized operations %#x, want %#x", c.p, resp.ClusterAuthorizedOperations, c.want)
		}
	}
}

// TestAuthzStandardAuthorizer runs requests through the real authorizer
// (Kafka's StandardAuthorizer rules) with LITERAL and PREFIXED ACLs, a
// DENY that beats an ALLOW, a User:* grant and a super user.
func TestAuthzStandardAuthorizer(t *testing.T) {
	tb := tandemtest.Start(t)
	e := &authzEnv{t: t, br: tb.Node.Broker()}
	allow, deny := kmsg.ACLPermissionTypeAllow, kmsg.ACLPermissionTypeDeny
	literal, prefixed := kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLResourcePatternTypePrefixed
	topic := kmsg.ACLResourceTypeTopic
	bind := func(name string, pt acl.PatternType, principal string, op acl.Operation, perm acl.Permission) acl.Binding {
		return acl.Binding{Pattern: acl.Pattern{Type: topic, Name: name, PatternType: pt},
			Entry: acl.Entry{Principal: principal, Host: acl.Wildcard, Operation: op, Permission: perm}}
	}
	bindings := []acl.Binding{
		bind("orders", literal, "User:alice", write, allow),
		bind("pay", prefixed, "User:alice", read, allow),
		bind("payments", literal, "User:alice", read, deny),
		bind("public", literal, "User:*", read, allow),
	}
	broker.SetAuthorizer(e.br, acl.NewAuthorizer(acl.AuthorizerOptions{
		SuperUsers: []auth.Principal{admin},
		ACLs:       func() []acl.Binding { return bindings },
	}))
	for _, name := range []string{"orders", "payments", "payouts", "public", "secret"} {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, 1
		req.Topics = append(req.Topics, rt)
		expectCode(t, "admin (super user) creates "+name, e.call(admin, req).(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode, nil)
	}
	fetch := func(p auth.Principal, name string) int16 {
		req := fetchReq(name, 0, 0, 0)
		req.Version = 12 // by name
		return e.call(p, req).(*kmsg.FetchResponse).Topics[0].Partitions[0].ErrorCode
	}
	for _, c := range []struct {
		name string
		code int16
		want *kerr.Error
	}{
		{"alice writes orders (LITERAL)", e.produce(alice, "orders", nil, false)[0], nil},
		{"alice writes payouts", e.produce(alice, "payouts", nil, false)[0], kerr.TopicAuthorizationFailed},
		{"bob writes orders", e.produce(bob, "orders", nil, false)[0], kerr.TopicAuthorizationFailed},
		{"admin writes secret (super user)", e.produce(admin, "secret", nil, false)[0], nil},
		{"alice reads payouts (PREFIXED)", fetch(alice, "payouts"), nil},
		{"alice reads payments (DENY beats ALLOW)", fetch(alice, "payments"), kerr.TopicAuthorizationFailed},
		{"alice reads orders (WRITE does not imply READ)", fetch(alice, "orders"), kerr.TopicAuthorizationFailed},
		{"bob reads public (User:*)", fetch(bob, "public"), nil},
		{"bob reads secret", fetch(bob, "secret"), kerr.TopicAuthorizationFailed},
	} {
		expectCode(t, c.name, c.code, c.want)
	}

	// KIP-679: WRITE on some topic is enough for a producer id.
	for _, c := range []struct {
		p    auth.Principal
		want *kerr.Error
	}{{alice, nil}, {bob, kerr.ClusterAuthorizationFailed}, {admin, nil}} {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.ProducerID, req.ProducerEpoch = -1, -1
		expectCode(t, "InitProducerId "+c.p.String(), e.call(c.p, req).(*kmsg.InitProducerIDResponse).ErrorCode, c.want)
	}

	// Metadata lists what the principal may describe (READ and WRITE
	// imply DESCRIBE; the DENY is on READ only, so payments is listed).
	var names []string
	for _, mt := range e.call(alice, kmsg.NewPtrMetadataRequest()).(*kmsg.MetadataResponse).Topics {
		names = append(names, *mt.Topic)
	}
	slices.Sort(names)
	if want := []string{"orders", "payments", "payouts", "public"}; !slices.Equal(names, want) {
		t.Errorf("alice lists %v, want %v", names, want)
	}
}
