package broker

// SASL authentication of client connections (KIP-43, KIP-152, KIP-368),
// shared by the SaslHandshake and SaslAuthenticate handlers: the
// per-connection state, the pre-authentication gate HandleDrain applies,
// the per-listener mechanism configuration, and session expiry.
//
// On a SASL_PLAINTEXT or SASL_SSL listener a connection starts
// unauthenticated (zero Principal). Until SaslAuthenticate succeeds only
// ApiVersions, SaslHandshake and SaslAuthenticate are served; any other
// request closes the connection, as Kafka's SaslServerAuthenticator does
// (it throws IllegalSaslStateException and the selector closes the
// channel). Once authenticated, a connection with a session lifetime
// (connections.max.reauth.ms) may re-authenticate with SaslHandshake +
// SaslAuthenticate (same principal and mechanism, KIP-368); after its
// session expired, its next request other than a re-authentication
// closes it, as Kafka's Processor does.

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/config"
	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/wire"
)

// ErrAuthenticationRequired: a request other than ApiVersions,
// SaslHandshake or SaslAuthenticate before a SASL connection
// authenticated, or one out of the order of the exchange; the server
// closes the connection.
var ErrAuthenticationRequired = errors.New("SASL authentication required")

// ErrSessionExpired: a request on a connection whose SASL session
// (connections.max.reauth.ms) has expired without re-authentication; the
// server closes the connection (KIP-368).
var ErrSessionExpired = errors.New("SASL session expired")

// saslState is one connection's SASL progress. Like Conn.Principal it is
// only touched on the connection's request goroutine.
type saslState struct {
	// mechanism and server are the exchange SaslHandshake started and
	// SaslAuthenticate (or raw tokens after a v0 handshake) continues.
	mechanism string
	server    auth.SASLServer
	// raw: the handshake was v0, so the client sends the exchange's
	// tokens as bare size-prefixed frames without Kafka headers.
	raw bool
	// authMechanism and authVersion describe the authenticated session:
	// its mechanism (a re-authentication must keep it) and the
	// SaslAuthenticate version used (re-authentication needs v1+).
	authMechanism string
	authVersion   int16
	// expiry ends the session (connections.max.reauth.ms); zero: never.
	expiry time.Time
}

// IsSASL reports whether the connection is on a SASL_PLAINTEXT or
// SASL_SSL listener.
func (c *Conn) IsSASL() bool {
	return c != nil && c.Security != nil && (c.Security.SecurityProtocol == config.ProtocolSASLPlaintext || c.Security.SecurityProtocol == config.ProtocolSASLSSL)
}

// Authenticated reports whether the connection has a principal: always on
// PLAINTEXT listeners, after the TLS handshake on SSL ones, after
// SaslAuthenticate on SASL ones.
func (c *Conn) Authenticated() bool { return !c.Principal.IsZero() }

// SessionExpiry is when the connection's SASL session ends
// (connections.max.reauth.ms, KIP-368); zero when it never does (no SASL,
// no lifetime). A nil Conn (tests) has none.
func (c *Conn) SessionExpiry() time.Time {
	if c == nil {
		return time.Time{}
	}
	return c.sasl.expiry
}

// RawSASL reports whether the next frame is a raw SASL token (after a
// SaslHandshake v0) rather than a Kafka request.
func (c *Conn) RawSASL() bool { return c.sasl.raw }

// gate refuses a request a SASL connection may not send in its state; the
// error closes the connection.
func (b *Broker) gate(c *Conn, key int16) error {
	if !c.IsSASL() {
		return nil
	}
	k := kmsg.Key(key)
	if !c.Authenticated() {
		switch {
		case c.sasl.server != nil && k != kmsg.SASLAuthenticate:
			return fmt.Errorf("%w: unexpected %s request during SASL authentication on listener %s", ErrAuthenticationRequired, kmsg.NameForKey(key), c.Listener)
		case c.sasl.server == nil && k == kmsg.SASLAuthenticate:
			return fmt.Errorf("%w: SaslAuthenticate before SaslHandshake on listener %s", ErrAuthenticationRequired, c.Listener)
		case k == kmsg.ApiVersions, k == kmsg.SASLHandshake, k == kmsg.SASLAuthenticate:
			return nil
		}
		return fmt.Errorf("%w: %s request before authentication on listener %s", ErrAuthenticationRequired, wire.NameForKey(key), c.Listener)
	}
	if !c.sasl.expiry.IsZero() && !b.now().Before(c.sasl.expiry) {
		if k == kmsg.SASLHandshake || k == kmsg.SASLAuthenticate && c.sasl.server != nil {
			return nil // re-authenticating
		}
		return fmt.Errorf("%w: the session of %s on listener %s expired; the client did not re-authenticate", ErrSessionExpired, c.Principal, c.Listener)
	}
	return nil
}

// saslConfigs caches each listener's mechanisms, parsed on first use (the
// node validates them at startup with auth.NewSASLConfig). A listener's
// configuration never changes, and each has one *ListenerConfig.
type saslConfigs struct {
	mu sync.Mutex
	m  map[*config.ListenerConfig]*auth.SASLConfig
}

