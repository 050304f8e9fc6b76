package tlsconf

import (
	"bytes"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/pem"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/tlsconf/tlstest"
)

const secret = "s3cret-Pw!" // must never appear in an error

// newServer is NewServer that fails the test on error.
func newServer(t *testing.T, m map[string]string) *Server {
	t.Helper()
	s, err := NewServer(props(m), nil)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func newClient(t *testing.T, m map[string]string) *tls.Config {
	t.Helper()
	c, err := NewClient(props(m))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// trustCA is a client config trusting only ca (inline PEM truststore).
func trustCA(t *testing.T, ca *tlstest.CA) *tls.Config {
	return newClient(t, map[string]string{"ssl.truststore.type": "PEM", "ssl.truststore.certificates": string(ca.CertPEM)})
}

func TestServerKeystoreTypes(t *testing.T) {
	ca := tlstest.NewCA(t)
	cert := ca.Server(t)
	dir := t.TempDir()
	cases := map[string]map[string]string{
		"PEM file": {
			"ssl.keystore.type":     "PEM",
			"ssl.keystore.location": cert.WriteKeystorePEM(t, filepath.Join(dir, "ks.pem"), ""),
		},
		"PEM file, encrypted key": {
			"ssl.keystore.type":     "PEM",
			"ssl.keystore.location": cert.WriteKeystorePEM(t, filepath.Join(dir, "ks-enc.pem"), secret),
			"ssl.key.password":      secret,
		},
		"inline PEM": {
			"ssl.keystore.type":              "PEM",
			"ssl.keystore.key":               string(cert.KeyPEM),
			"ssl.keystore.certificate.chain": string(cert.CertPEM),
		},
		"inline PEM on one line, as in a properties file": {
			"ssl.keystore.type":              "PEM",
			"ssl.keystore.key":               oneLine(cert.EncryptedKeyPEM(t, secret)),
			"ssl.keystore.certificate.chain": oneLine(append(append([]byte{}, cert.CertPEM...), ca.CertPEM...)),
			"ssl.key.password":               secret,
		},
		"inline PEM, encrypted key": {
			"ssl.keystore.type":              "PEM",
			"ssl.keystore.key":               string(cert.EncryptedKeyPEM(t, secret)),
			"ssl.keystore.certificate.chain": string(cert.CertPEM),
			"ssl.key.password":               secret,
		},
		"PKCS12": {
			"ssl.keystore.type":     "PKCS12",
			"ssl.keystore.location": cert.WritePKCS12(t, filepath.Join(dir, "ks.p12"), secret),
			"ssl.keystore.password": secret,
		},
		"JKS (default type)": {
			"ssl.keystore.location": cert.WriteJKS(t, filepath.Join(dir, "ks.jks"), secret),
			"ssl.keystore.password": secret,
		},
		"JKS with a key password": {
			"ssl.keystore.type":     "JKS",
			"ssl.keystore.location": cert.WriteJKSKeyPassword(t, filepath.Join(dir, "ks2.jks"), secret, "key-"+secret),
			"ssl.keystore.password": secret,
			"ssl.key.password":      "key-" + secret,
		},
	}
	// The client's trust store is inline PEM on one line too.
	client := newClient(t, map[string]string{"ssl.truststore.type": "PEM", "ssl.truststore.certificates": oneLine(ca.CertPEM)})
	for name, m := range cases {
		t.Run(name, func(t *testing.T) {
			r := handshake(t, newServer(t, m).TLSConfig(), client)
			if err := r.err(); err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if got := r.client.PeerCertificates[0]; !got.Equal(cert.Leaf) {
				t.Fatalf("server presented %s, want the keystore's certificate", got.Subject)
			}
		})
	}
}

func TestTruststoreTypesAndClientKeystores(t *testing.T) {
	ca := tlstest.NewCA(t)
	srvCert := ca.Server(t)
	cli := ca.ClientSubject(t, pkix.Name{CommonName: "alice", OrganizationalUnit: []string{"eng"}, Organization: []string{"Acme"}})
	dir := t.TempDir()
	stores := map[string]struct{ server, client map[string]string }{
		"PEM file": {
			server: map[string]string{"ssl.truststore.type": "PEM", "ssl.truststore.location": ca.WriteTruststorePEM(t, filepath.Join(dir, "ts.pem"))},
			client: map[string]string{"ssl.keystore.type": "PEM", "ssl.keystore.location": cli.WriteKeystorePEM(t, filepath.Join(dir, "cli.pem"), "")},
		},
		"inline PEM": {
			server: map[string]string{"ssl.truststore.type": "PEM", "ssl.truststore.certificates": string(ca.CertPEM)},
			client: map[string]string{"ssl.keystore.type": "PEM", "ssl.keystore.key": string(cli.KeyPEM), "ssl.keystore.certificate.chain": string(cli.CertPEM)},
		},
		"PKCS12": {
			server: map[string]string{"ssl.truststore.type": "PKCS12", "ssl.truststore.location": ca.WriteTruststorePKCS12(t, filepath.Join(dir, "ts.p12"), secret), "ssl.truststore.password": secret},
			client: map[string]string{"ssl.keystore.type": "PKCS12", "ssl.keystore.location": cli.WritePKCS12(t, filepath.Join(dir, "cli.p12"), secret), "ssl.keystore.password": secret},
		},
		"JKS": {
			server: map[string]string{"ssl.truststore.location": ca.WriteTruststoreJKS(t, filepath.Join(dir, "ts.jks"), secret), "ssl.truststore.password": secret},
			client: map[string]string{"ssl.keystore.location": cli.WriteJKS(t, filepath.Join(dir, "cli.jks"), secret), "ssl.keystore.password": secret},
		},
	}
	for name, st := range stores {
		t.Run(name, func(t *testing.T) {
			sm := map[string]string{"ssl.client.auth": "required", "ssl.keystore.type": "PEM", "ssl.keystore.key": string(srvCert.KeyPEM), "ssl.keystore.certificate.chain": string(srvCert.CertPEM)}
			for k, v := range st.server {
				sm[k] = v
			}
			srv := newServer(t, sm)
			// The client trusts the server with the same kind of truststore.
			cm := map[string]string{}
			for k, v := range st.client {
				cm[k] = v
			}
			for k, v := range st.server {
				cm[k] = v
			}
			r := handshake(t, srv.TLSConfig(), newClient(t, cm))
			if err := r.err(); err != nil {
				t.Fatalf("handshake: %v", err)
			}
			p, err := srv.Principal(&r.server)
			if err != nil {
				t.Fatal(err)
			}
			if want := auth.User("CN=alice,OU=eng,O=Acme"); p != want {
				t.Fatalf("principal %v, want %v", p, want)
			}
		})
	}
}

func TestClientAuth(t *testing.T) {
	ca := tlstest.NewCA(t)
	other := tlstest.NewCA(t) // untrusted
	srvCert := ca.Server(t)
	alice := ca.Client(t, "alice")
	withCert := func(c tlstest.Cert) *tls.Config {
		cfg := trustCA(t, ca)
		cfg.Certificates = []tls.Certificate{c.TLSCertificate()}
		return cfg
	}
	cases := []struct {
		name    string
		mode    string
		client  *tls.Config
		want    auth.Principal
		wantErr bool
	}{
		{name: "none, no cert", mode: "none", client: trustCA(t, ca), want: auth.Anonymous},
		{name: "none, cert not asked for", mode: "none", client: withCert(alice), want: auth.Anonymous},
		{name: "default is none", mode: "", client: withCert(alice), want: auth.Anonymous},
		{name: "requested, no cert", mode: "requested", client: trustCA(t, ca), want: auth.Anonymous},
		{name: "requested, cert", mode: "requested", client: withCert(alice), want: auth.User("CN=alice")},
		{name: "requested, untrusted cert", mode: "requested", client: withCert(other.Client(t, "mallory")), wantErr: true},
		{name: "required, cert", mode: "REQUIRED", client: withCert(alice), want: auth.User("CN=alice")},
		{name: "required, no cert", mode: "required", client: trustCA(t, ca), wantErr: true},
		{name: "required, untrusted cert", mode: "required", client: withCert(other.Client(t, "mallory")), wantErr: true},
		{name: "required, expired cert", mode: "required", client: withCert(ca.ExpiredClient(t, "old")), wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := map[string]string{
				"ssl.keystore.type": "PEM", "ssl.keystore.key": string(srvCert.KeyPEM), "ssl.keystore.certificate.chain": string(srvCert.CertPEM),
				"ssl.truststore.type": "PEM", "ssl.truststore.certificates": string(ca.CertPEM),
			}
			if tc.mode != "" {
				m["ssl.client.auth"] = tc.mode
			}
			srv := newServer(t, m)
			r := handshake(t, srv.TLSConfig(), tc.client)
			if tc.wantErr {
				if r.err() == nil || r.serverErr == nil {
					t.Fatalf("handshake succeeded (server err %v), want a refusal", r.serverErr)
				}
				return
			}
			if err := r.err(); err != nil {
				t.Fatalf("handshake: %v", err)
			}
			p, err := srv.Principal(&r.server)
			if err != nil || p != tc.want {
				t.Fatalf("principal %v, %v; want %v", p, err, tc.want)
			}
		})
	}
}

func TestServerRejectsExpiredAndUntrustedServerCerts(t *testing.T) {
	ca := tlstest.NewCA(t)
	other := tlstest.NewCA(t)
	for name, cert := range map[string]tlstest.Cert{"expired": ca.ExpiredServer(t), "untrusted CA": other.Server(t)} {
		t.Run(name, func(t *testing.T) {
			srv := newServer(t, map[string]string{"ssl.keystore.type": "PEM", "ssl.keystore.key": string(cert.KeyPEM), "ssl.keystore.certificate.chain": string(cert.CertPEM)})
			if r := handshake(t, srv.TLSConfig(), trustCA(t, ca)); r.clientErr == nil {
				t.Fatal("client accepted the server certificate")
			}
		})
	}
}

func pemServer(cert tlstest.Cert, extra map[string]string) map[string]string {
	m := map[string]string{"ssl.keystore.type": "PEM", "ssl.keystore.key": string(cert.KeyPEM), "ssl.keystore.certificate.chain": string(cert.CertPEM)}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func trustWith(ca *tlstest.CA, extra map[string]string) map[string]string {
	m := map[string]string{"ssl.truststore.type": "PEM", "ssl.truststore.certificates": string(ca.CertPEM)}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func TestProtocols(t *testing.T) {
	ca := tlstest.NewCA(t)
	cert := ca.Server(t)
	cases := []struct {
		name           string
		server, client map[string]string
		want           uint16 // 0: the handshake fails
	}{
		{"defaults negotiate TLS 1.3", nil, nil, tls.VersionTLS13},
		{"server TLSv1.2 only", map[string]string{"ssl.enabled.protocols": "TLSv1.2"}, nil, tls.VersionTLS12},
		{"server ssl.protocol TLSv1.2 caps", map[string]string{"ssl.protocol": "TLSv1.2"}, nil, tls.VersionTLS12},
		{"ssl.protocol TLS does not cap", map[string]string{"ssl.protocol": "TLS"}, nil, tls.VersionTLS13},
		{"server 1.3 only, client 1.2 only", map[string]string{"ssl.enabled.protocols": "TLSv1.3"}, map[string]string{"ssl.enabled.protocols": "TLSv1.2"}, 0},
		{"client ssl.protocol TLSv1.2, server 1.3 only", map[string]string{"ssl.enabled.protocols": " TLSv1.3 "}, map[string]string{"ssl.protocol": "TLSv1.2"}, 0},
		{"empty list is the default", map[string]string{"ssl.enabled.protocols": ""}, nil, tls.VersionTLS13},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, pemServer(cert, tc.server))
			r := handshake(t, srv.TLSConfig(), newClient(t, trustWith(ca, tc.client)))
			if tc.want == 0 {
				if r.err() == nil {
					t.Fatalf("handshake succeeded with %x", r.client.Version)
				}
				return
			}
			if err := r.err(); err != nil {
				t.Fatal(err)
			}
			if r.client.Version != tc.want {
				t.Fatalf("version %x, want %x", r.client.Version, tc.want)
			}
		})
	}
}

