package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
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
