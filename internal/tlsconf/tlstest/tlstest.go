// Package tlstest makes certificates for tests of TLS listeners and clients:
// a CA, server certificates for loopback, client certificates with a chosen
// subject, and the keystore and truststore files Kafka's ssl.* keys point at
// (PEM, PKCS12 and JKS, with a password). Keys are ECDSA P-256 so that making
// them costs microseconds, not the tens of milliseconds RSA keys cost.
//
// Negative tests: a certificate from another NewCA is from an untrusted CA;
// ExpiredServer and ExpiredClient give certificates whose validity ended.
package tlstest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"github.com/youmark/pkcs8"
	"software.sslmate.com/src/go-pkcs12"
)

// LoopbackHosts are the names a server certificate covers when Server is
// given none: the loopback addresses tests listen on.
var LoopbackHosts = []string{"127.0.0.1", "::1", "localhost"}

// CA is a self-signed certificate authority.
type CA struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte // the CA certificate, PEM-encoded: a PEM truststore
}

// Cert is a certificate with its private key, issued by a CA.
type Cert struct {
	CertPEM []byte // the leaf certificate, PEM-encoded (the chain: the CA is the root)
	KeyPEM  []byte // the private key, unencrypted PKCS#8 PEM ("PRIVATE KEY")
	Leaf    *x509.Certificate
	Key     crypto.Signer
	CA      *CA
}

// NewCA makes a CA valid from an hour ago for a day.
func NewCA(t testing.TB) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: "Tandem Test CA", Organization: []string{"Tandem"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("tlstest: create CA: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("tlstest: parse CA: %v", err)
	}
	return &CA{Cert: cert, Key: key, CertPEM: pemBlock("CERTIFICATE", der)}
}

// Pool is a cert pool holding only the CA (for tls.Config RootCAs/ClientCAs).
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Server issues a server certificate for hosts (IP addresses become IP
// SANs, names DNS SANs); with no hosts, for LoopbackHosts.
func (ca *CA) Server(t testing.TB, hosts ...string) Cert {
	t.Helper()
	return ca.issue(t, serverTemplate(hosts), time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
}

// ExpiredServer is Server with a validity that ended an hour ago.
func (ca *CA) ExpiredServer(t testing.TB, hosts ...string) Cert {
	t.Helper()
	return ca.issue(t, serverTemplate(hosts), time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour))
}

// Client issues a client certificate whose subject is CN=commonName.
func (ca *CA) Client(t testing.TB, commonName string) Cert {
	t.Helper()
	return ca.ClientSubject(t, pkix.Name{CommonName: commonName})
}

// ClientSubject issues a client certificate with the given subject (CN, OU,
// O...). Its RFC 2253 name lists the most specific part first:
// pkix.Name{CommonName: "a", OrganizationalUnit: {"b"}, Organization: {"c"}}
// is "CN=a,OU=b,O=c".
func (ca *CA) ClientSubject(t testing.TB, subject pkix.Name) Cert {
	t.Helper()
	return ca.issue(t, clientTemplate(subject), time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
}

// ExpiredClient is Client with a validity that ended an hour ago.
func (ca *CA) ExpiredClient(t testing.TB, commonName string) Cert {
	t.Helper()
	return ca.issue(t, clientTemplate(pkix.Name{CommonName: commonName}), time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour))
}

func serverTemplate(hosts []string) *x509.Certificate {
	if len(hosts) == 0 {
		hosts = LoopbackHosts
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: hosts[0]},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return tmpl
}

func clientTemplate(subject pkix.Name) *x509.Certificate {
	return &x509.Certificate{
		Subject:     subject,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
}

func (ca *CA) issue(t testing.TB, tmpl *x509.Certificate, notBefore, notAfter time.Time) Cert {
	t.Helper()
	key := newKey(t)
	tmpl.SerialNumber = serial(t)
	tmpl.NotBefore, tmpl.NotAfter = notBefore, notAfter
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatalf("tlstest: issue certificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("tlstest: parse certificate: %v", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("tlstest: marshal key: %v", err)
	}
	return Cert{CertPEM: pemBlock("CERTIFICATE", der), KeyPEM: pemBlock("PRIVATE KEY", keyDER), Leaf: leaf, Key: key, CA: ca}
}

// TLSCertificate is c for tls.Config.Certificates.
func (c Cert) TLSCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{c.Leaf.Raw}, PrivateKey: c.Key, Leaf: c.Leaf}
}

// EncryptedKeyPEM is the private key as encrypted PKCS#8 ("ENCRYPTED
// PRIVATE KEY", PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC, what
// `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes), for ssl.key.password.
func (c Cert) EncryptedKeyPEM(t testing.TB, password string) []byte {
	t.Helper()
	der, err := pkcs8.MarshalPrivateKey(c.Key, []byte(password), nil)
	if err != nil {
		t.Fatalf("tlstest: encrypt key: %v", err)
	}
	return pemBlock("ENCRYPTED PRIVATE KEY", der)
}