func TestCipherSuites(t *testing.T) {
	ca := tlstest.NewCA(t)
	cert := ca.Server(t) // ECDSA key: ECDHE_ECDSA suites
	const (
		aes128  = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
		chacha  = "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
		all13   = "TLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384,TLS_CHACHA20_POLY1305_SHA256"
		rsaOnly = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
	)
	cases := []struct {
		name           string
		server, client map[string]string
		wantSuite      uint16 // 0: the handshake fails
		wantVersion    uint16
	}{
		{"one TLS 1.2 suite turns TLS 1.3 off", map[string]string{"ssl.cipher.suites": aes128}, nil, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.VersionTLS12},
		{"server and client suites disjoint", map[string]string{"ssl.cipher.suites": aes128}, map[string]string{"ssl.cipher.suites": chacha}, 0, 0},
		{"suites that do not fit the key", map[string]string{"ssl.cipher.suites": rsaOnly}, nil, 0, 0},
		{"all TLS 1.3 suites only: TLS 1.3", map[string]string{"ssl.cipher.suites": all13}, nil, tls.TLS_AES_128_GCM_SHA256, tls.VersionTLS13},
		{"both kinds", map[string]string{"ssl.cipher.suites": aes128 + ", " + all13}, map[string]string{"ssl.enabled.protocols": "TLSv1.2"}, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.VersionTLS12},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, pemServer(cert, tc.server))
			r := handshake(t, srv.TLSConfig(), newClient(t, trustWith(ca, tc.client)))
			if tc.wantSuite == 0 {
				if r.err() == nil {
					t.Fatalf("handshake succeeded with %s", tls.CipherSuiteName(r.client.CipherSuite))
				}
				return
			}
			if err := r.err(); err != nil {
				t.Fatal(err)
			}
			if r.client.CipherSuite != tc.wantSuite || r.client.Version != tc.wantVersion {
				t.Fatalf("got %s version %x, want %s version %x", tls.CipherSuiteName(r.client.CipherSuite), r.client.Version, tls.CipherSuiteName(tc.wantSuite), tc.wantVersion)
			}
		})
	}
}

