package acl

import (
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/auth"
)

// AuthorizerOptions configures NewAuthorizer.
type AuthorizerOptions struct {
	// SuperUsers may do anything, whatever the ACLs say (super.users;
	// ParseSuperUsers reads Kafka's format).
	SuperUsers []auth.Principal
	// AllowEveryoneIfNoACLFound allows an operation on a resource that no
	// ACL names at all (allow.everyone.if.no.acl.found, Kafka default
	// false).
	AllowEveryoneIfNoACLFound bool
	// ACLs returns the current bindings (the metadata store's snapshot).
	ACLs func() []Binding
	// Version, when set, is a cheap counter that changes whenever the
	// result of ACLs does (the store's ACL revision): the authorizer
	// re-indexes only then. Without it ACLs is read and indexed on every
	// call, which is correct but slow.
	Version func() int64
	// Observe, when set, is told every decision of Authorize (the
	// authorizer metrics).
	Observe func(allowed bool)
}

// StandardAuthorizer is Kafka's StandardAuthorizer
// (org.apache.kafka.metadata.authorizer.StandardAuthorizerData) over an
// index of the ACLs by resource type and name.
//
// The rules, as StandardAuthorizerData.authorize/findAclRule/findResult:
//   - a super user is allowed everything;
//   - the ACLs that apply are those on the resource's type whose pattern
//     matches its name: LITERAL with the same name, LITERAL "*", or
//     PREFIXED with a prefix of the name;
//   - of those, an ACL matches the request when its principal is the
//     request's or "User:*", its host is the client's address or "*", and
//     its operation is the one asked, or ALL, or (ALLOW ACLs only) one
//     that implies it: READ, WRITE, DELETE and ALTER imply DESCRIBE;
//     ALTER_CONFIGS implies DESCRIBE_CONFIGS. A DENY ACL on READ does not
//     deny DESCRIBE (findResult: "this rule only applies to ALLOW ACLs");
//   - any matching DENY denies; else any matching ALLOW allows; else, if
//     no ACL applies to the resource at all (whoever it names),
//     allow.everyone.if.no.acl.found decides; else denied.
type StandardAuthorizer struct {
	superUsers    map[auth.Principal]bool
	allowEveryone bool
	acls          func() []Binding
	version       func() int64
	observe       func(allowed bool)

	idx atomic.Pointer[index]
	mu  sync.Mutex // serialises rebuilds
}

// NewAuthorizer returns the authorizer of Kafka's StandardAuthorizer rules
// over opts.ACLs.
func NewAuthorizer(opts AuthorizerOptions) *StandardAuthorizer {
	a := &StandardAuthorizer{
		superUsers:    make(map[auth.Principal]bool, len(opts.SuperUsers)),
		allowEveryone: opts.AllowEveryoneIfNoACLFound,
		acls:          opts.ACLs,
		version:       opts.Version,
		observe:       opts.Observe,
	}
	if a.acls == nil {
		a.acls = func() []Binding { return nil }
	}
	for _, p := range opts.SuperUsers {
		a.superUsers[p] = true
	}
	return a
}

// Authorize reports whether ctx may perform op on res.
func (a *StandardAuthorizer) Authorize(ctx RequestContext, op Operation, res Resource) bool {
	ok := a.decide(ctx, op, res)
	if a.observe != nil {
		a.observe(ok)
	}
	return ok
}

func (a *StandardAuthorizer) decide(ctx RequestContext, op Operation, res Resource) bool {
	// A connection that has not authenticated has no principal; nothing
	// is allowed to it (fail closed). Kafka always has one by then.
	if ctx.Principal.IsZero() {
		return false
	}
	if a.superUsers[ctx.Principal] {
		return true
	}
	return a.current().authorize(ctx, op, res, a.allowEveryone)
}

// IsSuperUser reports whether p is one of super.users.
func (a *StandardAuthorizer) IsSuperUser(p auth.Principal) bool { return a.superUsers[p] }

