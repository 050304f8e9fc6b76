package node_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/link"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
	"github.com/tandem-streaming/tandem/internal/wire"
)

// linkClient is a client built exactly as a cluster link builds the one
// that reaches its peer (link.ClientOpts: software name tandem-link, the
// private keys in MaxVersions).
func linkClient(t *testing.T, configs map[string]string) *kgo.Client {
	t.Helper()
	opts, err := link.ClientOpts("l", configs)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func linkCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

const msgLinkingDisabled = "cluster linking is disabled on this cluster (cluster.link.enable=false)"

// fromManager reports whether a top-level answer came from the link
// manager: neither refused by the broker's checks nor "linking disabled".
func fromManager(code int16, msg *string) bool {
	return code != kerr.ClusterAuthorizationFailed.Code && (msg == nil || *msg != msgLinkingDisabled)
}

// A link's client sends LinkPeer and LinkMirrorOp to a Tandem node with
// franz-go and gets the link manager's answer; an ordinary client is not
// offered the keys; a node with cluster.link.enable=false answers
// INVALID_REQUEST.
func TestLinkAPIOverKafkaProtocol(t *testing.T) {
	b := tandemtest.Start(t)
	ctx := linkCtx(t)
	cl := linkClient(t, map[string]string{"bootstrap.servers": b.Addr()})

	resp, err := cl.Request(ctx, &wire.LinkPeerRequest{LinkName: "no-such-link", ClusterID: "other"})
	if err != nil {
		t.Fatalf("LinkPeer: %v", err)
	}
	peer := resp.(*wire.LinkPeerResponse)
	if !fromManager(peer.ErrorCode, peer.ErrorMessage) || peer.Found {
		t.Fatalf("LinkPeer answer %+v", peer)
	}
	resp, err = cl.Request(ctx, &wire.LinkMirrorOpRequest{LinkName: "no-such-link", Op: wire.MirrorOpDescribeStop,
		Topics: []wire.LinkMirrorOpTopic{{Topic: "t"}}})
	if err != nil {
		t.Fatalf("LinkMirrorOp: %v", err)
	}
	if op := resp.(*wire.LinkMirrorOpResponse); !fromManager(op.ErrorCode, op.ErrorMessage) {
		t.Fatalf("LinkMirrorOp answer %+v", op)
	}

	// An ordinary client: no private key in ApiVersions.
	plain, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	av, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, plain)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range av.ApiKeys {
		if wire.IsLinkAPIKey(k.ApiKey) {
			t.Fatalf("an ordinary client is offered key %d", k.ApiKey)
		}
	}

	off := tandemtest.Start(t, tandemtest.Config("cluster.link.enable", "false"))
	resp, err = linkClient(t, map[string]string{"bootstrap.servers": off.Addr()}).Request(ctx, &wire.LinkPeerRequest{LinkName: "l"})
	if err != nil {
		t.Fatal(err)
	}
	if r := resp.(*wire.LinkPeerResponse); r.ErrorCode != kerr.InvalidRequest.Code || r.ErrorMessage == nil || *r.ErrorMessage != msgLinkingDisabled {
		t.Fatalf("with cluster.link.enable=false: %+v", r)
	}
}

// With SASL and ACLs: a private request before authentication closes the
// connection; a principal without the cluster ACL gets
// CLUSTER_AUTHORIZATION_FAILED; the super user reaches the manager.
func TestLinkAPISecured(t *testing.T) {
	const adminPass, bobPass = "admin-secret", "bob-secret"
	b := tandemtest.StartSASL(t, map[string]string{
		"sasl.enabled.mechanisms": "PLAIN",
		"listener.name.sasl_plaintext.plain.sasl.jaas.config": auth.PlainLoginModule +
			` required user_admin="` + adminPass + `" user_bob="` + bobPass + `";`,
		"authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"super.users":           "User:admin",
	})
	ctx := linkCtx(t)
	as := func(user, pass string) *kgo.Client {
		return linkClient(t, map[string]string{"bootstrap.servers": b.Addr, "security.protocol": "SASL_PLAINTEXT",
			"sasl.mechanism": "PLAIN", "sasl.jaas.config": auth.PlainLoginModule + ` required username="` + user + `" password="` + pass + `";`})
	}

	bob := as("bob", bobPass)
	resp, err := bob.Request(ctx, &wire.LinkPeerRequest{LinkName: "l"})
	if err != nil {
		t.Fatal(err)
	}
	if r := resp.(*wire.LinkPeerResponse); r.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("bob LinkPeer: %+v", r)
	}
	resp, err = bob.Request(ctx, &wire.LinkMirrorOpRequest{LinkName: "l", Op: wire.MirrorOpFence})
	if err != nil {
		t.Fatal(err)
	}
	if r := resp.(*wire.LinkMirrorOpResponse); r.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("bob LinkMirrorOp: %+v", r)
	}

	resp, err = as("admin", adminPass).Request(ctx, &wire.LinkPeerRequest{LinkName: "l"})
	if err != nil {
		t.Fatal(err)
	}
	if r := resp.(*wire.LinkPeerResponse); !fromManager(r.ErrorCode, r.ErrorMessage) {
		t.Fatalf("admin LinkPeer: %+v", r)
	}

	// Before authentication: refused like any request but ApiVersions
	// and the SASL ones, by closing the connection.
	nc, err := net.DialTimeout("tcp", b.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("pre-auth")).AppendRequest(nil, &wire.LinkPeerRequest{LinkName: "l"}, 1)
	if _, err := nc.Write(frame); err != nil {
		t.Fatal(err)
	}
	var size [4]byte
	if _, err := bufio.NewReader(nc).Read(size[:]); err == nil {
		t.Fatalf("answered before authentication (%d bytes)", binary.BigEndian.Uint32(size[:]))
	}
}
