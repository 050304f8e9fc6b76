package auth

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"

	"github.com/xdg-go/scram"
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
	xdg           scram.HashGeneratorFcn
}

// ScramMechanisms are the SCRAM mechanisms Kafka defines, by type byte
// order. Kafka bounds iterations to [4096, 16384] for both.
var ScramMechanisms = []ScramMechanism{
	{Name: MechanismScramSHA256, Type: 1, MinIterations: 4096, MaxIterations: 16384, hash: sha256.New, xdg: scram.SHA256},
	{Name: MechanismScramSHA512, Type: 2, MinIterations: 4096, MaxIterations: 16384, hash: sha512.New, xdg: scram.SHA512},
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
var testNonce scram.NonceGeneratorFcn

// errUnknownScramUser: no credential for the user and mechanism.
var errUnknownScramUser = errors.New("no credential")

// scramServer is the server side of SCRAM-SHA-256/512 (RFC 5802, RFC 7677)
// on xdg-go/scram's conversation, with Kafka's ScramSaslServer rules: an
// authorization id must equal the user name; a failure other than that
// gets the generic "invalid credentials" message, which does not say
// whether the user exists.
type scramServer struct {
	mech      ScramMechanism
	conv      *scram.ServerConversation
	principal Principal
	user      string
	steps     int
}

func newScramServer(mechanism string, creds ScramCredentials) (*scramServer, error) {
	m, ok := ScramMechanismByName(mechanism)
	if !ok {
		return nil, fmt.Errorf("unknown SCRAM mechanism %s", mechanism)
	}
	s := &scramServer{mech: m}
	srv, err := m.xdg.NewServer(func(user string) (scram.StoredCredentials, error) {
		s.user = user
		if creds == nil {
			return scram.StoredCredentials{}, errUnknownScramUser
		}
		c, ok := creds.ScramCredential(user, m.Name)
		if !ok {
			return scram.StoredCredentials{}, errUnknownScramUser
		}
		return scram.StoredCredentials{
			KeyFactors: scram.KeyFactors{Salt: string(c.Salt), Iters: int(c.Iterations)},
			StoredKey:  c.StoredKey, ServerKey: c.ServerKey,
		}, nil
	})
	if err != nil {
		return nil, err
	}
	if testNonce != nil {
		srv = srv.WithNonceGenerator(testNonce)
	}
	s.conv = srv.NewConversation()
	return s, nil
}

func (s *scramServer) Principal() Principal { return s.principal }

func (s *scramServer) Step(token []byte) ([]byte, bool, error) {
	s.steps++
	first := s.steps == 1
	if s.steps > 2 {
		return nil, false, refused(s.mech.Name, s.user, "Authentication failed: the exchange is already complete")
	}
	out, err := s.conv.Step(string(token))
	if err != nil {
		reason := "invalid client message"
		switch {
		case errors.Is(err, errUnknownScramUser):
			reason = "unknown user or no " + s.mech.Name + " credential"
		case !first:
			reason = "invalid client proof (wrong password?)"
		}
		return nil, false, invalidCredentials(s.mech.Name, s.user, reason)
	}
	if first {
		if authz := s.conv.AuthzID(); authz != "" && authz != s.conv.Username() {
			return nil, false, refused(s.mech.Name, s.user, "Authentication failed: Client requested an authorization id that is different from username")
		}
		return []byte(out), false, nil
	}
	if !s.conv.Valid() {
		return nil, false, invalidCredentials(s.mech.Name, s.user, "invalid client proof")
	}
	s.principal = User(s.conv.Username())
	return []byte(out), true, nil
}
