package broker

// Authorization of Kafka requests (issue #10).
//
// Every handler asks the check Kafka's KafkaApis (and, for the admin
// requests KRaft brokers forward, ControllerApis) asks, and answers a
// refusal with Kafka's error in Kafka's place: per partition, per topic,
// per group or for the whole request. The rules common to all of them:
//   - A resource the principal may not see is never revealed: a refused
//     topic gets TOPIC_AUTHORIZATION_FAILED whether it exists or not, so
//     the authorization check comes before the existence check.
//   - Topic ids are not secret (KIP-516): an unknown id is UNKNOWN_TOPIC_ID
//     before any check.
//   - With no authorizer (authorizer.class.name unset) everything is
//     allowed and every authorized-operations field lists all the
//     operations the resource type supports, as Kafka does.

import (
	"net"
	"net/netip"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
)

// requestContext is who sends r and from where, for the authorizer.
func requestContext(r *Request) acl.RequestContext {
	ctx := acl.RequestContext{}
	if r.Conn == nil {
		return ctx
	}
	ctx.Principal = r.Conn.Principal
	ctx.Listener = r.Conn.Listener
	if ta, ok := r.Conn.Remote.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(ta.IP); ok {
			ctx.Host = ip.Unmap()
		}
	}
	return ctx
}

// authorized reports whether r's principal may perform op on res. With no
// authorizer configured every request is allowed (Kafka without
// authorizer.class.name). Only on the request goroutine, which owns
// Conn.Principal: checks made in a Reply's Wait use authorizedCtx with the
// context taken before.
func (b *Broker) authorized(r *Request, op acl.Operation, res acl.Resource) bool {
	if b.authorizer == nil {
		return true
	}
	return b.authorizer.Authorize(requestContext(r), op, res)
}

// authorizedCtx is authorized for a context taken on the request goroutine.
func (b *Broker) authorizedCtx(ctx acl.RequestContext, op acl.Operation, res acl.Resource) bool {
	return b.authorizer == nil || b.authorizer.Authorize(ctx, op, res)
}

// authorizedCluster is authorized on the cluster resource.
func (b *Broker) authorizedCluster(r *Request, op acl.Operation) bool {
	return b.authorized(r, op, acl.Cluster)
}

// topicAuthz answers op on topics for one request, asking the authorizer
// once per distinct name (Kafka's AuthHelper.filterByAuthorized).
// It holds the request's context, so a Reply's Wait may use it too.
type topicAuthz struct {
	b    *Broker
	ctx  acl.RequestContext
	op   acl.Operation
	seen map[string]bool
}

func (b *Broker) topicAuthz(r *Request, op acl.Operation) *topicAuthz {
	a := &topicAuthz{b: b, op: op}
	if b.authorizer != nil {
		a.ctx = requestContext(r)
	}
	return a
}

// allowed reports whether the request may perform the op on topic.
func (a *topicAuthz) allowed(topic string) bool {
	if a.b.authorizer == nil {
		return true
	}
	if ok, done := a.seen[topic]; done {
		return ok
	}
	if a.seen == nil {
		a.seen = map[string]bool{}
	}
	ok := a.b.authorizedCtx(a.ctx, a.op, acl.Topic(topic))
	a.seen[topic] = ok
	return ok
}

// ResourceTypeAuthorizer is implemented by authorizers that can answer
// Kafka's Authorizer.authorizeByResourceType (KIP-679): may the principal
// perform op on at least one resource of the type, by some ALLOW binding
// not cancelled by a DENY? acl.StandardAuthorizer does.
type ResourceTypeAuthorizer interface {
	AuthorizeByResourceType(ctx acl.RequestContext, op acl.Operation, rt acl.ResourceType) bool
}

// authorizedByResourceType is Kafka's AuthHelper.authorizeByResourceType.
// An authorizer that cannot answer it refuses: a principal then needs the
// explicit grant (IDEMPOTENT_WRITE on the cluster for idempotence).
func (b *Broker) authorizedByResourceType(r *Request, op acl.Operation, rt acl.ResourceType) bool {
	if b.authorizer == nil {
		return true
	}
	if a, ok := b.authorizer.(ResourceTypeAuthorizer); ok {
		return a.AuthorizeByResourceType(requestContext(r), op, rt)
	}
	return false
}

