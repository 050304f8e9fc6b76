package auth

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"strings"
)

// PlainUsers are the users of SASL/PLAIN: the user_<name>="<password>"
// options of a PlainLoginModule JAAS entry, as Kafka's
// PlainServerCallbackHandler reads them.
type PlainUsers map[string]string

// ParsePlainUsers reads the users of a PlainLoginModule sasl.jaas.config.
func ParsePlainUsers(jaas string) (PlainUsers, error) {
	e, err := ParseJAAS(jaas)
	if err != nil {
		return nil, fmt.Errorf("%w: PLAIN: %w", ErrSASLConfig, err)
	}
	if e.LoginModule != PlainLoginModule {
		return nil, fmt.Errorf("%w: PLAIN: the sasl.jaas.config login module is %s, want %s", ErrSASLConfig, e.LoginModule, PlainLoginModule)
	}
	users := PlainUsers{}
	for k, v := range e.Options {
		if name, ok := strings.CutPrefix(k, "user_"); ok && name != "" {
			users[name] = v
		}
	}
	return users, nil
}

// Check reports whether password is user's. The comparison takes the same
// time whatever the password and whether the user exists (Kafka's
// Utils.isEqualConstantTime): both sides are hashed first, so neither the
// length nor the content of the expected password leaks through timing.
func (u PlainUsers) Check(user, password string) bool {
	want, ok := u[user]
	a := sha256.Sum256([]byte(password))
	b := sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1 && ok
}

// plainServer is SASL/PLAIN (RFC 4616) with Kafka's PlainSaslServer
// checks and messages.
type plainServer struct {
	users     PlainUsers
	principal Principal
	done      bool
}

func (p *plainServer) Principal() Principal { return p.principal }

func (p *plainServer) Step(token []byte) ([]byte, bool, error) {
	if p.done {
		return nil, false, refused(MechanismPlain, "", "Authentication failed: the exchange is already complete")
	}
	p.done = true
	// message = [authzid] UTF8NUL authcid UTF8NUL passwd
	parts := bytes.Split(token, []byte{0})
	if len(parts) != 3 {
		// PlainSaslServer throws a SaslException here: generic message.
		return nil, false, invalidCredentials(MechanismPlain, "", fmt.Sprintf("invalid SASL/PLAIN response: expected 3 tokens, got %d", len(parts)))
	}
	authzid, user, password := string(parts[0]), string(parts[1]), string(parts[2])
	switch {
	case user == "":
		return nil, false, refused(MechanismPlain, "", "Authentication failed: username not specified")
	case password == "":
		return nil, false, refused(MechanismPlain, user, "Authentication failed: password not specified")
	case !p.users.Check(user, password):
		return nil, false, refused(MechanismPlain, user, "Authentication failed: Invalid username or password")
	case authzid != "" && authzid != user:
		return nil, false, refused(MechanismPlain, user, "Authentication failed: Client requested an authorization id that is different from username")
	}
	p.principal = User(user)
	return nil, true, nil
}
