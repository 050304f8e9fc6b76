package broker

// DeleteAcls: v0-3
//
// Behaviour (Kafka's AclApis.handleDeleteAcls and the controller's
// AclControlManager.deleteAcls):
//   - ALTER on the cluster is required: without it every filter fails
//     with CLUSTER_AUTHORIZATION_FAILED; without an authorizer
//     (authorizer.class.name unset) with SECURITY_DISABLED.
//   - Each filter is Kafka's AclBindingFilter (acl.Filter: ANY, MATCH,
//     null fields for any); one with an UNKNOWN element fails alone with
//     INVALID_REQUEST. The others' matches are deleted in one atomic,
//     durable metadata change, and each filter reports what it matched
//     among the ACLs as they were before the request.
//
// Version notes:
//   - v0 has no pattern type: filters are LITERAL (kmsg's default 3).
//   - v1: pattern types (KIP-290); v2: flexible; v3: tells clients the
//     USER resource type is known (KIP-554); the field is the same int8
//     in every version.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
)

func init() { register(kmsg.DeleteACLs, 0, 3, (*Broker).handleDeleteACLs) }

func (b *Broker) handleDeleteACLs(r *Request) Reply {
	req := r.Req.(*kmsg.DeleteACLsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
	resp.Results = make([]kmsg.DeleteACLsResponseResult, len(req.Filters))
	if ke, msg := b.aclAPIRefusal(r, kmsg.ACLOperationAlter, "delete ACLs"); ke != nil {
		for i := range resp.Results {
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = ke.Code, msg
		}
		return now(resp)
	}
	var valid []acl.Filter
	var at []int
	for i, rf := range req.Filters {
		f := aclFilter(rf.ResourceType, rf.ResourceName, rf.ResourcePatternType, rf.Principal, rf.Host,
			rf.Operation, rf.PermissionType)
		if err := f.Validate(); err != nil {
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = codeOf(err), msgOf(err)
			continue
		}
		valid = append(valid, f)
		at = append(at, i)
	}
	if len(valid) == 0 {
		return now(resp)
	}
	deleted, err := b.store.DeleteACLs(valid)
	if err != nil {
		b.rlog.Warn("deleting ACLs failed", "err", err)
		for _, i := range at {
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = codeOf(err), msgOf(err)
		}
		return now(resp)
	}
	n := 0
	for _, bindings := range deleted {
		n += len(bindings)
	}
	if n > 0 {
		b.rlog.Info("ACLs deleted", "principal", requestContext(r).Principal.String(), "matches", n)
	}
	for k, bindings := range deleted {
		res := &resp.Results[at[k]]
		for _, bd := range bindings {
			m := kmsg.NewDeleteACLsResponseResultMatchingACL()
			m.ResourceType, m.ResourceName, m.ResourcePatternType = bd.Type, bd.Name, bd.PatternType
			m.Principal, m.Host, m.Operation, m.PermissionType = bd.Principal, bd.Host, bd.Operation, bd.Permission
			res.MatchingACLs = append(res.MatchingACLs, m)
		}
	}
	return now(resp)
}
