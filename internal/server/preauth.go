package server

// Bounds and framing of connections before they authenticate (SASL_PLAINTEXT,
// SASL_SSL, and the TLS handshake of SSL listeners):
//
//   - sasl.server.max.receive.size (Kafka's, default 524288): before a SASL
//     connection authenticated, a frame larger than this closes it, as
//     Kafka's SaslServerAuthenticator does (InvalidReceiveException), so an
//     unauthenticated client cannot make the broker allocate
//     socket.request.max.bytes.
//   - connections.authentication.timeout.ms (Tandem only, default 30000,
//     handshakeTimeout in tls.go, which bounds the TLS handshake too):
//     the whole authentication, from accept to the end of the SASL
//     exchange (TLS handshake included), must finish within it, else the
//     connection is closed. Kafka has no such bound; without it a client
//     could hold a connection slot unauthenticated for as long as it keeps
//     sending ApiVersions.
//   - After a SaslHandshake v0 the client sends the exchange's tokens as
//     bare size-prefixed frames without Kafka headers (Kafka's pre-KIP-152
//     framing, still supported by Kafka and used by Sarama with
//     Net.SASL.Version = SASLHandshakeV0); the reader hands them to the
//     broker (broker.HandleRawSASL) and the writer sends the answers the
//     same way, in order with the other responses.

import (
	"encoding/binary"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/config"
	"github.com/tandem-streaming/tandem/internal/wire"
)

// defaultSASLMaxReceive is sasl.server.max.receive.size's default.
const defaultSASLMaxReceive = 524288

// preauth is a connection's pre-authentication state.
type preauth struct {
	maxReceive int32
	done       atomic.Bool // authenticated once: the bounds no longer apply
	timer      *time.Timer
}

func listenerInt(lc *config.ListenerConfig, key string, def int64) int64 {
	if lc == nil {
		return def
	}
	v, ok := lc.Get(key)
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return def
	}
	return n
}

// startPreauth arms the authentication timeout of a connection that starts
// unauthenticated.
func (c *conn) startPreauth(lc *config.ListenerConfig) {
	if c.info.Authenticated() {
		c.pre.done.Store(true)
		return
	}
	c.pre.maxReceive = int32(min(listenerInt(lc, "sasl.server.max.receive.size", defaultSASLMaxReceive), 1<<31-1))
	timeout := handshakeTimeout(lc)
	c.pre.timer = time.AfterFunc(timeout, func() {
		if c.pre.done.Load() || c.ctx.Err() != nil {
			return // authenticated, or the connection is gone
		}
		c.s.metrics.ConnClosedBy(reasonAuthTimeout)
		c.s.rlog.Info("closing connection: authentication did not finish in time", "remote", c.nc.RemoteAddr(),
			"listener", c.info.Listener, "timeout", timeout)
		c.cancel()
		_ = c.nc.Close()
	})
}

// preauthDone ends the pre-authentication bounds of a connection that has
// authenticated (SASL, or the TLS handshake of an SSL listener).
func (c *conn) preauthDone() {
	c.pre.done.Store(true)
	if c.pre.timer != nil {
		c.pre.timer.Stop()
	}
}

// reasonAuthTimeout is the tandem_connections_closed_by_broker_total
// reason of connections.authentication.timeout.ms.
const reasonAuthTimeout = "authentication_timeout"

// frameLimit is the largest frame the connection may send next; called by
// the reader before each frame, after the previous request was handled, so
// it also notes the end of authentication.
func (c *conn) frameLimit() int32 {
	if c.pre.done.Load() {
		return c.s.maxRequest
	}
	if c.info.Authenticated() {
		c.preauthDone()
		return c.s.maxRequest
	}
	if c.info.IsSASL() {
		return min(c.s.maxRequest, c.pre.maxReceive)
	}
	return c.s.maxRequest
}

// rawToken is the answer to a raw SASL token frame: written size-prefixed,
// without a response header (appendReply).
type rawToken struct {
	*kmsg.SASLAuthenticateResponse
	token []byte
}

// rawSASL handles a raw SASL token frame. It reports false when the
// exchange failed and the connection must close (Kafka cannot tell the
// client in this framing, so it closes).
func (c *conn) rawSASL(frame []byte) bool {
	resp, err := c.s.broker.HandleRawSASL(c.info, frame)
	if err != nil {
		// Kafka delays the close of a failed authentication (KIP-306).
		t := time.NewTimer(c.s.broker.FailedAuthenticationDelay())
		defer t.Stop()
		select {
		case <-t.C:
		case <-c.s.drainCh:
		}
		return false
	}
	// A copy: frame may be a pooled buffer the reader recycles.
	tok := rawToken{SASLAuthenticateResponse: kmsg.NewPtrSASLAuthenticateResponse(), token: append([]byte(nil), resp...)}
	h := wire.Header{Key: int16(kmsg.SASLAuthenticate)}
	c.s.metrics.InFlight(1)
	c.outstanding.Add(1)
	select {
	case c.queue <- pending{h: h, reply: broker.Reply{Resp: tok}, start: time.Now(), size: len(frame) + 4}:
		return true
	case <-c.ctx.Done():
		c.s.metrics.InFlight(-1)
		c.outstanding.Add(-1)
		return false
	}
}

// appendReply encodes a response: a raw SASL token as a bare size-prefixed
// frame, everything else with its Kafka response header.
func appendReply(dst []byte, correlationID int32, resp kmsg.Response) []byte {
	if t, ok := resp.(rawToken); ok {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(t.token)))
		return append(dst, t.token...)
	}
	return wire.AppendResponse(dst, correlationID, resp)
}