// KeystorePEM is a Kafka PEM keystore file's content (KIP-651): the private
// key followed by the certificate chain; the key is encrypted with
// keyPassword (ssl.key.password) unless it is empty.
func (c Cert) KeystorePEM(t testing.TB, keyPassword string) []byte {
	t.Helper()
	key := c.KeyPEM
	if keyPassword != "" {
		key = c.EncryptedKeyPEM(t, keyPassword)
	}
	return append(append([]byte{}, key...), c.CertPEM...)
}

// WriteKeystorePEM writes KeystorePEM to path (ssl.keystore.type=PEM,
// ssl.keystore.location=path) and returns path.
func (c Cert) WriteKeystorePEM(t testing.TB, path, keyPassword string) string {
	t.Helper()
	return WriteFile(t, path, c.KeystorePEM(t, keyPassword))
}

// WritePKCS12 writes a PKCS#12 keystore with the key, the certificate and the
// CA certificate, protected by password (ssl.keystore.type=PKCS12), to path.
func (c Cert) WritePKCS12(t testing.TB, path, password string) string {
	t.Helper()
	data, err := pkcs12.Modern2023.Encode(c.Key, c.Leaf, []*x509.Certificate{c.CA.Cert}, password)
	if err != nil {
		t.Fatalf("tlstest: encode PKCS12: %v", err)
	}
	return WriteFile(t, path, data)
}

// WriteJKS writes a JKS keystore with one private key entry (alias "tandem",
// chain leaf + CA), the store and the key protected by password
// (ssl.keystore.type=JKS, ssl.keystore.password = ssl.key.password), to path.
func (c Cert) WriteJKS(t testing.TB, path, password string) string {
	t.Helper()
	return c.WriteJKSKeyPassword(t, path, password, password)
}

// WriteJKSKeyPassword is WriteJKS with a key password that differs from the
// store password (ssl.key.password).
func (c Cert) WriteJKSKeyPassword(t testing.TB, path, storePassword, keyPassword string) string {
	t.Helper()
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		t.Fatalf("tlstest: marshal key: %v", err)
	}
	ks := keystore.New()
	err = ks.SetPrivateKeyEntry("tandem", keystore.PrivateKeyEntry{
		CreationTime: time.Now(),
		PrivateKey:   keyDER,
		CertificateChain: []keystore.Certificate{
			{Type: "X509", Content: c.Leaf.Raw},
			{Type: "X509", Content: c.CA.Cert.Raw},
		},
	}, []byte(keyPassword))
	if err != nil {
		t.Fatalf("tlstest: JKS key entry: %v", err)
	}
	return writeJKS(t, path, ks, storePassword)
}

// WriteTruststorePEM writes the CA certificate as a PEM truststore to path.
func (ca *CA) WriteTruststorePEM(t testing.TB, path string) string {
	t.Helper()
	return WriteFile(t, path, ca.CertPEM)
}

// WriteTruststorePKCS12 writes the CA certificate as a Java PKCS#12
// truststore (the certificate marked as a trust anchor, as keytool does).
func (ca *CA) WriteTruststorePKCS12(t testing.TB, path, password string) string {
	t.Helper()
	data, err := pkcs12.Modern2023.EncodeTrustStore([]*x509.Certificate{ca.Cert}, password)
	if err != nil {
		t.Fatalf("tlstest: encode PKCS12 truststore: %v", err)
	}
	return WriteFile(t, path, data)
}

// WriteTruststoreJKS writes the CA certificate as a trusted certificate entry
// (alias "ca") of a JKS truststore protected by password.
func (ca *CA) WriteTruststoreJKS(t testing.TB, path, password string) string {
	t.Helper()
	ks := keystore.New()
	err := ks.SetTrustedCertificateEntry("ca", keystore.TrustedCertificateEntry{
		CreationTime: time.Now(),
		Certificate:  keystore.Certificate{Type: "X509", Content: ca.Cert.Raw},
	})
	if err != nil {
		t.Fatalf("tlstest: JKS trusted entry: %v", err)
	}
	return writeJKS(t, path, ks, password)
}

func writeJKS(t testing.TB, path string, ks keystore.KeyStore, password string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := ks.Store(&buf, []byte(password)); err != nil {
		t.Fatalf("tlstest: store JKS: %v", err)
	}
	return WriteFile(t, path, buf.Bytes())
}

// WriteFile writes data to path atomically (a temporary file renamed over
// path, as certificate rotation tools do), creating its directory, and
// returns path.
func WriteFile(t testing.TB, path string, data []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatalf("tlstest: %v", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatalf("tlstest: %v", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatalf("tlstest: %v", err)
	}
	return path
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("tlstest: generate key: %v", err)
	}
	return key
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatalf("tlstest: serial: %v", err)
	}
	return n
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
