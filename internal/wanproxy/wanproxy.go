// Package wanproxy simulates a wide-area network path on loopback: a TCP
// proxy that delays each direction by a one-way latency, caps each
// direction's bandwidth, and bounds the bytes each connection has in
// flight the way a real TCP connection's window does. Benchmarks put it
// between a cluster link and its source (the source advertises the
// proxy's address with advertised.listeners), so every connection the
// link makes crosses it. See docs/benchmarks.md ("WAN mirroring").
//
// # Model
//
// A Path is one bidirectional network path: for each direction a single
// bottleneck link of Rate bytes/s (shared by every connection crossing the
// path, FIFO, lossless) followed by Delay of propagation. Each connection
// through a Proxy on that path has, per direction, a window of Window
// bytes: a byte occupies the window from the moment the proxy reads it
// from the sender until its "acknowledgement" would be back at the sender,
// i.e. until it was delivered to the receiver plus Delay (the reverse
// trip). A connection therefore moves at most Window per round trip
// (2×Delay + queueing), as a real TCP connection whose in-flight data is
// bounded by its window does, and a receiver that stops reading stops the
// sender once Window bytes are held (flow control).
//
// Why bound it: the endpoints talk to the proxy over loopback, where their
// own socket buffers fill in microseconds and never limit them. A proxy
// that buffered without limit would let one connection fill the whole
// bandwidth-delay product (12.5 MB at 1 Gbit/s and 100 ms), which a real
// connection cannot do unless both ends' buffers allow it. The default
// window is what Linux's autotuning lets one connection reach with this
// host's defaults: the sender's send buffer bounds its unacknowledged data
// (net.ipv4.tcp_wmem's maximum, 4 MiB by default) and the receiver
// advertises at most about half its receive buffer (net.ipv4.tcp_rmem's
// maximum); the smaller of the two, read from /proc at start-up
// (DefaultWindow). Loss, slow start and congestion control are not
// modelled: the path is the best case a tuned real network offers, and
// the window is the limit that remains.
//
// Network namespaces with tc netem would model TCP itself, but netem is
// not available on the project's CI kernel; the proxy needs nothing but
// loopback.
package wanproxy

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config describes a path. Zero Rate means no bandwidth cap; zero Window
// means DefaultWindow().
type Config struct {
	// Delay is the one-way propagation delay of each direction (the
	// round-trip time is twice it).
	Delay time.Duration
	// Rate is each direction's bandwidth in bytes per second, shared by
	// all connections on the path.
	Rate int64
	// Window bounds the bytes one connection has in flight per
	// direction (read from the sender, not yet acknowledged).
	Window int
	// ChunkSize is the largest read from a sender (default 64 KiB, at
	// least 4 KiB): the granularity at which bytes move.
	ChunkSize int
}

// ErrClosed is returned by operations on a closed Proxy.
var ErrClosed = errors.New("wanproxy: closed")

// DefaultWindow is the largest window one Linux TCP connection reaches
// with this host's autotuning limits: min(tcp_wmem max, tcp_rmem max / 2).
// 4 MiB when /proc cannot be read.
func DefaultWindow() int {
	w := 4 << 20
	if m, ok := procMax("/proc/sys/net/ipv4/tcp_wmem"); ok {
		w = m
	}
	if m, ok := procMax("/proc/sys/net/ipv4/tcp_rmem"); ok && m/2 < w {
		w = m / 2
	}
	return w
}

func procMax(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) != 3 {
		return 0, false
	}
	n, err := strconv.Atoi(f[2])
	return n, err == nil && n > 0
}

// Path is a simulated network path: per direction, a shared bottleneck
// and a delay. Its delay may be changed while connections cross it
// (benchmarks step through round-trip times); bytes already scheduled keep
// their delivery times.
type Path struct {
	delay     atomic.Int64 // nanoseconds
	window    int
	chunk     int
	up, down  *link // client→server, server→client
	buffered  atomic.Int64
	maxBuffer atomic.Int64
}

// NewPath returns a path with cfg.
func NewPath(cfg Config) *Path {
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow()
	}
	if cfg.ChunkSize <= 0 {
		cfg.ChunkSize = 64 << 10
	}
	// A read holds at least minCredit of the window (see pipe).
	cfg.Window = max(cfg.Window, minCredit)
	cfg.ChunkSize = min(max(cfg.ChunkSize, minCredit), cfg.Window)
	p := &Path{window: cfg.Window, chunk: cfg.ChunkSize, up: &link{rate: cfg.Rate}, down: &link{rate: cfg.Rate}}
	p.delay.Store(int64(cfg.Delay))
	return p
}

// SetDelay changes the one-way delay of both directions.
func (p *Path) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// Delay is the current one-way delay.
func (p *Path) Delay() time.Duration { return time.Duration(p.delay.Load()) }

// Buffered is the number of bytes the proxies on this path hold right
// now (read from a sender, not yet written to its receiver).
func (p *Path) Buffered() int64 { return p.buffered.Load() }

// MaxBuffered is the largest Buffered seen (since ResetMaxBuffered).
func (p *Path) MaxBuffered() int64 { return p.maxBuffer.Load() }

// ResetMaxBuffered starts MaxBuffered afresh.
func (p *Path) ResetMaxBuffered() { p.maxBuffer.Store(p.buffered.Load()) }

// Window is the per-connection window.
func (p *Path) Window() int { return p.window }

// Delivered is the number of bytes delivered server→client (to the
// proxies' clients) so far; DeliveredUp the other way.
func (p *Path) Delivered() int64 { return p.down.delivered.Load() }

// DeliveredUp is the number of bytes delivered client→server so far.
func (p *Path) DeliveredUp() int64 { return p.up.delivered.Load() }

