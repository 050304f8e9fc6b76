// Package server runs the Kafka listeners: it accepts connections, frames
// requests, hands them to the broker and writes the replies in order. It
// owns the lifecycle of connections, including graceful shutdown: stop
// accepting, stop reading, answer what was already read, then close.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/config"
	"github.com/tandem-streaming/tandem/internal/metrics"
	"github.com/tandem-streaming/tandem/internal/ratelog"
)

// Options configures a Server.
type Options struct {
	Broker *broker.Broker
	// MaxRequestBytes is socket.request.max.bytes.
	MaxRequestBytes int32
	Metrics         *metrics.Metrics
	Logger          *slog.Logger
	// WriteTimeout bounds how long a response write may block on a client
	// that does not read (default 30s).
	WriteTimeout time.Duration
	// Limits bound connections: counts, idle and request read timeouts.
	Limits Limits
}

// Server serves the Kafka protocol on any number of listeners.
type Server struct {
	broker       *broker.Broker
	maxRequest   int32
	metrics      *metrics.Metrics
	logger       *slog.Logger
	writeTimeout time.Duration
	limits       Limits
	counter      *connCounter
	// rlog is for every line a client can cause per connection or per
	// request: a fuzzer must not be able to fill the disk (issue #9).
	rlog *ratelog.Logger

	ctx     context.Context
	cancel  context.CancelFunc
	drain   atomic.Bool
	drainCh chan struct{}  // closed when draining starts
	wg      sync.WaitGroup // connections and accept loops

	mu        sync.Mutex
	listeners []net.Listener
	conns     map[*conn]struct{}
}

// New returns a Server; call Serve for each listener.
func New(o Options) *Server {
	if o.WriteTimeout == 0 {
		o.WriteTimeout = 30 * time.Second
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New(o.Broker.NodeID())
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		broker: o.Broker, maxRequest: o.MaxRequestBytes, metrics: o.Metrics, logger: o.Logger,
		writeTimeout: o.WriteTimeout, ctx: ctx, cancel: cancel, conns: map[*conn]struct{}{},
		drainCh: make(chan struct{}), limits: o.Limits, counter: newConnCounter(o.Limits),
		rlog: ratelog.New(o.Logger, ratelog.Options{}),
	}
}

func (s *Server) draining() bool { return s.drain.Load() }

// TLSServer is a listener's TLS side (tlsconf.Server implements it).
type TLSServer interface {
	TLSConfig() *tls.Config
	// Principal maps the handshake's verified client certificate to a
	// principal (ANONYMOUS without one).
	Principal(cs *tls.ConnectionState) (auth.Principal, error)
}

// ListenerOptions describes one Kafka listener.
type ListenerOptions struct {
	// Config is the listener: name, security protocol and its settings.
	Config config.ListenerConfig
	// TLS is set for SSL and SASL_SSL listeners.
	TLS TLSServer
}

// Serve accepts PLAINTEXT connections on ln, named name, until Shutdown.
func (s *Server) Serve(ln net.Listener, name string) {
	s.ServeListener(ln, ListenerOptions{Config: config.NewListenerConfig(config.Listener{Name: name}, "PLAINTEXT", nil)})
}

// ServeListener accepts connections on ln until Shutdown. It returns at
// once; the accept loop runs in the background.
func (s *Server) ServeListener(ln net.Listener, lo ListenerOptions) {
	name := lo.Config.Name
	lc := lo.Config
	s.mu.Lock()
	s.listeners = append(s.listeners, ln)
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		var backoff time.Duration
		for {
			nc, err := ln.Accept()
			if err != nil {
				if s.draining() || errors.Is(err, net.ErrClosed) {
					return
				}
				// Out of file descriptors and the like: back off
				// rather than spin, as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.rlog.Warn("accept failed", "listener", name, "err", err, "retry_in", backoff)
				time.Sleep(backoff)
				continue
			}
			backoff = 0
			ip := addrOf(nc.RemoteAddr())
			if reason, limit := s.counter.acquire(ip); reason != "" {
				// Over a limit: close right after accept, as Kafka's
				// ConnectionQuotas does for max.connections.per.ip.
				_ = nc.Close()
				s.metrics.ConnRefused(reason)
				s.rlog.LogKey(reason, slog.LevelInfo, "connection refused: over a connection limit",
					"reason", reason, "limit", limit, "listener", name, "remote", nc.RemoteAddr())
				continue
			}
			if tc, ok := nc.(*net.TCPConn); ok {
				_ = tc.SetNoDelay(true)
			}
			s.startConn(nc, &lc, lo.TLS, ip)
		}
	}()
}

func (s *Server) startConn(nc net.Conn, lc *config.ListenerConfig, ts TLSServer, ip netip.Addr) {
	ctx, cancel := context.WithCancel(s.ctx)
	if ts != nil {
		nc = wrapTLS(nc, ts) // handshake on the connection's goroutine (tls.go)
	}
	// Fetched records travel as file slices on TLS connections too (the
	// writer copies them from the page cache through the TLS writer,
	// copyFile): sendfile is impossible there, but reading each fetch into
	// fresh memory first costs an extra copy and 16 MB of new pages per
	// fetch, which halved SASL_SSL consume throughput (docs/benchmarks.md).
	info := &broker.Conn{Remote: nc.RemoteAddr(), Listener: lc.Name, SendFile: canSendFile(nc) || ts != nil, Security: lc}
	if lc.SecurityProtocol == "PLAINTEXT" {
		info.Principal = auth.Anonymous
	}
	c := &conn{
		s: s, nc: nc, ctx: ctx, cancel: cancel, ip: ip,
		info: info, tlsServer: ts,
		queue: make(chan pending, maxPipelined),
	}
	c.startPreauth(lc)
	s.mu.Lock()
	if s.draining() {
		s.mu.Unlock()
		cancel()
		_ = nc.Close()
		s.counter.release(ip)
		return
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		c.serve()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.counter.release(ip)
	}()
}

// Shutdown stops accepting connections and reading requests, lets every
// request already read be answered, and closes the connections. When ctx
// ends first, the remaining connections are closed at once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.drain.Swap(true) {
		close(s.drainCh)
	}
	for _, ln := range s.listeners {
		_ = ln.Close()
	}
	for c := range s.conns {
		// Wake readers blocked in Read; the writer then drains what
		// was already accepted.
		_ = c.nc.SetReadDeadline(time.Now())
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel() // ends long polls and acks waits
		s.mu.Lock()
		for c := range s.conns {
			_ = c.nc.Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}
