package link

import (
	"bufio"
	"maps"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/wire"
)

// fakeDstBroker is one broker of a fake destination cluster for the
// SOURCE half: it accepts the half's connections (PLAINTEXT), answers
// ApiVersions and LinkReverse CONTROL with the cluster's current broker
// list, keeps one live session (a newer one replaces an older one, as
// Sessions.put does) and pings it with the list.
type fakeDstBroker struct {
	t        *testing.T
	node     int32
	ln       net.Listener
	brokers  func() []wire.LinkReverseBroker
	hosting  bool // false: NOT_LEADER_OR_FOLLOWER with the list
	mu       sync.Mutex
	live     net.Conn // the live control session
	opened   int      // control sessions accepted
	refused  int      // LinkReverse answered NOT_LEADER_OR_FOLLOWER
	answered int      // pings answered on the live session
}

func startFakeDst(t *testing.T, node int32, hosting bool, brokers func() []wire.LinkReverseBroker) *fakeDstBroker {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeDstBroker{t: t, node: node, ln: ln, brokers: brokers, hosting: hosting}
	t.Cleanup(func() {
		_ = ln.Close()
		f.mu.Lock()
		if f.live != nil {
			_ = f.live.Close()
		}
		f.mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go f.serve(c)
		}
	}()
	return f
}

func (f *fakeDstBroker) addr() string { return f.ln.Addr().String() }

func (f *fakeDstBroker) entry() wire.LinkReverseBroker {
	host, port, _ := net.SplitHostPort(f.addr())
	p, _ := strconv.Atoi(port)
	return wire.LinkReverseBroker{NodeID: f.node, Host: host, Port: int32(p)}
}

func (f *fakeDstBroker) serve(c net.Conn) {
	defer c.Close()
	rd := bufio.NewReader(c)
	for {
		frame, err := wire.ReadFrame(rd, revMaxFrame)
		if err != nil {
			return
		}
		h, body, err := wire.ParseHeader(frame)
		if err != nil {
			return
		}
		req, err := wire.DecodeRequest(h, body)
		if err != nil {
			return
		}
		var resp kmsg.Response
		switch r := req.(type) {
		case *kmsg.ApiVersionsRequest:
			resp = r.ResponseKind()
		case *wire.LinkReverseRequest:
			lr := &wire.LinkReverseResponse{Version: r.Version, ClusterID: "fake-dst",
				// The fake pings every 20 ms; a long advertised heartbeat keeps a
				// scheduling pause of a loaded -race run from ending a session
				// (3 missed periods), which would change the session counts.
				HeartbeatMillis: 2000, Brokers: f.brokers()}
			if !f.hosting {
				lr.ErrorCode = kerr.NotLeaderForPartition.Code
				f.mu.Lock()
				f.refused++
				f.mu.Unlock()
			}
			if _, err := c.Write(wire.AppendResponse(nil, h.CorrelationID, lr)); err != nil || !f.hosting {
				return
			}
			f.control(c, rd)
			return
		default:
			return
		}
		resp.SetVersion(h.Version)
		if _, err := c.Write(wire.AppendResponse(nil, h.CorrelationID, resp)); err != nil {
			return
		}
	}
}

// control is the destination's end of a reversed control connection: it
// replaces the broker's older session, then pings with the list.
func (f *fakeDstBroker) control(c net.Conn, rd *bufio.Reader) {
	f.mu.Lock()
	if f.live != nil {
		_ = f.live.Close()
	}
	f.live, f.opened, f.answered = c, f.opened+1, 0
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		if f.live == c {
			f.live = nil
		}
		f.mu.Unlock()
	}()
	for corr := int32(0); ; corr++ {
		ping := &wire.LinkReverseRequest{LinkName: "l", Role: wire.LinkReversePing, Brokers: f.brokers()}
		if _, err := c.Write(appendRequest(nil, corr, ping)); err != nil {
			return
		}
		if _, err := wire.ReadFrame(rd, revMaxFrame); err != nil {
			return
		}
		f.mu.Lock()
		if f.live == c {
			f.answered++
		}
		f.mu.Unlock()
		time.Sleep(20 * time.Millisecond) // the heartbeat's pace, not an assertion
	}
}

// state is what the test checks: whether a session is live, how many
// were accepted, and how many pings the live one answered.
func (f *fakeDstBroker) state() (live bool, opened, answered, refused int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.live != nil, f.opened, f.answered, f.refused
}

