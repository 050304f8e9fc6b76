package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/tlsconf/tlstest"
)

// keytool runs Java's keytool (the JDK on the project's machines has it);
// the test skips where there is none.
func keytool(t *testing.T, args ...string) {
	t.Helper()
	// A quick-starting JVM: each run is a JVM start.
	args = append([]string{"-J-XX:TieredStopAtLevel=1", "-J-XX:+UseSerialGC", "-J-Xshare:auto"}, args...)
	out, err := exec.Command("keytool", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("keytool %v: %v\n%s", args, err, out)
	}
}

// TestKeytoolStores loads key stores and trust stores made by Java's own
// keytool — JKS with a key password that differs from the store password,
// and PKCS12 (keytool's default since Java 9) — and shakes hands with them:
// the formats Kafka users already have.
func TestKeytoolStores(t *testing.T) {
	t.Parallel() // JVM start-ups overlap
	if _, err := exec.LookPath("keytool"); err != nil {
		t.Skip("no keytool on PATH")
	}
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	parallel := func(cmds ...[]string) {
		var wg sync.WaitGroup
		for _, c := range cmds {
			wg.Go(func() { keytool(t, c...) })
		}
		wg.Wait()
	}
	gen := func(store, storetype string, extra ...string) []string {
		return append([]string{"-genkeypair", "-alias", "broker", "-keyalg", "EC", "-groupname", "secp256r1",
			"-dname", "CN=localhost, OU=eng, O=Acme", "-ext", "SAN=IP:127.0.0.1,DNS:localhost", "-validity", "2",
			"-storetype", storetype, "-keystore", path(store), "-storepass", secret}, extra...)
	}
	parallel(gen("ks.jks", "JKS", "-keypass", "key-"+secret), gen("ks.p12", "PKCS12"))
	// keytool's PKCS12 trust store marks the imported certificate as a
	// trust anchor. (The JKS key store doubles as the JKS trust store: as
	// Java, a key entry's certificate is trusted.)
	ks := &storeSettings{kind: "keystore", typ: typePKCS12, location: path("ks.p12"), password: ptr(secret)}
	certs, err := ks.loadKeystore()
	if err != nil {
		t.Fatal(err)
	}
	writePEMCert(t, path("p12.pem"), certs[0].Leaf)
	keytool(t, "-importcert", "-noprompt", "-alias", "ca", "-file", path("p12.pem"), "-storetype", "PKCS12", "-keystore", path("ts.p12"), "-storepass", secret)

	for _, tc := range []struct {
		name           string
		server, client map[string]string
	}{
		{"JKS", map[string]string{
			"ssl.keystore.location": path("ks.jks"), "ssl.keystore.password": secret, "ssl.key.password": "key-" + secret,
		}, map[string]string{
			"ssl.truststore.location": path("ks.jks"), "ssl.truststore.password": secret,
		}},
		{"PKCS12", map[string]string{
			"ssl.keystore.type": "PKCS12", "ssl.keystore.location": path("ks.p12"), "ssl.keystore.password": secret,
		}, map[string]string{
			"ssl.truststore.type": "PKCS12", "ssl.truststore.location": path("ts.p12"), "ssl.truststore.password": secret,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := handshake(t, newServer(t, tc.server).TLSConfig(), newClient(t, tc.client))
			if err := r.err(); err != nil {
				t.Fatalf("handshake: %v", err)
			}
			// keytool's "CN=localhost, OU=eng, O=Acme" as Java's
			// X500Principal.getName() prints it.
			if got, want := DistinguishedName(r.client.PeerCertificates[0]), "CN=localhost,OU=eng,O=Acme"; got != want {
				t.Fatalf("DN %q, want %q", got, want)
			}
		})
	}
}

func writePEMCert(t *testing.T, path string, c *x509.Certificate) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// javaDN is a Java program printing each PEM certificate's subject as
// X500Principal.getName() does: what Kafka's principal mapping sees.
const javaDN = `import java.io.*;
import java.security.cert.*;
public class DN {
  public static void main(String[] args) throws Exception {
    PrintStream out = new PrintStream(System.out, true, "UTF-8");
    CertificateFactory cf = CertificateFactory.getInstance("X.509");
    for (String f : args) {
      try (InputStream in = new FileInputStream(f)) {
        out.println(((X509Certificate) cf.generateCertificate(in)).getSubjectX500Principal().getName());
      }
    }
  }
}
`

