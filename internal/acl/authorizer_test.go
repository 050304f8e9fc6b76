package acl

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/auth"
)

const (
	lit  = kmsg.ACLResourcePatternTypeLiteral
	pre  = kmsg.ACLResourcePatternTypePrefixed
	topT = kmsg.ACLResourceTypeTopic
	grpT = kmsg.ACLResourceTypeGroup

	allow = kmsg.ACLPermissionTypeAllow
	deny  = kmsg.ACLPermissionTypeDeny

	opAll       = kmsg.ACLOperationAll
	opRead      = kmsg.ACLOperationRead
	opWrite     = kmsg.ACLOperationWrite
	opCreate    = kmsg.ACLOperationCreate
	opDelete    = kmsg.ACLOperationDelete
	opAlter     = kmsg.ACLOperationAlter
	opDescribe  = kmsg.ACLOperationDescribe
	opDescCfgs  = kmsg.ACLOperationDescribeConfigs
	opAlterCfgs = kmsg.ACLOperationAlterConfigs
)

func bind(rt ResourceType, name string, pt PatternType, principal, host string, op Operation, perm Permission) Binding {
	return Binding{Pattern{rt, name, pt}, Entry{principal, host, op, perm}}
}

func userCtx(name string) RequestContext {
	return RequestContext{Principal: auth.User(name), Host: netip.MustParseAddr("192.168.1.1")}
}

type check struct {
	user string
	op   Operation
	res  Resource
	want bool
}

func runChecks(t *testing.T, a Authorizer, checks []check) {
	t.Helper()
	for _, c := range checks {
		if got := a.Authorize(userCtx(c.user), c.op, c.res); got != c.want {
			t.Errorf("%s %s %v: got %v, want %v", c.user, c.op, c.res, got, c.want)
		}
	}
}

func static(bs ...Binding) AuthorizerOptions {
	return AuthorizerOptions{ACLs: func() []Binding { return bs }}
}

// fooACL and barACL are StandardAuthorizerTest's newFooAcl and newBarAcl.
func fooACL(op Operation, perm Permission) Binding {
	return bind(topT, "foo_", pre, "User:bob", "*", op, perm)
}

func barACL(op Operation, perm Permission) Binding {
	return bind(grpT, "bar", lit, "User:*", "*", op, perm)
}

// TestImplication mirrors StandardAuthorizerTest.testFindResultImplication:
// READ, WRITE, DELETE, ALTER imply DESCRIBE and ALTER_CONFIGS implies
// DESCRIBE_CONFIGS for ALLOW ACLs only; CREATE implies nothing.
func TestImplication(t *testing.T) {
	res := Topic("foo_bar")
	for _, op := range []Operation{opDescribe, opRead, opWrite, opDelete, opAlter} {
		a := NewAuthorizer(static(fooACL(op, allow)))
		runChecks(t, a, []check{{"bob", opDescribe, res, true}})
	}
	runChecks(t, NewAuthorizer(static(fooACL(opCreate, allow))), []check{{"bob", opDescribe, res, false}})
	for _, op := range []Operation{opRead, opWrite, opDelete, opAlter} {
		// A DENY on READ does not deny DESCRIBE; with an ALLOW DESCRIBE
		// beside it, DESCRIBE stays allowed while READ is denied.
		a := NewAuthorizer(static(fooACL(op, deny), fooACL(opDescribe, allow)))
		runChecks(t, a, []check{{"bob", opDescribe, res, true}, {"bob", op, res, false}})
	}
	runChecks(t, NewAuthorizer(static(fooACL(opDescribe, deny), fooACL(opRead, allow))),
		[]check{{"bob", opDescribe, res, false}, {"bob", opRead, res, true}})
	for _, op := range []Operation{opDescCfgs, opAlterCfgs} {
		runChecks(t, NewAuthorizer(static(fooACL(op, allow))), []check{{"bob", opDescCfgs, res, true}})
	}
	runChecks(t, NewAuthorizer(static(fooACL(opAlterCfgs, deny), fooACL(opDescCfgs, allow))),
		[]check{{"bob", opDescCfgs, res, true}, {"bob", opAlterCfgs, res, false}})
	// ALTER_CONFIGS does not imply ALTER, nor READ WRITE.
	runChecks(t, NewAuthorizer(static(fooACL(opAlterCfgs, allow), fooACL(opRead, allow))),
		[]check{{"bob", opAlter, res, false}, {"bob", opWrite, res, false}})
}

