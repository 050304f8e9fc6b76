package broker_test

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
	"github.com/tandem-streaming/tandem/internal/wire"
)

// fakeLinkAPI answers the private requests with recognisable values.
type fakeLinkAPI struct{ peers, ops, reverses int }

func (f *fakeLinkAPI) LinkPeer(_ context.Context, req *wire.LinkPeerRequest) *wire.LinkPeerResponse {
	f.peers++
	return &wire.LinkPeerResponse{Found: true, ClusterID: "fake", LinkState: "ACTIVE " + req.LinkName}
}

func (f *fakeLinkAPI) LinkMirrorOp(_ context.Context, req *wire.LinkMirrorOpRequest) *wire.LinkMirrorOpResponse {
	f.ops++
	return &wire.LinkMirrorOpResponse{Topics: []wire.LinkMirrorOpTopicResult{{Topic: req.Topics[0].Topic, State: "STOPPED"}}}
}

func (f *fakeLinkAPI) LinkReverse(_ context.Context, req *wire.LinkReverseRequest, _ time.Time) (*wire.LinkReverseResponse, func(net.Conn)) {
	f.reverses++
	return &wire.LinkReverseResponse{ClusterID: "fake", HeartbeatMillis: 1000}, nil
}

func privateKeys(resp *kmsg.ApiVersionsResponse) []int16 {
	var out []int16
	for _, k := range resp.ApiKeys {
		if wire.IsLinkAPIKey(k.ApiKey) {
			out = append(out, k.ApiKey)
		}
	}
	return out
}

// The private keys are listed only to a connection whose ApiVersions v3+
// named the client software tandem-link, and the connection remembers it.
func TestLinkAPIListedOnlyToLinkClients(t *testing.T) {
	b := tandemtest.Start(t)
	apiVersions := func(c *rawConn, version int16, name string) *kmsg.ApiVersionsResponse {
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = version
		req.ClientSoftwareName, req.ClientSoftwareVersion = name, "1"
		return c.request(req).(*kmsg.ApiVersionsResponse)
	}
	plain := dialRaw(t, b)
	if got := privateKeys(apiVersions(plain, 4, "kgo")); len(got) != 0 {
		t.Fatalf("an ordinary client is offered %v", got)
	}
	// v2 has no software name.
	if got := privateKeys(apiVersions(dialRaw(t, b), 2, wire.LinkClientSoftwareName)); len(got) != 0 {
		t.Fatalf("ApiVersions v2 is offered %v", got)
	}
	link := dialRaw(t, b)
	resp := apiVersions(link, 3, wire.LinkClientSoftwareName)
	if got := privateKeys(resp); !slices.Equal(got, []int16{wire.LinkPeerKey, wire.LinkReverseKey, wire.LinkMirrorOpKey, wire.LinkFetchKey}) {
		t.Fatalf("a link client is offered %v", got)
	}
	for _, k := range resp.ApiKeys {
		if wire.IsLinkAPIKey(k.ApiKey) && (k.MinVersion != 0 || k.MaxVersion != 0) {
			t.Fatalf("key %d: v%d-%d", k.ApiKey, k.MinVersion, k.MaxVersion)
		}
	}
	if got := privateKeys(apiVersions(link, 0, "")); len(got) != 4 {
		t.Fatalf("the connection forgot it is a link client: %v", got)
	}
	// The keys are sent as framed requests (header v2) and answered
	// with response header v1.
	b.Node.Broker().SetLinkAPI(&fakeLinkAPI{})
	pr := link.request(&wire.LinkPeerRequest{LinkName: "l"}).(*wire.LinkPeerResponse)
	if !pr.Found || pr.LinkState != "ACTIVE l" {
		t.Fatalf("LinkPeer answer %+v", pr)
	}
}

