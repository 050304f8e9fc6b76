package broker

// CreateAcls: v0-3
//
// Behaviour (Kafka's AclApis.handleCreateAcls and the controller's
// AclControlManager.createAcls):
//   - ALTER on the cluster is required: without it every creation fails
//     with CLUSTER_AUTHORIZATION_FAILED; without an authorizer
//     (authorizer.class.name unset) every creation fails with
//     SECURITY_DISABLED.
//   - Each creation is validated (acl.Binding.Validate: specific resource
//     type, LITERAL or PREFIXED, operation and permission neither ANY nor
//     UNKNOWN, a non-empty name, "kafka-cluster" for the cluster, a
//     "Type:Name" principal); an invalid one gets INVALID_REQUEST with
//     Kafka's message and does not stop the others.
//   - The valid ones are written in one atomic, durable metadata change
//     before the answer; creating an existing ACL again succeeds and
//     changes nothing (Kafka's createAcls is idempotent).
//
// Version notes:
//   - v0 has no pattern type: creations are LITERAL (kmsg's default 3).
//   - v1: pattern types (KIP-290); v2: flexible; v3: tells clients the
//     USER resource type is known (KIP-554); the field is the same int8
//     in every version.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
)

func init() { register(kmsg.CreateACLs, 0, 3, (*Broker).handleCreateACLs) }

func (b *Broker) handleCreateACLs(r *Request) Reply {
	req := r.Req.(*kmsg.CreateACLsRequest)
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	resp.Results = make([]kmsg.CreateACLsResponseResult, len(req.Creations))
	if ke, msg := b.aclAPIRefusal(r, kmsg.ACLOperationAlter, "create ACLs"); ke != nil {
		for i := range resp.Results {
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = ke.Code, msg
		}
		return now(resp)
	}
	var valid []acl.Binding
	var at []int // index in resp.Results of each valid binding
	for i, c := range req.Creations {
		bd := acl.Binding{
			Pattern: acl.Pattern{Type: c.ResourceType, Name: c.ResourceName, PatternType: c.ResourcePatternType},
			Entry:   acl.Entry{Principal: c.Principal, Host: c.Host, Operation: c.Operation, Permission: c.PermissionType},
		}
		if err := bd.Validate(); err != nil {
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = codeOf(err), msgOf(err)
			continue
		}
		valid = append(valid, bd)
		at = append(at, i)
	}
	if len(valid) == 0 {
		return now(resp)
	}
	if err := b.store.CreateACLs(valid); err != nil {
		b.rlog.Warn("creating ACLs failed", "err", err)
		for _, i := range at {
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = codeOf(err), msgOf(err)
		}
		return now(resp)
	}
	// Who changed the ACLs, for the operator's audit (Kafka's controller
	// logs every ACL record it replays).
	b.rlog.Info("ACLs created", "principal", requestContext(r).Principal.String(), "acls", len(valid))
	return now(resp)
}