// authorizedOpsNotRequested is Kafka's Integer.MIN_VALUE sentinel of the
// authorized-operations fields (KIP-430): the client did not ask.
const authorizedOpsNotRequested = -2147483648

// authorizedOperations is the KIP-430 bit field of the operations the
// context's principal may perform on res (acl.AuthorizedOperations: every
// supported one with no authorizer).
func (b *Broker) authorizedOperations(ctx acl.RequestContext, res acl.Resource) int32 {
	return acl.AuthorizedOperations(b.authorizer, ctx, res)
}

// clusterAuthorizedOperations is the cluster's authorized-operations field
// when the client asked for it: 0 without DESCRIBE on the cluster (Kafka's
// Metadata v8-10 and DescribeCluster), else the allowed operations.
func (b *Broker) clusterAuthorizedOperations(r *Request) int32 {
	if !b.authorizedCluster(r, kmsg.ACLOperationDescribe) {
		return 0
	}
	return b.authorizedOperations(requestContext(r), acl.Cluster)
}

var _ ResourceTypeAuthorizer = (*acl.StandardAuthorizer)(nil)

// Kafka's default messages of the authorization errors (Errors.java), for
// the ErrorMessage fields where Kafka fills them.
const (
	msgTopicAuthorizationFailed   = "Topic authorization failed."
	msgGroupAuthorizationFailed   = "Group authorization failed."
	msgClusterAuthorizationFailed = "Cluster authorization failed."
	msgTxnIDAuthorizationFailed   = "Transactional Id authorization failed."
)

// configResource is the resource and operation-independent refusal of a
// config resource (Kafka's ConfigHelper and KafkaApis
// configsAuthorizationApiError): topics are checked on the topic, groups
// on the group, brokers, broker loggers and client metrics on the cluster.
// ok is false for types without a check (they fail on their own).
func configResource(rt kmsg.ConfigResourceType, name string) (res acl.Resource, refusal *kerr.Error, msg string, ok bool) {
	switch rt {
	case kmsg.ConfigResourceTypeTopic:
		return acl.Topic(name), kerr.TopicAuthorizationFailed, msgTopicAuthorizationFailed, true
	case kmsg.ConfigResourceTypeGroupConfig:
		return acl.Group(name), kerr.GroupAuthorizationFailed, msgGroupAuthorizationFailed, true
	case kmsg.ConfigResourceTypeBroker, kmsg.ConfigResourceTypeBrokerLogger, kmsg.ConfigResourceTypeClientMetrics:
		return acl.Cluster, kerr.ClusterAuthorizationFailed, msgClusterAuthorizationFailed, true
	}
	return acl.Resource{}, nil, "", false
}

// configRefusal is the error refusing op on a config resource, nil when
// allowed.
func (b *Broker) configRefusal(r *Request, op acl.Operation, rt kmsg.ConfigResourceType, name string) (*kerr.Error, string) {
	res, refusal, msg, ok := configResource(rt, name)
	if !ok || b.authorized(r, op, res) {
		return nil, ""
	}
	return refusal, msg
}

// splitAllowed keeps the items allowed (in order) and reports which were,
// for requests whose refused items never reach the group coordinator.
func splitAllowed[T any](items []T, allowed func(T) bool) (kept []T, ok []bool) {
	ok = make([]bool, len(items))
	for i, it := range items {
		if ok[i] = allowed(it); ok[i] {
			kept = append(kept, it)
		}
	}
	return kept, ok
}

// mergeAllowed puts the coordinator's answers for the allowed items and
// refused(i) for the others back in request order; each answer passes
// through post (nil: unchanged).
func mergeAllowed[R any](ok []bool, answered []R, refused func(i int) R, post func(i int, r R) R) []R {
	out := make([]R, 0, len(ok))
	for i, allowed := range ok {
		if !allowed {
			out = append(out, refused(i))
			continue
		}
		a := answered[0]
		answered = answered[1:]
		if post != nil {
			a = post(i, a)
		}
		out = append(out, a)
	}
	return out
}

// waitIf answers now when the coordinator need not be asked (every item
// was refused), else in the reply's Wait.
func waitIf(wait bool, answer func() kmsg.Response) Reply {
	if !wait {
		return now(answer())
	}
	return Reply{Wait: answer}
}
