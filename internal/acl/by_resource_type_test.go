package acl

import (
	"net/netip"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/auth"
)

func TestAuthorizeByResourceTypeTable(t *testing.T) {
	const (
		write = kmsg.ACLOperationWrite
		allow = kmsg.ACLPermissionTypeAllow
		deny  = kmsg.ACLPermissionTypeDeny
		lit   = kmsg.ACLResourcePatternTypeLiteral
		pre   = kmsg.ACLResourcePatternTypePrefixed
	)
	topic := kmsg.ACLResourceTypeTopic
	b := func(name string, pt PatternType, principal string, op Operation, perm Permission) Binding {
		return Binding{Pattern{topic, name, pt}, Entry{principal, Wildcard, op, perm}}
	}
	for _, c := range []struct {
		name  string
		acls  []Binding
		super bool
		want  bool
	}{
		{"no ACLs", nil, false, false},
		{"super user", nil, true, true},
		{"literal allow", []Binding{b("orders", lit, "User:alice", write, allow)}, false, true},
		{"other principal", []Binding{b("orders", lit, "User:bob", write, allow)}, false, false},
		{"User:*", []Binding{b("orders", lit, "User:*", write, allow)}, false, true},
		{"ALL counts", []Binding{b("orders", lit, "User:alice", kmsg.ACLOperationAll, allow)}, false, true},
		{"implied operations do not", []Binding{b("orders", lit, "User:alice", kmsg.ACLOperationRead, allow)}, false, false},
		{"prefixed allow", []Binding{b("ord", pre, "User:alice", write, allow)}, false, true},
		{"literal deny cancels", []Binding{b("orders", lit, "User:alice", write, allow), b("orders", lit, "User:alice", write, deny)}, false, false},
		{"prefix deny dominates", []Binding{b("orders", lit, "User:alice", write, allow), b("ord", pre, "User:alice", write, deny)}, false, false},
		{"prefix deny elsewhere", []Binding{b("orders", lit, "User:alice", write, allow), b("pay", pre, "User:alice", write, deny)}, false, true},
		{"wildcard allow", []Binding{b("*", lit, "User:alice", write, allow)}, false, true},
		{"wildcard deny wins", []Binding{b("orders", lit, "User:alice", write, allow), b("*", lit, "User:alice", write, deny)}, false, false},
		{"other host", []Binding{{Pattern{topic, "orders", lit}, Entry{"User:alice", "10.0.0.1", write, allow}}}, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := AuthorizerOptions{ACLs: func() []Binding { return c.acls }}
			if c.super {
				opts.SuperUsers = []auth.Principal{auth.User("alice")}
			}
			a := NewAuthorizer(opts)
			ctx := RequestContext{Principal: auth.User("alice"), Host: netip.MustParseAddr("127.0.0.1")}
			if got := a.AuthorizeByResourceType(ctx, write, topic); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}
