package link

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/wire"
)

// A handed-off connection cannot be used past the end of its SASL
// session (KIP-368, design §3.3): deadlines its user sets, even none, are
// capped at the expiry, and the connection is closed then.
func TestExpiringConn(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	var expired atomic.Int32
	expiry := time.Now().Add(100 * time.Millisecond)
	c := withExpiry(a, expiry, func() { expired.Add(1) })
	_ = c.SetDeadline(time.Time{})                   // a client clearing its deadlines
	_ = c.SetReadDeadline(time.Now().Add(time.Hour)) // or setting a late one
	_, err := c.Read(make([]byte, 1))
	if err == nil || time.Now().Before(expiry) {
		t.Fatalf("a read ended with %v before the expiry", err)
	}
	if _, err := c.Write([]byte{1}); err == nil {
		t.Fatal("a write after the expiry succeeded")
	}
	waitFor(t, "the expiry to be counted", func() bool { return expired.Load() == 1 })
	if withExpiry(b, time.Time{}, nil) != b {
		t.Error("a connection without a SASL lifetime was wrapped")
	}
}

// The SOURCE half renews a control session at 90% of its lifetime, or
// earlier when a set-up (socket.connection.setup.timeout.ms) would not fit
// in the last 10%, never before half of it.
func TestRenewAfter(t *testing.T) {
	for _, c := range []struct{ lifetime, setup, want time.Duration }{
		{time.Hour, 10 * time.Second, 54 * time.Minute},
		{60 * time.Second, 10 * time.Second, 50 * time.Second},
		{3 * time.Second, 10 * time.Second, 1500 * time.Millisecond},
		{3 * time.Second, time.Second, 2 * time.Second},
		{3 * time.Second, 100 * time.Millisecond, 2700 * time.Millisecond},
	} {
		if got := renewAfter(c.lifetime, c.setup); got != c.want {
			t.Errorf("renewAfter(%v, %v) = %v, want %v", c.lifetime, c.setup, got, c.want)
		}
	}
}

// The destination's side: a control session handed off with an expiry
// ends at it (counted as expired: the SOURCE half did not renew), and a
// broker that does not run the link answers NOT_LEADER_OR_FOLLOWER with
// the brokers that do (design §3.3).
func TestLinkReverseExpiryAndNotHosting(t *testing.T) {
	store, err := metadata.OpenBolt(t.TempDir(), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.CreateLink(metadata.Link{Name: "in", Configs: map[string]string{"link.mode": ModeDestination, "connection.mode": ConnInbound,
		"availability.check.ms": "3600000"}}); err != nil {
		t.Fatal(err)
	}
	m, err := NewManager(store, &storeCluster{Store: store}, &modeData{mode: map[string]dataPathMode{}}, testLogger(),
		WithSessions(NewSessions(testLogger())))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	req := &wire.LinkReverseRequest{LinkName: "in", ClusterID: "src-cluster", Role: wire.LinkReverseControl, SessionID: newSessionID()}
	resp, take := m.LinkReverse(context.Background(), req, time.Now().Add(150*time.Millisecond))
	if resp.ErrorCode != 0 || take == nil {
		t.Fatalf("CONTROL refused: %+v", resp)
	}
	d, s := net.Pipe()
	defer s.Close()
	go func() { // the SOURCE half's end: answers nothing, reads everything
		buf := make([]byte, 4096)
		for {
			if _, err := s.Read(buf); err != nil {
				return
			}
		}
	}()
	take(d)
	sess := m.rev.sessions.get("in")
	if sess == nil {
		t.Fatal("no session registered")
	}
	<-sess.done
	if err := sess.closed(); !errors.Is(err, errSessionLifetime) {
		t.Errorf("the session ended with %v, want the end of its SASL session lifetime", err)
	}
	if st := m.ReverseSessionStats(); st.ControlExpired != 1 || st.Bounded != 1 || st.HandedOff != 1 || st.Sessions != 1 {
		t.Errorf("stats %+v, want one bounded session, expired", st)
	}

	// A link this broker does not run (stored after the Manager started:
	// it never started it).
	if err := store.CreateLink(metadata.Link{Name: "elsewhere", Configs: map[string]string{"link.mode": ModeDestination, "connection.mode": ConnInbound}}); err != nil {
		t.Fatal(err)
	}
	others := []wire.LinkReverseBroker{{NodeID: 2, Host: "dst-2.example", Port: 9093}}
	m.rev.brokersOf = func(string) []wire.LinkReverseBroker { return others }
	resp, take = m.LinkReverse(context.Background(), &wire.LinkReverseRequest{LinkName: "elsewhere", ClusterID: "src-cluster",
		Role: wire.LinkReverseControl, SessionID: newSessionID()}, time.Time{})
	if resp.ErrorCode != kerr.NotLeaderForPartition.Code || take != nil || !slices.Equal(resp.Brokers, others) {
		t.Errorf("a link not run here: %+v (take %v), want NOT_LEADER_OR_FOLLOWER with the brokers that run it", resp, take != nil)
	}
}
