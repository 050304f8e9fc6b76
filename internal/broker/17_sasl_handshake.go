package broker

// SaslHandshake: v0-1
//
// Behaviour (KIP-43, KIP-152; Kafka's SaslServerAuthenticator):
//   - On a SASL_PLAINTEXT / SASL_SSL listener, picks the mechanism of the
//     exchange; SupportedMechanisms lists the listener's
//     sasl.enabled.mechanisms (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512).
//   - A mechanism that is not enabled: UNSUPPORTED_SASL_MECHANISM, then the
//     connection is closed (the authentication failed; held back
//     connection.failed.authentication.delay.ms as in Kafka, KIP-306).
//   - A second handshake before the exchange finished closes the connection
//     (the gate in sasl.go refuses it as out of order).
//   - On an authenticated connection, a v1 handshake starts a
//     re-authentication (KIP-368) when the session was established with
//     SaslAuthenticate v1+; otherwise ILLEGAL_SASL_STATE, as Kafka's
//     KafkaApis answers a handshake it does not expect.
//   - On PLAINTEXT and SSL listeners: ILLEGAL_SASL_STATE.
//
// Version notes:
//   - v0: the exchange's tokens follow as raw size-prefixed frames without
//     Kafka headers (the server reads them: internal/server/preauth.go).
//   - v1: the tokens follow in SaslAuthenticate requests.

import (
	"log/slog"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.SASLHandshake, 0, 1, (*Broker).handleSaslHandshake) }

func (b *Broker) handleSaslHandshake(r *Request) Reply {
	req := r.Req.(*kmsg.SASLHandshakeRequest)
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	c := r.Conn
	if !c.IsSASL() {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		return now(resp)
	}
	cfg, err := b.sasl.get(c.Security)
	if err != nil {
		b.rlog.Warn("SASL listener misconfigured", "listener", c.Listener, "err", err)
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		return Reply{Resp: resp, Close: true}
	}
	resp.SupportedMechanisms = cfg.Enabled()
	reauth := c.Authenticated()
	if reauth && (req.Version < 1 || c.sasl.authVersion < 1 || c.sasl.server != nil) {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		return now(resp)
	}
	if !cfg.IsEnabled(req.Mechanism) {
		b.metrics.Authentication(c.Listener, metricMechanism(req.Mechanism), false)
		b.rlog.LogKey("sasl-unsupported-mechanism", slog.LevelInfo, "failed authentication: SASL mechanism not enabled", "listener", c.Listener,
			"remote", c.Remote, "mechanism", req.Mechanism)
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		// A failed re-authentication closes the connection too.
		return b.authFailed(r, resp)
	}
	srv, err := cfg.NewServer(req.Mechanism, scramStore{b.store})
	if err != nil {
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		return Reply{Resp: resp, Close: true}
	}
	c.sasl.server, c.sasl.mechanism = srv, req.Mechanism
	c.sasl.raw = req.Version == 0
	return now(resp)
}
