package tlsconf

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/tlsconf/tlstest"
)

// TestMappingRulesKafkaDocs is the example of Kafka's security docs
// ("Customizing SSL User Name").
func TestMappingRulesKafkaDocs(t *testing.T) {
	m, err := NewPrincipalMapper(`RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,
RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,
RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L,
DEFAULT`)
	if err != nil {
		t.Fatal(err)
	}
	for dn, want := range map[string]string{
		"CN=serviceuser,OU=ServiceUsers,O=Unknown,L=Unknown,ST=Unknown,C=Unknown": "serviceuser",
		"CN=adminUser,OU=Admin,O=Unknown,L=Unknown,ST=Unknown,C=Unknown":          "adminuser@admin",
	} {
		if got, err := m.Name(dn); err != nil || got != want {
			t.Errorf("Name(%q) = %q, %v; want %q", dn, got, err, want)
		}
	}
}

// TestMappingRules ports Kafka's SslPrincipalMapperTest.
func TestMappingRules(t *testing.T) {
	rules := strings.Join([]string{
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L",
		"RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L",
		"RULE:^cn=(.*?),ou=(.*?),dc=(.*?),dc=(.*?)$/$1@$2/U",
		"RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/U",
		"DEFAULT",
	}, ", ")
	m, err := NewPrincipalMapper(rules)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ dn, want string }{
		{"CN=Duke,OU=ServiceUsers,O=Org,C=US", "duke"},
		{"CN=Duke,OU=SME,O=mycp,L=Fulton,ST=MD,C=US", "duke@sme"},
		{"cn=duke,ou=sme,dc=mycp,dc=com", "DUKE@SME"},
		{"cN=duke,OU=JavaSoft,O=Sun Microsystems", "DUKE"},
		{"OU=JavaSoft,O=Sun Microsystems,C=US", "OU=JavaSoft,O=Sun Microsystems,C=US"},
	} {
		if got, err := m.Name(tc.dn); err != nil || got != tc.want {
			t.Errorf("Name(%q) = %q, %v; want %q", tc.dn, got, err, tc.want)
		}
	}

	// testCommaWithWhitespace
	m, err = NewPrincipalMapper(`RULE:^CN=((\\, *|\w)+)(,.*|$)/$1/,DEFAULT`)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Name(`CN=Tkac\, Adam,OU=ITZ,DC=geodis,DC=cz`); got != `Tkac\, Adam` {
		t.Errorf("comma with whitespace: got %q", got)
	}
}

func TestMappingRulesValidAndInvalid(t *testing.T) {
	for _, r := range []string{
		"DEFAULT",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L, DEFAULT",
		"RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/",
		"RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L",
		"RULE:^cn=(.?),ou=(.?),dc=(.?),dc=(.?)$/$1@$2/U",
		"RULE:^CN=([^,ADEFLTU,]+)(,.*|$)/$1/",
		"RULE:^CN=([^,DEFAULT,]+)(,.*|$)/$1/",
	} {
		if _, err := NewPrincipalMapper(r); err != nil {
			t.Errorf("valid rule %q: %v", r, err)
		}
	}
	for _, r := range []string{
		"default",
		"DEFAUL",
		"DEFAULT/L",
		"DEFAULT/U",
		"RULE:CN=(.*?),OU=ServiceUsers.*/$1",
		"rule:^CN=(.*?),OU=ServiceUsers.*$/$1/",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L/U",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/L",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/U",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/LU",
		// Tandem: RE2 cannot compile these Java patterns.
		`RULE:^CN=(\w+),O=\1$/$1/`,
		`RULE:^CN=(?=a).*$/x/`,
		`RULE:^CN=a*+$/x/`,
		// Tandem checks group references up front (Java throws on use).
		`RULE:^CN=.*$/$1/`,
	} {
		if _, err := NewPrincipalMapper(r); err == nil {
			t.Errorf("invalid rule %q accepted", r)
		}
	}
}

