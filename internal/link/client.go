package link

import (
	"context"
	"crypto/tls"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/wire"
)

// ClientOpts are the franz-go options with which a link reaches its source
// cluster, from the link's client configs (Kafka's meanings):
//
//   - bootstrap.servers;
//   - security.protocol, sasl.mechanism, sasl.jaas.config and the ssl.*
//     keys (security.go): SASL PLAIN or SCRAM, TLS in the dialer;
//   - socket.connection.setup.timeout.ms / .max.ms: the dial timeout
//     starts at the first and doubles with each consecutive failed dial to
//     the same address, up to the second (KIP-601);
//   - reconnect.backoff.ms / .max.ms: the wait before reconnecting to an
//     address whose last connection failed grows exponentially from the
//     first to the second, with ±20% jitter (Kafka's reconnect backoff,
//     applied in the dialer); it also paces franz-go's request retries
//     (retry.backoff.ms paces the fetcher's metadata refreshes instead);
//   - request.timeout.ms, metadata.max.age.ms.
//
// Every client of a link's source (its runtime's, the data path's) is built
// from these options, so all reach the source the same way.
func ClientOpts(name string, configs map[string]string) ([]kgo.Opt, error) {
	opts, _, err := clientOpts(name, configs)
	return opts, err
}

// clientOpts is ClientOpts, also returning the parsed security settings.
func clientOpts(name string, configs map[string]string) ([]kgo.Opt, security, error) {
	return clientOptsVia(name, configs, nil)
}

// connectFunc opens a connection to addr within timeout: a TCP dial, or on
// an INBOUND half a connection through the peer's control session
// (reverse_accept.go).
type connectFunc func(ctx context.Context, addr string, timeout time.Duration) (net.Conn, error)

// clientOptsVia is clientOpts whose connections are opened by through
// when it is not nil (an INBOUND half: no bootstrap.servers, its one seed
// is revSeedHost, which the SOURCE half maps to its own listener). The
// setup timeout and reconnect backoff apply to them all the same.
func clientOptsVia(name string, configs map[string]string, through connectFunc) ([]kgo.Opt, security, error) {
	sec, err := parseSecurity(configs)
	if err != nil {
		return nil, sec, err
	}
	var seeds []string
	for _, s := range strings.Split(Value(configs, "bootstrap.servers"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			seeds = append(seeds, s)
		}
	}
	if through != nil {
		seeds = []string{net.JoinHostPort(revSeedHost, "9092")}
	}
	backoff, backoffMax := Millis(configs, "reconnect.backoff.ms"), Millis(configs, "reconnect.backoff.max.ms")
	maxAge := Millis(configs, "metadata.max.age.ms")
	d := &dialer{min: Millis(configs, "socket.connection.setup.timeout.ms"),
		max: Millis(configs, "socket.connection.setup.timeout.max.ms"), failures: map[string]int{},
		backoff: backoff, backoffMax: backoffMax, reconnect: map[string]*reconnectState{},
		sleep: sleepCtx, jitter: rand.Float64, tls: sec.tls, connect: through}
	return append([]kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID("tandem-cluster-link-" + name),
		// A Tandem peer lists the private link requests in ApiVersions
		// only to this software name, and franz-go sends only keys its
		// MaxVersions lists (peer_kgo.go; design §2.4).
		kgo.SoftwareNameAndVersion(wire.LinkClientSoftwareName, linkClientVersion()),
		kgo.MaxVersions(linkMaxVersions()),
		kgo.MetadataMaxAge(maxAge),
		// franz-go refuses a max age below its min age (5 s by default).
		kgo.MetadataMinAge(min(5*time.Second, maxAge)),
		kgo.RequestTimeoutOverhead(Millis(configs, "request.timeout.ms")),
		kgo.RetryBackoffFn(func(tries int) time.Duration {
			b := backoff
			for i := 1; i < tries && b < backoffMax; i++ {
				b *= 2
			}
			return min(b, backoffMax)
		}),
		// TLS is done in the dialer (franz-go's DialTLSConfig cannot be
		// combined with a Dialer).
		kgo.Dialer(d.DialContext),
	}, sec.opts()...), sec, nil
}

