package auth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/xdg-go/scram"
)

type credMap map[[2]string]ScramCredential

func (m credMap) ScramCredential(user, mech string) (ScramCredential, bool) {
	c, ok := m[[2]string{user, mech}]
	return c, ok
}

// TestScramRFC7677 runs the SCRAM-SHA-256 exchange of RFC 7677 §3 against
// the server, with the RFC's salt, iterations and nonces.
func TestScramRFC7677(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	m, _ := ScramMechanismByName(MechanismScramSHA256)
	salted, err := m.SaltedPassword("pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	creds := credMap{{"user", MechanismScramSHA256}: m.CredentialFromSalted(salted, salt, 4096)}
	testNonce = func() string { return "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0" }
	defer func() { testNonce = nil }()
	cfg := &SASLConfig{enabled: []string{MechanismScramSHA256}}
	srv, err := cfg.NewServer(MechanismScramSHA256, creds)
	if err != nil {
		t.Fatal(err)
	}
	out, done, err := srv.Step([]byte("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))
	if err != nil || done {
		t.Fatalf("first: %v %v", done, err)
	}
	if want := "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"; string(out) != want {
		t.Fatalf("server-first %q, want %q", out, want)
	}
	out, done, err = srv.Step([]byte("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
	if err != nil || !done {
		t.Fatalf("final: %v %v", done, err)
	}
	if want := "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="; string(out) != want {
		t.Fatalf("server-final %q, want %q", out, want)
	}
	if srv.Principal() != User("user") {
		t.Fatalf("principal %v", srv.Principal())
	}
}

// TestScramLibrdkafkaNonce: librdkafka puts its own nonce before the
// server's full nonce in client-final; Kafka accepts a nonce that ends
// with the server's, and so must we.
func TestScramLibrdkafkaNonce(t *testing.T) {
	m, _ := ScramMechanismByName(MechanismScramSHA512)
	salt := []byte("0123456789abcdef")
	salted, _ := m.SaltedPassword("pw", salt, 4096)
	cred := m.CredentialFromSalted(salted, salt, 4096)
	cfg := &SASLConfig{enabled: []string{MechanismScramSHA512}}
	for _, prefix := range []string{"", "cnonce"} {
		srv, _ := cfg.NewServer(MechanismScramSHA512, credMap{{"u", MechanismScramSHA512}: cred})
		c1bare := "n=u,r=cnonce"
		s1, _, err := srv.Step([]byte("n,," + c1bare))
		if err != nil {
			t.Fatal(err)
		}
		nonce := strings.TrimPrefix(strings.Split(string(s1), ",")[0], "r=")
		c2wop := "c=biws,r=" + prefix + nonce
		clientKey := m.hmac(salted, []byte("Client Key"))
		sig := m.hmac(cred.StoredKey, []byte(c1bare+","+string(s1)+","+c2wop))
		for i := range sig {
			sig[i] ^= clientKey[i]
		}
		out, done, err := srv.Step([]byte(c2wop + ",p=" + base64.StdEncoding.EncodeToString(sig)))
		if err != nil || !done || !strings.HasPrefix(string(out), "v=") {
			t.Fatalf("nonce prefix %q: %q %v %v", prefix, out, done, err)
		}
	}
}

// scramExchange runs xdg-go's client against the server.
func scramExchange(t *testing.T, mech string, creds ScramCredentials, user, password, authz string) (Principal, error) {
	t.Helper()
	m, _ := ScramMechanismByName(mech)
	gen := scram.SHA256
	if m.Name == MechanismScramSHA512 {
		gen = scram.SHA512
	}
	client, err := gen.NewClient(user, password, authz)
	if err != nil {
		t.Fatal(err)
	}
	conv := client.NewConversation()
	cfg := &SASLConfig{enabled: []string{mech}}
	srv, err := cfg.NewServer(mech, creds)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := conv.Step("")
	for {
		out, done, err := srv.Step([]byte(msg))
		if err != nil {
			return Principal{}, err
		}
		msg, err = conv.Step(string(out))
		if err != nil {
			t.Fatalf("client: %v", err)
		}
		if done {
			if !conv.Valid() {
				t.Fatal("client did not accept the server signature")
			}
			return srv.Principal(), nil
		}
	}
}

func TestScramExchanges(t *testing.T) {
	creds := credMap{}
	for _, m := range ScramMechanisms {
		c, err := m.NewCredential("alice-secret", 4096)
		if err != nil {
			t.Fatal(err)
		}
		creds[[2]string{"alice", m.Name}] = c
		creds[[2]string{"a,b=c", m.Name}] = c
	}
	for _, m := range ScramMechanisms {
		t.Run(m.Name, func(t *testing.T) {
			p, err := scramExchange(t, m.Name, creds, "alice", "alice-secret", "")
			if err != nil || p != User("alice") {
				t.Fatalf("good password: %v %v", p, err)
			}
			// Names with ',' and '=' travel encoded (=2C, =3D).
			if p, err := scramExchange(t, m.Name, creds, "a,b=c", "alice-secret", ""); err != nil || p != User("a,b=c") {
				t.Fatalf("encoded name: %v %v", p, err)
			}
			if _, err := scramExchange(t, m.Name, creds, "alice", "alice-secret", "alice"); err != nil {
				t.Fatalf("same authzid: %v", err)
			}
			for _, tc := range []struct{ user, pass, authz, msg string }{
				{"alice", "badpass-42", "", "invalid credentials with SASL mechanism " + m.Name},
				{"bob", "alice-secret", "", "invalid credentials with SASL mechanism " + m.Name},
				{"alice", "alice-secret", "bob", "authorization id that is different from username"},
			} {
				_, err := scramExchange(t, m.Name, creds, tc.user, tc.pass, tc.authz)
				var ae *AuthError
				if !errors.Is(err, ErrAuthenticationFailed) || !errors.As(err, &ae) || !strings.Contains(ae.ClientMessage, tc.msg) {
					t.Fatalf("%+v: %v", tc, err)
				}
				if strings.Contains(err.Error(), tc.pass) || strings.Contains(ae.ClientMessage, tc.pass) {
					t.Fatalf("error leaks the password: %v", err)
				}
			}
		})
	}
}

func TestScramGarbage(t *testing.T) {
	cfg := &SASLConfig{enabled: []string{MechanismScramSHA512}}
	for _, tok := range []string{"", "garbage", "n,,", "p=tls-unique,,n=a,r=b", "n,,n=a,r=b,tokenauth=true", "n,,n=a=2X,r=b"} {
		srv, _ := cfg.NewServer(MechanismScramSHA512, credMap{})
		if _, _, err := srv.Step([]byte(tok)); !errors.Is(err, ErrAuthenticationFailed) {
			t.Errorf("%q: %v", tok, err)
		}
	}
}

func TestPlain(t *testing.T) {
	users, err := ParsePlainUsers(PlainLoginModule + ` required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";`)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &SASLConfig{enabled: []string{MechanismPlain}, plain: users}
	for _, tc := range []struct {
		tok, user, msg string
	}{
		{"\x00alice\x00alice-secret", "alice", ""},
		{"alice\x00alice\x00alice-secret", "alice", ""},
		{"\x00alice\x00wrong-pass", "", "Authentication failed: Invalid username or password"},
		{"\x00mallory\x00alice-secret", "", "Authentication failed: Invalid username or password"},
		{"\x00username\x00x", "", "Authentication failed: Invalid username or password"}, // not a user_ option
		{"bob\x00alice\x00alice-secret", "", "authorization id that is different from username"},
		{"\x00\x00alice-secret", "", "username not specified"},
		{"\x00alice\x00", "", "password not specified"},
		{"alice-secret", "", "invalid credentials with SASL mechanism PLAIN"},
	} {
		srv, err := cfg.NewServer(MechanismPlain, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, done, err := srv.Step([]byte(tc.tok))
		if tc.msg == "" {
			if err != nil || !done || srv.Principal() != User(tc.user) {
				t.Errorf("%q: %v %v %v", tc.tok, done, err, srv.Principal())
			}
			continue
		}
		var ae *AuthError
		if !errors.As(err, &ae) || !strings.Contains(ae.ClientMessage, tc.msg) {
			t.Errorf("%q: %v", tc.tok, err)
			continue
		}
		if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "wrong-pass") {
			t.Errorf("error leaks a password: %v", err)
		}
	}
}

type settings map[string]string

func (s settings) Get(k string) (string, bool) { v, ok := s[k]; return v, ok }
func (s settings) GetForMechanism(m, k string) (string, bool) {
	if v, ok := s[strings.ToLower(m)+"."+k]; ok {
		return v, true
	}
	return s.Get(k)
}

func TestNewSASLConfig(t *testing.T) {
	jaas := PlainLoginModule + ` required user_alice="alice-secret";`
	c, err := NewSASLConfig(settings{"sasl.enabled.mechanisms": "SCRAM-SHA-512, PLAIN", "plain.sasl.jaas.config": jaas})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Enabled(); len(got) != 2 || got[0] != MechanismScramSHA512 || got[1] != MechanismPlain {
		t.Fatalf("enabled %v", got)
	}
	if !c.PlainUsers().Check("alice", "alice-secret") {
		t.Fatal("PLAIN users not read")
	}
	for _, s := range []settings{
		{},                                    // Kafka's default GSSAPI
		{"sasl.enabled.mechanisms": "GSSAPI"}, // not implemented
		{"sasl.enabled.mechanisms": "OAUTHBEARER"},
		{"sasl.enabled.mechanisms": "SCRAM-SHA-1"},
		{"sasl.enabled.mechanisms": ""},
		{"sasl.enabled.mechanisms": "PLAIN"}, // no JAAS
		{"sasl.enabled.mechanisms": "PLAIN", "sasl.jaas.config": ScramLoginModule + ` required user_a="topsecret";`},
		{"sasl.enabled.mechanisms": "PLAIN", "sasl.jaas.config": `broken user_a="topsecret"`},
	} {
		_, err := NewSASLConfig(s)
		if !errors.Is(err, ErrSASLConfig) {
			t.Errorf("%v: %v", s, err)
			continue
		}
		if strings.Contains(err.Error(), "topsecret") {
			t.Errorf("error leaks a password: %v", err)
		}
	}
}

func TestPasswordChecker(t *testing.T) {
	m, _ := ScramMechanismByName(MechanismScramSHA512)
	c, _ := m.NewCredential("scram-pass", 4096)
	pc := NewPasswordChecker(credMap{{"sam", MechanismScramSHA512}: c}, PlainUsers{"pat": "plain-pass"})
	for _, tc := range []struct {
		user, pass string
		ok         bool
	}{
		{"sam", "scram-pass", true}, {"sam", "wrong", false}, {"pat", "plain-pass", true},
		{"pat", "wrong", false}, {"nobody", "x", false}, {"sam", "", false}, {"", "", false},
	} {
		if got := pc.CheckPassword(tc.user, tc.pass); got != tc.ok {
			t.Errorf("%s/%s: %v", tc.user, tc.pass, got)
		}
	}
}
