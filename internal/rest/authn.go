package rest

// Authentication of the HTTP API (http.authentication.method, issue #10).
//
//   - NONE (the default): every request is User:ANONYMOUS, like a
//     connection on a Kafka PLAINTEXT listener.
//   - BASIC: RFC 7617 Basic credentials, checked against the users the
//     Kafka listeners know (SCRAM credentials and PLAIN JAAS users), so one
//     user database serves both; the principal is User:<name>.
//   - MTLS: the verified client certificate of an https listener with
//     http.ssl.client.auth=required, mapped to a principal with
//     http.ssl.principal.mapping.rules as Kafka maps SSL clients. A
//     request on a plain http listener has none: 401.
//
// The health probes (/livez, /readyz, /v1/health) stay open: a load
// balancer or kubelet has no credentials, and they show nothing but UP or
// DOWN. Everything else, /metrics and the console included, answers 401
// without valid credentials.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/tandem-streaming/tandem/internal/acl"
	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/ratelog"
)

// The values of http.authentication.method.
const (
	AuthNone  = "NONE"
	AuthBasic = "BASIC"
	AuthMTLS  = "MTLS"
)

// AuthMethods lists the accepted http.authentication.method values.
var AuthMethods = []string{AuthNone, AuthBasic, AuthMTLS}

// basicRealm is the realm of the Basic challenge (RFC 7617 §2). The
// charset parameter tells clients the credentials are UTF-8.
const basicRealm = `Basic realm="tandem", charset="UTF-8"`

// codeUnauthorized is the error_code of a 401: the HTTP status, as
// Confluent's rest-utils answers an authentication failure.
const codeUnauthorized = http.StatusUnauthorized

// PasswordChecker checks a user's password; auth.PasswordChecker (the SCRAM
// store plus the PLAIN JAAS users) is one. Implementations must not log
// the password.
type PasswordChecker interface {
	CheckPassword(user, password string) bool
}

// CertPrincipal maps a verified TLS client certificate to a principal;
// *tlsconf.Server is one (ssl.principal.mapping.rules).
type CertPrincipal interface {
	Principal(cs *tls.ConnectionState) (auth.Principal, error)
}

// Security is how the HTTP API authenticates requests.
type Security struct {
	Method    string          // AuthNone, AuthBasic or AuthMTLS
	Passwords PasswordChecker // required for BASIC
	Certs     CertPrincipal   // required for MTLS
	// Observe, when set, counts each authentication (BASIC or MTLS; not
	// NONE, and not the open health probes) and whether it succeeded.
	Observe func(method string, ok bool)
}

// healthPaths are answered without credentials.
var healthPaths = map[string]bool{"/livez": true, "/readyz": true, "/v1/health": true}

type principalKey struct{}

// WithPrincipal returns ctx carrying the principal a request authenticated as.
func WithPrincipal(ctx context.Context, p auth.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal of a request (set by Authenticate);
// ANONYMOUS when there is none.
func PrincipalFrom(ctx context.Context) auth.Principal {
	if p, ok := ctx.Value(principalKey{}).(auth.Principal); ok && !p.IsZero() {
		return p
	}
	return auth.Anonymous
}

// Authenticate wraps the whole HTTP surface: it establishes each request's
// principal (see the file comment) and answers 401 in the Confluent error
// shape when that fails. Failures are logged through logger, which should
// be rate-limited: a client causes one per request. Neither the
// Authorization header nor the password is ever logged.
func Authenticate(next http.Handler, sec Security, logger *ratelog.Logger) (http.Handler, error) {
	switch sec.Method {
	case "", AuthNone:
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), auth.Anonymous)))
		}), nil
	case AuthBasic:
		if sec.Passwords == nil {
			return nil, errors.New("http.authentication.method=BASIC needs the SASL users (SCRAM credentials or PLAIN JAAS users)")
		}
	case AuthMTLS:
		if sec.Certs == nil {
			return nil, errors.New("http.authentication.method=MTLS needs https http.listeners with http.ssl.client.auth=required")
		}
	default:
		return nil, fmt.Errorf("http.authentication.method %q is not one of %s", sec.Method, strings.Join(AuthMethods, ", "))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if healthPaths[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		p, reason := sec.authenticate(r)
		if sec.Observe != nil {
			sec.Observe(sec.Method, reason == "")
		}
		if reason != "" {
			if logger != nil {
				logger.Warn("http: authentication failed", "method", sec.Method, "reason", reason,
					"remote", r.RemoteAddr, "path", truncate(r.URL.Path, 200))
			}
			if sec.Method == AuthBasic {
				w.Header().Set("WWW-Authenticate", basicRealm)
			}
			WriteJSON(w, http.StatusUnauthorized, errorBody{ErrorCode: codeUnauthorized,
				Message: "HTTP 401 Unauthorized: " + reason})
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	}), nil
}

// authenticate returns the request's principal, or a reason (safe to log
// and to show the client) why there is none.
func (sec Security) authenticate(r *http.Request) (auth.Principal, string) {
	switch sec.Method {
	case AuthBasic:
		user, pass, ok := r.BasicAuth()
		if !ok {
			return auth.Principal{}, "credentials are required (HTTP Basic authentication)"
		}
		// The same message for an unknown user and a wrong password, as
		// Kafka's SASL mechanisms answer, so users cannot be probed.
		if user == "" || !sec.Passwords.CheckPassword(user, pass) {
			return auth.Principal{}, "invalid username or password"
		}
		return auth.User(user), ""
	case AuthMTLS:
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			return auth.Principal{}, "a trusted client certificate is required"
		}
		p, err := sec.Certs.Principal(r.TLS)
		if err != nil {
			return auth.Principal{}, "the client certificate maps to no principal"
		}
		return p, ""
	}
	return auth.Anonymous, ""
}

// requestContext is who asks, for the authorizer.
func requestContext(r *http.Request) acl.RequestContext {
	rc := acl.RequestContext{Principal: PrincipalFrom(r.Context())}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		rc.Host = ap.Addr().Unmap()
	}
	return rc
}
