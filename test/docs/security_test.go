package docs

import (
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/config"
)

// TestRESTSecurityKeysDocumented: every key of the HTTP API's security
// (http.authentication.method, http.ssl.*) is in docs/security.md's REST
// API section.
func TestRESTSecurityKeysDocumented(t *testing.T) {
	doc := section(t, readDoc(t, "docs/security.md"), "## REST API")
	n := 0
	for _, k := range config.BrokerDefs().Names() {
		if k != "http.authentication.method" && !strings.HasPrefix(k, "http.ssl.") {
			continue
		}
		n++
		if !strings.Contains(doc, "`"+k+"`") {
			t.Errorf("docs/security.md (REST API) does not document %s", k)
		}
	}
	if n < 10 {
		t.Fatalf("only %d http security keys found in the registry", n)
	}
}

// TestEverySecurityKeyIndexed: every broker key of listeners, TLS, SASL,
// authorization and secrets is in docs/security.md's key index (issue
// #10: "docs/security.md for operators: every key").
func TestEverySecurityKeyIndexed(t *testing.T) {
	doc := section(t, readDoc(t, "docs/security.md"), "## Every security key")
	explicit := map[string]bool{
		"listeners": true, "advertised.listeners": true, "listener.security.protocol.map": true,
		"inter.broker.listener.name": true, "security.inter.broker.protocol": true,
		"connections.max.reauth.ms": true, "connection.failed.authentication.delay.ms": true,
		"connections.authentication.timeout.ms": true, "authorizer.class.name": true,
		"super.users": true, "allow.everyone.if.no.acl.found": true,
		"http.listeners": true, "http.authentication.method": true,
	}
	n := 0
	for _, k := range config.BrokerDefs().Names() {
		switch {
		case strings.HasPrefix(k, "http.ssl."):
			k = "http.ssl.*"
		case explicit[k], strings.HasPrefix(k, "ssl."), strings.HasPrefix(k, "sasl."), strings.HasPrefix(k, "password.encoder."):
		default:
			continue
		}
		n++
		if !strings.Contains(doc, "`"+k+"`") {
			t.Errorf("docs/security.md (Every security key) does not list %s", k)
		}
	}
	if n < 30 {
		t.Fatalf("only %d security keys found in the registry", n)
	}
}
