package broker_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/config"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
	"github.com/tandem-streaming/tandem/internal/wire"
)

// startWithAuthorizer starts a broker with Kafka's StandardAuthorizer
// selected and superUsers as super.users.
func startWithAuthorizer(t *testing.T, superUsers string) *tandemtest.Broker {
	return tandemtest.Start(t, tandemtest.Config("authorizer.class.name", config.AuthorizerStandard),
		tandemtest.Config("super.users", superUsers))
}

// handleAs sends req to the broker as a connection authenticated as p
// from 127.0.0.1 (the SASL and SSL listeners set Conn.Principal the same
// way).
func handleAs(t *testing.T, b *tandemtest.Broker, p auth.Principal, req kmsg.Request) kmsg.Response {
	t.Helper()
	h := wire.Header{Key: req.Key(), Version: req.GetVersion(), Flexible: req.IsFlexible(), ClientID: "test"}
	conn := &broker.Conn{Remote: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5555}, Listener: "PLAINTEXT", Principal: p}
	reply, err := b.Node.Broker().Handle(ctxT(t), conn, h, req.AppendTo(nil))
	if err != nil {
		t.Fatalf("%s v%d: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	if reply.Wait != nil {
		return reply.Wait()
	}
	return reply.Resp
}

// TestACLsWithKadm creates, describes and deletes ACLs with franz-go's
// admin client over PLAINTEXT (ANONYMOUS is a super user), and checks they
// survive a restart.
func TestACLsWithKadm(t *testing.T) {
	b := startWithAuthorizer(t, "User:ANONYMOUS")
	adm := kadm.NewClient(client(t, b))
	ctx := ctxT(t)

	create := kadm.NewACLs().Topics("orders").Groups("billing").
		Allow("User:alice").Operations(kadm.OpRead, kadm.OpDescribe)
	res, err := adm.CreateACLs(ctx, create)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 4 {
		t.Fatalf("%d results", len(res))
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("create %s %s: %v %s", r.Name, r.Operation, r.Err, r.ErrMessage)
		}
	}
	prefixed := kadm.NewACLs().Topics("logs-").ResourcePatternType(kadm.ACLPatternPrefixed).
		Deny("User:bob").DenyHosts("10.0.0.7").Operations(kadm.OpWrite)
	if res, err := adm.CreateACLs(ctx, prefixed); err != nil || res[0].Err != nil {
		t.Fatalf("create prefixed: %v %v", err, res)
	}
	// Creating the same ACLs again succeeds and adds nothing.
	if res, err := adm.CreateACLs(ctx, create); err != nil || res[0].Err != nil {
		t.Fatalf("create again: %v %v", err, res)
	}

	describe := func(b *kadm.ACLBuilder) kadm.DescribedACLs {
		t.Helper()
		res, err := adm.DescribeACLs(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		var out kadm.DescribedACLs
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("describe: %v %s", r.Err, r.ErrMessage)
			}
			out = append(out, r.Described...)
		}
		return out
	}
	all := kadm.NewACLs().AnyResource().Allow().AllowHosts().Deny().DenyHosts().ResourcePatternType(kadm.ACLPatternAny).Operations()
	if got := describe(all); len(got) != 5 {
		t.Fatalf("described %d ACLs, want 5: %+v", len(got), got)
	}
	// MATCH finds the PREFIXED ACL that applies to a topic name.
	match := kadm.NewACLs().Topics("logs-app").ResourcePatternType(kadm.ACLPatternMatch).Allow().AllowHosts().Deny().DenyHosts().Operations()
	got := describe(match)
	if len(got) != 1 || got[0].Name != "logs-" || got[0].Pattern != kadm.ACLPatternPrefixed || got[0].Principal != "User:bob" ||
		got[0].Host != "10.0.0.7" || got[0].Permission != kmsg.ACLPermissionTypeDeny {
		t.Fatalf("MATCH logs-app: %+v", got)
	}

	b.Restart()
	adm = kadm.NewClient(client(t, b))
	if got := describe(all); len(got) != 5 {
		t.Fatalf("after restart described %d ACLs, want 5", len(got))
	}

	del := kadm.NewACLs().Topics("orders").Allow("User:alice").AllowHosts().Operations().ResourcePatternType(kadm.ACLPatternLiteral)
	dres, err := adm.DeleteACLs(ctx, del)
	if err != nil {
		t.Fatal(err)
	}
	var deleted int
	for _, r := range dres {
		if r.Err != nil {
			t.Fatalf("delete: %v", r.Err)
		}
		deleted += len(r.Deleted)
	}
	if deleted != 2 {
		t.Fatalf("deleted %d, want 2: %+v", deleted, dres)
	}
	if got := describe(all); len(got) != 3 {
		t.Fatalf("after delete described %d ACLs, want 3", len(got))
	}
}

