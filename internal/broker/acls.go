package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
)

// aclAPIRefusal is what Kafka's AclApis answers an ACL request before
// looking at it: CLUSTER_AUTHORIZATION_FAILED when the principal lacks op
// on the cluster (authorizeClusterOperation comes first), then
// SECURITY_DISABLED when no authorizer is configured. nil: go on.
func (b *Broker) aclAPIRefusal(r *Request, op acl.Operation, action string) (*kerr.Error, *string) {
	if !b.authorized(r, op, acl.Cluster) {
		return kerr.ClusterAuthorizationFailed, kmsg.StringPtr(op.String() + " on the cluster is required to " + action)
	}
	if b.authorizer == nil {
		return kerr.SecurityDisabled, kmsg.StringPtr("No Authorizer is configured on the broker")
	}
	return nil, nil
}

// aclFilter is the acl.Filter of a DescribeAcls request or DeleteAcls
// filter (the same fields).
func aclFilter(rt acl.ResourceType, name *string, pt acl.PatternType, principal, host *string,
	op acl.Operation, perm acl.Permission) acl.Filter {
	return acl.Filter{ResourceType: rt, Name: name, PatternType: pt, Principal: principal, Host: host,
		Operation: op, Permission: perm}
}