// TestPrincipalMatching mirrors testFindResultPrincipalMatching and
// testSimpleAuthorizations.
func TestPrincipalMatching(t *testing.T) {
	a := NewAuthorizer(static(fooACL(opRead, allow), fooACL(opWrite, allow),
		barACL(opDescCfgs, allow), barACL(opAlterCfgs, allow)))
	runChecks(t, a, []check{
		{"bob", opRead, Topic("foo_bar"), true},
		{"bob", opRead, Topic("foo_"), true},
		{"alice", opRead, Topic("foo_bar"), false},
		{"fred", opAlterCfgs, Group("bar"), true}, // User:* matches fred
		{"fred", opRead, Group("bar"), false},
	})
	// User:* denies everyone.
	runChecks(t, NewAuthorizer(static(barACL(opRead, deny), barACL(opRead, allow))),
		[]check{{"alice", opRead, Group("bar"), false}})
	// A principal of another type is matched by type and name.
	b := NewAuthorizer(static(bind(topT, "t", lit, "Group:ops", "*", opRead, allow)))
	if b.Authorize(RequestContext{Principal: auth.User("ops")}, opRead, Topic("t")) {
		t.Error("User:ops matched an ACL of Group:ops")
	}
	if !b.Authorize(RequestContext{Principal: auth.Principal{Type: "Group", Name: "ops"}}, opRead, Topic("t")) {
		t.Error("Group:ops did not match its ACL")
	}
}

// TestOperationAll mirrors testTopicAclWithOperationAll.
func TestOperationAll(t *testing.T) {
	a := NewAuthorizer(static(
		bind(topT, "foo", lit, "User:*", "*", opAll, allow),
		bind(topT, "bar", pre, "User:alice", "*", opAll, allow),
		bind(topT, "baz", lit, "User:bob", "*", opAll, allow)))
	runChecks(t, a, []check{
		{"alice", opWrite, Topic("foo"), true},
		{"alice", opDescCfgs, Topic("bar"), true},
		{"alice", opDescribe, Topic("baz"), false},
		{"bob", opWrite, Topic("foo"), true},
		{"bob", opRead, Topic("bar"), false},
		{"bob", opDescribe, Topic("baz"), true},
		{"malory", opDescribe, Topic("foo"), true},
		{"malory", opWrite, Topic("bar"), false},
		{"malory", opRead, Topic("baz"), false},
	})
	// DENY ALL denies every operation, DESCRIBE included.
	d := NewAuthorizer(static(bind(topT, "t", lit, "User:*", "*", opAll, allow), bind(topT, "t", lit, "User:eve", "*", opAll, deny)))
	runChecks(t, d, []check{{"eve", opDescribe, Topic("t"), false}, {"ann", opDescribe, Topic("t"), true}})
}

// manyACLs is StandardAuthorizerTest.createAuthorizerWithManyAcls.
func manyACLs() []Binding {
	return []Binding{
		bind(topT, "green2", lit, "User:*", "*", opRead, allow),
		bind(topT, "green", pre, "User:bob", "*", opRead, allow),
		bind(topT, "betamax4", lit, "User:bob", "*", opRead, allow),
		bind(topT, "betamax", lit, "User:bob", "*", opRead, allow),
		bind(topT, "beta", pre, "User:*", "*", opRead, allow),
		bind(topT, "alpha", pre, "User:*", "*", opRead, allow),
		bind(topT, "alp", pre, "User:bob", "*", opRead, deny),
		bind(grpT, "*", lit, "User:bob", "*", opWrite, allow),
		bind(grpT, "wheel", lit, "User:*", "*", opWrite, deny),
	}
}