// TestACLsSecurityDisabled: without authorizer.class.name the ACL APIs
// answer SECURITY_DISABLED, as Kafka's AclApis.
func TestACLsSecurityDisabled(t *testing.T) {
	b := tandemtest.Start(t)
	adm := kadm.NewClient(client(t, b))
	ctx := ctxT(t)
	res, err := adm.CreateACLs(ctx, kadm.NewACLs().Topics("t").Allow("User:a").Operations(kadm.OpRead))
	if err != nil || len(res) != 1 || !errors.Is(res[0].Err, kerr.SecurityDisabled) {
		t.Fatalf("create: %v %+v", err, res)
	}
	dres, err := adm.DescribeACLs(ctx, kadm.NewACLs().AnyResource().Allow().AllowHosts().Operations().ResourcePatternType(kadm.ACLPatternAny))
	if err != nil || len(dres) == 0 || !errors.Is(dres[0].Err, kerr.SecurityDisabled) {
		t.Fatalf("describe: %v %+v", err, dres)
	}
	xres, err := adm.DeleteACLs(ctx, kadm.NewACLs().AnyResource().Allow().AllowHosts().Operations().ResourcePatternType(kadm.ACLPatternAny))
	if err != nil || len(xres) == 0 || !errors.Is(xres[0].Err, kerr.SecurityDisabled) {
		t.Fatalf("delete: %v %+v", err, xres)
	}
}

// describeAll is a DescribeAcls request for every ACL.
func describeAll(version int16) *kmsg.DescribeACLsRequest {
	d := kmsg.NewPtrDescribeACLsRequest()
	d.Version = version
	d.ResourceType, d.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
	d.Operation, d.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	return d
}

// createReq is a CreateAcls v3 request of cs.
func createReq(cs ...kmsg.CreateACLsRequestCreation) *kmsg.CreateACLsRequest {
	req := kmsg.NewPtrCreateACLsRequest()
	req.Version = 3
	req.Creations = cs
	return req
}

func creation(rt kmsg.ACLResourceType, name string, pt kmsg.ACLResourcePatternType, principal string,
	op kmsg.ACLOperation, perm kmsg.ACLPermissionType) kmsg.CreateACLsRequestCreation {
	c := kmsg.NewCreateACLsRequestCreation()
	c.ResourceType, c.ResourceName, c.ResourcePatternType = rt, name, pt
	c.Principal, c.Host, c.Operation, c.PermissionType = principal, "*", op, perm
	return c
}

