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
