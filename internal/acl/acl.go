// Package acl is Kafka's authorization model: ACL bindings (a resource
// pattern and an access-control entry), and the Authorizer the broker, the
// HTTP API and the link ask before acting.
//
// The enums are kmsg's, so the wire values of CreateAcls, DescribeAcls and
// DeleteAcls need no translation.
package acl

import (
	"net/netip"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/auth"
)

// Kafka's enums, as kmsg names them.
type (
	ResourceType = kmsg.ACLResourceType
	PatternType  = kmsg.ACLResourcePatternType
	Operation    = kmsg.ACLOperation
	Permission   = kmsg.ACLPermissionType
)

// ClusterName is the name of the one Cluster resource (Kafka's
// ResourcePattern for the cluster is LITERAL "kafka-cluster").
const ClusterName = "kafka-cluster"

// Wildcard is the literal resource name and the principal or host that
// match every name, principal or host ("*").
const Wildcard = "*"

// Resource is a resource an operation is asked for: a topic, group,
// cluster or transactional id by its name.
type Resource struct {
	Type ResourceType
	Name string
}

// Topic, Group, Cluster and TransactionalID build Resources.
func Topic(name string) Resource { return Resource{kmsg.ACLResourceTypeTopic, name} }
func Group(name string) Resource { return Resource{kmsg.ACLResourceTypeGroup, name} }
func TransactionalID(name string) Resource {
	return Resource{kmsg.ACLResourceTypeTransactionalId, name}
}

// Cluster is the cluster resource.
var Cluster = Resource{kmsg.ACLResourceTypeCluster, ClusterName}

// Pattern is a resource pattern: LITERAL (the name, or "*" for every name)
// or PREFIXED (every name starting with Name).
type Pattern struct {
	Type        ResourceType
	Name        string
	PatternType PatternType
}

// Entry is an access-control entry: who (principal "User:alice" or
// "User:*"), from where (host IP or "*"), what, allowed or denied.
type Entry struct {
	Principal  string
	Host       string
	Operation  Operation
	Permission Permission
}

// Binding is one ACL: a pattern and an entry (Kafka's AclBinding).
type Binding struct {
	Pattern
	Entry
}

// RequestContext is who asks and from where.
type RequestContext struct {
	Principal auth.Principal
	// Host is the client's address; the zero Addr matches only "*" hosts.
	Host netip.Addr
	// Listener is the listener name the request arrived on ("" for
	// callers that are not Kafka connections).
	Listener string
}

// Authorizer decides whether a request may perform an operation on a
// resource. Implementations are safe for concurrent use. A nil Authorizer
// in the broker means authorization is off (authorizer.class.name unset),
// as in Kafka.
type Authorizer interface {
	Authorize(ctx RequestContext, op Operation, res Resource) bool
}