// TestACLsClusterAuthorization: CreateAcls and DeleteAcls need ALTER on the
// cluster, DescribeAcls DESCRIBE (AclApis: authorizeClusterOperation); a
// principal without them gets CLUSTER_AUTHORIZATION_FAILED, and once an
// ACL grants ALTER (which implies DESCRIBE) it may manage ACLs.
func TestACLsClusterAuthorization(t *testing.T) {
	b := startWithAuthorizer(t, "User:admin")
	admin, alice := auth.User("admin"), auth.User("alice")
	lit := kmsg.ACLResourcePatternTypeLiteral

	create := createReq(creation(kmsg.ACLResourceTypeTopic, "t", lit, "User:bob", kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow))
	cr := handleAs(t, b, alice, create).(*kmsg.CreateACLsResponse)
	if len(cr.Results) != 1 || cr.Results[0].ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("alice create: %+v", cr.Results)
	}
	describe := describeAll(3)
	if dr := handleAs(t, b, alice, describe).(*kmsg.DescribeACLsResponse); dr.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("alice describe: %d", dr.ErrorCode)
	}
	del := kmsg.NewPtrDeleteACLsRequest()
	del.Version = 3
	f := kmsg.NewDeleteACLsRequestFilter()
	f.ResourceType, f.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
	f.Operation, f.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	del.Filters = []kmsg.DeleteACLsRequestFilter{f}
	if xr := handleAs(t, b, alice, del).(*kmsg.DeleteACLsResponse); xr.Results[0].ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("alice delete: %+v", xr.Results)
	}
	if got := b.Node.Store().ACLs(); len(got) != 0 {
		t.Fatalf("unauthorized requests changed the ACLs: %v", got)
	}

	// The super user grants alice ALTER on the cluster.
	grant := createReq(creation(kmsg.ACLResourceTypeCluster, "kafka-cluster", lit,
		"User:alice", kmsg.ACLOperationAlter, kmsg.ACLPermissionTypeAllow))
	if gr := handleAs(t, b, admin, grant).(*kmsg.CreateACLsResponse); gr.Results[0].ErrorCode != 0 {
		t.Fatalf("admin grant: %+v", gr.Results)
	}
	if cr := handleAs(t, b, alice, create).(*kmsg.CreateACLsResponse); cr.Results[0].ErrorCode != 0 {
		t.Fatalf("alice create after grant: %+v", cr.Results)
	}
	dr := handleAs(t, b, alice, describe).(*kmsg.DescribeACLsResponse)
	if dr.ErrorCode != 0 || len(dr.Resources) != 2 {
		t.Fatalf("alice describe after grant (ALTER implies DESCRIBE): %d %+v", dr.ErrorCode, dr.Resources)
	}
	// bob, with READ on a topic only, still may not.
	if dr := handleAs(t, b, auth.User("bob"), describe).(*kmsg.DescribeACLsResponse); dr.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("bob describe: %d", dr.ErrorCode)
	}
	// A DENY on ALTER for alice beats her ALLOW.
	deny := createReq(creation(kmsg.ACLResourceTypeCluster, "kafka-cluster", lit,
		"User:*", kmsg.ACLOperationAlter, kmsg.ACLPermissionTypeDeny))
	if gr := handleAs(t, b, admin, deny).(*kmsg.CreateACLsResponse); gr.Results[0].ErrorCode != 0 {
		t.Fatalf("admin deny: %+v", gr.Results)
	}
	if xr := handleAs(t, b, alice, del).(*kmsg.DeleteACLsResponse); xr.Results[0].ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("alice delete after deny: %+v", xr.Results)
	}
	// The super user deletes everything, and reports what each filter matched.
	xr := handleAs(t, b, admin, del).(*kmsg.DeleteACLsResponse)
	if xr.Results[0].ErrorCode != 0 || len(xr.Results[0].MatchingACLs) != 3 {
		t.Fatalf("admin delete: %+v", xr.Results)
	}
}

// TestCreateACLsValidation: per-creation INVALID_REQUEST with Kafka's
// checks, valid creations in the same request succeed; v0 is LITERAL.
func TestCreateACLsValidation(t *testing.T) {
	b := startWithAuthorizer(t, "User:admin")
	admin := auth.User("admin")
	lit, pre := kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLResourcePatternTypePrefixed
	read, allow := kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow
	topic := kmsg.ACLResourceTypeTopic
	req := kmsg.NewPtrCreateACLsRequest()
	req.Version = 2
	req.Creations = []kmsg.CreateACLsRequestCreation{
		creation(topic, "ok", lit, "User:a", read, allow),
		creation(kmsg.ACLResourceTypeCluster, "other", lit, "User:a", kmsg.ACLOperationAlter, allow),
		creation(topic, "t", lit, "alice", read, allow),
		creation(topic, "t", kmsg.ACLResourcePatternTypeMatch, "User:a", read, allow),
		creation(topic, "t", lit, "User:a", kmsg.ACLOperationAny, allow),
		creation(topic, "t", lit, "User:a", read, kmsg.ACLPermissionTypeAny),
		creation(kmsg.ACLResourceTypeAny, "t", lit, "User:a", read, allow),
		creation(topic, "", lit, "User:a", read, allow),
		creation(kmsg.ACLResourceTypeUser, "u", lit, "User:a", kmsg.ACLOperationCreateTokens, allow),
		creation(topic, "pre", pre, "User:a", read, allow),
	}
	resp := handleAs(t, b, admin, req).(*kmsg.CreateACLsResponse)
	var codes []int16
	for _, r := range resp.Results {
		codes = append(codes, r.ErrorCode)
	}
	ir := kerr.InvalidRequest.Code
	if want := []int16{0, ir, ir, ir, ir, ir, ir, ir, 0, 0}; !slices.Equal(codes, want) {
		t.Fatalf("codes %v, want %v", codes, want)
	}
	if msg := resp.Results[1].ErrorMessage; msg == nil || *msg != "The only valid name for the CLUSTER resource is kafka-cluster" {
		t.Errorf("cluster name message: %v", msg)
	}
	if got := len(b.Node.Store().ACLs()); got != 3 {
		t.Fatalf("%d ACLs stored, want 3", got)
	}

	// v0 carries no pattern type: LITERAL; v0 describe sees only LITERAL ACLs.
	v0 := kmsg.NewPtrCreateACLsRequest()
	v0.Version = 0
	c := creation(topic, "legacy", lit, "User:old", read, allow)
	v0.Creations = []kmsg.CreateACLsRequestCreation{c}
	if r := handleAs(t, b, admin, v0).(*kmsg.CreateACLsResponse); r.Results[0].ErrorCode != 0 {
		t.Fatalf("v0 create: %+v", r.Results)
	}
	d0 := describeAll(0) // v0 does not send the pattern type
	dr := handleAs(t, b, admin, d0).(*kmsg.DescribeACLsResponse)
	var names []string
	for _, r := range dr.Resources {
		names = append(names, r.ResourceName)
	}
	if dr.ErrorCode != 0 || !slices.Equal(names, []string{"legacy", "ok", "u"}) {
		t.Fatalf("v0 describe: %d %v", dr.ErrorCode, names)
	}
	// A filter with an UNKNOWN element is INVALID_REQUEST.
	bad := describeAll(3)
	bad.Operation = kmsg.ACLOperationUnknown
	if r := handleAs(t, b, admin, bad).(*kmsg.DescribeACLsResponse); r.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("unknown operation filter: %d", r.ErrorCode)
	}
}

