package link

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Re-authentication (KIP-368) of reversed connections (design §3.3,
// docs/source-initiated-links.md "Re-authentication"). The broker closes a
// client connection whose SASL session (connections.max.reauth.ms) has
// ended unless the client re-authenticates it. After LinkReverse hands a
// connection over, the SOURCE half is the server there and can never
// re-authenticate it, so the destination enforces the lifetime itself:
// every handed-off connection (control session or data connection) stops
// at the expiry of the SASL session it was authenticated with. The SOURCE
// half opens its next control session before that (at 90% of the
// lifetime), and the destination's clients redial a data connection that
// ended, as after any disconnect.

// errSessionLifetime: a handed-off connection reached the end of the SASL
// session it was authenticated with.
var errSessionLifetime = errors.New("the SASL session lifetime of the connection ended (connections.max.reauth.ms, KIP-368)")

// expiringConn is a handed-off connection that cannot be used past expiry:
// every deadline its users set is capped at expiry (so no read or write
// can complete later, whatever the client does with deadlines), and a
// timer closes it then.
type expiringConn struct {
	net.Conn
	expiry time.Time
	timer  *time.Timer
	once   sync.Once
}

// withExpiry returns c bounded by expiry (c itself for a zero expiry);
// expired runs once if the connection is closed by its expiry rather than
// by its user.
func withExpiry(c net.Conn, expiry time.Time, expired func()) net.Conn {
	if expiry.IsZero() {
		return c
	}
	ec := &expiringConn{Conn: c, expiry: expiry}
	_ = c.SetDeadline(expiry)
	ec.timer = time.AfterFunc(time.Until(expiry), func() {
		ec.once.Do(func() {
			if expired != nil {
				expired()
			}
			_ = c.Close()
		})
	})
	return ec
}

func (c *expiringConn) capped(t time.Time) time.Time {
	if t.IsZero() || t.After(c.expiry) {
		return c.expiry
	}
	return t
}

func (c *expiringConn) SetDeadline(t time.Time) error { return c.Conn.SetDeadline(c.capped(t)) }
func (c *expiringConn) SetReadDeadline(t time.Time) error {
	return c.Conn.SetReadDeadline(c.capped(t))
}
func (c *expiringConn) SetWriteDeadline(t time.Time) error {
	return c.Conn.SetWriteDeadline(c.capped(t))
}

// Close closes the connection; closed by its user first, it does not
// count as expired.
func (c *expiringConn) Close() error {
	c.once.Do(func() { c.timer.Stop() })
	return c.Conn.Close()
}

// SessionStats counts what happened to the handed-off connections of one
// broker's INBOUND halves (tests and diagnostics; design §3.3).
type SessionStats struct {
	// Sessions: control sessions accepted.
	Sessions int64
	// Replaced: control sessions replaced by a newer session of the same
	// link before their SASL session lifetime ended (the SOURCE half
	// renewing at 90% of it, or reconnecting).
	Replaced int64
	// ControlExpired and DataExpired: control sessions and data
	// connections closed because their SASL session lifetime ended.
	ControlExpired int64
	DataExpired    int64
	// HandedOff: connections taken (control and data); Bounded: those of
	// them that had a SASL session lifetime and are bounded by it (all of
	// them, when the listener sets connections.max.reauth.ms).
	HandedOff int64
	Bounded   int64
}

type sessionCounters struct {
	sessions, replaced, controlExpired, dataExpired, handedOff, bounded atomic.Int64
}

// Stats returns the counters (zero for a nil *Sessions).
func (ss *Sessions) Stats() SessionStats {
	if ss == nil {
		return SessionStats{}
	}
	c := &ss.counters
	return SessionStats{Sessions: c.sessions.Load(), Replaced: c.replaced.Load(), ControlExpired: c.controlExpired.Load(),
		DataExpired: c.dataExpired.Load(), HandedOff: c.handedOff.Load(), Bounded: c.bounded.Load()}
}

// ReverseSessionStats are this broker's counters of source-initiated
// links' handed-off connections.
func (m *Manager) ReverseSessionStats() SessionStats { return m.rev.sessions.Stats() }