// TestManyACLs mirrors testAuthorizationWithManyAcls, plus the cases of
// the ordering comment in StandardAuthorizerData.findAclRule (a LITERAL
// that is a prefix of the name does not apply; shorter PREFIXED ones do).
func TestManyACLs(t *testing.T) {
	a := NewAuthorizer(static(manyACLs()...))
	runChecks(t, a, []check{
		{"bob", opRead, Topic("green1"), true},
		{"bob", opWrite, Group("wheel"), false},
		{"bob", opRead, Topic("alpha"), false}, // DENY alp* beats ALLOW alpha*
		{"bob", opWrite, Group("arbitrary"), true},
		{"bob", opRead, Topic("ala"), false},
		{"alice", opRead, Topic("alpha"), true},
		{"alice", opRead, Topic("betamax4"), true}, // beta* for everyone
		{"alice", opRead, Topic("green2"), true},
		{"alice", opRead, Topic("green3"), false},
		{"bob", opRead, Topic("betamax44"), true}, // beta*, not the LITERAL betamax4
		{"bob", opRead, Topic("gree"), false},
	})
}

// TestAllowEveryoneIfNoACLFound: only when no ACL applies to the resource
// at all, whichever principal it names (AclAuthorizerTest.testNoAclFoundOverride;
// StandardAuthorizerData's MatchingRuleBuilder.hasResourceAcls).
func TestAllowEveryoneIfNoACLFound(t *testing.T) {
	acls := []Binding{bind(topT, "owned", lit, "User:alice", "*", opRead, allow),
		bind(topT, "pre-", pre, "User:alice", "*", opWrite, allow)}
	on := static(acls...)
	on.AllowEveryoneIfNoACLFound = true
	runChecks(t, NewAuthorizer(on), []check{
		{"bob", opRead, Topic("free"), true},
		{"bob", opRead, Topic("owned"), false},   // an ACL names the topic, for alice
		{"bob", opRead, Topic("pre-x"), false},   // a PREFIXED ACL applies
		{"bob", opDelete, Topic("owned"), false}, // another operation: still an ACL on it
		{"alice", opRead, Topic("owned"), true},
		{"bob", opRead, Group("g"), true},
	})
	runChecks(t, NewAuthorizer(static(acls...)), []check{{"bob", opRead, Topic("free"), false}})
	// A wildcard ACL applies to every name of its type.
	w := static(bind(topT, "*", lit, "User:alice", "*", opRead, allow))
	w.AllowEveryoneIfNoACLFound = true
	runChecks(t, NewAuthorizer(w), []check{{"bob", opRead, Topic("any"), false}, {"bob", opRead, Group("g"), true}})
}

// TestSuperUsers mirrors AclAuthorizerTest.testSuperUserHasAccess: a super
// user passes even a DENY.
func TestSuperUsers(t *testing.T) {
	o := static(bind(topT, "t", lit, "User:*", "*", opAll, deny))
	o.SuperUsers = []auth.Principal{auth.User("admin")}
	runChecks(t, NewAuthorizer(o), []check{
		{"admin", opRead, Topic("t"), true},
		{"admin", opAlter, Cluster, true},
		{"bob", opRead, Topic("t"), false},
	})
	if NewAuthorizer(o).Authorize(RequestContext{}, opRead, Topic("x")) {
		t.Error("a request without a principal was allowed")
	}
}

// TestHosts mirrors AclAuthorizerTest.testHostAddressAclValidation: an
// ACL's host is the client's address or "*".
func TestHosts(t *testing.T) {
	a := NewAuthorizer(static(
		bind(topT, "t", lit, "User:bob", "10.0.0.1", opRead, allow),
		bind(topT, "t", lit, "User:bob", "::1", opWrite, allow),
		bind(topT, "t", lit, "User:bob", "10.0.0.2", opRead, deny),
		bind(topT, "t", lit, "User:bob", "host.example", opDescribe, allow)))
	bob := func(h string) RequestContext {
		return RequestContext{Principal: auth.User("bob"), Host: netip.MustParseAddr(h)}
	}
	for _, c := range []struct {
		host string
		op   Operation
		want bool
	}{
		{"10.0.0.1", opRead, true},
		{"::ffff:10.0.0.1", opRead, true}, // IPv4-mapped is the same client
		{"10.0.0.3", opRead, false},
		{"10.0.0.2", opRead, false},
		{"0:0:0:0:0:0:0:1", opWrite, true},
		{"10.0.0.1", opWrite, false},
		{"10.0.0.9", opDescribe, false}, // a host name never matches
	} {
		if got := a.Authorize(bob(c.host), c.op, Topic("t")); got != c.want {
			t.Errorf("host %s %s: got %v, want %v", c.host, c.op, got, c.want)
		}
	}
	// No client address (a caller that is not a Kafka connection) matches
	// only "*" hosts.
	if a.Authorize(RequestContext{Principal: auth.User("bob")}, opRead, Topic("t")) {
		t.Error("a request without an address matched a host ACL")
	}
}