// TestDistinguishedNameMatchesJava checks DistinguishedName against Java
// itself on the tricky subjects of dnCases.
func TestDistinguishedNameMatchesJava(t *testing.T) {
	t.Parallel() // JVM start-ups overlap
	if _, err := exec.LookPath("java"); err != nil {
		t.Skip("no java on PATH")
	}
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cases := dnCases()
	args := []string{"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", filepath.Join(dir, "DN.java")}
	var want []string
	for i, tc := range cases {
		raw, err := asn1.Marshal(tc.rdns)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)), RawSubject: raw, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, fmt.Sprintf("c%d.pem", i))
		writePEMCert(t, f, c)
		args = append(args, f)
		want = append(want, DistinguishedName(c))
	}
	if err := os.WriteFile(filepath.Join(dir, "DN.java"), []byte(javaDN), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("java", args...).Output()
	if err != nil {
		t.Fatalf("java: %v", err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("java printed %d names, want %d:\n%s", len(got), len(want), out)
	}
	for i := range want {
		if got[i] != want[i] || want[i] != cases[i].want {
			t.Errorf("case %d: Java %q, Tandem %q, expected %q", i, got[i], want[i], cases[i].want)
		}
	}
}

// javaReplace prints, for each (pattern, replacement, input) triple, what
// Kafka's SslPrincipalMapper rule computes from them with Java's regex
// engine: input.replaceAll(pattern, replacement) when the pattern matches
// the whole input.
const javaReplace = `import java.util.regex.*;
public class Replace {
  public static void main(String[] a) throws Exception {
    java.io.PrintStream out = new java.io.PrintStream(System.out, true, "UTF-8");
    for (int i = 0; i + 2 < a.length; i += 3) {
      Matcher m = Pattern.compile(a[i]).matcher(a[i+2]);
      out.println(m.matches() ? a[i+2].replaceAll(a[i], a[i+1]) : "<no match>");
    }
  }
}
`

// TestMappingRulesMatchJava runs rules through PrincipalMapper and their
// pattern and replacement through Java's Matcher, and compares. (Kafka's
// own escaping of references to missing groups is tested in
// TestMappingReplacement; these replacements name existing groups.)
func TestMappingRulesMatchJava(t *testing.T) {
	t.Parallel() // JVM start-ups overlap
	if _, err := exec.LookPath("java"); err != nil {
		t.Skip("no java on PATH")
	}
	cases := [][3]string{
		{`^CN=(.*?),OU=ServiceUsers.*$`, `$1`, "CN=Duke,OU=ServiceUsers,O=Org,C=US"},
		{`^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$`, `$1@$2`, "CN=Duke,OU=SME,O=mycp,L=Fulton,ST=MD,C=US"},
		{`^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$`, `$1`, "cN=duke,OU=JavaSoft,O=Sun Microsystems"},
		{`^CN=((\\, *|\w)+)(,.*|$)`, `$1`, `CN=Tkac\, Adam,OU=ITZ,DC=geodis,DC=cz`},
		{`CN=(\w+),O=(\w+)`, `$12`, "CN=bob,O=acme"},
		{`CN=(\w+),O=(\w+)`, `\$1-$0`, "CN=bob,O=acme"},
		{`(a|ab)(c|bcd)(d*)`, `$1-$2-$3`, "abcd"},
		{`(x)?y`, `[$1]`, "y"},
		{`^.*$`, `fixed`, "CN=x"},
		{`^CN=(\w+)$`, `$1`, "CN=x,O=y"},
		// Empty matches right after a match: Java replaces them too.
		{`.*`, `fixed`, "CN=x"},
		{`(.*)`, `$1@R`, "CN=a"},
		{`[A-Z=a-z]*`, `<$0>`, "CN=abc"},
		{`(\w*),?`, `[$1]`, "a,b"},
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Replace.java"), []byte(javaReplace), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", filepath.Join(dir, "Replace.java")}
	for _, c := range cases {
		args = append(args, c[0], c[1], c[2])
	}
	out, err := exec.Command("java", args...).Output()
	if err != nil {
		t.Fatalf("java: %v", err)
	}
	java := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(java) != len(cases) {
		t.Fatalf("java printed %d lines for %d cases:\n%s", len(java), len(cases), out)
	}
	for i, c := range cases {
		m, err := NewPrincipalMapper("RULE:" + c[0] + "/" + c[1] + "/")
		if err != nil {
			t.Errorf("rule %q: %v", c, err)
			continue
		}
		got, err := m.Name(c[2])
		if errors.Is(err, ErrNoMatchingRule) {
			got = "<no match>"
		} else if err != nil {
			t.Errorf("%q: %v", c, err)
			continue
		}
		if got != java[i] {
			t.Errorf("pattern %q replacement %q on %q: Tandem %q, Java %q", c[0], c[1], c[2], got, java[i])
		}
	}
}

// javaClient is a Java TLS client as Kafka's clients make one (SSLContext
// with SunX509 key manager and PKIX trust manager over JKS stores): for
// each port, it shakes hands with the enabled protocols given, reads one
// byte and prints the protocol, the cipher suite and the server's subject.
const javaClient = `import java.io.*;
import java.security.KeyStore;
import javax.net.ssl.*;
public class Client {
  static KeyStore load(String path, String pw) throws Exception {
    KeyStore ks = KeyStore.getInstance("JKS");
    try (InputStream in = new FileInputStream(path)) { ks.load(in, pw.toCharArray()); }
    return ks;
  }
  public static void main(String[] a) throws Exception {
    String pw = a[0];
    TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
    tmf.init(load(a[1], pw));
    KeyManagerFactory kmf = KeyManagerFactory.getInstance("SunX509");
    kmf.init(load(a[2], pw), pw.toCharArray());
    SSLContext ctx = SSLContext.getInstance("TLSv1.3");
    ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
    for (int i = 3; i + 1 < a.length; i += 2) {
      try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", Integer.parseInt(a[i]))) {
        s.setEnabledProtocols(a[i + 1].split(","));
        s.startHandshake();
        s.getInputStream().read();
        SSLSession ss = s.getSession();
        System.out.println(ss.getProtocol() + " " + ss.getCipherSuite() + " " + ss.getPeerPrincipal().getName());
      } catch (Exception e) {
        System.out.println("FAILED " + e.getClass().getSimpleName());
      }
    }
  }
}
`

// TestJavaClient shakes hands with a Java TLS client, as a Kafka client
// runs it, presenting a certificate from a JKS key store that tlstest
// wrote, and trusting the CA from a tlstest JKS trust store: protocol and
// cipher suite choices, and the principal of the Java client.
func TestJavaClient(t *testing.T) {
	t.Parallel() // JVM start-ups overlap
	if _, err := exec.LookPath("java"); err != nil {
		t.Skip("no java on PATH")
	}
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	srvCert := ca.Server(t)
	cli := ca.ClientSubject(t, pkix.Name{CommonName: "java-client", OrganizationalUnit: []string{"ServiceUsers"}})
	base := map[string]string{
		"ssl.client.auth":             "required",
		"ssl.truststore.type":         "PEM",
		"ssl.truststore.certificates": string(ca.CertPEM),
		"ssl.principal.mapping.rules": "RULE:^CN=(.*?),OU=ServiceUsers$/$1/U",
	}
	cases := []struct {
		name      string
		server    map[string]string
		protocols string // the Java client's enabled protocols
		want      string // Java's protocol and suite, or FAILED
	}{
		{"TLS 1.3", nil, "TLSv1.3,TLSv1.2", "TLSv1.3 TLS_AES_"},
		{"TLS 1.2 only server", map[string]string{"ssl.enabled.protocols": "TLSv1.2"}, "TLSv1.3,TLSv1.2", "TLSv1.2 TLS_ECDHE_ECDSA_WITH_"},
		{"one TLS 1.2 suite", map[string]string{"ssl.cipher.suites": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"}, "TLSv1.3,TLSv1.2", "TLSv1.2 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"},
		{"no common protocol", map[string]string{"ssl.enabled.protocols": "TLSv1.3"}, "TLSv1.2", "FAILED"},
	}
	type accepted struct {
		principal string
		err       error
	}
	results := make([]chan accepted, len(cases))
	args := []string{"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", filepath.Join(dir, "Client.java"), secret,
		ca.WriteTruststoreJKS(t, filepath.Join(dir, "trust.jks"), secret), cli.WriteJKS(t, filepath.Join(dir, "client.jks"), secret)}
	for i, tc := range cases {
		m := pemServer(srvCert, base)
		for k, v := range tc.server {
			m[k] = v
		}
		srv := newServer(t, m)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		results[i] = make(chan accepted, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				results[i] <- accepted{err: err}
				return
			}
			defer c.Close()
			tc := tls.Server(c, srv.TLSConfig())
			if err := tc.Handshake(); err != nil {
				results[i] <- accepted{err: err}
				return
			}
			cs := tc.ConnectionState()
			p, err := srv.Principal(&cs)
			_, _ = tc.Write([]byte{1})
			results[i] <- accepted{principal: p.String(), err: err}
		}()
		args = append(args, fmt.Sprint(ln.Addr().(*net.TCPAddr).Port), tc.protocols)
	}
	if err := os.WriteFile(filepath.Join(dir, "Client.java"), []byte(javaClient), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("java", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("java: %v\n%s", err, out)
	}
	t.Logf("java client:\n%s", out)
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(cases) {
		t.Fatalf("java printed %d lines for %d cases:\n%s", len(lines), len(cases), out)
	}
	for i, tc := range cases {
		if !strings.HasPrefix(lines[i], tc.want) {
			t.Errorf("%s: Java %q, want %q...", tc.name, lines[i], tc.want)
		}
		r := <-results[i]
		if tc.want == "FAILED" {
			if r.err == nil {
				t.Errorf("%s: server accepted the handshake", tc.name)
			}
			continue
		}
		if r.err != nil || r.principal != "User:JAVA-CLIENT" {
			t.Errorf("%s: server principal %q, %v; want User:JAVA-CLIENT", tc.name, r.principal, r.err)
		}
		if !strings.HasSuffix(lines[i], " CN=127.0.0.1") {
			t.Errorf("%s: Java saw the server as %q", tc.name, lines[i])
		}
	}
}
