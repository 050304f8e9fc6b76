package link

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/usererr"
)

// ErrAuthentication classifies a source that refused the link's
// credentials (SASL) or whose TLS handshake failed: Kafka's
// AuthenticationException (SaslAuthenticationException,
// SslAuthenticationException), Confluent's AUTHENTICATION_ERROR.
var ErrAuthentication = errors.New("authentication with the source cluster failed")

// security is how a link reaches its source, from security.protocol,
// sasl.* and ssl.* (Kafka's client configs and meanings).
type security struct {
	protocol string         // PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
	sasl     sasl.Mechanism // nil without SASL
	tls      *tls.Config    // nil without TLS
	user     string         // the SASL user, for errors (never the password)
	mech     string         // the SASL mechanism's name
}

// parseSecurity reads and checks the security configs. Its errors name the
// key and never quote a sensitive value: sasl.jaas.config holds a password.
// As in Kafka, sasl.* keys are only used with a SASL protocol and ssl.* keys
// only with SSL or SASL_SSL; otherwise they are ignored.
func parseSecurity(configs map[string]string) (security, error) {
	s := security{protocol: strings.ToUpper(strings.TrimSpace(Value(configs, "security.protocol")))}
	switch s.protocol {
	case "PLAINTEXT":
		return s, nil
	case "SSL", "SASL_PLAINTEXT", "SASL_SSL":
	default:
		return s, usererr.New(ErrInvalidConfig, "invalid cluster link config security.protocol=%q: want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", s.protocol)
	}
	if s.protocol == "SSL" || s.protocol == "SASL_SSL" {
		c, err := tlsClientConfig(configs)
		if err != nil {
			return s, err
		}
		s.tls = c
	}
	if strings.HasPrefix(s.protocol, "SASL_") {
		if err := s.parseSASL(configs); err != nil {
			return s, err
		}
	}
	return s, nil
}

// parseSASL builds the SASL mechanism from sasl.mechanism and the login
// module of sasl.jaas.config (Kafka's client: PlainLoginModule for PLAIN,
// ScramLoginModule for SCRAM-SHA-256/512, each with username and
// password; ScramLoginModule's tokenauth=true for delegation tokens).
func (s *security) parseSASL(configs map[string]string) error {
	s.mech = strings.ToUpper(strings.TrimSpace(Value(configs, "sasl.mechanism")))
	var module string
	switch s.mech {
	case "PLAIN":
		module = auth.PlainLoginModule
	case "SCRAM-SHA-256", "SCRAM-SHA-512":
		module = auth.ScramLoginModule
	case "GSSAPI", "OAUTHBEARER":
		hint := ""
		if _, set := configs["sasl.mechanism"]; !set {
			hint = " (GSSAPI is Kafka's default; set sasl.mechanism)"
		}
		return usererr.New(ErrNotSupported, "cluster link config sasl.mechanism=%s is not supported by Tandem yet%s: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 with security.protocol=%s",
			s.mech, hint, s.protocol)
	default:
		return usererr.New(ErrInvalidConfig, "invalid cluster link config sasl.mechanism=%q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.mech)
	}
	jaas, ok := configs["sasl.jaas.config"]
	if !ok || strings.TrimSpace(jaas) == "" {
		return usererr.New(ErrInvalidConfig, "cluster link config sasl.jaas.config is required with security.protocol=%s and sasl.mechanism=%s: %s required username=\"...\" password=\"...\";",
			s.protocol, s.mech, module)
	}
	e, err := auth.ParseJAAS(jaas)
	if err != nil {
		// ParseJAAS never quotes option values.
		return usererr.New(errors.Join(ErrInvalidConfig, err), "invalid cluster link config sasl.jaas.config: %v", err)
	}
	if e.LoginModule != module {
		return usererr.New(ErrInvalidConfig, "invalid cluster link config sasl.jaas.config: sasl.mechanism=%s needs login module %s, not %s",
			s.mech, module, e.LoginModule)
	}
	user, pass := e.Options["username"], e.Options["password"]
	for _, o := range []struct{ name, v string }{{"username", user}, {"password", pass}} {
		if o.v == "" {
			return usererr.New(ErrInvalidConfig, "invalid cluster link config sasl.jaas.config: login module %s needs the option %s", module, o.name)
		}
	}
	s.user = user
	switch s.mech {
	case "PLAIN":
		s.sasl = plain.Auth{User: user, Pass: pass}.AsMechanism()
	case "SCRAM-SHA-256", "SCRAM-SHA-512":
		a := scram.Auth{User: user, Pass: pass, IsToken: strings.EqualFold(e.Options["tokenauth"], "true")}
		if s.mech == "SCRAM-SHA-256" {
			s.sasl = a.AsSha256Mechanism()
		} else {
			s.sasl = a.AsSha512Mechanism()
		}
	}
	return nil
}

// opts are the franz-go options of s (the TLS config goes to the dialer).
func (s security) opts() []kgo.Opt {
	if s.sasl == nil {
		return nil
	}
	return []kgo.Opt{kgo.SASL(s.sasl)}
}

// errTLSHandshake marks a failed TLS handshake with a source broker
// (Kafka's SslAuthenticationException).
type errTLSHandshake struct {
	addr string
	err  error
}

func (e *errTLSHandshake) Error() string {
	return fmt.Sprintf("TLS handshake with source broker %s failed: %v", e.addr, e.err)
}
func (e *errTLSHandshake) Unwrap() error { return e.err }

// authWatch notes, for error messages, when a source broker ended a
// connection in the middle of SASL authentication. Brokers answer a
// failed SaslAuthenticate with SASL_AUTHENTICATION_FAILED (KIP-152) and
// franz-go reports that error; some (Kafka before 1.0, franz-go's kfake)
// close the connection instead, which franz-go reports as a bare EOF. Java
// clients then say "Connection to node terminated during authentication.
// This may happen due to ... authentication failed due to invalid
// credentials"; the link says the same instead of "EOF". It is a kgo hook.
type authWatch struct {
	mu       sync.Mutex
	failedAt time.Time // last SASL request whose response never came
	failedOn string    // that broker's address
	okAt     time.Time // last ordinary request answered
}

var _ kgo.HookBrokerRead = (*authWatch)(nil)

func (w *authWatch) OnBrokerRead(meta kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case key == int16(kmsg.SASLAuthenticate) || key == int16(kmsg.SASLHandshake):
		if err != nil && !errors.Is(err, context.Canceled) {
			w.failedAt, w.failedOn = now, fmt.Sprintf("%s:%d", meta.Host, meta.Port)
		}
	case err == nil && key != int16(kmsg.ApiVersions):
		w.okAt = now
	}
}

