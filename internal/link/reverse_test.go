package link

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/wire"
)

// requestFrame is a whole request as a client writes it, without its size.
func requestFrame(req kmsg.Request) []byte { return appendRequest(nil, 7, req)[4:] }

// The relay lets through only what a destination link reads of its source
// (design §3.2 step 4): an AlterConfigs only as the validate-only probe.
func TestRelayAllowed(t *testing.T) {
	probe := kmsg.NewPtrAlterConfigsRequest()
	probe.ValidateOnly = true
	alter := kmsg.NewPtrAlterConfigsRequest()
	for _, c := range []struct {
		req  kmsg.Request
		want bool
	}{
		{kmsg.NewPtrApiVersionsRequest(), true},
		{kmsg.NewPtrMetadataRequest(), true},
		{kmsg.NewPtrFetchRequest(), true},
		{kmsg.NewPtrListOffsetsRequest(), true},
		{kmsg.NewPtrOffsetForLeaderEpochRequest(), true},
		{kmsg.NewPtrDescribeConfigsRequest(), true},
		{kmsg.NewPtrOffsetFetchRequest(), true},
		{kmsg.NewPtrDescribeACLsRequest(), true},
		{probe, true},
		{alter, false},
		{kmsg.NewPtrProduceRequest(), false},
		{kmsg.NewPtrInitProducerIDRequest(), false},
		{kmsg.NewPtrDeleteTopicsRequest(), false},
		{kmsg.NewPtrOffsetCommitRequest(), false},
		{kmsg.NewPtrSASLHandshakeRequest(), false},
		{kmsg.NewPtrCreateACLsRequest(), false},
		{&wire.LinkReverseRequest{}, false},
		{&wire.LinkMirrorOpRequest{}, false},
		{&wire.LinkPeerRequest{}, false},
		{&wire.LinkFetchRequest{SessionID: 1}, true},
	} {
		for _, v := range []int16{0, c.req.MaxVersion()} {
			c.req.SetVersion(v)
			h, body, err := wire.ParseHeader(requestFrame(c.req))
			if err != nil {
				t.Fatalf("%s v%d: %v", kmsg.NameForKey(c.req.Key()), v, err)
			}
			if got := relayAllowed(h, body); got != c.want {
				t.Errorf("%s v%d: allowed=%v, want %v", kmsg.NameForKey(c.req.Key()), v, got, c.want)
			}
		}
	}
}

// fakeSource is the SOURCE half's end of a control connection in these
// tests: it reads the destination's requests and lets the test answer.
type fakeSource struct {
	conn net.Conn
	rd   *bufio.Reader
}

func (f *fakeSource) next(t *testing.T) (wire.Header, kmsg.Request) {
	t.Helper()
	frame, err := wire.ReadFrame(f.rd, revMaxFrame)
	if err != nil {
		t.Errorf("reading a request: %v", err)
		return wire.Header{}, nil
	}
	h, body, err := wire.ParseHeader(frame)
	if err != nil {
		t.Fatal(err)
	}
	req, err := wire.DecodeRequest(h, body)
	if err != nil {
		t.Fatal(err)
	}
	return h, req
}

func (f *fakeSource) answer(t *testing.T, h wire.Header, resp kmsg.Response) {
	t.Helper()
	if _, err := f.conn.Write(wire.AppendResponse(nil, h.CorrelationID, resp)); err != nil {
		t.Error(err)
	}
}

func testSession(t *testing.T, ss *Sessions, heartbeat time.Duration) (*revSession, *fakeSource) {
	t.Helper()
	d, s := net.Pipe()
	t.Cleanup(func() { _ = d.Close(); _ = s.Close() })
	sess := newRevSession(ss, "l", newSessionID(), "src-cluster", d, heartbeat, time.Second)
	ss.put(sess)
	go sess.run()
	return sess, &fakeSource{conn: s, rd: bufio.NewReader(s)}
}

// answerPing answers the PING a session sends as soon as it starts.
func (f *fakeSource) answerPing(t *testing.T) {
	t.Helper()
	h, req := f.next(t)
	if r, ok := req.(*wire.LinkReverseRequest); !ok || r.Role != wire.LinkReversePing {
		t.Fatalf("first request %+v, want a PING", req)
	}
	f.answer(t, h, &wire.LinkReverseResponse{})
}

