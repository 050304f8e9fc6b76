package auth

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"strings"
)

// ScramCredential is what a broker keeps of a SCRAM password (RFC 5802
// §3, Kafka's ScramCredential): the salt, the iteration count and the two
// keys derived from the salted password. Neither the password nor the
// salted password is kept: StoredKey only verifies a client proof and
// ServerKey only signs the server's answer.
type ScramCredential struct {
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
	Iterations int32
}

// ScramMechanism describes one SCRAM mechanism: Kafka's ScramMechanism
// (name, type byte of the credential APIs, iteration bounds).
type ScramMechanism struct {
	Name          string
	Type          int8 // DescribeUserScramCredentials/AlterUserScramCredentials mechanism
	MinIterations int32
	MaxIterations int32
	hash          func() hash.Hash
}

// ScramMechanisms are the SCRAM mechanisms Kafka defines, by type byte
// order. Kafka bounds iterations to [4096, 16384] for both.
var ScramMechanisms = []ScramMechanism{
	{Name: MechanismScramSHA256, Type: 1, MinIterations: 4096, MaxIterations: 16384, hash: sha256.New},
	{Name: MechanismScramSHA512, Type: 2, MinIterations: 4096, MaxIterations: 16384, hash: sha512.New},
}

// ScramMechanismByName finds a SCRAM mechanism.
func ScramMechanismByName(name string) (ScramMechanism, bool) {
	for _, m := range ScramMechanisms {
		if m.Name == name {
			return m, true
		}
	}
	return ScramMechanism{}, false
}

// ScramMechanismByType finds a SCRAM mechanism by its type byte.
func ScramMechanismByType(t int8) (ScramMechanism, bool) {
	for _, m := range ScramMechanisms {
		if m.Type == t {
			return m, true
		}
	}
	return ScramMechanism{}, false
}

// SaltedPassword is Hi(password, salt, iterations) (RFC 5802 §2.2): PBKDF2
// with the mechanism's HMAC, as Kafka's ScramFormatter.saltedPassword (the
// password's UTF-8 bytes, no SASLprep).
func (m ScramMechanism) SaltedPassword(password string, salt []byte, iterations int32) ([]byte, error) {
	if iterations < 1 {
		return nil, fmt.Errorf("SCRAM: iterations must be positive, got %d", iterations)
	}
	return pbkdf2.Key(m.hash, password, salt, int(iterations), m.hash().Size())
}

// CredentialFromSalted derives the stored credential from a salted
// password (what AlterUserScramCredentials sends): StoredKey =
// H(HMAC(salted, "Client Key")), ServerKey = HMAC(salted, "Server Key").
func (m ScramMechanism) CredentialFromSalted(salted, salt []byte, iterations int32) ScramCredential {
	clientKey := m.hmac(salted, []byte("Client Key"))
	h := m.hash()
	h.Write(clientKey)
	return ScramCredential{
		Salt: append([]byte(nil), salt...), StoredKey: h.Sum(nil),
		ServerKey: m.hmac(salted, []byte("Server Key")), Iterations: iterations,
	}
}

// NewCredential derives a credential from a password with a fresh random
// salt (Kafka's ScramFormatter.generateCredential).
func (m ScramMechanism) NewCredential(password string, iterations int32) (ScramCredential, error) {
	salt := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		return ScramCredential{}, err
	}
	salted, err := m.SaltedPassword(password, salt, iterations)
	if err != nil {
		return ScramCredential{}, err
	}
	return m.CredentialFromSalted(salted, salt, iterations), nil
}

// CheckPassword reports whether password derives c (constant-time compare
// of the StoredKey).
func (m ScramMechanism) CheckPassword(c ScramCredential, password string) bool {
	salted, err := m.SaltedPassword(password, c.Salt, c.Iterations)
	if err != nil {
		return false
	}
	got := m.CredentialFromSalted(salted, c.Salt, c.Iterations)
	return hmac.Equal(got.StoredKey, c.StoredKey)
}

func (m ScramMechanism) hmac(key, data []byte) []byte {
	mac := hmac.New(m.hash, key)
	mac.Write(data)
	return mac.Sum(nil)
}

// testNonce replaces the server nonce in tests (RFC 7677's test vector).
var testNonce func() string

// scramServer is the server side of SCRAM-SHA-256/512 (RFC 5802, RFC 7677)
// with Kafka's ScramSaslServer rules:
//   - an authorization id must equal the user name;
//   - no channel binding ("p=") and no extensions (Kafka supports only
//     tokenauth, for delegation tokens, which Tandem does not have);
//   - the client-final nonce must end with the server-first nonce, not equal
//     it: librdkafka sends its own nonce before the server's full one, and
//     Kafka accepts that (the proof covers the message as sent);
//   - a failure other than the authorization id gets the generic "invalid
//     credentials" message, which does not say whether the user exists.
type scramServer struct {
	mech      ScramMechanism
	creds     ScramCredentials
	steps     int
	user      string
	cred      ScramCredential
	gs2       string // gs2 header of the client-first message
	c1bare    string
	s1        string
	nonce     string // cnonce + snonce, as sent in server-first
	principal Principal
}

func newScramServer(mechanism string, creds ScramCredentials) (*scramServer, error) {
	m, ok := ScramMechanismByName(mechanism)
	if !ok {
		return nil, fmt.Errorf("unknown SCRAM mechanism %s", mechanism)
	}
	return &scramServer{mech: m, creds: creds}, nil
}