func (s *saslConfigs) get(lc *config.ListenerConfig) (*auth.SASLConfig, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.m[lc]; ok {
		return c, nil
	}
	c, err := auth.NewSASLConfig(lc)
	if err != nil {
		return nil, err
	}
	if s.m == nil {
		s.m = map[*config.ListenerConfig]*auth.SASLConfig{}
	}
	s.m[lc] = c
	return c, nil
}

// scramStore adapts the metadata store to the SCRAM mechanisms.
type scramStore struct{ store metadata.Store }

func (s scramStore) ScramCredential(user, mechanism string) (auth.ScramCredential, bool) {
	c, ok := s.store.ScramCredential(user, mechanism)
	return auth.ScramCredential{Salt: c.Salt, StoredKey: c.StoredKey, ServerKey: c.ServerKey, Iterations: c.Iterations}, ok
}

// ScramCredentials is the broker's SCRAM credential store, for
// auth.NewPasswordChecker (HTTP BASIC).
func (b *Broker) ScramCredentials() auth.ScramCredentials { return scramStore{b.store} }

// reauthMs is connections.max.reauth.ms for mechanism on c's listener
// (Kafka reads it per listener and mechanism: listener.name.<l>.<mech>.).
func reauthMs(c *Conn, mechanism string) int64 {
	v, ok := c.Security.GetForMechanism(mechanism, "connections.max.reauth.ms")
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// metricMechanism keeps the mechanism label to the names Tandem knows: a
// client chooses what it asks for.
func metricMechanism(m string) string {
	switch m {
	case auth.MechanismPlain, auth.MechanismScramSHA256, auth.MechanismScramSHA512, auth.MechanismGSSAPI, auth.MechanismOAuthBearer:
		return m
	}
	return "unknown"
}

// saslStep feeds a client token to the connection's exchange. On success
// it completes the session: principal, mechanism, lifetime (returned, in
// ms, 0 for none). A failure ends the exchange; the caller answers and
// closes the connection.
func (b *Broker) saslStep(c *Conn, token []byte, version int16) (challenge []byte, lifetimeMs int64, err error) {
	st := &c.sasl
	mech := st.mechanism
	reauth := c.Authenticated()
	challenge, done, err := st.server.Step(token)
	if err == nil && done && reauth {
		p := st.server.Principal()
		switch {
		case mech != st.authMechanism:
			err = &auth.AuthError{Mechanism: mech, User: p.Name, Reason: "re-authentication changed the mechanism",
				ClientMessage: fmt.Sprintf("SASL mechanism '%s' requested by client is not supported for re-authentication of mechanism '%s'", mech, st.authMechanism)}
		case p != c.Principal:
			err = &auth.AuthError{Mechanism: mech, User: p.Name, Reason: "re-authentication changed the principal",
				ClientMessage: fmt.Sprintf("Cannot change principals during re-authentication from %s: %s", c.Principal, p)}
		}
	}
	if err != nil {
		st.server, st.mechanism, st.raw = nil, "", false
		b.metrics.Authentication(c.Listener, mech, false)
		b.rlog.LogKey("sasl-failed-"+mech, slog.LevelInfo, "failed authentication", "listener", c.Listener, "remote", c.Remote, "mechanism", mech, "err", err)
		return nil, 0, err
	}
	if !done {
		return challenge, 0, nil
	}
	c.Principal = st.server.Principal()
	st.server, st.mechanism, st.raw = nil, "", false
	st.authMechanism, st.authVersion = mech, version
	st.expiry = time.Time{}
	if ms := reauthMs(c, mech); ms > 0 {
		lifetimeMs = ms
		st.expiry = b.now().Add(time.Duration(ms) * time.Millisecond)
	}
	b.metrics.Authentication(c.Listener, mech, true)
	return challenge, lifetimeMs, nil
}

// authFailed answers a failed authentication and closes the connection,
// after connection.failed.authentication.delay.ms (KIP-306: Kafka holds
// the answer back so that guessing passwords is slow). The wait runs in
// the connection's writer; only a graceful shutdown cuts it short.
func (b *Broker) authFailed(r *Request, resp kmsg.Response) Reply {
	d := b.FailedAuthenticationDelay()
	if d <= 0 {
		return Reply{Resp: resp, Close: true}
	}
	drain := r.Drain
	return Reply{Close: true, Wait: func() kmsg.Response {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-drain:
		}
		return resp
	}}
}

// FailedAuthenticationDelay is connection.failed.authentication.delay.ms.
func (b *Broker) FailedAuthenticationDelay() time.Duration {
	return time.Duration(b.static.ConnectionFailedAuthenticationDelayMs) * time.Millisecond
}

// HandleRawSASL handles one raw SASL token frame (after a SaslHandshake
// v0, Kafka's pre-KIP-152 framing): it returns the token to send back,
// size-prefixed, without a Kafka header. An error means the exchange
// failed: Kafka has no way to tell the client in this framing and closes
// the connection (after FailedAuthenticationDelay).
func (b *Broker) HandleRawSASL(c *Conn, token []byte) ([]byte, error) {
	if c.sasl.server == nil {
		return nil, fmt.Errorf("%w: raw SASL token without an exchange", ErrAuthenticationRequired)
	}
	challenge, _, err := b.saslStep(c, token, 0)
	if err != nil {
		return nil, err
	}
	if challenge == nil {
		challenge = []byte{}
	}
	return challenge, nil
}
