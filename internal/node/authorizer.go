package node

import (
	"github.com/tandem-streaming/tandem/internal/acl"
	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/config"
	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/metrics"
)

// newAuthorizer builds the authorizer authorizer.class.name asks for over
// the ACLs in the metadata store, or nil when it is empty (authorization
// off, as in Kafka). Both accepted class names select Kafka's
// StandardAuthorizer rules (config.validAuthorizerClass refuses others).
// The authorizer re-reads the ACLs whenever the store's ACL revision moves,
// so a CreateAcls or DeleteAcls is in force for the next request. Its
// decisions and the ACL count are exported as metrics (docs/metrics.md).
func newAuthorizer(cfg config.BrokerConfig, store metadata.Store, m *metrics.Metrics) *acl.StandardAuthorizer {
	m.SetACLCountSource(func() int { return len(store.ACLs()) })
	if cfg.AuthorizerClassName == "" {
		return nil
	}
	return acl.NewAuthorizer(acl.AuthorizerOptions{
		SuperUsers:                cfg.SuperUsers,
		AllowEveryoneIfNoACLFound: cfg.AllowEveryoneIfNoACLFound,
		ACLs:                      store.ACLs,
		Version:                   store.ACLRevision,
		Observe:                   m.Authorization,
	})
}

// Authorizer is the node's authorizer, nil when authorizer.class.name is
// not set (every request is allowed). The HTTP API asks it too.
func (n *Node) Authorizer() acl.Authorizer {
	if n.authorizer == nil {
		return nil // a nil interface, not a typed nil: callers test == nil
	}
	return n.authorizer
}

// The broker asks authorizeByResourceType (KIP-679) of authorizers that
// implement it; the built-in one does.
var _ broker.ResourceTypeAuthorizer = (*acl.StandardAuthorizer)(nil)
