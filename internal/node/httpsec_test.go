package node_test

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/node"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
	"github.com/tandem-streaming/tandem/internal/tlsconf/tlstest"
)

// httpsProps are the keys of an https listener whose certificate ca
// signed, trusting ca for client certificates.
func httpsProps(t *testing.T, ca *tlstest.CA) []tandemtest.Opt {
	dir := t.TempDir()
	return []tandemtest.Opt{
		tandemtest.Config("http.listeners", "https://127.0.0.1:0"),
		tandemtest.Config("http.ssl.keystore.type", "PEM"),
		tandemtest.Config("http.ssl.keystore.location", ca.Server(t).WriteKeystorePEM(t, filepath.Join(dir, "server.pem"), "")),
		tandemtest.Config("http.ssl.truststore.type", "PEM"),
		tandemtest.Config("http.ssl.truststore.location", ca.WriteTruststorePEM(t, filepath.Join(dir, "ca.pem"))),
	}
}

// tlsGet sends GET over a real TLS connection verified against ca, with
// client's certificate when given.
func tlsGet(t *testing.T, ca *tlstest.CA, client *tlstest.Cert, url string) (int, string, error) {
	t.Helper()
	cfg := &tls.Config{RootCAs: ca.Pool()}
	if client != nil {
		cfg.Certificates = []tls.Certificate{client.TLSCertificate()}
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func TestHTTPSListener(t *testing.T) {
	ca := tlstest.NewCA(t)
	b := tandemtest.Start(t, httpsProps(t, ca)...)
	base := "https://" + b.HTTPAddr()
	code, body, err := tlsGet(t, ca, nil, base+"/kafka/v3/clusters")
	if err != nil || code != 200 || !strings.Contains(body, `"self":"`+base+`/kafka/v3/clusters/`) {
		t.Fatalf("GET over TLS: %d %v %s", code, err, body)
	}
	// A client that does not trust the server's CA fails the handshake.
	if _, _, err := tlsGet(t, tlstest.NewCA(t), nil, base+"/livez"); err == nil {
		t.Fatal("a client trusting another CA got an answer")
	}
	// Plain HTTP on the TLS port is refused by net/http.
	resp, err := http.Get("http://" + b.HTTPAddr() + "/livez")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain HTTP on the https listener: %d", resp.StatusCode)
		}
	}
}

func TestHTTPMutualTLS(t *testing.T) {
	ca := tlstest.NewCA(t)
	opts := append(httpsProps(t, ca),
		tandemtest.Config("http.authentication.method", "MTLS"),
		tandemtest.Config("http.ssl.client.auth", "required"))
	b := tandemtest.Start(t, opts...)
	base := "https://" + b.HTTPAddr()

	alice := ca.Client(t, "alice")
	if code, body, err := tlsGet(t, ca, &alice, base+"/kafka/v3/clusters"); err != nil || code != 200 {
		t.Fatalf("trusted client certificate: %d %v %s", code, err, body)
	}
	// A certificate from a CA the server does not trust, and none at all,
	// fail the handshake (ssl.client.auth=required).
	mallory := tlstest.NewCA(t).Client(t, "mallory")
	if code, _, err := tlsGet(t, ca, &mallory, base+"/kafka/v3/clusters"); err == nil {
		t.Fatalf("untrusted client certificate answered %d", code)
	}
	if code, _, err := tlsGet(t, ca, nil, base+"/livez"); err == nil {
		t.Fatalf("no client certificate answered %d", code)
	}
}

// TestHTTPSecurityRefusedAtStart: combinations that cannot work stop the
// broker with a message naming the keys.
func TestHTTPSecurityRefusedAtStart(t *testing.T) {
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	keystore := ca.Server(t).WriteKeystorePEM(t, filepath.Join(dir, "server.pem"), "")
	base := func(extra map[string]string) map[string]string {
		p := map[string]string{"listeners": "PLAINTEXT://127.0.0.1:0", "log.dirs": t.TempDir(),
			"http.ssl.keystore.type": "PEM", "http.ssl.keystore.location": keystore}
		for k, v := range extra {
			p[k] = v
		}
		return p
	}
	for _, c := range []struct {
		props map[string]string
		want  string
	}{
		{base(map[string]string{"http.listeners": "http://127.0.0.1:0", "http.authentication.method": "MTLS"}),
			"needs every http.listeners entry to be https"},
		{base(map[string]string{"http.listeners": "https://127.0.0.1:0", "http.authentication.method": "MTLS"}),
			"needs http.ssl.client.auth=required"},
		{map[string]string{"listeners": "PLAINTEXT://127.0.0.1:0", "log.dirs": t.TempDir(), "http.listeners": "https://127.0.0.1:0"},
			"https"},
	} {
		n, err := node.Start(c.props, slog.New(slog.DiscardHandler))
		if err == nil {
			n.Shutdown(t.Context())
			t.Errorf("%v: started", c.props)
			continue
		}
		t.Logf("refused: %v", err)
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.props, err, c.want)
		}
	}
}
