// Package auth holds who a connection is: the principal a listener
// authenticates (from a client certificate, a SASL exchange, or ANONYMOUS
// on an unauthenticated listener), and the server side of the SASL
// mechanisms Tandem offers.
package auth

import (
	"fmt"
	"strings"
)

// Principal is Kafka's KafkaPrincipal: a type and a name, written
// "Type:Name" ("User:alice") in ACLs, super.users and logs.
type Principal struct {
	Type string // "User" for every principal Tandem builds
	Name string
}

// UserType is the principal type of authenticated users and ANONYMOUS, as
// KafkaPrincipal.USER_TYPE.
const UserType = "User"

// Anonymous is the principal of a connection on a PLAINTEXT or SSL listener
// that did not authenticate (Kafka's KafkaPrincipal.ANONYMOUS).
var Anonymous = Principal{Type: UserType, Name: "ANONYMOUS"}

// User returns the User principal called name.
func User(name string) Principal { return Principal{Type: UserType, Name: name} }

// String is "Type:Name", the form ACLs and super.users use.
func (p Principal) String() string { return p.Type + ":" + p.Name }

// IsZero reports whether p is the zero Principal (not authenticated yet).
func (p Principal) IsZero() bool { return p == Principal{} }

// ParsePrincipal parses "Type:Name" as Kafka's SecurityUtils.parseKafkaPrincipal
// does: the type is everything before the first colon, and both parts must be
// non-empty ("User:CN=a,O=b" keeps its later colons and commas in the name).
func ParsePrincipal(s string) (Principal, error) {
	typ, name, ok := strings.Cut(s, ":")
	if !ok || typ == "" || name == "" {
		return Principal{}, fmt.Errorf("principal %q: want Type:Name, such as User:alice", s)
	}
	return Principal{Type: typ, Name: name}, nil
}