// current returns the index of the current ACLs, rebuilding it when the
// version moved.
func (a *StandardAuthorizer) current() *index {
	if a.version == nil {
		return newIndex(a.acls(), 0)
	}
	v := a.version()
	if ix := a.idx.Load(); ix != nil && ix.version == v {
		return ix
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if ix := a.idx.Load(); ix != nil && ix.version == v {
		return ix
	}
	// The bindings may be newer than v; then the next call sees a newer
	// version and rebuilds again, never an older state.
	ix := newIndex(a.acls(), v)
	a.idx.Store(ix)
	return ix
}

// rule is one ACL prepared for matching.
type rule struct {
	principal auth.Principal
	anyHost   bool
	host      netip.Addr // valid when the ACL's host is an IP address
	op        Operation
	allow     bool
}

// typeIndex holds the rules of one resource type.
type typeIndex struct {
	literal  map[string][]rule // LITERAL patterns but "*"
	wildcard []rule            // LITERAL "*"
	prefixed map[string][]rule // PREFIXED patterns by prefix
	// prefixLens lists the distinct prefix lengths, ascending: a name is
	// matched by looking up each of its prefixes of these lengths, so a
	// lookup costs one map access per distinct length, not per ACL.
	prefixLens []int
}

type index struct {
	version int64
	types   map[ResourceType]*typeIndex
}

func newIndex(bindings []Binding, version int64) *index {
	ix := &index{version: version, types: make(map[ResourceType]*typeIndex)}
	for _, b := range bindings {
		p, err := auth.ParsePrincipal(b.Principal)
		if err != nil {
			continue // CreateACLs validates; an unparsable principal matches no one
		}
		r := rule{principal: p, anyHost: b.Host == Wildcard, op: b.Operation,
			allow: b.Permission == kmsg.ACLPermissionTypeAllow}
		if b.Permission != kmsg.ACLPermissionTypeAllow && b.Permission != kmsg.ACLPermissionTypeDeny {
			continue
		}
		if !r.anyHost {
			// Kafka compares the ACL's host with the client address's
			// text; comparing parsed addresses makes "::1" and
			// "0:0:0:0:0:0:0:1" the same host. A host that is not an
			// address never matches, as in Kafka.
			if h, err := netip.ParseAddr(b.Host); err == nil {
				r.host = h.Unmap()
			}
		}
		t := ix.types[b.Type]
		if t == nil {
			t = &typeIndex{literal: map[string][]rule{}, prefixed: map[string][]rule{}}
			ix.types[b.Type] = t
		}
		switch {
		case b.PatternType == kmsg.ACLResourcePatternTypeLiteral && b.Name == Wildcard:
			t.wildcard = append(t.wildcard, r)
		case b.PatternType == kmsg.ACLResourcePatternTypeLiteral:
			t.literal[b.Name] = append(t.literal[b.Name], r)
		case b.PatternType == kmsg.ACLResourcePatternTypePrefixed:
			if _, ok := t.prefixed[b.Name]; !ok {
				t.prefixLens = append(t.prefixLens, len(b.Name))
			}
			t.prefixed[b.Name] = append(t.prefixed[b.Name], r)
		}
	}
	for _, t := range ix.types {
		slices.Sort(t.prefixLens)
		t.prefixLens = slices.Compact(t.prefixLens)
	}
	return ix
}

// verdict accumulates what the applicable ACLs say (Kafka's
// MatchingRuleBuilder).
type verdict struct {
	any, allow, deny bool
}

func (v *verdict) check(rules []rule, principal auth.Principal, host netip.Addr, op Operation) {
	if len(rules) > 0 {
		v.any = true
	}
	for i := range rules {
		switch ruleResult(&rules[i], principal, host, op) {
		case resultAllow:
			v.allow = true
		case resultDeny:
			v.deny = true
			return
		}
	}
}

func (ix *index) authorize(ctx RequestContext, op Operation, res Resource, allowEveryone bool) bool {
	t := ix.types[res.Type]
	if t == nil {
		return allowEveryone
	}
	host := ctx.Host.Unmap()
	var v verdict
	v.check(t.literal[res.Name], ctx.Principal, host, op)
	for _, n := range t.prefixLens {
		if v.deny || n > len(res.Name) {
			break
		}
		v.check(t.prefixed[res.Name[:n]], ctx.Principal, host, op)
	}
	if !v.deny {
		v.check(t.wildcard, ctx.Principal, host, op)
	}
	switch {
	case v.deny:
		return false
	case v.allow:
		return true
	case !v.any:
		return allowEveryone
	}
	return false
}

type result int

const (
	resultNone result = iota
	resultAllow
	resultDeny
)

// wildcardPrincipal is "User:*", which matches every principal
// (StandardAuthorizerData.WILDCARD_KAFKA_PRINCIPAL).
var wildcardPrincipal = auth.Principal{Type: auth.UserType, Name: Wildcard}

// ruleResult is StandardAuthorizerData.findResult: whether r applies to
// the request, and how.
func ruleResult(r *rule, principal auth.Principal, host netip.Addr, op Operation) result {
	if r.principal != principal && r.principal != wildcardPrincipal {
		return resultNone
	}
	if !r.anyHost && (!r.host.IsValid() || r.host != host) {
		return resultNone
	}
	if r.op != kmsg.ACLOperationAll {
		if r.allow {
			switch op {
			case kmsg.ACLOperationDescribe:
				if !impliesDescribe(r.op) {
					return resultNone
				}
			case kmsg.ACLOperationDescribeConfigs:
				if r.op != kmsg.ACLOperationDescribeConfigs && r.op != kmsg.ACLOperationAlterConfigs {
					return resultNone
				}
			default:
				if r.op != op {
					return resultNone
				}
			}
		} else if r.op != op {
			// DENY ACLs imply nothing.
			return resultNone
		}
	}
	if r.allow {
		return resultAllow
	}
	return resultDeny
}

// impliesDescribe: ALLOW on these implies DESCRIBE (IMPLIES_DESCRIBE).
func impliesDescribe(op Operation) bool {
	switch op {
	case kmsg.ACLOperationDescribe, kmsg.ACLOperationRead, kmsg.ACLOperationWrite,
		kmsg.ACLOperationDelete, kmsg.ACLOperationAlter:
		return true
	}
	return false
}

// hardcodeName is the resource name Kafka's default
// Authorizer.authorizeByResourceType asks Authorize about first, so that
// super users (and allow.everyone.if.no.acl.found) pass whatever DENY ACLs
// exist.
const hardcodeName = "hardcode"

// AuthorizeByResourceType reports whether ctx may perform op on at least
// one resource of type rt (KIP-679), as Kafka's default
// Authorizer.authorizeByResourceType, which StandardAuthorizer uses: it is
// how an idempotent producer without IDEMPOTENT_WRITE on the cluster is
// allowed when it may WRITE some topic.
//
// After the "hardcode" probe, only ACLs whose principal (or User:*), host
// (or "*") and operation (or ALL; no implied operations here) match count:
// a matching DENY on the LITERAL "*" denies; a matching ALLOW on it allows;
// otherwise some ALLOW must survive the DENYs: a LITERAL allow not denied
// by the same LITERAL name nor by a PREFIXED deny that is a prefix of it,
// or a PREFIXED allow not covered by a PREFIXED deny that is a prefix of
// it.
func (a *StandardAuthorizer) AuthorizeByResourceType(ctx RequestContext, op Operation, rt ResourceType) bool {
	if ctx.Principal.IsZero() {
		return false
	}
	if a.Authorize(ctx, op, Resource{Type: rt, Name: hardcodeName}) {
		return true
	}
	t := a.current().types[rt]
	if t == nil {
		return false
	}
	host := ctx.Host.Unmap()
	applies := func(r *rule) bool {
		return (r.principal == ctx.Principal || r.principal == wildcardPrincipal) &&
			(r.anyHost || r.host.IsValid() && r.host == host) &&
			(r.op == op || r.op == kmsg.ACLOperationAll)
	}
	// has reports whether some rule applies with the given permission.
	has := func(rules []rule, allow bool) bool {
		for i := range rules {
			if rules[i].allow == allow && applies(&rules[i]) {
				return true
			}
		}
		return false
	}
	if has(t.wildcard, false) {
		return false
	}
	if has(t.wildcard, true) {
		return true
	}
	// deniedByPrefix: a PREFIXED deny on some prefix of name (name
	// itself included).
	deniedByPrefix := func(name string) bool {
		for _, n := range t.prefixLens {
			if n > len(name) {
				break
			}
			if has(t.prefixed[name[:n]], false) {
				return true
			}
		}
		return false
	}
	for name, rules := range t.literal {
		if has(rules, true) && !has(rules, false) && !deniedByPrefix(name) {
			return true
		}
	}
	for name, rules := range t.prefixed {
		if has(rules, true) && !deniedByPrefix(name) {
			return true
		}
	}
	return false
}