// TestVersionRebuild: with Version, the index follows changes.
func TestVersionRebuild(t *testing.T) {
	var v int64 = 1
	acls := []Binding{fooACL(opRead, allow)}
	a := NewAuthorizer(AuthorizerOptions{ACLs: func() []Binding { return acls }, Version: func() int64 { return v }})
	runChecks(t, a, []check{{"bob", opRead, Topic("foo_1"), true}})
	acls = []Binding{fooACL(opRead, deny)}
	runChecks(t, a, []check{{"bob", opRead, Topic("foo_1"), true}}) // cached
	v = 2
	runChecks(t, a, []check{{"bob", opRead, Topic("foo_1"), false}})
}

func TestAuthorizedOperations(t *testing.T) {
	a := NewAuthorizer(static(fooACL(opRead, allow), fooACL(opAlterCfgs, allow)))
	got := AuthorizedOperations(a, userCtx("bob"), Topic("foo_x"))
	want := int32(1<<opRead | 1<<opDescribe | 1<<opDescCfgs | 1<<opAlterCfgs)
	if got != want {
		t.Errorf("got %b, want %b", got, want)
	}
	// Authorization off: every supported operation, Kafka's bit set for
	// a topic (the broker's topicOpsAll).
	if got := AuthorizedOperations(nil, RequestContext{}, Topic("x")); got != 1<<3|1<<4|1<<5|1<<6|1<<7|1<<8|1<<10|1<<11 {
		t.Errorf("nil authorizer topic ops %b", got)
	}
}

func BenchmarkAuthorizeManyACLs(b *testing.B) {
	var acls []Binding
	for i := range 10000 {
		acls = append(acls, bind(topT, fmt.Sprintf("topic-%d", i), lit, fmt.Sprintf("User:u%d", i%100), "*", opRead, allow))
		acls = append(acls, bind(topT, fmt.Sprintf("team%d.", i%500), pre, fmt.Sprintf("User:u%d", i%100), "*", opWrite, allow))
	}
	a := NewAuthorizer(AuthorizerOptions{ACLs: func() []Binding { return acls }, Version: func() int64 { return 1 }})
	ctx := userCtx("u7")
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		a.Authorize(ctx, opRead, Topic("team7.orders"))
	}
}