// TestMappingRulesSplitting is Kafka's testRulesSplitting: the parsed rules,
// printed as SslPrincipalMapper.toString prints them.
func TestMappingRulesSplitting(t *testing.T) {
	for _, tc := range []struct{ want, rules string }{
		{"[DEFAULT]", ""}, // Tandem: empty is the default, as an unset key
		{"[DEFAULT]", "DEFAULT"},
		{"[RULE:/]", "RULE://"},
		{"[RULE:/.*]", "RULE:/.*/"},
		{"[RULE:/.*/L]", "RULE:/.*/L"},
		{"[RULE:/, DEFAULT]", "RULE://,DEFAULT"},
		{"[RULE:/, DEFAULT]", "  RULE:// ,  DEFAULT  "},
		{"[RULE:   /     , DEFAULT]", "  RULE:   /     / ,  DEFAULT  "},
		{"[RULE:  /     /U, DEFAULT]", "  RULE:  /     /U   ,DEFAULT  "},
		{"[RULE:([A-Z]*)/$1/U, RULE:([a-z]+)/$1, DEFAULT]", "  RULE:([A-Z]*)/$1/U   ,RULE:([a-z]+)/$1/,   DEFAULT  "},
		{"[]", ",   , , ,      , , ,   "},
		{"[RULE:/, DEFAULT]", ",,RULE://,,,DEFAULT,,"},
		{"[RULE: /   , DEFAULT]", ",  , RULE: /   /    ,,,   DEFAULT, ,   "},
		{"[RULE:   /  , DEFAULT]", "     ,  , RULE:   /  /    ,,,   DEFAULT, ,   "},
		{`[RULE:\/\\\(\)\n\t/\/\/]`, `RULE:\/\\\(\)\n\t/\/\//`},
		{`[RULE:\**\/+/*/L, RULE:\/*\**/**]`, `RULE:\**\/+/*/L,RULE:\/*\**/**/`},
		{
			`[RULE:,RULE:,/,RULE:,\//U, RULE:,/RULE:,, RULE:,RULE:,/L,RULE:,/L, RULE:, DEFAULT, /DEFAULT, DEFAULT]`,
			// Kafka's test has "/L/," in the third rule, from before its
			// parser refused text after the flag ("/L/U" is invalid).
			`RULE:,RULE:,/,RULE:,\//U,RULE:,/RULE:,/,RULE:,RULE:,/L,RULE:,/L,RULE:, DEFAULT, /DEFAULT/,DEFAULT`,
		},
	} {
		m, err := NewPrincipalMapper(tc.rules)
		if err != nil {
			t.Errorf("rules %q: %v", tc.rules, err)
			continue
		}
		if got := m.String(); got != tc.want {
			t.Errorf("rules %q parsed as %s, want %s", tc.rules, got, tc.want)
		}
	}
}

func TestMappingReplacement(t *testing.T) {
	for _, tc := range []struct{ rule, dn, want string }{
		{`RULE:^CN=(\w+),O=(\w+)$/$2:$1/`, "CN=bob,O=acme", "acme:bob"},
		{`RULE:^CN=(\w+),O=(\w+)$/$12/`, "CN=bob,O=acme", "bob2"}, // $12 with 2 groups: $1 then "2"
		{`RULE:^CN=(\w+),O=(\w+)$/$3x/`, "CN=bob,O=acme", "$3x"},  // Kafka escapes a missing group
		{`RULE:^CN=(\w+),O=(\w+)$/\$1-$0/`, "CN=bob,O=acme", "$1-CN=bob,O=acme"},
		{`RULE:^CN=(\w+).*$/$1/U`, "CN=bob,O=acme", "BOB"},
		{`RULE:^.*$/fixed/`, "CN=x", "fixed"},
		{`RULE:.*/x/`, "CN=é", "xx"}, // Java's replaceAll also replaces the empty match at the end
		{`RULE:(é*)/[$1]/`, "éé", "[éé][]"},
	} {
		m, err := NewPrincipalMapper(tc.rule)
		if err != nil {
			t.Errorf("%s: %v", tc.rule, err)
			continue
		}
		if got, err := m.Name(tc.dn); err != nil || got != tc.want {
			t.Errorf("%s on %q = %q, %v; want %q", tc.rule, tc.dn, got, err, tc.want)
		}
	}
	m, _ := NewPrincipalMapper(`RULE:^CN=(\w+),O=acme$/$1/`)
	if _, err := m.Name("CN=bob,O=other"); !errors.Is(err, ErrNoMatchingRule) {
		t.Fatalf("no matching rule: %v", err)
	}
}

func certWithSubject(t *testing.T, rdns pkix.RDNSequence) *x509.Certificate {
	t.Helper()
	raw, err := asn1.Marshal(rdns)
	if err != nil {
		t.Fatal(err)
	}
	return &x509.Certificate{RawSubject: raw}
}

