package server_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/wire"
)

// takingLinkAPI takes every LinkReverse connection.
type takingLinkAPI struct{ taken chan net.Conn }

func (f *takingLinkAPI) LinkPeer(context.Context, *wire.LinkPeerRequest) *wire.LinkPeerResponse {
	return &wire.LinkPeerResponse{}
}

func (f *takingLinkAPI) LinkMirrorOp(context.Context, *wire.LinkMirrorOpRequest) *wire.LinkMirrorOpResponse {
	return &wire.LinkMirrorOpResponse{}
}

func (f *takingLinkAPI) LinkReverse(_ context.Context, req *wire.LinkReverseRequest, _ time.Time) (*wire.LinkReverseResponse, func(net.Conn)) {
	return &wire.LinkReverseResponse{ClusterID: "taker", HeartbeatMillis: 500}, func(c net.Conn) { f.taken <- c }
}

// readFrame reads one response frame and checks its correlation id.
func readFrame(t *testing.T, br *bufio.Reader, corr int32) []byte {
	t.Helper()
	frame, err := wire.ReadFrame(br, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if got := int32(binary.BigEndian.Uint32(frame)); got != corr {
		t.Fatalf("correlation %d, want %d", got, corr)
	}
	return frame[4:]
}

// After a LinkReverse whose reply takes the connection, the server
// answers the requests before it (in order) and that one, then stops
// serving it without closing it: the bytes the client sent right behind
// the request (already in the server's read buffer) and everything after
// reach the taker, the taker's bytes reach the client, the idle timeout
// no longer applies, and the connection no longer counts (gauge and
// max.connections).
func TestLinkReverseHandsTheConnectionOver(t *testing.T) {
	const idle = 300 * time.Millisecond
	n, logs := startNode(t, "connections.max.idle.ms", "300", "max.connections", "1")
	defer func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	}()
	taker := &takingLinkAPI{taken: make(chan net.Conn, 1)}
	n.Broker().SetLinkAPI(taker)

	nc, err := net.DialTimeout("tcp", n.KafkaAddr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(nc)

	// One write: ApiVersions, LinkReverse, and the first bytes of the
	// reversed protocol.
	// (AppendRequest sizes the frame from dst[0]: one call per frame.)
	out := formatter.AppendRequest(nil, kmsg.NewPtrApiVersionsRequest(), 1)
	out = append(out, formatter.AppendRequest(nil, &wire.LinkReverseRequest{LinkName: "l", Role: wire.LinkReverseControl}, 2)...)
	out = append(out, "first bytes after"...)
	if _, err := nc.Write(out); err != nil {
		t.Fatal(err)
	}
	readFrame(t, br, 1)
	body := readFrame(t, br, 2)
	var resp wire.LinkReverseResponse
	if err := resp.ReadFrom(body[1:]); err != nil || resp.ClusterID != "taker" { // body[0]: header tags
		t.Fatalf("LinkReverse response %+v: %v", resp, err)
	}

	var took net.Conn
	select {
	case took = <-taker.taken:
	case <-time.After(10 * time.Second):
		t.Fatal("the connection was not handed over")
	}
	defer took.Close()
	_ = took.SetDeadline(time.Now().Add(20 * time.Second))
	expect := func(r io.Reader, want string) {
		t.Helper()
		got := make([]byte, len(want))
		if _, err := io.ReadFull(r, got); err != nil || string(got) != want {
			t.Fatalf("read %q (%v), want %q", got, err, want)
		}
	}
	expect(took, "first bytes after")

	// Past the idle timeout the connection still carries bytes both ways.
	time.Sleep(3 * idle)
	if _, err := nc.Write([]byte("client to taker")); err != nil {
		t.Fatal(err)
	}
	expect(took, "client to taker")
	if _, err := took.Write([]byte("taker to client")); err != nil {
		t.Fatal(err)
	}
	expect(br, "taker to client")

	// No longer the broker's: the gauge drops and max.connections=1
	// admits a new client.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(metricsText(t, n), "\ntandem_connections 0\n") {
		if time.Now().After(deadline) {
			t.Fatalf("tandem_connections after the hand-off:\n%s", metricsText(t, n))
		}
		time.Sleep(10 * time.Millisecond)
	}
	other, err := net.DialTimeout("tcp", n.KafkaAddr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := roundTrip(other, kmsg.NewPtrApiVersionsRequest()); err != nil {
		t.Fatalf("a new connection under max.connections=1 after the hand-off: %v", err)
	}
}
