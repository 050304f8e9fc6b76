package acl

import "github.com/twmb/franz-go/pkg/kmsg"

// hardcodedName is the resource name Kafka's default
// Authorizer.authorizeByResourceType asks about first, so that super users
// (and allow.everyone.if.no.acl.found) are answered as for any resource.
const hardcodedName = "hardcode"

// AuthorizeByResourceType reports whether ctx may perform op on at least
// one resource of type rt: Kafka's Authorizer.authorizeByResourceType
// (KIP-679), which lets a producer with WRITE on some topic be idempotent
// without IDEMPOTENT_WRITE on the cluster. As Kafka's default
// implementation:
//   - allowed if op is allowed on a resource of that type named
//     "hardcode" (super users, allow.everyone.if.no.acl.found, wildcard
//     and matching prefixed ACLs);
//   - otherwise only the ACLs of ctx's principal (or User:*) and host (or
//     "*") on exactly op or ALL count, implied operations do not: a
//     LITERAL "*" DENY denies; a LITERAL "*" ALLOW allows; else some ALLOW
//     pattern must not be cancelled by a DENY of the same LITERAL name or
//     by a PREFIXED DENY that is a prefix of it.
func (a *StandardAuthorizer) AuthorizeByResourceType(ctx RequestContext, op Operation, rt ResourceType) bool {
	if a.Authorize(ctx, op, Resource{Type: rt, Name: hardcodedName}) {
		return true
	}
	t := a.current().types[rt]
	if t == nil {
		return false
	}
	host := ctx.Host.Unmap()
	applies := func(r *rule) bool {
		return (r.principal == ctx.Principal || r.principal == wildcardPrincipal) &&
			(r.anyHost || (r.host.IsValid() && r.host == host)) &&
			(r.op == op || r.op == kmsg.ACLOperationAll)
	}
	var wildcardAllow bool
	for i := range t.wildcard {
		if r := &t.wildcard[i]; applies(r) {
			if !r.allow {
				return false
			}
			wildcardAllow = true
		}
	}
	if wildcardAllow {
		return true
	}
	denyLiteral := map[string]bool{}
	denyPrefix := map[string]bool{}
	var allowed []string
	collect := func(name string, rules []rule, deny map[string]bool) {
		for i := range rules {
			if r := &rules[i]; applies(r) {
				if r.allow {
					allowed = append(allowed, name)
				} else {
					deny[name] = true
				}
			}
		}
	}
	for name, rules := range t.literal {
		collect(name, rules, denyLiteral)
	}
	allowedLiterals := len(allowed)
	for name, rules := range t.prefixed {
		collect(name, rules, denyPrefix)
	}
	for i, name := range allowed {
		if i < allowedLiterals && denyLiteral[name] {
			continue
		}
		dominated := false
		for n := 1; n <= len(name); n++ {
			if denyPrefix[name[:n]] {
				dominated = true
				break
			}
		}
		if !dominated {
			return true
		}
	}
	return false
}
