package acl

import (
	"errors"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/auth"
)

// TestValidate: AclControlManager.validateNewAcl and AclApis.handleCreateAcls.
func TestValidate(t *testing.T) {
	ok := bind(topT, "t", lit, "User:alice", "*", opRead, allow)
	for _, c := range []struct {
		name   string
		change func(*Binding)
		valid  bool
	}{
		{"ok", func(*Binding) {}, true},
		{"prefixed", func(b *Binding) { b.PatternType = pre }, true},
		{"wildcard literal", func(b *Binding) { b.Name = "*" }, true},
		{"prefixed star is an ordinary prefix", func(b *Binding) { b.Name, b.PatternType = "*", pre }, true},
		{"cluster", func(b *Binding) { b.Type, b.Name = kmsg.ACLResourceTypeCluster, ClusterName }, true},
		{"user principal wildcard", func(b *Binding) { b.Principal = "User:*" }, true},
		{"any resource type", func(b *Binding) { b.Type = kmsg.ACLResourceTypeAny }, false},
		{"unknown resource type", func(b *Binding) { b.Type = kmsg.ACLResourceTypeUnknown }, false},
		{"undefined resource type", func(b *Binding) { b.Type = 42 }, false},
		{"match pattern", func(b *Binding) { b.PatternType = kmsg.ACLResourcePatternTypeMatch }, false},
		{"any pattern", func(b *Binding) { b.PatternType = kmsg.ACLResourcePatternTypeAny }, false},
		{"any operation", func(b *Binding) { b.Operation = kmsg.ACLOperationAny }, false},
		{"unknown operation", func(b *Binding) { b.Operation = kmsg.ACLOperationUnknown }, false},
		{"undefined operation", func(b *Binding) { b.Operation = 99 }, false},
		{"any permission", func(b *Binding) { b.Permission = kmsg.ACLPermissionTypeAny }, false},
		{"unknown permission", func(b *Binding) { b.Permission = kmsg.ACLPermissionTypeUnknown }, false},
		{"empty name", func(b *Binding) { b.Name = "" }, false},
		{"cluster other name", func(b *Binding) { b.Type, b.Name = kmsg.ACLResourceTypeCluster, "c" }, false},
		{"principal without type", func(b *Binding) { b.Principal = "alice" }, false},
		{"principal empty name", func(b *Binding) { b.Principal = "User:" }, false},
		{"empty host", func(b *Binding) { b.Host = "" }, false},
	} {
		b := ok
		c.change(&b)
		err := b.Validate()
		if (err == nil) != c.valid {
			t.Errorf("%s: Validate() = %v, want valid=%v", c.name, err, c.valid)
		}
		if err != nil && !errors.Is(err, ErrInvalidBinding) {
			t.Errorf("%s: %v is not ErrInvalidBinding", c.name, err)
		}
	}
}