// dialer grows the connection-setup timeout per address after failures
// (KIP-601) and paces reconnects to an address (Kafka's
// reconnect.backoff.ms / reconnect.backoff.max.ms, as
// ClusterConnectionStates applies them): after a connection to an address
// fails — the dial fails, or the connection ends before the broker sent a
// byte (a broker that accepts and closes, a failed handshake) — the next
// dial to it waits reconnect.backoff.ms, doubling with each consecutive
// failure up to the maximum, with ±20% jitter. A connection that receives
// data resets the address's backoff. franz-go retries requests by dialing
// again, so without this a source that accepts and closes at once would be
// dialed as fast as requests are retried.
type dialer struct {
	min, max            time.Duration // connection setup timeout
	backoff, backoffMax time.Duration // reconnect backoff
	mu                  sync.Mutex
	failures            map[string]int // consecutive dial failures (setup timeout)
	reconnect           map[string]*reconnectState
	sleep               func(ctx context.Context, d time.Duration) error
	jitter              func() float64 // in [0, 1)
	// tls, when set, is the client TLS config (security.protocol SSL or
	// SASL_SSL): connections are TLS after the TCP dial.
	tls *tls.Config
	// connect, when set, opens connections instead of a TCP dial.
	connect connectFunc
}

type reconnectState struct {
	failures int       // consecutive failed connections
	failedAt time.Time // when the last one failed
}

func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if wait := d.reconnectWait(addr); wait > 0 {
		if err := d.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
	d.mu.Lock()
	timeout := d.min
	for i := 0; i < d.failures[addr] && timeout < d.max; i++ {
		timeout *= 2
	}
	timeout = min(timeout, max(d.max, d.min))
	d.mu.Unlock()
	var c net.Conn
	var err error
	if d.connect != nil {
		c, err = d.connect(ctx, addr, timeout)
	} else {
		c, err = (&net.Dialer{Timeout: timeout}).DialContext(ctx, network, addr)
	}
	d.mu.Lock()
	if err != nil {
		d.failures[addr]++
	} else {
		delete(d.failures, addr)
	}
	d.mu.Unlock()
	if err != nil {
		d.connFailed(addr)
		return nil, err
	}
	wc := &watchedConn{Conn: c, d: d, addr: addr}
	if d.tls == nil {
		return wc, nil
	}
	return d.handshake(ctx, wc, addr, timeout)
}

// handshake runs the TLS client handshake on wc within the connection
// setup timeout (Kafka's socket.connection.setup.timeout.ms covers the
// whole setup, TLS included). The connection counts as answered only once
// the handshake succeeded: a broker that sends its certificate and is
// refused is backed off like one that closes at once.
func (d *dialer) handshake(ctx context.Context, wc *watchedConn, addr string, timeout time.Duration) (net.Conn, error) {
	wc.handshaking.Store(true)
	tc := tls.Client(wc, tlsFor(d.tls, addr))
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		_ = wc.Close()
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, &errTLSHandshake{addr: addr, err: err}
	}
	wc.handshaking.Store(false)
	wc.markAnswered()
	return tc, nil
}

// tlsFor is the client TLS config c for a connection to addr: the server
// name, unless set, is addr's host (hostname verification, Kafka's
// ssl.endpoint.identification.algorithm=https).
func tlsFor(c *tls.Config, addr string) *tls.Config {
	cfg := c.Clone()
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		cfg.ServerName = host
	}
	return cfg
}

// reconnectWait is how long a dial to addr must still wait.
func (d *dialer) reconnectWait(addr string) time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.reconnect[addr]
	if st == nil || st.failures == 0 || d.backoff <= 0 {
		return 0
	}
	b := d.backoff
	for i := 1; i < st.failures && b < d.backoffMax; i++ {
		b *= 2
	}
	b = min(b, max(d.backoffMax, d.backoff))
	b = time.Duration(float64(b) * (0.8 + 0.4*d.jitter()))
	return time.Until(st.failedAt.Add(b))
}

func (d *dialer) connFailed(addr string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.reconnect[addr]
	if st == nil {
		st = &reconnectState{}
		d.reconnect[addr] = st
	}
	st.failures++
	st.failedAt = time.Now()
}

func (d *dialer) connHealthy(addr string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.reconnect, addr)
}

// watchedConn reports to its dialer whether the broker ever answered.
type watchedConn struct {
	net.Conn
	d        *dialer
	addr     string
	once     sync.Once
	answered atomic.Bool
	// handshaking: a TLS handshake is running; its bytes are no answer.
	handshaking atomic.Bool
}

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.handshaking.Load() {
		c.markAnswered()
	}
	if err != nil {
		c.ended()
	}
	return n, err
}

func (c *watchedConn) markAnswered() {
	if !c.answered.Load() {
		c.answered.Store(true)
		c.d.connHealthy(c.addr)
	}
}

func (c *watchedConn) Close() error {
	c.ended()
	return c.Conn.Close()
}

func (c *watchedConn) ended() {
	c.once.Do(func() {
		if !c.answered.Load() {
			c.d.connFailed(c.addr)
		}
	})
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