// TestACLsEnforcedOnPlaintextClient: a PLAINTEXT client (User:ANONYMOUS)
// that no ACL allows cannot produce; once the super user grants it CREATE
// and WRITE on a PREFIXED pattern with CreateAcls, it can, the next
// request, without IDEMPOTENT_WRITE on the cluster (its WRITE on some
// topic lets InitProducerId through: authorizeByResourceType, KIP-679).
func TestACLsEnforcedOnPlaintextClient(t *testing.T) {
	b := startWithAuthorizer(t, "User:admin")
	admin := auth.User("admin")
	ctx := ctxT(t)
	produce := func() error {
		cl := client(t, b, kgo.DefaultProduceTopic("orders-eu"), kgo.RecordRetries(1))
		defer cl.Close()
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return cl.ProduceSync(pctx, &kgo.Record{Value: []byte("v")}).FirstErr()
	}
	grant := createReq(
		creation(kmsg.ACLResourceTypeTopic, "orders-", kmsg.ACLResourcePatternTypePrefixed, "User:ANONYMOUS",
			kmsg.ACLOperationCreate, kmsg.ACLPermissionTypeAllow))
	if r := handleAs(t, b, admin, grant).(*kmsg.CreateACLsResponse); r.Results[0].ErrorCode != 0 {
		t.Fatalf("grant CREATE: %+v", r.Results)
	}
	adm := kadm.NewClient(client(t, b))
	if resp, err := adm.CreateTopic(ctx, 1, 1, nil, "orders-eu"); err != nil || resp.Err != nil {
		t.Fatalf("create topic with CREATE on orders-*: %v %v", err, resp.Err)
	}
	if err := produce(); !errors.Is(err, kerr.TopicAuthorizationFailed) && !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("produce without WRITE: %v", err)
	}
	grant.Creations[0].Operation = kmsg.ACLOperationWrite
	if r := handleAs(t, b, admin, grant).(*kmsg.CreateACLsResponse); r.Results[0].ErrorCode != 0 {
		t.Fatalf("grant WRITE: %+v", r.Results)
	}
	if err := produce(); err != nil {
		t.Fatalf("produce with WRITE on orders-*: %v", err)
	}
	// A DENY for everyone on the one topic wins over the PREFIXED ALLOW.
	deny := createReq(creation(kmsg.ACLResourceTypeTopic, "orders-eu", kmsg.ACLResourcePatternTypeLiteral, "User:*",
		kmsg.ACLOperationWrite, kmsg.ACLPermissionTypeDeny))
	if r := handleAs(t, b, admin, deny).(*kmsg.CreateACLsResponse); r.Results[0].ErrorCode != 0 {
		t.Fatalf("deny: %+v", r.Results)
	}
	if err := produce(); !errors.Is(err, kerr.TopicAuthorizationFailed) && !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("produce after DENY: %v", err)
	}
	// The authorizer metrics saw both kinds of decision and count the ACLs.
	// (/metrics itself needs DESCRIBE on the cluster, which ANONYMOUS lacks
	// here, so the registry is read directly.)
	families, err := b.Node.Metrics().Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			name := f.GetName()
			for _, l := range m.GetLabel() {
				name += "," + l.GetValue()
			}
			got[name] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	if got["tandem_authorizations_total,allowed"] == 0 || got["tandem_authorizations_total,denied"] == 0 || got["tandem_acls"] != 3 {
		t.Errorf("authorizer metrics: allowed %v, denied %v, acls %v", got["tandem_authorizations_total,allowed"],
			got["tandem_authorizations_total,denied"], got["tandem_acls"])
	}
}
