package config

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/auth"
)

func TestAuthorizerKeys(t *testing.T) {
	bc, err := LoadBroker(map[string]string{"node.id": "1", "log.dirs": "/d"})
	if err != nil || bc.AuthorizerClassName != "" || bc.SuperUsers != nil || bc.AllowEveryoneIfNoACLFound {
		t.Fatalf("defaults: %v %q %v %v", err, bc.AuthorizerClassName, bc.SuperUsers, bc.AllowEveryoneIfNoACLFound)
	}
	for _, class := range []string{AuthorizerStandard, AuthorizerACL} {
		bc, err := LoadBroker(map[string]string{"node.id": "1", "log.dirs": "/d", "authorizer.class.name": class,
			"super.users": " User:admin ; User:CN=ops,O=x;", "allow.everyone.if.no.acl.found": "true"})
		if err != nil {
			t.Fatal(err)
		}
		if bc.AuthorizerClassName != class || !bc.AllowEveryoneIfNoACLFound ||
			!slices.Equal(bc.SuperUsers, []auth.Principal{auth.User("admin"), auth.User("CN=ops,O=x")}) {
			t.Fatalf("%s: %+v %v %v", class, bc.AuthorizerClassName, bc.SuperUsers, bc.AllowEveryoneIfNoACLFound)
		}
	}
	_, err = LoadBroker(map[string]string{"node.id": "1", "log.dirs": "/d", "authorizer.class.name": "com.example.MyAuthorizer"})
	if !errors.Is(err, ErrInvalidValue) || !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), AuthorizerStandard) {
		t.Fatalf("other class: %v", err)
	}
	_, err = LoadBroker(map[string]string{"node.id": "1", "log.dirs": "/d", "super.users": "User:a;bob"})
	if !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), "principalType:principalName") {
		t.Fatalf("bad super.users: %v", err)
	}
}