// A dial through a session: the DIAL request names the address; the data
// connection the source offers (LinkReverse DATA, deliver) is the dial's
// result; a DIAL the source answers with an error fails the dial with it;
// a newer session replaces the old one and fails its pending dial at once.
func TestSessionDials(t *testing.T) {
	ss := NewSessions(slog.New(slog.DiscardHandler))
	sess, src := testSession(t, ss, time.Hour)
	src.answerPing(t)

	type result struct {
		c   net.Conn
		err error
	}
	dial := func(s *revSession) chan result {
		ch := make(chan result, 1)
		go func() {
			c, err := s.dial(context.Background(), "broker-1.source:9092", 5*time.Second)
			ch <- result{c, err}
		}()
		return ch
	}

	// Delivered.
	got := dial(sess)
	h, req := src.next(t)
	dr := req.(*wire.LinkReverseRequest)
	if dr.Role != wire.LinkReverseDial || dr.Host != "broker-1.source" || dr.Port != 9092 || dr.SessionID != sess.id || h.CorrelationID != 1 {
		t.Fatalf("DIAL request %+v (correlation id %d)", dr, h.CorrelationID)
	}
	data, _ := net.Pipe()
	if !sess.deliver(dr.DialID, data) {
		t.Fatal("the pending dial was not found")
	}
	src.answer(t, h, &wire.LinkReverseResponse{})
	if r := <-got; r.err != nil || r.c != data {
		t.Fatalf("dial: %v, %v", r.c, r.err)
	}
	if sess.deliver(dr.DialID, data) {
		t.Fatal("a dial took two connections")
	}

	// Refused by the source.
	got = dial(sess)
	h, _ = src.next(t)
	msg := "connecting to this cluster's broker: refused"
	src.answer(t, h, &wire.LinkReverseResponse{ErrorCode: kerr.NetworkException.Code, ErrorMessage: &msg})
	if r := <-got; r.err == nil || !strings.Contains(r.err.Error(), msg) || !errors.Is(r.err, errSourceUnreachable) {
		t.Fatalf("refused dial: %v", r.err)
	}

	// Replaced: the pending dial fails at once, not at its timeout.
	got = dial(sess)
	src.next(t)
	start := time.Now()
	newer, nsrc := testSession(t, ss, time.Hour)
	// Its first PING at once: unanswered for request.timeout (1 s here)
	// it would end the newer session too.
	nsrc.answerPing(t)
	r := <-got
	if r.err == nil || !errors.Is(r.err, errSourceNotConnected) || time.Since(start) > 2*time.Second {
		t.Fatalf("dial of a replaced session: %v after %v", r.err, time.Since(start))
	}
	if ss.get("l") != newer || sess.closed() == nil {
		t.Fatal("the newer session did not replace the older")
	}

	// No session: INBOUND clients fail at once with "source not connected".
	newer.close(errors.New("test"))
	_, sec, err := ss.clientOpts("l", map[string]string{"connection.mode": "INBOUND"})
	if err != nil || sec.protocol != "PLAINTEXT" {
		t.Fatal(err)
	}
	if ss.get("l") != nil {
		t.Fatal("a closed session is still the link's")
	}
}

// The destination pings every heartbeat and ends a session whose ping is
// not answered in time; the source half ends a control session that is
// not pinged for 3 heartbeats.
func TestSessionHeartbeats(t *testing.T) {
	ss := NewSessions(slog.New(slog.DiscardHandler))
	sess, src := testSession(t, ss, 20*time.Millisecond)
	src.answerPing(t)
	src.answerPing(t)
	src.next(t) // unanswered: the session ends after its timeout (1 s)
	select {
	case <-sess.done:
	case <-time.After(5 * time.Second):
		t.Fatal("a session whose ping went unanswered is still up")
	}

	d, s := net.Pipe()
	defer d.Close()
	half := &sourceHalf{reqTimeout: time.Second, logger: slog.New(slog.DiscardHandler)}
	start := time.Now()
	err := half.serve(context.Background(), s, newSessionID(), "dst:9092", 30*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "not pinged") || time.Since(start) > 2*time.Second {
		t.Fatalf("serve without pings: %v after %v", err, time.Since(start))
	}
}
