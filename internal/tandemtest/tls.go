package tandemtest

import (
	"path/filepath"
	"testing"

	"github.com/tandem-streaming/tandem/internal/tlsconf/tlstest"
)

// TLS returns the configs of a broker whose SSL and SASL_SSL listeners
// present a certificate from ca for the loopback addresses and trust ca for
// client certificates, with ssl.client.auth=clientAuth (PEM files in a
// temporary directory).
func TLS(t testing.TB, ca *tlstest.CA, clientAuth string) []Opt {
	t.Helper()
	dir := t.TempDir()
	return []Opt{
		Config("ssl.keystore.type", "PEM"),
		Config("ssl.keystore.location", ca.Server(t).WriteKeystorePEM(t, filepath.Join(dir, "broker.pem"), "")),
		Config("ssl.truststore.type", "PEM"),
		Config("ssl.truststore.location", ca.WriteTruststorePEM(t, filepath.Join(dir, "ca.pem"))),
		Config("ssl.client.auth", clientAuth),
	}
}
