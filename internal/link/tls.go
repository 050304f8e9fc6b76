package link

import (
	"crypto/tls"
	"errors"

	"github.com/tandem-streaming/tandem/internal/tlsconf"
	"github.com/tandem-streaming/tandem/internal/usererr"
)

// tlsClientConfig builds the TLS config with which the link reaches its
// source (security.protocol SSL or SASL_SSL) from the link's ssl.* configs,
// with Kafka's client semantics (internal/tlsconf): JKS, PKCS12 or PEM
// stores, inline PEM (ssl.truststore.certificates, ssl.keystore.key with
// ssl.keystore.certificate.chain), the system's roots without a
// truststore, and ssl.endpoint.identification.algorithm (https: the
// source's host name is verified; empty: only its chain). Store files are
// read here, so a missing or unreadable one is refused when the link is
// created or altered.
func tlsClientConfig(configs map[string]string) (*tls.Config, error) {
	cfg, err := tlsconf.NewClient(func(key string) (string, bool) {
		if v, ok := configs[key]; ok {
			return v, true
		}
		if d, ok := registry.Lookup(key); ok && d.HasDefault {
			return d.Default, true
		}
		return "", false
	})
	if err != nil {
		// tlsconf's errors name keys and files, never passwords or keys.
		return nil, usererr.New(errors.Join(ErrInvalidConfig, err), "invalid cluster link TLS config: %v", err)
	}
	return cfg, nil
}