// cutOff reports the broker that last closed a connection during SASL
// authentication, if no request succeeded since.
func (w *authWatch) cutOff() (string, bool) {
	if w == nil {
		return "", false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failedOn, !w.failedAt.IsZero() && w.failedAt.After(w.okAt)
}

// authFailure says whether err is the source refusing the link's
// credentials or certificate, and if so returns an error saying so
// (ErrAuthentication, wrapping err) for the link's error message.
func authFailure(err error, sec security, w *authWatch) (error, bool) {
	if err == nil {
		return nil, false
	}
	who := ""
	if sec.sasl != nil {
		who = fmt.Sprintf(" (SASL %s as user '%s')", sec.mech, sec.user)
	}
	switch {
	case errors.Is(err, kerr.UnsupportedSaslMechanism):
		return usererr.New(ErrAuthentication, "authentication failed: the source cluster does not enable sasl.mechanism=%s on the listener the link reaches: %w; use one of its mechanisms (its sasl.enabled.mechanisms)", sec.mech, err), true
	case errors.Is(err, kerr.SaslAuthenticationFailed), errors.Is(err, kerr.IllegalSaslState):
		return usererr.New(ErrAuthentication, "authentication failed%s: the source cluster refused the link's credentials: %w; check sasl.jaas.config and sasl.mechanism", who, err), true
	}
	if te, ok := errors.AsType[*errTLSHandshake](err); ok {
		return usererr.New(ErrAuthentication, "authentication failed: %w; check the link's ssl.* configs (truststore, keystore, ssl.endpoint.identification.algorithm)", te), true
	}
	if addr, ok := w.cutOff(); ok && sec.sasl != nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
		return usererr.New(ErrAuthentication, "authentication failed%s: source broker %s closed the connection during SASL authentication (the credentials are probably wrong): %w; check sasl.jaas.config and sasl.mechanism",
			who, addr, err), true
	}
	return nil, false
}

// authError reports the link's authentication failure, if its last
// availability check found one.
func (rt *runtime) authError() (string, bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.errMsg, rt.errCode == "AUTHENTICATION_ERROR"
}