// TestFilterMatches mirrors Kafka's ResourcePatternFilterTest and
// AclBindingFilterTest.
func TestFilterMatches(t *testing.T) {
	s := func(v string) *string { return &v }
	any := AnyFilter
	for _, c := range []struct {
		name string
		f    func(f *Filter)
		b    Binding
		want bool
	}{
		{"any matches all", func(*Filter) {}, bind(grpT, "g", pre, "User:a", "h", opRead, deny), true},
		{"type", func(f *Filter) { f.ResourceType = topT }, bind(grpT, "g", lit, "User:a", "*", opRead, allow), false},
		{"literal name exact", func(f *Filter) { f.Name, f.PatternType = s("t"), lit }, bind(topT, "t", lit, "User:a", "*", opRead, allow), true},
		{"literal filter not prefixed", func(f *Filter) { f.Name, f.PatternType = s("t"), lit }, bind(topT, "t", pre, "User:a", "*", opRead, allow), false},
		{"literal filter * only the wildcard", func(f *Filter) { f.Name, f.PatternType = s("*"), lit }, bind(topT, "t", lit, "User:a", "*", opRead, allow), false},
		{"any pattern exact name", func(f *Filter) { f.Name = s("t") }, bind(topT, "t", pre, "User:a", "*", opRead, allow), true},
		{"any pattern no wildcard expansion", func(f *Filter) { f.Name = s("t") }, bind(topT, "*", lit, "User:a", "*", opRead, allow), false},
		{"match literal", func(f *Filter) { f.Name, f.PatternType = s("topic"), kmsg.ACLResourcePatternTypeMatch }, bind(topT, "topic", lit, "User:a", "*", opRead, allow), true},
		{"match wildcard", func(f *Filter) { f.Name, f.PatternType = s("topic"), kmsg.ACLResourcePatternTypeMatch }, bind(topT, "*", lit, "User:a", "*", opRead, allow), true},
		{"match prefix", func(f *Filter) { f.Name, f.PatternType = s("topic"), kmsg.ACLResourcePatternTypeMatch }, bind(topT, "top", pre, "User:a", "*", opRead, allow), true},
		{"match prefix whole", func(f *Filter) { f.Name, f.PatternType = s("topic"), kmsg.ACLResourcePatternTypeMatch }, bind(topT, "topic", pre, "User:a", "*", opRead, allow), true},
		{"match longer prefix", func(f *Filter) { f.Name, f.PatternType = s("topic"), kmsg.ACLResourcePatternTypeMatch }, bind(topT, "topic2", pre, "User:a", "*", opRead, allow), false},
		{"match other literal", func(f *Filter) { f.Name, f.PatternType = s("topic"), kmsg.ACLResourcePatternTypeMatch }, bind(topT, "top", lit, "User:a", "*", opRead, allow), false},
		{"match no name", func(f *Filter) { f.PatternType = kmsg.ACLResourcePatternTypeMatch }, bind(topT, "x", pre, "User:a", "*", opRead, allow), true},
		{"principal", func(f *Filter) { f.Principal = s("User:a") }, bind(topT, "t", lit, "User:b", "*", opRead, allow), false},
		{"principal no wildcard expansion", func(f *Filter) { f.Principal = s("User:a") }, bind(topT, "t", lit, "User:*", "*", opRead, allow), false},
		{"host", func(f *Filter) { f.Host = s("*") }, bind(topT, "t", lit, "User:a", "*", opRead, allow), true},
		{"operation exact, not implied", func(f *Filter) { f.Operation = opDescribe }, bind(topT, "t", lit, "User:a", "*", opRead, allow), false},
		{"operation ALL only ALL", func(f *Filter) { f.Operation = opAll }, bind(topT, "t", lit, "User:a", "*", opRead, allow), false},
		{"permission", func(f *Filter) { f.Permission = deny }, bind(topT, "t", lit, "User:a", "*", opRead, allow), false},
	} {
		f := any
		c.f(&f)
		if got := f.Matches(c.b); got != c.want {
			t.Errorf("%s: Matches = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestFilterValidate(t *testing.T) {
	if err := AnyFilter.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []func(*Filter){
		func(f *Filter) { f.ResourceType = kmsg.ACLResourceTypeUnknown },
		func(f *Filter) { f.PatternType = kmsg.ACLResourcePatternTypeUnknown },
		func(f *Filter) { f.Operation = kmsg.ACLOperationUnknown },
		func(f *Filter) { f.Permission = kmsg.ACLPermissionTypeUnknown },
		func(f *Filter) { f.Operation = 77 },
	} {
		x := AnyFilter
		f(&x)
		if err := x.Validate(); !errors.Is(err, ErrInvalidBinding) {
			t.Errorf("%+v: Validate() = %v", x, err)
		}
	}
}

// TestParseSuperUsers mirrors StandardAuthorizerTest.testGetConfiguredSuperUsers.
func TestParseSuperUsers(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []auth.Principal
	}{
		{"", nil},
		{" ", nil},
		{"User:bob;User:alice ", []auth.Principal{auth.User("bob"), auth.User("alice")}},
		{";  User:bob  ;  User:alice ", []auth.Principal{auth.User("bob"), auth.User("alice")}},
		{"User:CN=a,O=b", []auth.Principal{auth.User("CN=a,O=b")}},
	} {
		got, err := ParseSuperUsers(c.in)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("ParseSuperUsers(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	if _, err := ParseSuperUsers("bob;:alice"); err == nil {
		t.Error("bob;:alice accepted")
	}
}