func TestEndpointIdentification(t *testing.T) {
	ca := tlstest.NewCA(t)
	other := tlstest.NewCA(t)
	named := ca.Server(t, "broker.example") // no SAN for 127.0.0.1
	cases := []struct {
		name   string
		cert   tlstest.Cert
		alg    *string
		wantOK bool
	}{
		{"https default: host name checked", named, nil, false},
		{"https: host name checked", named, ptr("HTTPS"), false},
		{"https: loopback SANs", ca.Server(t), ptr("https"), true},
		{"empty: host name not checked", named, ptr(""), true},
		{"empty: chain still checked", other.Server(t, "broker.example"), ptr(""), false},
		{"empty: expiry still checked", ca.ExpiredServer(t), ptr(""), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cm := trustWith(ca, nil)
			if tc.alg != nil {
				cm["ssl.endpoint.identification.algorithm"] = *tc.alg
			}
			r := handshake(t, newServer(t, pemServer(tc.cert, nil)).TLSConfig(), newClient(t, cm))
			if (r.clientErr == nil) != tc.wantOK {
				t.Fatalf("client error %v, want ok=%v", r.clientErr, tc.wantOK)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestConfigErrors(t *testing.T) {
	ca := tlstest.NewCA(t)
	cert := ca.Server(t)
	dir := t.TempDir()
	pemFile := cert.WriteKeystorePEM(t, filepath.Join(dir, "ks.pem"), "")
	encFile := cert.WriteKeystorePEM(t, filepath.Join(dir, "enc.pem"), secret)
	p12 := cert.WritePKCS12(t, filepath.Join(dir, "ks.p12"), secret)
	jks := cert.WriteJKS(t, filepath.Join(dir, "ks.jks"), secret)
	inline := pemServer(cert, nil)
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name string
		m    map[string]string
		want string
	}{
		{"no keystore", map[string]string{}, "needs a keystore"},
		{"PEM file with the default type", map[string]string{"ssl.keystore.location": pemFile, "ssl.keystore.password": secret}, "set ssl.keystore.type=PEM"},
		{"PKCS12 file with the default type", map[string]string{"ssl.keystore.location": p12, "ssl.keystore.password": secret}, "set ssl.keystore.type=PKCS12"},
		{"JKS file declared PKCS12", map[string]string{"ssl.keystore.type": "PKCS12", "ssl.keystore.location": jks, "ssl.keystore.password": secret}, "set ssl.keystore.type=JKS"},
		{"unknown type", map[string]string{"ssl.keystore.type": "BKS"}, "use JKS, PKCS12 or PEM"},
		{"JKS wrong password", map[string]string{"ssl.keystore.location": jks, "ssl.keystore.password": "wrong-" + secret}, "invalid digest"},
		{"PKCS12 wrong password", map[string]string{"ssl.keystore.type": "PKCS12", "ssl.keystore.location": p12, "ssl.keystore.password": "wrong-" + secret}, "password incorrect"},
		{"location without password", map[string]string{"ssl.keystore.location": jks}, "ssl.keystore.password is not"},
		{"PEM with store password", map[string]string{"ssl.keystore.type": "PEM", "ssl.keystore.location": pemFile, "ssl.keystore.password": secret}, "cannot be specified with PEM"},
		{"inline key without type PEM", with(inline, "ssl.keystore.type", "JKS"), "only for PEM"},
		{"inline key without chain", with(inline, "ssl.keystore.certificate.chain", ""), "certificate.chain is not"},
		{"encrypted key without password", map[string]string{"ssl.keystore.type": "PEM", "ssl.keystore.location": encFile}, "ssl.key.password is not set"},
		{"encrypted key, wrong password", map[string]string{"ssl.keystore.type": "PEM", "ssl.keystore.location": encFile, "ssl.key.password": "wrong-" + secret}, "decrypting the private key"},
		{"password for a plain key", with(inline, "ssl.key.password", secret), "not encrypted"},
		{"legacy encrypted key", with(inline, "ssl.keystore.key", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY",
			Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00112233445566778899AABBCCDDEEFF"}, Bytes: []byte("x")}))), "legacy OpenSSL-encrypted"},
		{"PEM markers that do not match", with(inline, "ssl.keystore.certificate.chain", "-----BEGIN CERTIFICATE----- AAAA -----END PRIVATE KEY-----"), "ends with END PRIVATE KEY"},
		{"key of another cert", with(inline, "ssl.keystore.key", string(ca.Server(t).KeyPEM)), "does not match"},
		{"missing file", map[string]string{"ssl.keystore.type": "PEM", "ssl.keystore.location": filepath.Join(dir, "nope.pem")}, "no such file"},
		{"client auth", with(inline, "ssl.client.auth", "optional"), "want required, requested or none"},
		{"TLSv1.1", with(inline, "ssl.enabled.protocols", "TLSv1.2,TLSv1.1"), "RFC 8996"},
		{"ssl.protocol TLSv1", with(inline, "ssl.protocol", "TLSv1"), "RFC 8996"},
		{"no protocol left", with(inline, "ssl.protocol", "TLSv1.2", "ssl.enabled.protocols", "TLSv1.3"), "no protocol enabled"},
		{"unknown suite", with(inline, "ssl.cipher.suites", "TLS_FOO_WITH_BAR"), "unknown cipher suite"},
		{"insecure suite", with(inline, "ssl.cipher.suites", "TLS_RSA_WITH_RC4_128_SHA"), "insecure"},
		{"some TLS 1.3 suites", with(inline, "ssl.cipher.suites", "TLS_AES_128_GCM_SHA256"), "list all three or none"},
		{"no TLS 1.3 suite with 1.3 only", with(inline, "ssl.cipher.suites", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ssl.enabled.protocols", "TLSv1.3"), "no TLS 1.3 cipher suite"},
		{"ssl.provider", with(inline, "ssl.provider", "BC"), "not supported by Tandem"},
		{"bad mapping rule", with(inline, "ssl.principal.mapping.rules", "RULE:(a)\\1/x/"), "RE2"},
		{"truststore certificates without type PEM", with(inline, "ssl.truststore.certificates", string(ca.CertPEM)), "only for PEM"},
		{"truststore PEM with password", with(inline, "ssl.truststore.type", "PEM", "ssl.truststore.location", pemFile, "ssl.truststore.password", secret), "cannot be specified for PEM"},
		{"JKS truststore without password", with(inline, "ssl.truststore.location", jks), "needs ssl.truststore.password"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewServer(props(tc.m), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "-----BEGIN") {
				t.Fatalf("error leaks a secret: %v", err)
			}
		})
	}
	if _, err := NewClient(props(map[string]string{"ssl.endpoint.identification.algorithm": "ldaps"})); err == nil {
		t.Fatal("NewClient accepted ssl.endpoint.identification.algorithm=ldaps")
	}
}

// TestClientWithoutKeystore checks that a client needs no keystore and that
// its keystore errors are the server's.
func TestClientWithoutKeystore(t *testing.T) {
	ca := tlstest.NewCA(t)
	cfg := trustCA(t, ca)
	if len(cfg.Certificates) != 0 || cfg.RootCAs == nil {
		t.Fatalf("client config: %d certificates, roots %v", len(cfg.Certificates), cfg.RootCAs)
	}
	if !bytes.Contains(ca.CertPEM, []byte("BEGIN CERTIFICATE")) {
		t.Fatal("CA PEM")
	}
}

// oneLine is PEM as Kafka users write it in a properties value: line
// breaks replaced by spaces.
func oneLine(pemData []byte) string {
	return strings.Join(strings.Fields(string(pemData)), " ")
}
