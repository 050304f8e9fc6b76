package node

// Security of the HTTP API (docs/security.md, REST API): https
// http.listeners with the http.ssl.* keys, http.authentication.method, and
// the broker's authorizer and ACL store behind REST.

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/tandem-streaming/tandem/internal/acl"
	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/config"
	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/rest"
	"github.com/tandem-streaming/tandem/internal/tlsconf"
)

// httpTLS is the server side of https http.listeners; *tlsconf.Server is
// one (certificates re-read when their files change).
type httpTLS interface {
	TLSConfig() *tls.Config
	Principal(cs *tls.ConnectionState) (auth.Principal, error)
	Close()
}

var _ httpTLS = (*tlsconf.Server)(nil)

// security sets up TLS for the https listeners and the authentication of
// every request, refusing combinations that cannot work.
func (h *httpServer) security(n *Node, listeners []config.Listener, logger *slog.Logger) (rest.Security, error) {
	cfg := n.Config
	sec := rest.Security{Method: cfg.HTTPAuthenticationMethod}
	var plain []string
	for _, l := range listeners {
		if l.Name != "HTTPS" {
			plain = append(plain, "http://"+l.Addr())
		}
	}
	if len(plain) < len(listeners) {
		get := func(k string) (string, bool) {
			v, ok := cfg.HTTPSSL[k]
			return v, ok
		}
		t, err := tlsconf.NewServer(get, logger)
		if err != nil {
			return sec, fmt.Errorf("http.listeners: https: %w (for the HTTP API, these are the http.ssl.* keys)", err)
		}
		h.tls = t
	} else if len(cfg.HTTPSSL) > 0 {
		logger.Warn("the http.ssl.* keys are set but no http.listeners entry is https: they are not used")
	}
	// Counted with the Kafka listeners' authentications, under the
	// listener name HTTP (docs/metrics.md).
	sec.Observe = func(method string, ok bool) { n.metrics.Authentication("HTTP", method, ok) }
	switch sec.Method {
	case rest.AuthBasic:
		sec.Passwords = n.httpPasswords()
		for _, l := range listeners {
			if l.Name != "HTTPS" && !isLoopback(l.Host) {
				logger.Warn("http.authentication.method=BASIC on an http (not https) listener: passwords cross the network in clear",
					"listener", "http://"+l.Addr())
			}
		}
	case rest.AuthMTLS:
		// An http listener may stay (say, on loopback for health probes,
		// which send no certificate): with no certificate to show, its
		// requests get 401 for everything but the probes.
		if h.tls == nil {
			return sec, fmt.Errorf("http.authentication.method=MTLS needs an https http.listeners entry (%s are http)",
				strings.Join(plain, ", "))
		}
		if v := cfg.HTTPSSL["ssl.client.auth"]; !strings.EqualFold(strings.TrimSpace(v), "required") {
			return sec, fmt.Errorf("http.authentication.method=MTLS needs http.ssl.client.auth=required (it is %q)", v)
		}
		sec.Certs = h.tls
	}
	return sec, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// httpAuthorizer is the broker's authorizer (authorizer.class.name), which
// REST asks too; nil when authorization is off.
func (n *Node) httpAuthorizer() acl.Authorizer { return n.Authorizer() }

// httpPasswords checks BASIC credentials against the SASL users: the SCRAM
// credentials and the PLAIN users of the SASL listeners (node/sasl.go).
func (n *Node) httpPasswords() rest.PasswordChecker {
	return auth.NewPasswordChecker(n.broker.ScramCredentials(), plainUsers(n.Config))
}

// httpACLs serves /acls from the metadata store when an authorizer is set
// (as Kafka's DescribeAcls answers SECURITY_DISABLED without one).
func (n *Node) httpACLs() rest.ACLBackend {
	if n.httpAuthorizer() == nil {
		return nil
	}
	return aclStore{n.store}
}

// aclStore adapts the metadata store's ACLs to rest.ACLBackend.
type aclStore struct{ s metadata.Store }

func (a aclStore) ACLs() []acl.Binding { return a.s.ACLs() }

func (a aclStore) CreateACLs(_ context.Context, bs []acl.Binding) error { return a.s.CreateACLs(bs) }

func (a aclStore) DeleteACLs(_ context.Context, f acl.Filter) ([]acl.Binding, error) {
	deleted, err := a.s.DeleteACLs([]acl.Filter{f})
	if err != nil || len(deleted) == 0 {
		return nil, err
	}
	return deleted[0], nil
}
