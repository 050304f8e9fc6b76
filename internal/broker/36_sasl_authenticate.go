package broker

// SaslAuthenticate: v0-2
//
// Behaviour (KIP-152, KIP-368; Kafka's SaslServerAuthenticator):
//   - Carries the tokens of the exchange a SaslHandshake v1 started
//     (PLAIN: one round; SCRAM: two). Sent before a handshake it closes the
//     connection (the gate in sasl.go).
//   - A failed exchange answers SASL_AUTHENTICATION_FAILED with Kafka's
//     message (for SCRAM and malformed tokens the generic "Authentication
//     failed during authentication due to invalid credentials with SASL
//     mechanism M", which does not tell whether the user exists; for
//     PLAIN, PlainSaslServer's own messages) and closes the connection,
//     after one rate-limited log line on the broker. The answer is held
//     back connection.failed.authentication.delay.ms (KIP-306).
//   - A re-authentication (KIP-368) must end with the same principal and
//     mechanism, else SASL_AUTHENTICATION_FAILED and close.
//   - Without a SASL exchange in progress on an authenticated or
//     non-SASL connection: ILLEGAL_SASL_STATE, as Kafka's KafkaApis.
//
// Version notes:
//   - v1: SessionLifetimeMs, connections.max.reauth.ms of the listener and
//     mechanism when set (0 otherwise): the client re-authenticates before
//     it ends, or the connection is closed on its next request (KIP-368).
//   - v2: flexible.

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/auth"
)

func init() { register(kmsg.SASLAuthenticate, 0, 2, (*Broker).handleSaslAuthenticate) }

func (b *Broker) handleSaslAuthenticate(r *Request) Reply {
	req := r.Req.(*kmsg.SASLAuthenticateRequest)
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	c := r.Conn
	if !c.IsSASL() || c.sasl.server == nil || c.sasl.raw {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		resp.ErrorMessage = kmsg.StringPtr("Unexpected SaslAuthenticate request: no SASL exchange in progress")
		return Reply{Resp: resp, Close: c.IsSASL() && !c.Authenticated()}
	}
	challenge, lifetime, err := b.saslStep(c, req.SASLAuthBytes, req.Version)
	if err != nil {
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		var ae *auth.AuthError
		if errors.As(err, &ae) {
			resp.ErrorMessage = kmsg.StringPtr(ae.ClientMessage)
		}
		return b.authFailed(r, resp)
	}
	resp.SASLAuthBytes = challenge
	resp.SessionLifetimeMillis = lifetime
	return now(resp)
}