// Authorization: LinkPeer needs DESCRIBE on the cluster, the two others
// ALTER; a refusal is CLUSTER_AUTHORIZATION_FAILED and the manager is not
// asked. Without a manager they answer INVALID_REQUEST.
func TestLinkAPIAuthorization(t *testing.T) {
	b := startWithAuthorizer(t, "User:admin")
	fake := &fakeLinkAPI{}
	b.Node.Broker().SetLinkAPI(fake)
	admin, alice := auth.Principal{Type: "User", Name: "admin"}, auth.Principal{Type: "User", Name: "alice"}
	peer := &wire.LinkPeerRequest{LinkName: "l"}
	op := &wire.LinkMirrorOpRequest{LinkName: "l", Op: wire.MirrorOpFence, Topics: []wire.LinkMirrorOpTopic{{Topic: "t"}}}
	rev := &wire.LinkReverseRequest{LinkName: "l", Role: wire.LinkReverseControl}

	if r := handleAs(t, b, alice, peer).(*wire.LinkPeerResponse); r.ErrorCode != kerr.ClusterAuthorizationFailed.Code || r.Found {
		t.Fatalf("alice LinkPeer: %+v", r)
	}
	if r := handleAs(t, b, alice, op).(*wire.LinkMirrorOpResponse); r.ErrorCode != kerr.ClusterAuthorizationFailed.Code || len(r.Topics) != 0 {
		t.Fatalf("alice LinkMirrorOp: %+v", r)
	}
	if r := handleAs(t, b, alice, rev).(*wire.LinkReverseResponse); r.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("alice LinkReverse: %+v", r)
	}
	if fake.peers+fake.ops+fake.reverses != 0 {
		t.Fatalf("the manager was asked for a refused principal: %+v", fake)
	}

	// DESCRIBE on the cluster allows LinkPeer only.
	grant := kmsg.NewPtrCreateACLsRequest()
	c := kmsg.NewCreateACLsRequestCreation()
	c.ResourceType, c.ResourceName, c.ResourcePatternType = kmsg.ACLResourceTypeCluster, "kafka-cluster", kmsg.ACLResourcePatternTypeLiteral
	c.Principal, c.Host, c.Operation, c.PermissionType = "User:alice", "*", kmsg.ACLOperationDescribe, kmsg.ACLPermissionTypeAllow
	grant.Creations = append(grant.Creations, c)
	if r := handleAs(t, b, admin, grant).(*kmsg.CreateACLsResponse); r.Results[0].ErrorCode != 0 {
		t.Fatalf("grant: %+v", r.Results[0])
	}
	if r := handleAs(t, b, alice, peer).(*wire.LinkPeerResponse); r.ErrorCode != 0 || !r.Found {
		t.Fatalf("alice LinkPeer with DESCRIBE: %+v", r)
	}
	if r := handleAs(t, b, alice, op).(*wire.LinkMirrorOpResponse); r.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("alice LinkMirrorOp with DESCRIBE only: %+v", r)
	}

	if r := handleAs(t, b, admin, op).(*wire.LinkMirrorOpResponse); r.ErrorCode != 0 || len(r.Topics) != 1 || r.Topics[0].State != "STOPPED" {
		t.Fatalf("admin LinkMirrorOp: %+v", r)
	}
	if r := handleAs(t, b, admin, rev).(*wire.LinkReverseResponse); r.ErrorCode != 0 || r.ClusterID != "fake" {
		t.Fatalf("admin LinkReverse: %+v", r)
	}

	b.Node.Broker().SetLinkAPI(nil)
	for _, req := range []kmsg.Request{peer, op, rev} {
		var code int16
		var msg *string
		switch r := handleAs(t, b, admin, req).(type) {
		case *wire.LinkPeerResponse:
			code, msg = r.ErrorCode, r.ErrorMessage
		case *wire.LinkMirrorOpResponse:
			code, msg = r.ErrorCode, r.ErrorMessage
		case *wire.LinkReverseResponse:
			code, msg = r.ErrorCode, r.ErrorMessage
		}
		if code != kerr.InvalidRequest.Code || msg == nil || *msg != "cluster linking is disabled on this cluster (cluster.link.enable=false)" {
			t.Fatalf("%s without a manager: %d %v", wire.NameForKey(req.Key()), code, msg)
		}
	}
}
