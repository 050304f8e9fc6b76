package broker

// DescribeAcls: v0-3
//
// Behaviour (Kafka's AclApis.handleDescribeAcls):
//   - DESCRIBE on the cluster is required (CLUSTER_AUTHORIZATION_FAILED);
//     without an authorizer (authorizer.class.name unset) the answer is
//     SECURITY_DISABLED, as Kafka's.
//   - The filter is Kafka's AclBindingFilter (acl.Filter): ANY and MATCH
//     pattern types, null name/principal/host for any. A filter with an
//     UNKNOWN element is INVALID_REQUEST.
//   - Matching bindings are grouped by resource pattern.
//
// Version notes:
//   - v0 has no pattern type: the filter is LITERAL (kmsg's default 3),
//     so only LITERAL ACLs are described, as Kafka 2.x did.
//   - v1: pattern types (KIP-290); v2: flexible; v3: tells clients the
//     USER resource type is known (KIP-554); the field is the same int8
//     in every version.

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { register(kmsg.DescribeACLs, 0, 3, (*Broker).handleDescribeACLs) }

func (b *Broker) handleDescribeACLs(r *Request) Reply {
	req := r.Req.(*kmsg.DescribeACLsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	if ke, msg := b.aclAPIRefusal(r, kmsg.ACLOperationDescribe, "describe ACLs"); ke != nil {
		resp.ErrorCode, resp.ErrorMessage = ke.Code, msg
		return now(resp)
	}
	f := aclFilter(req.ResourceType, req.ResourceName, req.ResourcePatternType, req.Principal, req.Host,
		req.Operation, req.PermissionType)
	if err := f.Validate(); err != nil {
		resp.ErrorCode, resp.ErrorMessage = codeOf(err), msgOf(err)
		return now(resp)
	}
	// ACLs come sorted by resource type, name and pattern type: each
	// resource's bindings are consecutive.
	for _, bd := range b.store.ACLs() {
		if !f.Matches(bd) {
			continue
		}
		n := len(resp.Resources)
		if n == 0 || resp.Resources[n-1].ResourceType != bd.Type || resp.Resources[n-1].ResourceName != bd.Name ||
			resp.Resources[n-1].ResourcePatternType != bd.PatternType {
			res := kmsg.NewDescribeACLsResponseResource()
			res.ResourceType, res.ResourceName, res.ResourcePatternType = bd.Type, bd.Name, bd.PatternType
			resp.Resources = append(resp.Resources, res)
			n++
		}
		a := kmsg.NewDescribeACLsResponseResourceACL()
		a.Principal, a.Host, a.Operation, a.PermissionType = bd.Principal, bd.Host, bd.Operation, bd.Permission
		resp.Resources[n-1].ACLs = append(resp.Resources[n-1].ACLs, a)
	}
	return now(resp)
}
