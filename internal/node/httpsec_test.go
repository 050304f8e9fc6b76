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
		tandemtest.Config("http.ssl.client.auth", "required"),
		// The principal is the certificate's subject, as DEFAULT maps it.
		tandemtest.Config("authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer"),
		tandemtest.Config("super.users", "User:CN=ops"))
	b := tandemtest.Start(t, opts...)
	base := "https://" + b.HTTPAddr()
	acls := base + "/kafka/v3/clusters/" + b.Node.ClusterID() + "/acls"

	alice, ops := ca.Client(t, "alice"), ca.Client(t, "ops")
	if code, body, err := tlsGet(t, ca, &alice, base+"/kafka/v3/clusters"); err != nil || code != 200 {
		t.Fatalf("trusted client certificate: %d %v %s", code, err, body)
	}
	if code, body, err := tlsGet(t, ca, &alice, acls); err != nil || code != 403 || !strings.Contains(body, "User:CN=alice is not authorized") {
		t.Fatalf("alice's ACL list: %d %v %s", code, err, body)
	}
	if code, body, err := tlsGet(t, ca, &ops, acls); err != nil || code != 200 {
		t.Fatalf("the super user's ACL list: %d %v %s", code, err, body)
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
			"needs an https http.listeners entry"},
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

// basicGet sends a request with Basic credentials (none when user is "").
func basicGet(t *testing.T, method, url, user, pass, body string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// basicBroker has a SASL_PLAINTEXT listener with PLAIN users admin and
// alice, whose passwords the HTTP API checks with BASIC.
func basicBroker(t *testing.T, extra ...tandemtest.Opt) *tandemtest.Broker {
	opts := append([]tandemtest.Opt{
		tandemtest.Config("listeners", "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0"),
		tandemtest.Config("sasl.enabled.mechanisms", "PLAIN"),
		tandemtest.Config("listener.name.sasl_plaintext.plain.sasl.jaas.config",
			`org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret" user_alice="alice-secret";`),
		tandemtest.Config("http.authentication.method", "BASIC"),
	}, extra...)
	return tandemtest.Start(t, opts...)
}

func TestHTTPBasicAuthentication(t *testing.T) {
	b := basicBroker(t)
	base := "http://" + b.HTTPAddr()
	code, hdr, body := basicGet(t, "GET", base+"/kafka/v3/clusters", "", "", "")
	if code != 401 || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), `Basic realm="tandem"`) || !strings.Contains(body, `"error_code":401`) {
		t.Fatalf("no credentials: %d %v %s", code, hdr, body)
	}
	if code, _, body := basicGet(t, "GET", base+"/kafka/v3/clusters", "alice", "wrong", ""); code != 401 {
		t.Fatalf("wrong password: %d %s", code, body)
	}
	if code, _, body := basicGet(t, "GET", base+"/kafka/v3/clusters", "alice", "alice-secret", ""); code != 200 {
		t.Fatalf("alice: %d %s", code, body)
	}
	for _, p := range []string{"/livez", "/readyz"} {
		if code, _, _ := basicGet(t, "GET", base+p, "", "", ""); code != 200 {
			t.Errorf("%s without credentials: %d", p, code)
		}
	}
	for _, p := range []string{"/metrics", "/", "/console/api/overview"} {
		if code, _, _ := basicGet(t, "GET", base+p, "", "", ""); code != 401 {
			t.Errorf("%s without credentials: %d, want 401", p, code)
		}
	}
	_, _, metrics := basicGet(t, "GET", base+"/metrics", "alice", "alice-secret", "")
	for _, want := range []string{
		`tandem_authentication_total{listener="HTTP",mechanism="BASIC",result="failure"} 5`,
		`tandem_authentication_total{listener="HTTP",mechanism="BASIC",result="success"} 2`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestHTTPAuthorizationAndACLs drives the REST API as curl would, on a
// broker with BASIC and Kafka's StandardAuthorizer: admin (a super user)
// grants alice READ on one topic through /acls, alice then sees and
// describes only that topic, and is refused what her ACL does not cover.
func TestHTTPAuthorizationAndACLs(t *testing.T) {
	b := basicBroker(t,
		tandemtest.Config("authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer"),
		tandemtest.Config("super.users", "User:admin"))
	cp := "http://" + b.HTTPAddr() + "/kafka/v3/clusters/" + b.Node.ClusterID()
	as := func(user, method, path, body string, want int) string {
		t.Helper()
		code, _, got := basicGet(t, method, cp+path, user, user+"-secret", body)
		if code != want {
			t.Fatalf("%s %s as %s: %d, want %d: %s", method, path, user, code, want, got)
		}
		return got
	}
	for _, topic := range []string{"orders", "payroll"} {
		as("admin", "POST", "/topics", `{"topic_name":"`+topic+`","partitions_count":1}`, 201)
	}
	if got := as("admin", "GET", "", "", 200); !strings.Contains(got, `"acls":{"related":"`+cp+`/acls"}`) {
		t.Fatalf("the cluster does not link to its ACLs: %s", got)
	}
	// alice may do nothing yet.
	if got := as("alice", "GET", "/topics", "", 200); strings.Contains(got, "orders") {
		t.Fatalf("alice lists topics without an ACL: %s", got)
	}
	as("alice", "GET", "/topics/orders", "", 403)
	as("alice", "GET", "/acls", "", 403)
	as("alice", "POST", "/acls", `{"resource_type":"TOPIC","resource_name":"payroll","pattern_type":"LITERAL","principal":"User:alice","host":"*","operation":"ALL","permission":"ALLOW"}`, 403)

	as("admin", "POST", "/acls", `{"resource_type":"TOPIC","resource_name":"orders","pattern_type":"LITERAL","principal":"User:alice","host":"*","operation":"READ","permission":"ALLOW"}`, 201)
	got := as("admin", "GET", "/acls?principal=User:alice", "", 200)
	if !strings.Contains(got, `"kind":"KafkaAclList"`) || !strings.Contains(got, `"resource_name":"orders"`) || !strings.Contains(got, `"operation":"READ"`) {
		t.Fatalf("ACL list: %s", got)
	}
	// READ implies DESCRIBE: alice now sees orders, and only orders.
	if got := as("alice", "GET", "/topics", "", 200); !strings.Contains(got, `"topic_name":"orders"`) || strings.Contains(got, "payroll") {
		t.Fatalf("alice's topics: %s", got)
	}
	as("alice", "GET", "/topics/orders/partitions", "", 200)
	as("alice", "GET", "/topics/payroll", "", 403)
	as("alice", "DELETE", "/topics/orders", "", 403)
	as("alice", "GET", "/topics/orders/configs", "", 403) // READ does not imply DESCRIBE_CONFIGS

	got = as("admin", "DELETE", "/acls?resource_type=TOPIC&principal=User:alice", "", 200)
	if !strings.Contains(got, `"data":[{"kind":"KafkaAcl"`) || !strings.Contains(got, `"resource_name":"orders"`) {
		t.Fatalf("delete: %s", got)
	}
	as("alice", "GET", "/topics/orders", "", 403)
	if got := as("admin", "GET", "/acls", "", 200); strings.Contains(got, "User:alice") {
		t.Fatalf("ACLs after the delete: %s", got)
	}
}

// TestHTTPSCertificateReload: a keystore file rewritten in place is served
// from the next handshakes on, without a restart (internal/tlsconf).
func TestHTTPSCertificateReload(t *testing.T) {
	oldCA, newCA := tlstest.NewCA(t), tlstest.NewCA(t)
	keystore := filepath.Join(t.TempDir(), "server.pem")
	oldCA.Server(t).WriteKeystorePEM(t, keystore, "")
	b := tandemtest.Start(t,
		tandemtest.Config("http.listeners", "https://127.0.0.1:0"),
		tandemtest.Config("http.ssl.keystore.type", "PEM"),
		tandemtest.Config("http.ssl.keystore.location", keystore))
	url := "https://" + b.HTTPAddr() + "/livez"
	if code, _, err := tlsGet(t, oldCA, nil, url); err != nil || code != 200 {
		t.Fatalf("before: %d %v", code, err)
	}
	newCA.Server(t).WriteKeystorePEM(t, keystore, "")
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _, err := tlsGet(t, newCA, nil, url)
		if err == nil && code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new certificate is not served: %d %v", code, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestHTTPMutualTLSWithPlainProbeListener: with MTLS, an http listener kept
// for health probes answers them, and 401 to the rest (no certificate).
func TestHTTPMutualTLSWithPlainProbeListener(t *testing.T) {
	ca := tlstest.NewCA(t)
	opts := append(httpsProps(t, ca),
		tandemtest.Config("http.listeners", "http://127.0.0.1:0,https://127.0.0.1:0"),
		tandemtest.Config("http.authentication.method", "MTLS"),
		tandemtest.Config("http.ssl.client.auth", "required"))
	b := tandemtest.Start(t, opts...)
	base := "http://" + b.HTTPAddr() // the first listener: http
	if code, _, body := basicGet(t, "GET", base+"/readyz", "", "", ""); code != 200 {
		t.Fatalf("probe: %d %s", code, body)
	}
	if code, _, body := basicGet(t, "GET", base+"/kafka/v3/clusters", "", "", ""); code != 401 ||
		!strings.Contains(body, "client certificate is required") {
		t.Fatalf("API over http: %d %s", code, body)
	}
}
