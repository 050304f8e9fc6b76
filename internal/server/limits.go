package server

import (
	"bufio"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Limits bound the client connections of a Server (issue #9). The zero
// value sets no limit.
type Limits struct {
	// MaxConnections is max.connections: client connections across all
	// listeners (<= 0: no limit).
	MaxConnections int
	// MaxDescriptorConns is the most client connections the process's
	// descriptor budget allows once the reserve for logs, metadata and
	// HTTP is set aside (<= 0: no limit). It is a limit of its own so the
	// reason a connection is refused names it.
	MaxDescriptorConns int
	// MaxPerIP is max.connections.per.ip (0: no limit; OnlyPerIP: none
	// but the addresses in PerIP, Kafka's max.connections.per.ip=0).
	MaxPerIP int
	// PerIP replaces MaxPerIP for the addresses it names
	// (max.connections.per.ip.overrides, host names already resolved).
	PerIP map[netip.Addr]int
	// IdleTimeout is connections.max.idle.ms (<= 0: never).
	IdleTimeout time.Duration
	// RequestReadTimeout is socket.request.read.timeout.ms: how long a
	// request that has begun to arrive may go without receiving a byte
	// (<= 0: forever).
	RequestReadTimeout time.Duration
}

// OnlyPerIP as Limits.MaxPerIP admits only the addresses in Limits.PerIP.
const OnlyPerIP = -1

// Reasons a connection is refused or closed, as metric labels and in logs.
const (
	reasonMaxConnections = "max_connections"
	reasonPerIP          = "max_connections_per_ip"
	reasonDescriptors    = "descriptor_reserve"
	reasonIdle           = "idle"
	reasonReadTimeout    = "request_read_timeout"
)

// connCounter counts open client connections, in total and by address, as
// Kafka's ConnectionQuotas does.
type connCounter struct {
	lim   Limits
	mu    sync.Mutex
	total int
	byIP  map[netip.Addr]int
}

func newConnCounter(l Limits) *connCounter {
	return &connCounter{lim: l, byIP: map[netip.Addr]int{}}
}

// addrOf is the IP a connection counts against (IPv4-mapped IPv6 folded
// to IPv4, so one client is one address whichever way it connects).
func addrOf(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(ta.IP); ok {
			return ip.Unmap()
		}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// acquire counts a new connection from ip, or returns the reason it is
// over a limit (and counts nothing). limit is the limit it hit.
func (c *connCounter) acquire(ip netip.Addr) (reason string, limit int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m := c.lim.MaxDescriptorConns; m > 0 && c.total >= m {
		return reasonDescriptors, m
	}
	if m := c.lim.MaxConnections; m > 0 && c.total >= m {
		return reasonMaxConnections, m
	}
	perIP, ok := c.lim.PerIP[ip]
	if !ok {
		switch perIP = c.lim.MaxPerIP; perIP {
		case 0:
			perIP = -1 // no limit
		case OnlyPerIP:
			perIP = 0
		}
	}
	if perIP >= 0 && c.byIP[ip] >= perIP {
		return reasonPerIP, perIP
	}
	c.total++
	c.byIP[ip]++
	return "", 0
}

func (c *connCounter) release(ip netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total--
	if c.byIP[ip]--; c.byIP[ip] <= 0 {
		delete(c.byIP, ip)
	}
}

// errIdle ends a connection idle for longer than connections.max.idle.ms.
var errIdle = errors.New("server: connection idle")

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// connReader is what the connection's bufio.Reader reads from. While a
// request is arriving (c.inRequest) every read must bring bytes within
// socket.request.read.timeout.ms, so a request declared and never sent
// cannot hold a connection forever, while a large request on a slow link
// that keeps arriving is never cut. Between requests, awaitRequest sets the
// idle deadline instead. Only the reader goroutine uses it.
type connReader struct{ c *conn }

func (r connReader) Read(p []byte) (int, error) {
	c := r.c
	if c.inRequest && c.s.limits.RequestReadTimeout > 0 {
		c.setReadDeadline(time.Now().Add(c.s.limits.RequestReadTimeout))
	}
	return c.nc.Read(p)
}

// setReadDeadline sets the read deadline unless the server is draining:
// Shutdown wakes readers with a deadline in the past, which a deadline set
// after it must not undo (drain is set before Shutdown's deadline, so a
// reader that sets its own later sees it).
func (c *conn) setReadDeadline(t time.Time) {
	if t.IsZero() && !c.hasDeadline {
		return // pipelined requests already buffered cost nothing
	}
	c.hasDeadline = !t.IsZero()
	_ = c.nc.SetReadDeadline(t)
	if c.s.draining() {
		_ = c.nc.SetReadDeadline(time.Now())
	}
}

// touch records activity on the connection, for the idle timeout.
func (c *conn) touch() { c.lastActive.Store(time.Now().UnixNano()) }

// awaitRequest waits for the first byte of the next request. A connection
// counts as idle only when no request of it is being answered (a long-poll
// Fetch or a JoinGroup waiting for a rebalance is not idle) and nothing was
// read or written for connections.max.idle.ms, as in Kafka's Selector idle
// expiry; such a connection ends with errIdle.
func (c *conn) awaitRequest(br *bufio.Reader) error {
	c.inRequest = false
	idle := c.s.limits.IdleTimeout
	for br.Buffered() == 0 {
		var deadline time.Time
		if idle > 0 {
			deadline = time.Unix(0, c.lastActive.Load()).Add(idle)
		}
		c.setReadDeadline(deadline)
		_, err := br.Peek(1)
		if err == nil {
			break
		}
		if !isTimeout(err) || c.s.draining() || c.ctx.Err() != nil {
			return err
		}
		if c.outstanding.Load() > 0 {
			c.touch() // still answering: not idle
			continue
		}
		if time.Since(time.Unix(0, c.lastActive.Load())) < idle {
			continue // the writer was active since the deadline was set
		}
		return errIdle
	}
	c.inRequest = true
	if c.s.limits.RequestReadTimeout <= 0 {
		// No request deadline: clear the idle one. (With one,
		// connReader sets it before every read of the request.)
		c.setReadDeadline(time.Time{})
	}
	return nil
}
