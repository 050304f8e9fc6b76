package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// SASL mechanism names, as Kafka spells them in sasl.enabled.mechanisms,
// SaslHandshake and the SCRAM credential APIs.
const (
	MechanismPlain       = "PLAIN"
	MechanismScramSHA256 = "SCRAM-SHA-256"
	MechanismScramSHA512 = "SCRAM-SHA-512"
	MechanismGSSAPI      = "GSSAPI"
	MechanismOAuthBearer = "OAUTHBEARER"
)

// DefaultEnabledMechanisms is Kafka's default for sasl.enabled.mechanisms.
// Tandem does not implement GSSAPI, so a SASL listener left at the default
// fails at startup (NewSASLConfig).
const DefaultEnabledMechanisms = MechanismGSSAPI

// ErrAuthenticationFailed is wrapped by every failed SASL exchange and
// password check (*AuthError carries the details); the broker maps it to
// SASL_AUTHENTICATION_FAILED.
var ErrAuthenticationFailed = errors.New("authentication failed")

// ErrSASLConfig is wrapped by errors of a listener's SASL settings (startup
// errors). Messages never quote sasl.jaas.config values.
var ErrSASLConfig = errors.New("invalid SASL configuration")

// AuthError is a failed authentication. ClientMessage is what the client is
// told (SaslAuthenticate's ErrorMessage); Reason says what went wrong for
// the broker's log. Neither ever contains a password or a SCRAM proof.
type AuthError struct {
	Mechanism     string
	User          string // the user the client claimed, when known
	ClientMessage string
	Reason        string
}

func (e *AuthError) Error() string {
	if e.User != "" {
		return fmt.Sprintf("%s authentication of user '%s' failed: %s", e.Mechanism, e.User, e.Reason)
	}
	return fmt.Sprintf("%s authentication failed: %s", e.Mechanism, e.Reason)
}

func (e *AuthError) Unwrap() error { return ErrAuthenticationFailed }

// invalidCredentials is the failure Kafka reports for a javax SaslException
// (SaslServerAuthenticator.handleSaslToken): the client gets a message that
// does not say whether the user exists; the reason is only logged.
func invalidCredentials(mech, user, reason string) *AuthError {
	return &AuthError{Mechanism: mech, User: user, Reason: reason,
		ClientMessage: "Authentication failed during authentication due to invalid credentials with SASL mechanism " + mech}
}

// refused is a failure Kafka raises as SaslAuthenticationException, whose
// message the client receives as is.
func refused(mech, user, msg string) *AuthError {
	return &AuthError{Mechanism: mech, User: user, Reason: msg, ClientMessage: msg}
}

// SASLServer is the server side of one SASL exchange: a small state
// machine fed with the client's tokens.
type SASLServer interface {
	// Step consumes a client token and returns the token to send back.
	// done is true once the exchange has succeeded; an error (wrapping
	// ErrAuthenticationFailed) ends it.
	Step(token []byte) (challenge []byte, done bool, err error)
	// Principal is the authenticated user, valid once Step reported done.
	Principal() Principal
}

// ListenerSettings reads a listener's settings with Kafka's precedence;
// config.ListenerConfig implements it.
type ListenerSettings interface {
	Get(key string) (string, bool)
	GetForMechanism(mechanism, key string) (string, bool)
}

// ScramCredentials looks up a user's stored SCRAM credential for one
// mechanism (the broker adapts the metadata store).
type ScramCredentials interface {
	ScramCredential(user, mechanism string) (ScramCredential, bool)
}

// SASLConfig is a SASL listener's mechanisms: which are enabled and the
// PLAIN users of its JAAS configuration.
type SASLConfig struct {
	enabled []string
	plain   PlainUsers
}

// NewSASLConfig reads sasl.enabled.mechanisms (Kafka default GSSAPI) and,
// when PLAIN is enabled, the PlainLoginModule JAAS configuration of the
// listener (listener.name.<l>.plain.sasl.jaas.config, then
// listener.name.<l>.sasl.jaas.config, then sasl.jaas.config), whose
// user_<name>="<password>" options are the PLAIN users, as Kafka's
// PlainServerCallbackHandler reads them. Mechanisms Tandem does not
// implement are refused, so a listener never offers what it cannot do.
func NewSASLConfig(s ListenerSettings) (*SASLConfig, error) {
	v, ok := s.Get("sasl.enabled.mechanisms")
	if !ok {
		v = DefaultEnabledMechanisms
	}
	c := &SASLConfig{}
	for _, m := range strings.Split(v, ",") {
		m = strings.TrimSpace(m)
		if m == "" || slices.Contains(c.enabled, m) {
			continue
		}
		switch m {
		case MechanismPlain, MechanismScramSHA256, MechanismScramSHA512:
			c.enabled = append(c.enabled, m)
		case MechanismGSSAPI, MechanismOAuthBearer:
			return nil, fmt.Errorf("%w: sasl.enabled.mechanisms: %s is not supported by Tandem (supported: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)%s",
				ErrSASLConfig, m, defaultHint(ok))
		default:
			return nil, fmt.Errorf("%w: sasl.enabled.mechanisms: unknown SASL mechanism %q (supported: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)", ErrSASLConfig, m)
		}
	}
	if len(c.enabled) == 0 {
		return nil, fmt.Errorf("%w: sasl.enabled.mechanisms is empty; enable at least one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512", ErrSASLConfig)
	}
	if slices.Contains(c.enabled, MechanismPlain) {
		jaas, ok := s.GetForMechanism(MechanismPlain, "sasl.jaas.config")
		if !ok {
			return nil, fmt.Errorf("%w: PLAIN is enabled but no sasl.jaas.config with %s is set for the listener "+
				"(listener.name.<listener>.plain.sasl.jaas.config)", ErrSASLConfig, PlainLoginModule)
		}
		users, err := ParsePlainUsers(jaas)
		if err != nil {
			return nil, err
		}
		c.plain = users
	}
	return c, nil
}

func defaultHint(explicit bool) string {
	if explicit {
		return ""
	}
	return "; it is Kafka's default: set sasl.enabled.mechanisms for SASL listeners"
}

// Enabled lists the enabled mechanisms in configuration order (what
// SaslHandshake answers).
func (c *SASLConfig) Enabled() []string { return slices.Clone(c.enabled) }

// IsEnabled reports whether mechanism is enabled.
func (c *SASLConfig) IsEnabled(mechanism string) bool { return slices.Contains(c.enabled, mechanism) }

// PlainUsers returns the PLAIN users of the listener (nil without PLAIN).
func (c *SASLConfig) PlainUsers() PlainUsers { return c.plain }

// NewServer starts an exchange for an enabled mechanism.
func (c *SASLConfig) NewServer(mechanism string, scram ScramCredentials) (SASLServer, error) {
	if !c.IsEnabled(mechanism) {
		return nil, fmt.Errorf("SASL mechanism %s is not enabled", mechanism)
	}
	switch mechanism {
	case MechanismPlain:
		return &plainServer{users: c.plain}, nil
	default:
		return newScramServer(mechanism, scram)
	}
}
