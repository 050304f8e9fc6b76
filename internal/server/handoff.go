package server

// Connection hand-off (docs/design/links-bidirectional.md §3.2): a
// LinkReverse request that the link manager accepts turns the connection
// into a control session or a data relay of a source-initiated link. The
// reply carries broker.Reply.Take; the reader stops at once (it reads no
// byte past that request as Kafka), the writer writes and flushes every
// reply up to and including that one, and then the connection leaves the
// server: it is no longer in the server's set (Shutdown does not touch
// it), its deadlines are cleared (idle and request read timeouts no
// longer apply), its request contexts end, the connection gauges count it
// closed and its connection-limit slot is freed, and Take gets it,
// together with any bytes the reader had buffered ahead.

import (
	"net"
	"time"
)

// handOff gives the connection to c.take, unless the writes failed or the
// server is shutting down (the connection is then closed, and the peer
// redials). It reports whether the connection was handed off.
func (c *conn) handOff() bool {
	if c.writeBroken || c.ctx.Err() != nil {
		return false
	}
	c.s.mu.Lock()
	if c.s.draining() {
		c.s.mu.Unlock()
		return false
	}
	delete(c.s.conns, c)
	c.s.mu.Unlock()
	c.preauthDone()
	c.cancel()
	_ = c.nc.SetDeadline(time.Time{})
	var nc net.Conn = c.nc
	if len(c.ahead) > 0 {
		nc = &aheadConn{Conn: c.nc, ahead: c.ahead}
	}
	// Take may run the connection for its whole life: not on serve's
	// goroutine, which the server waits for at shutdown.
	go c.take(nc)
	return true
}

// aheadConn is a connection whose first bytes were already read from it
// into the server's buffer.
type aheadConn struct {
	net.Conn
	ahead []byte
}

func (a *aheadConn) Read(p []byte) (int, error) {
	if len(a.ahead) > 0 {
		n := copy(p, a.ahead)
		a.ahead = a.ahead[n:]
		return n, nil
	}
	return a.Conn.Read(p)
}
