package server

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/tandem-streaming/tandem/internal/config"
)

// defaultAuthenticationTimeout is connections.authentication.timeout.ms'
// default.
const defaultAuthenticationTimeout = 30 * time.Second

// handshakeTimeout is the listener's connections.authentication.timeout.ms
// (Tandem-only): it bounds the whole authentication from the accept, TLS
// handshake and SASL (preauth.go's timer).
func handshakeTimeout(lc *config.ListenerConfig) time.Duration {
	ms := listenerInt(lc, "connections.authentication.timeout.ms", int64(defaultAuthenticationTimeout/time.Millisecond))
	return time.Duration(ms) * time.Millisecond
}

// reasonTLSHandshake labels a connection closed by a failed TLS handshake
// in logs.
const reasonTLSHandshake = "tls_handshake"

// wrapTLS makes nc the server side of a TLS connection on an SSL or
// SASL_SSL listener. The handshake itself runs later, on the connection's
// own goroutine (handshake), so a slow or silent client never holds up the
// accept loop.
func wrapTLS(nc net.Conn, ts TLSServer) net.Conn {
	return tls.Server(nc, ts.TLSConfig())
}

// handshake completes the TLS handshake of an SSL or SASL_SSL connection
// and records its state on the
// connection; on an SSL listener the client certificate also gives the
// connection its principal (Kafka's SslAuthenticator with
// ssl.principal.mapping.rules; ANONYMOUS without a certificate). SASL_SSL
// principals come from SaslAuthenticate. It reports false, after one
// rate-limited log line, when the connection must be closed: as Kafka's
// SslTransportLayer, a failed handshake ends the connection and nothing
// else (the client sees the TLS alert, e.g. bad_certificate).
func (c *conn) handshake() bool {
	if c.tlsServer == nil {
		return true
	}
	tc := c.nc.(*tls.Conn)
	listener := c.info.Listener
	// The handshake is bounded by the pre-authentication timer
	// (preauth.go, connections.authentication.timeout.ms), which closes
	// the connection, logs and counts the timeout.
	if err := tc.HandshakeContext(c.ctx); err != nil {
		if c.s.draining() || c.ctx.Err() != nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
			// Shutdown, the authentication timeout, or a client that
			// left without a word (a port probe, a health check): not
			// an authentication failure.
			return false
		}
		c.s.authFailed(listener)
		c.s.rlog.LogKey(reasonTLSHandshake, slog.LevelInfo, "closing connection: TLS handshake failed",
			"listener", listener, "remote", c.nc.RemoteAddr(), "err", err)
		return false
	}
	st := tc.ConnectionState()
	c.info.TLS = &st
	if c.info.Security != nil && c.info.Security.SecurityProtocol == config.ProtocolSSL {
		p, err := c.tlsServer.Principal(&st)
		if err != nil {
			c.s.authFailed(listener)
			c.s.rlog.LogKey(reasonTLSHandshake, slog.LevelInfo, "closing connection: no principal for the client certificate",
				"listener", listener, "remote", c.nc.RemoteAddr(), "err", err)
			return false
		}
		c.info.Principal = p
		c.s.authSucceeded(listener)
		// Authenticated: an SSL client may now stay idle before its first
		// request as long as connections.max.idle.ms allows, as in Kafka.
		c.preauthDone()
	}
	return true
}

// authSucceeded and authFailed count TLS client authentications
// (mechanism SSL) of listener.
func (s *Server) authSucceeded(listener string) { s.authResult(listener, true) }
func (s *Server) authFailed(listener string)    { s.authResult(listener, false) }

func (s *Server) authResult(listener string, ok bool) {
	s.metrics.Authentication(listener, "SSL", ok)
}