// TestAuthorizeByResourceType mirrors Kafka's BaseAuthorizerTest cases
// testAuthorizeByResourceTypeDenyTakesPrecedence,
// ...PrefixedResourceDenyDominate, ...WildcardResourceDenyDominate,
// ...WithAllOperationAce, ...IsolationUnrelatedDenyWontDominateAllow,
// ...SuperUserHasAccess and ...EnableAllowEveryOne.
func TestAuthorizeByResourceType(t *testing.T) {
	h1, h2 := "192.168.1.1", "192.168.1.2"
	ctx := func(user, host string) RequestContext {
		return RequestContext{Principal: auth.User(user), Host: netip.MustParseAddr(host)}
	}
	u1h1, u1h2 := ctx("user1", h1), ctx("user1", h2)
	var acls []Binding
	a := NewAuthorizer(AuthorizerOptions{ACLs: func() []Binding { return acls }})
	add := func(bs ...Binding) { acls = append(acls, bs...) }
	step := func(name string, c RequestContext, op Operation, rt ResourceType, want bool) {
		t.Helper()
		if got := a.AuthorizeByResourceType(c, op, rt); got != want {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}

	// DenyTakesPrecedence.
	step("no ACLs", u1h1, opWrite, topT, false)
	add(bind(topT, "sb1", lit, "User:user1", h1, opWrite, allow))
	step("allow", u1h1, opWrite, topT, true)
	add(bind(topT, "sb1", lit, "User:user1", h1, opWrite, deny))
	step("deny takes precedence", u1h1, opWrite, topT, false)

	// PrefixedResourceDenyDominate.
	acls = nil
	add(bind(grpT, "abcde", pre, "User:user1", h1, opRead, allow))
	step("abcde*", u1h1, opRead, grpT, true)
	add(bind(grpT, "abcd", pre, "User:user1", h1, opRead, deny))
	step("deny abcd*", u1h1, opRead, grpT, false)
	add(bind(grpT, "abc", pre, "User:user1", h1, opRead, allow))
	step("allow abc*", u1h1, opRead, grpT, true)
	add(bind(grpT, "a", pre, "User:user1", h1, opRead, deny))
	step("deny a*", u1h1, opRead, grpT, false)
	add(bind(grpT, "ab", pre, "User:user1", h1, opRead, allow))
	step("allow ab* under deny a*", u1h1, opRead, grpT, false)

	// WildcardResourceDenyDominate.
	acls = nil
	add(bind(grpT, "hello", pre, "User:user1", h1, opWrite, allow))
	step("hello*", u1h1, opWrite, grpT, true)
	add(bind(grpT, "*", lit, "User:user1", h1, opWrite, deny))
	step("wildcard deny", u1h1, opWrite, grpT, false)
	add(bind(grpT, "*", lit, "User:user1", h1, opWrite, allow), bind(grpT, "aloha", lit, "User:user1", h1, opWrite, allow))
	step("wildcard deny dominates", u1h1, opWrite, grpT, false)

	// WithAllOperationAce.
	acls = nil
	add(bind(topT, "sb1", lit, "User:user1", h1, opWrite, deny), bind(topT, "sb1", lit, "User:user1", h1, opAll, allow))
	step("ALL allows READ", u1h1, opRead, topT, true)
	add(bind(topT, "sb1", lit, "User:user1", h1, opAll, deny))
	step("ALL denies READ", u1h1, opRead, topT, false)

	// IsolationUnrelatedDenyWontDominateAllow.
	acls = nil
	add(bind(topT, "sb1", lit, "User:user1", h1, opRead, deny), bind(topT, "sb1", lit, "User:user2", h1, opRead, deny),
		bind(topT, "sb1", lit, "User:user1", h2, opWrite, deny), bind(topT, "sb1", lit, "User:user2", h2, opRead, deny),
		bind(topT, "sb1", lit, "User:user1", h2, opRead, allow), bind(topT, "sb2", lit, "User:user1", h2, opRead, deny),
		bind(grpT, "s", pre, "User:user1", h2, opRead, deny))
	step("u1h1 topic", u1h1, opRead, topT, false)
	step("u1h1 group", u1h1, opRead, grpT, false)
	step("u1h1 cluster", u1h1, opRead, kmsg.ACLResourceTypeCluster, false)
	step("u1h2 topic", u1h2, opRead, topT, true)

	// SuperUserHasAccess and EnableAllowEveryOne.
	acls = []Binding{bind(topT, "*", lit, "User:*", "*", opAll, deny)}
	su := NewAuthorizer(AuthorizerOptions{SuperUsers: []auth.Principal{auth.User("su")}, ACLs: func() []Binding { return acls }})
	if !su.AuthorizeByResourceType(ctx("su", h1), opWrite, topT) || su.AuthorizeByResourceType(u1h1, opWrite, topT) {
		t.Error("super user")
	}
	everyone := NewAuthorizer(AuthorizerOptions{AllowEveryoneIfNoACLFound: true, ACLs: func() []Binding { return nil }})
	if !everyone.AuthorizeByResourceType(u1h1, opWrite, topT) {
		t.Error("allow.everyone.if.no.acl.found")
	}
}
