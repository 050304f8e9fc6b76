package node

import (
	"testing"

	"github.com/tandem-streaming/tandem/internal/config"
)

// As Kafka: on SASL_SSL listeners only the listener-prefixed
// ssl.client.auth counts; on SSL listeners the broker-wide one applies.
func TestListenerSSLGetterClientAuth(t *testing.T) {
	props := map[string]string{"ssl.client.auth": "required", "ssl.keystore.location": "/k", "listener.name.b.ssl.client.auth": "requested"}
	get := func(name, proto, key string) (string, bool) {
		return listenerSSLGetter(config.NewListenerConfig(config.Listener{Name: name}, proto, props))(key)
	}
	if v, ok := get("A", "SASL_SSL", "ssl.client.auth"); ok {
		t.Errorf("SASL_SSL listener sees the broker-wide ssl.client.auth=%s", v)
	}
	if v, _ := get("B", "SASL_SSL", "ssl.client.auth"); v != "requested" {
		t.Errorf("SASL_SSL listener's own ssl.client.auth = %q", v)
	}
	if v, _ := get("A", "SSL", "ssl.client.auth"); v != "required" {
		t.Errorf("SSL listener's ssl.client.auth = %q", v)
	}
	if v, _ := get("A", "SASL_SSL", "ssl.keystore.location"); v != "/k" {
		t.Errorf("SASL_SSL listener's keystore = %q", v)
	}
}