// sourceHalfTo starts a Manager with a SOURCE half whose bootstrap is
// addr, and returns its dialing side.
func sourceHalfTo(t *testing.T, addr string) *sourceHalf {
	t.Helper()
	store, err := metadata.OpenBolt(t.TempDir(), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	if err := store.CreateLink(metadata.Link{Name: "l", Configs: map[string]string{"link.mode": ModeSource, "connection.mode": ConnOutbound,
		"bootstrap.servers": addr, "reconnect.backoff.ms": "20", "reconnect.backoff.max.ms": "100"}}); err != nil {
		t.Fatal(err)
	}
	m, err := NewManager(store, &storeCluster{Store: store}, &modeData{mode: map[string]dataPathMode{}}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	rt := m.runtimeOf("l")
	if rt == nil || rt.src == nil {
		t.Fatalf("the SOURCE half did not start: %v", m.startFailure("l"))
	}
	return rt.src
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Several destination brokers (design §3.3): a SOURCE half keeps one
// control session per broker its destination lists, dialing each
// directly, and follows the list each PING carries: one broker listed
// keeps the single bootstrap session; a second broker listed gets its own
// session (and the first is dialed directly too); a broker no longer
// listed loses its session and is not redialed.
func TestSessionPerDestinationBroker(t *testing.T) {
	var mu sync.Mutex
	var list []wire.LinkReverseBroker
	brokers := func() []wire.LinkReverseBroker {
		mu.Lock()
		defer mu.Unlock()
		return append([]wire.LinkReverseBroker(nil), list...)
	}
	setList := func(bs ...*fakeDstBroker) {
		mu.Lock()
		defer mu.Unlock()
		list = nil
		for _, b := range bs {
			list = append(list, b.entry())
		}
	}
	b1 := startFakeDst(t, 1, true, brokers)
	b2 := startFakeDst(t, 2, true, brokers)
	setList(b1)
	half := sourceHalfTo(t, b1.addr())
	keepers := func(want map[int32]string) func() bool {
		return func() bool { return maps.Equal(half.keeperAddrs(), want) }
	}

	// One broker: the bootstrap session only.
	waitFor(t, "the bootstrap session to answer pings", func() bool { live, _, n, _ := b1.state(); return live && n >= 5 })
	if _, opened, _, _ := b2.state(); opened != 0 || len(half.keeperAddrs()) != 0 {
		t.Fatalf("with one broker listed: %d session(s) to the unlisted broker, keepers %v", opened, half.keeperAddrs())
	}
	if up, _, _ := half.status(); !up {
		t.Fatal("the SOURCE half is not up with its session")
	}

	// A second broker: a session to each, dialed directly.
	setList(b1, b2)
	waitFor(t, "a keeper per listed broker", keepers(map[int32]string{1: b1.addr(), 2: b2.addr()}))
	waitFor(t, "a session to each broker", func() bool {
		l1, o1, n1, _ := b1.state()
		l2, _, n2, _ := b2.state()
		return l1 && l2 && o1 == 2 && n1 >= 3 && n2 >= 3
	})

	// The first broker is no longer listed: its session closes, the other
	// stays, and nothing redials the first.
	setList(b2)
	waitFor(t, "the unlisted broker's keeper to go", keepers(map[int32]string{2: b2.addr()}))
	waitFor(t, "the unlisted broker's session to close", func() bool { live, _, _, _ := b1.state(); return !live })
	_, opened2, _, _ := b2.state()
	waitFor(t, "the remaining session to answer pings", func() bool { live, _, n, _ := b2.state(); return live && n >= 5 })
	if _, o1, _, _ := b1.state(); o1 != 2 {
		t.Errorf("the unlisted broker was dialed again: %d sessions, want 2", o1)
	}
	if _, o2, _, _ := b2.state(); o2 != opened2 {
		t.Errorf("the listed broker's session was replaced: %d sessions, want %d", o2, opened2)
	}
}

// A destination broker that does not run the link answers LinkReverse
// with NOT_LEADER_OR_FOLLOWER and the brokers that do (design §3.3): the
// SOURCE half moves on to them.
func TestSessionMovesOnFromNotHosting(t *testing.T) {
	var host *fakeDstBroker
	brokers := func() []wire.LinkReverseBroker { return []wire.LinkReverseBroker{host.entry()} }
	host = startFakeDst(t, 7, true, brokers)
	other := startFakeDst(t, 3, false, brokers)
	half := sourceHalfTo(t, other.addr())
	waitFor(t, "a session to the broker that runs the link", func() bool { live, _, n, _ := host.state(); return live && n >= 3 })
	if got := half.keeperAddrs(); !maps.Equal(got, map[int32]string{7: host.addr()}) {
		t.Errorf("keepers %v, want the hosting broker only", got)
	}
	if live, opened, _, refused := other.state(); live || opened != 0 || refused == 0 {
		t.Errorf("the broker that does not run the link: live=%v opened=%d refused=%d", live, opened, refused)
	}
}