func (p *Path) hold(n int64) {
	v := p.buffered.Add(n)
	for {
		m := p.maxBuffer.Load()
		if v <= m || p.maxBuffer.CompareAndSwap(m, v) {
			return
		}
	}
}

// link is one direction's bottleneck: a FIFO server of rate bytes/s.
// reserve books n bytes on it and returns when their last byte has left.
type link struct {
	rate      int64
	delivered atomic.Int64
	mu        sync.Mutex
	free      time.Time // when the link finishes what is booked
}

func (l *link) reserve(now time.Time, n int) time.Time {
	if l.rate <= 0 {
		return now
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	start := l.free
	if start.Before(now) {
		start = now
	}
	l.free = start.Add(time.Duration(float64(n) / float64(l.rate) * float64(time.Second)))
	return l.free
}

// Proxy accepts connections on a listener and forwards each to a target
// address across a Path.
type Proxy struct {
	ln     net.Listener
	target string
	path   *Path

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// Listen starts a proxy on addr (e.g. "127.0.0.1:0") forwarding to target
// across path.
func Listen(addr, target string, path *Path) (*Proxy, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("wanproxy: %w", err)
	}
	p := &Proxy{ln: ln, target: target, path: path, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address the proxy listens on.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Path is the proxy's path.
func (p *Proxy) Path() *Path { return p.path }

// Close stops accepting, closes every proxied connection and waits for
// the proxy's goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
		c.Close()
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			c.Close()
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// serve connects to the target and runs both directions. Connecting
// costs one round trip, as a TCP handshake across the path would.
func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	time.Sleep(2 * p.path.Delay())
	server, err := net.DialTimeout("tcp", p.target, 10*time.Second)
	if err != nil || !p.track(server) {
		if server != nil {
			server.Close()
		}
		p.untrack(client)
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	abort := func() { p.untrack(client, server) }
	go func() { defer wg.Done(); p.pipe(client, server, p.path.up, abort) }()
	go func() { defer wg.Done(); p.pipe(server, client, p.path.down, abort) }()
	wg.Wait()
	p.untrack(client, server)
}

// segment is one read from the sender, due at the receiver at due. eof
// marks the sender's half-close (or error).
type segment struct {
	data []byte
	due  time.Time
	eof  bool
}

// pipe moves one direction, src → dst. The reader books each read on the
// bottleneck and queues it; the writer delivers segments in order at
// their due times; the credit of a segment comes back Delay after its
// delivery (the acknowledgement's trip). abort tears the connection down
// (a write to dst failed).
func (p *Proxy) pipe(src, dst net.Conn, l *link, abort func()) {
	w := newWindow(p.path.window)
	// Every queued segment holds at least minCredit bytes of credit, so
	// the queue never fills before the window does: the window, not the
	// channel, bounds what is buffered.
	q := make(chan segment, p.path.window/minCredit+2)
	go p.read(src, l, w, q)
	for s := range q {
		if d := time.Until(s.due); d > 0 {
			time.Sleep(d)
		}
		if s.eof {
			if tc, ok := dst.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			} else {
				dst.Close()
			}
			continue
		}
		n, err := dst.Write(s.data)
		l.delivered.Add(int64(n))
		p.path.hold(-int64(len(s.data)))
		credit := max(len(s.data), minCredit)
		if delay := p.path.Delay(); delay > 0 {
			time.AfterFunc(delay, func() { w.release(credit) })
		} else {
			w.release(credit)
		}
		if err != nil {
			abort()
			w.close()
			for s := range q { // the reader ends: src is closed
				p.path.hold(-int64(len(s.data)))
			}
			return
		}
	}
	w.close()
}

// minCredit is the least credit a segment holds: it bounds the number of
// queued segments (and the queue's preallocated slots) to window/minCredit.
const minCredit = 4096

// read is pipe's reader: src → q, until src ends (EOF or error), which
// is queued as a half-close behind the data.
func (p *Proxy) read(src net.Conn, l *link, w *window, q chan<- segment) {
	defer close(q)
	var last time.Time
	buf := make([]byte, p.path.chunk)
	for {
		if !w.acquire(p.path.chunk) {
			return
		}
		n, err := src.Read(buf)
		used := 0
		if n > 0 {
			used = max(n, minCredit)
		}
		w.release(p.path.chunk - used)
		if n > 0 {
			p.path.hold(int64(n))
			due := l.reserve(time.Now(), n).Add(p.path.Delay())
			if due.Before(last) {
				due = last // the delay was lowered: keep the order
			}
			last = due
			// The segment gets a copy of its own size, so what the proxy
			// holds in memory is what the window counts (plus a small
			// header per segment), however small the sender's writes.
			q <- segment{data: append([]byte(nil), buf[:n]...), due: due}
		}
		if err != nil {
			due := time.Now().Add(p.path.Delay())
			if due.Before(last) {
				due = last
			}
			q <- segment{eof: true, due: due}
			return
		}
	}
}

// window is a connection direction's in-flight credit.
type window struct {
	mu     sync.Mutex
	cond   *sync.Cond
	avail  int
	closed bool
}

func newWindow(n int) *window {
	w := &window{avail: n}
	w.cond = sync.NewCond(&w.mu)
	return w
}

func (w *window) acquire(n int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.avail < n && !w.closed {
		w.cond.Wait()
	}
	if w.closed {
		return false
	}
	w.avail -= n
	return true
}

func (w *window) release(n int) {
	if n == 0 {
		return
	}
	w.mu.Lock()
	w.avail += n
	w.mu.Unlock()
	w.cond.Broadcast()
}

func (w *window) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.cond.Broadcast()
}