func TestDistinguishedName(t *testing.T) {
	ca := tlstest.NewCA(t)
	c := ca.ClientSubject(t, pkix.Name{
		CommonName: "alice", OrganizationalUnit: []string{"eng"}, Organization: []string{"Acme, Inc."},
		Locality: []string{"Paris"}, Province: []string{"IDF"}, Country: []string{"FR"},
	})
	if got, want := DistinguishedName(c.Leaf), `CN=alice,OU=eng,O=Acme\, Inc.,L=Paris,ST=IDF,C=FR`; got != want {
		t.Errorf("DN %q, want %q", got, want)
	}

	// A BMPString is decoded as the UTF-16 its type says, a T61String as
	// ISO-8859-1 (JDK 17 reads both as UTF-8 and prints "CN=\\00b\\00m\\00p"
	// and "CN=J\uFFFD", which no rule would want).
	bmp := dnCase{pkix.RDNSequence{{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagBMPString, Bytes: []byte{0, 'b', 0, 'm', 0, 'p'}}}}}, "CN=bmp"}
	t61 := dnCase{pkix.RDNSequence{{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagT61String, Bytes: []byte{'J', 0xe9}}}}}, "CN=Jé"}
	for _, tc := range append(dnCases(), bmp, t61) {
		if got := DistinguishedName(certWithSubject(t, tc.rdns)); got != tc.want {
			t.Errorf("DN %q, want %q", got, tc.want)
		}
	}
}

// TestPrincipalFromCertificateWithRules runs the mapping over a real
// handshake: the listener's principal is the mapped name.
func TestPrincipalFromCertificateWithRules(t *testing.T) {
	ca := tlstest.NewCA(t)
	srvCert := ca.Server(t)
	cli := ca.ClientSubject(t, pkix.Name{CommonName: "Svc1", OrganizationalUnit: []string{"ServiceUsers"}, Organization: []string{"Acme"}})
	other := ca.ClientSubject(t, pkix.Name{CommonName: "bob", Organization: []string{"Other"}})
	srv := newServer(t, pemServer(srvCert, map[string]string{
		"ssl.client.auth":             "required",
		"ssl.truststore.type":         "PEM",
		"ssl.truststore.certificates": string(ca.CertPEM),
		"ssl.principal.mapping.rules": "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L",
	}))
	for _, tc := range []struct {
		cert tlstest.Cert
		want string
	}{{cli, "svc1"}, {other, ""}} {
		cfg := trustCA(t, ca)
		cfg.Certificates = append(cfg.Certificates, tc.cert.TLSCertificate())
		r := handshake(t, srv.TLSConfig(), cfg)
		if err := r.err(); err != nil {
			t.Fatal(err)
		}
		p, err := srv.Principal(&r.server)
		if tc.want == "" {
			if !errors.Is(err, ErrNoMatchingRule) {
				t.Fatalf("principal %v, %v; want no matching rule", p, err)
			}
			continue
		}
		if err != nil || p.String() != "User:"+tc.want {
			t.Fatalf("principal %v, %v; want User:%s", p, err, tc.want)
		}
	}
}

type dnCase struct {
	rdns pkix.RDNSequence
	want string // as Java's X500Principal.getName() prints it
}

// dnCases are subjects whose RFC 2253 form exercises Java's rules.
func dnCases() []dnCase {
	oid := func(s ...int) asn1.ObjectIdentifier { return asn1.ObjectIdentifier(s) }
	cn, o := oid(2, 5, 4, 3), oid(2, 5, 4, 10)
	dc, uid, email, serial := oid(0, 9, 2342, 19200300, 100, 1, 25), oid(0, 9, 2342, 19200300, 100, 1, 1), oid(1, 2, 840, 113549, 1, 9, 1), oid(2, 5, 4, 5)
	ia5 := func(s string) asn1.RawValue {
		return asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagIA5String, Bytes: []byte(s)}
	}
	return []dnCase{
		// Java escapes ,=+<>#;"\ anywhere and leading/trailing spaces.
		{pkix.RDNSequence{{{Type: cn, Value: ` a=b+c<d>e#f;g"h\i `}}}, `CN=\ a\=b\+c\<d\>e\#f\;g\"h\\i\ `},
		{pkix.RDNSequence{{{Type: cn, Value: "  "}}}, `CN=\ \ `},
		// DC and UID are keywords; the serial number and e-mail are OIDs with hex DER.
		{pkix.RDNSequence{{{Type: dc, Value: ia5("com")}}, {{Type: dc, Value: ia5("example")}}, {{Type: uid, Value: "u1"}}}, "UID=u1,DC=example,DC=com"},
		{pkix.RDNSequence{{{Type: email, Value: ia5("a@b")}}, {{Type: serial, Value: "42"}}, {{Type: cn, Value: "x"}}}, "CN=x,2.5.4.5=#13023432,1.2.840.113549.1.9.1=#1603614062"},
		// A multi-valued RDN joins with '+'.
		{pkix.RDNSequence{{{Type: o, Value: "acme"}}, {{Type: cn, Value: "a"}, {Type: uid, Value: "b"}}}, "CN=a+UID=b,O=acme"},
		// Non-ASCII is written as is.
		{pkix.RDNSequence{{{Type: cn, Value: "Jérôme"}}}, "CN=Jérôme"},
	}
}