func (s *scramServer) Principal() Principal { return s.principal }

func (s *scramServer) Step(token []byte) ([]byte, bool, error) {
	s.steps++
	var out []byte
	var err error
	switch s.steps {
	case 1:
		out, err = s.first(string(token))
	case 2:
		out, err = s.final(string(token))
	}
	if err != nil {
		s.steps = 3 // a failed exchange stays failed
		return nil, false, err
	}
	if s.steps <= 2 {
		return out, s.steps == 2, nil
	}
	return nil, false, refused(s.mech.Name, s.user, "Authentication failed: the exchange is already complete")
}

// decodeSaslName reverses RFC 5802's =2C / =3D escaping of ',' and '='.
func decodeSaslName(n string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(n); i++ {
		switch {
		case n[i] == ',':
			return "", false
		case n[i] != '=':
			b.WriteByte(n[i])
		case strings.HasPrefix(n[i:], "=2C"):
			b.WriteByte(',')
			i += 2
		case strings.HasPrefix(n[i:], "=3D"):
			b.WriteByte('=')
			i += 2
		default:
			return "", false
		}
	}
	return b.String(), true
}

func (s *scramServer) first(c1 string) ([]byte, error) {
	bad := func(reason string) ([]byte, error) { return nil, invalidCredentials(s.mech.Name, s.user, reason) }
	// client-first = gs2-cbind-flag "," [ authzid ] "," client-first-bare
	flag, rest, ok1 := strings.Cut(c1, ",")
	authz, bare, ok2 := strings.Cut(rest, ",")
	if !ok1 || !ok2 {
		return bad("malformed client-first message")
	}
	if flag != "n" && flag != "y" {
		return bad("channel binding is not supported")
	}
	if authz != "" {
		a, ok := strings.CutPrefix(authz, "a=")
		if !ok {
			return bad("malformed authorization id")
		}
		if authz, ok = decodeSaslName(a); !ok {
			return bad("malformed authorization id")
		}
	}
	attrs := strings.Split(bare, ",")
	if len(attrs) < 2 || !strings.HasPrefix(attrs[0], "n=") || !strings.HasPrefix(attrs[1], "r=") || len(attrs[1]) < 3 {
		return bad("malformed client-first message")
	}
	if len(attrs) > 2 {
		return bad("SCRAM extensions are not supported")
	}
	user, ok := decodeSaslName(attrs[0][2:])
	if !ok || user == "" {
		return bad("malformed user name")
	}
	s.user = user
	if authz != "" && authz != user {
		return nil, refused(s.mech.Name, user, "Authentication failed: Client requested an authorization id that is different from username")
	}
	var cred ScramCredential
	if s.creds != nil {
		cred, ok = s.creds.ScramCredential(user, s.mech.Name)
	}
	if !ok || cred.Iterations < 1 {
		return bad("unknown user or no " + s.mech.Name + " credential")
	}
	snonce := ""
	if testNonce != nil {
		snonce = testNonce()
	} else {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return bad("no randomness for the server nonce")
		}
		snonce = base64.RawURLEncoding.EncodeToString(b)
	}
	s.cred, s.gs2, s.c1bare = cred, flag+","+rest[:len(rest)-len(bare)], bare
	s.nonce = attrs[1][2:] + snonce
	s.s1 = fmt.Sprintf("r=%s,s=%s,i=%d", s.nonce, base64.StdEncoding.EncodeToString(cred.Salt), cred.Iterations)
	return []byte(s.s1), nil
}

func (s *scramServer) final(c2 string) ([]byte, error) {
	bad := func(reason string) ([]byte, error) { return nil, invalidCredentials(s.mech.Name, s.user, reason) }
	// client-final = "c=" cbind "," "r=" nonce ["," extensions] ",p=" proof
	i := strings.LastIndex(c2, ",p=")
	if i < 0 {
		return bad("malformed client-final message")
	}
	c2wop, proofB64 := c2[:i], c2[i+3:]
	attrs := strings.Split(c2wop, ",")
	if len(attrs) != 2 || !strings.HasPrefix(attrs[0], "c=") || !strings.HasPrefix(attrs[1], "r=") {
		return bad("malformed client-final message")
	}
	if cb, err := base64.StdEncoding.DecodeString(attrs[0][2:]); err != nil || string(cb) != s.gs2 {
		return bad("channel binding does not match the client-first message")
	}
	if !strings.HasSuffix(attrs[1][2:], s.nonce) {
		return bad("invalid nonce in the client-final message")
	}
	proof, err := base64.StdEncoding.DecodeString(proofB64)
	if err != nil || len(proof) != len(s.cred.StoredKey) {
		return bad("malformed client proof")
	}
	authMsg := []byte(s.c1bare + "," + s.s1 + "," + c2wop)
	sig := s.mech.hmac(s.cred.StoredKey, authMsg)
	for j := range proof {
		proof[j] ^= sig[j] // ClientKey
	}
	h := s.mech.hash()
	h.Write(proof)
	if !hmac.Equal(h.Sum(nil), s.cred.StoredKey) {
		return bad("invalid client proof (wrong password?)")
	}
	s.principal = User(s.user)
	return []byte("v=" + base64.StdEncoding.EncodeToString(s.mech.hmac(s.cred.ServerKey, authMsg))), nil
}
