package link

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/tlsconf/tlstest"
)

// acceptAndClose listens on loopback, counts connections and closes each
// at once, as a broker that rejects every client would.
func acceptAndClose(t *testing.T) (string, *atomic.Int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return ln.Addr().String(), &n
}

// TestReconnectBackoffPacesDials: against a source that accepts and
// closes every connection, the number of connections a link client makes
// follows reconnect.backoff.ms / reconnect.backoff.max.ms. (Before the
// dialer applied them, a client made 137 and 118
// connections in 12 s at 50/1000 ms and 4000/4000 ms: no effect.)
func TestReconnectBackoffPacesDials(t *testing.T) {
	const run = 3 * time.Second
	count := func(backoff, backoffMax string) int64 {
		addr, n := acceptAndClose(t)
		opts, err := ClientOpts("t", map[string]string{"bootstrap.servers": addr,
			"reconnect.backoff.ms": backoff, "reconnect.backoff.max.ms": backoffMax})
		if err != nil {
			t.Fatal(err)
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), run)
		defer cancel()
		for ctx.Err() == nil {
			req := kmsg.NewPtrApiVersionsRequest()
			_, _ = req.RequestWith(ctx, cl)
		}
		return n.Load()
	}
	var fast, slow int64
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); fast = count("100", "400") }()
	go func() { defer wg.Done(); slow = count("2000", "2000") }()
	wg.Wait()
	t.Logf("connections in %v: backoff 100..400 ms: %d; 2000 ms: %d", run, fast, slow)
	// 100, 200, 400, 400, ... ms (±20%) after the first: 7-10 in 3 s.
	if fast < 4 || fast > 14 {
		t.Errorf("backoff 100..400 ms: %d connections in %v, want 4..14", fast, run)
	}
	// 2000 ms (±20%): 2 in 3 s.
	if slow < 1 || slow > 3 {
		t.Errorf("backoff 2000 ms: %d connections in %v, want 1..3", slow, run)
	}
}

// TestReconnectBackoffResetsOnAnswer: a connection that receives data
// clears the address's backoff.
func TestReconnectBackoffResetsOnAnswer(t *testing.T) {
	d := &dialer{min: time.Second, max: time.Second, failures: map[string]int{}, backoff: time.Second, backoffMax: 8 * time.Second,
		reconnect: map[string]*reconnectState{}, sleep: sleepCtx, jitter: func() float64 { return 0.5 }}
	d.connFailed("a")
	d.connFailed("a")
	if w := d.reconnectWait("a"); w < 1900*time.Millisecond || w > 2*time.Second {
		t.Fatalf("after two failures: wait %v, want ~2s", w)
	}
	d.connHealthy("a")
	if w := d.reconnectWait("a"); w != 0 {
		t.Fatalf("after an answer: wait %v", w)
	}
}

// TestFailedTLSHandshakeIsBackedOff: a source that sends its certificate
// but is not trusted has answered bytes, yet the connection failed: the
// dialer backs it off like one that closes at once (failures grow), and
// reports a TLS handshake error; a trusted one resets the backoff.
func TestFailedTLSHandshakeIsBackedOff(t *testing.T) {
	ca, other := tlstest.NewCA(t), tlstest.NewCA(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{ca.Server(t).TLSCertificate()}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				_ = c.(*tls.Conn).Handshake()
				c.Close()
			}()
		}
	}()
	addr := ln.Addr().String()
	newDialer := func(roots *x509.CertPool) *dialer {
		return &dialer{min: time.Second, max: time.Second, failures: map[string]int{}, backoff: time.Millisecond, backoffMax: time.Millisecond,
			reconnect: map[string]*reconnectState{}, sleep: sleepCtx, jitter: func() float64 { return 0.5 }, tls: &tls.Config{RootCAs: roots}}
	}
	d := newDialer(other.Pool())
	for i := 1; i <= 2; i++ {
		_, err := d.DialContext(context.Background(), "tcp", addr)
		if _, ok := errors.AsType[*errTLSHandshake](err); !ok {
			t.Fatalf("dial %d: %v, want a TLS handshake error", i, err)
		}
		if st := d.reconnect[addr]; st == nil || st.failures != i {
			t.Fatalf("after %d failed handshakes: %+v", i, st)
		}
	}
	d = newDialer(ca.Pool())
	d.connFailed(addr)
	c, err := d.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if st := d.reconnect[addr]; st != nil {
		t.Fatalf("after a good handshake: %+v", st)
	}
}
