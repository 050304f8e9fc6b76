package rest

// Authorization of the HTTP API. The broker's acl.Authorizer (the one the
// Kafka handlers ask) decides, for the request's principal (authn.go), with
// the same operations and resources the equivalent Kafka API needs, so a
// user has the same rights over REST as over the Kafka protocol. Without an
// authorizer (authorizer.class.name unset) everything is allowed, as in
// Kafka. docs/security.md lists the mapping; routeRules below is it.

import (
	"fmt"
	"net/http"
	"regexp"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
	"github.com/tandem-streaming/tandem/internal/groupview"
)

// WithAuthorizer makes the API ask a before serving a request.
func WithAuthorizer(a acl.Authorizer) Option {
	return func(h *handler) { h.authz = a }
}

// rule is the check of one route, made before its handler runs.
type rule struct {
	op  acl.Operation
	res func(r *http.Request) acl.Resource // nil: no check before the handler
}

// Rule constructors. open: no ACL (health; or what any authenticated
// Kafka client may read, like Metadata's broker list).
var open = rule{}

func clusterRule(op acl.Operation) rule {
	return rule{op: op, res: func(*http.Request) acl.Resource { return acl.Cluster }}
}

func topicRule(op acl.Operation) rule {
	return rule{op: op, res: func(r *http.Request) acl.Resource { return acl.Topic(r.PathValue("topic_name")) }}
}

func groupRule(op acl.Operation) rule {
	return rule{op: op, res: func(r *http.Request) acl.Resource { return acl.Group(r.PathValue("consumer_group_id")) }}
}

// checkedInHandler marks routes whose handler checks for itself: it needs
// the body (the topic to create) or filters what it lists.
var checkedInHandler = rule{}

const (
	opDescribe        = kmsg.ACLOperationDescribe
	opAlter           = kmsg.ACLOperationAlter
	opCreate          = kmsg.ACLOperationCreate
	opDelete          = kmsg.ACLOperationDelete
	opDescribeConfigs = kmsg.ACLOperationDescribeConfigs
	opAlterConfigs    = kmsg.ACLOperationAlterConfigs
)

// routeRules has an entry for every route handle registers (it panics on a
// route without one, so a new endpoint cannot be forgotten). Keys are the
// ServeMux patterns.
var routeRules = func() map[string]rule {
	const c = "/kafka/v3/clusters/{cluster_id}"
	const t = c + "/topics/{topic_name}"
	const g = c + "/consumer-groups/{consumer_group_id}"
	const l = c + "/links/{link_name}"
	m := map[string]rule{
		// The cluster and its brokers: what Metadata and DescribeCluster
		// give any authenticated client.
		"GET /kafka/v3/clusters":            open,
		"GET " + c:                          open,
		"GET " + c + "/brokers":             open,
		"GET " + c + "/brokers/{broker_id}": open,

		// Topics: as Metadata, CreateTopics, DeleteTopics.
		"GET " + c + "/topics":                             checkedInHandler, // lists the topics the principal may DESCRIBE
		"POST " + c + "/topics":                            checkedInHandler, // CREATE on the cluster or on the topic
		"GET " + t:                                         topicRule(opDescribe),
		"DELETE " + t:                                      topicRule(opDelete),
		"GET " + t + "/partitions":                         topicRule(opDescribe),
		"GET " + t + "/partitions/{partition_id}":          topicRule(opDescribe),
		"GET " + t + "/partitions/{partition_id}/replicas": topicRule(opDescribe),
		"GET " + t + "/partitions/{partition_id}/replicas/{broker_id}": topicRule(opDescribe),

		// Topic configs: as DescribeConfigs and IncrementalAlterConfigs.
		"GET " + t + "/configs":           topicRule(opDescribeConfigs),
		"GET " + t + "/configs/{name}":    topicRule(opDescribeConfigs),
		"POST " + t + "/configs:alter":    topicRule(opAlterConfigs),
		"PUT " + t + "/configs/{name}":    topicRule(opAlterConfigs),
		"DELETE " + t + "/configs/{name}": topicRule(opAlterConfigs),

		// Consumer groups: as ListGroups (filtered) and DescribeGroups.
		"GET " + c + "/consumer-groups":                     checkedInHandler,
		"GET " + g:                                          groupRule(opDescribe),
		"GET " + g + "/consumers":                           groupRule(opDescribe),
		"GET " + g + "/consumers/{consumer_id}":             groupRule(opDescribe),
		"GET " + g + "/consumers/{consumer_id}/assignments": groupRule(opDescribe),
		"GET " + g + "/consumers/{consumer_id}/assignments/{topic_name}/partitions/{partition_id}": groupRule(opDescribe),
		"GET " + g + "/lag-summary": groupRule(opDescribe),
		"GET " + g + "/lags":        groupRule(opDescribe),
		"GET " + g + "/lags/{topic_name}/partitions/{partition_id}": groupRule(opDescribe),

		// Cluster links (cluster-linking.md §8): DESCRIBE on the cluster
		// to read links and mirrors, ALTER to create, change or delete a
		// link; mirrors are checked per topic in their handlers.
		"GET " + c + "/links":                       clusterRule(opDescribe),
		"POST " + c + "/links":                      clusterRule(opAlter),
		"GET " + l:                                  clusterRule(opDescribe),
		"DELETE " + l:                               clusterRule(opAlter),
		"GET " + l + "/configs":                     clusterRule(opDescribe),
		"GET " + l + "/configs/{name}":              clusterRule(opDescribe),
		"PUT " + l + "/configs:alter":               clusterRule(opAlter),
		"PUT " + l + "/configs/{name}":              clusterRule(opAlter),
		"DELETE " + l + "/configs/{name}":           clusterRule(opAlter),
		"GET " + l + "/mirrors":                     clusterRule(opDescribe),
		"GET " + l + "/mirrors/{mirror_topic_name}": clusterRule(opDescribe),
		"POST " + l + "/mirrors":                    checkedInHandler, // CREATE and ALTER on the mirror topic

		// ACLs: as DescribeAcls (DESCRIBE on the cluster) and
		// CreateAcls/DeleteAcls (ALTER on the cluster).
		"GET " + c + "/acls":        clusterRule(opDescribe),
		"POST " + c + "/acls":       clusterRule(opAlter),
		"POST " + c + "/acls:batch": clusterRule(opAlter),
		"DELETE " + c + "/acls":     clusterRule(opAlter),

		// Health probes are not even authenticated (authn.go).
		"GET /v1/health": open,
		"GET /readyz":    open,
		"GET /livez":     open,
		// /metrics names every topic and group: DESCRIBE on the cluster,
		// like the console's data (docs/security.md).
		"GET /metrics": clusterRule(opDescribe),
	}
	// Mirror state changes: ALTER on each mirror topic, in the handler.
	for _, op := range mirrorOps {
		m["POST "+l+"/mirrors:"+op] = checkedInHandler
	}
	for alias := range mirrorOpAliases {
		m["POST "+l+"/mirrors:"+alias] = checkedInHandler
	}
	return m
}()

// ruleFor returns the rule of a route pattern; a route without one is a
// programming error caught by any test that builds the handler.
func ruleFor(pattern string) rule {
	r, ok := routeRules[pattern]
	if !ok {
		panic("rest: route " + pattern + " has no authorization rule in authz.go")
	}
	return r
}

// authorized asks the authorizer; with none, everything is allowed.
func (h *handler) authorized(r *http.Request, op acl.Operation, res acl.Resource) bool {
	if h.authz == nil {
		return true
	}
	return h.authz.Authorize(requestContext(r), op, res)
}

// authorize is authorized as an error: 403 with Confluent's code for
// Kafka's *_AUTHORIZATION_FAILED (40301).
func (h *handler) authorize(r *http.Request, op acl.Operation, res acl.Resource) error {
	if h.authorized(r, op, res) {
		return nil
	}
	return forbidden(r, op, res)
}

func forbidden(r *http.Request, op acl.Operation, res acl.Resource) *apiError {
	return &apiError{status: http.StatusForbidden, code: codeAuthorizationFailed,
		msg: fmt.Sprintf("%s is not authorized to %s %s", PrincipalFrom(r.Context()), op, resourceString(res))}
}

// resourceString names a resource in a message: "topic orders", "the cluster".
func resourceString(res acl.Resource) string {
	if res == acl.Cluster {
		return "the cluster"
	}
	return fmt.Sprintf("%s %q", res.Type, res.Name)
}

// check runs a route's rule.
func (h *handler) check(rl rule, r *http.Request) error {
	if rl.res == nil || h.authz == nil {
		return nil
	}
	return h.authorize(r, rl.op, rl.res(r))
}

// RequireCluster wraps a handler outside the REST API (the console's data,
// the profiler) so that it answers 403 unless a allows op on the cluster
// for the request's principal. A nil a allows everything.
func RequireCluster(next http.Handler, a acl.Authorizer, op acl.Operation) http.Handler {
	if a == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.Authorize(requestContext(r), op, acl.Cluster) {
			status, body := mapError(forbidden(r, op, acl.Cluster))
			WriteJSON(w, status, body)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// mayDescribeGroup is ListGroups' filter: DESCRIBE on the cluster shows
// every group, else DESCRIBE on the group.
func (h *handler) mayDescribeGroup(r *http.Request, id string) bool {
	return h.authorized(r, opDescribe, acl.Cluster) || h.authorized(r, opDescribe, acl.Group(id))
}

// authorizeMirrorCreate checks CREATE and ALTER on the mirror topic
// (cluster-linking.md §8). Without a name in the request the mirror is
// named like its source topic, after the link's cluster.link.prefix (§2.1).
func (h *handler) authorizeMirrorCreate(r *http.Request, link string, req CreateMirrorRequest) error {
	if h.authz == nil {
		return nil
	}
	name := req.MirrorTopic
	if name == "" {
		cfgs, err := h.links.LinkConfigs(r.Context(), link)
		if err != nil {
			return err
		}
		name = req.SourceTopic
		for _, c := range cfgs {
			if c.Name == "cluster.link.prefix" && !c.IsNull {
				name = c.Value + name
			}
		}
	}
	for _, op := range []acl.Operation{opCreate, opAlter} {
		if err := h.authorize(r, op, acl.Topic(name)); err != nil {
			return err
		}
	}
	return nil
}

// alterAuthorizedMirrors runs a mirror state change on the mirrors the
// principal may ALTER; each named mirror refused gets a 40301 result. A
// pattern is resolved against the link's mirrors first, and the ones the
// principal may not ALTER are left out silently, as Kafka leaves
// unauthorized topics out of a regex subscription.
func (h *handler) alterAuthorizedMirrors(r *http.Request, link, op string, names []string, pattern string, validateOnly bool) ([]AlterMirrorResult, error) {
	if h.authz == nil {
		return h.links.AlterMirrors(r.Context(), link, op, names, pattern, validateOnly)
	}
	var allowed []string
	var refused []AlterMirrorResult
	if pattern != "" {
		re, err := regexp.Compile("^(?:" + pattern + ")$")
		if err != nil {
			return nil, badRequest("mirror_topic_name_pattern: %v", err)
		}
		var candidates []string
		if op == MirrorOpTruncateAndRestore {
			// The old primary's topics are ordinary topics, not mirrors
			// (yet): match the pattern against every topic.
			topics, err := h.b.ListTopics(r.Context())
			if err != nil {
				return nil, err
			}
			for _, t := range topics {
				if !t.Internal {
					candidates = append(candidates, t.Name)
				}
			}
		} else {
			mirrors, err := h.links.ListMirrors(r.Context(), link, "")
			if err != nil {
				return nil, err
			}
			for _, m := range mirrors {
				candidates = append(candidates, m.MirrorTopic)
			}
		}
		for _, name := range candidates {
			if re.MatchString(name) && h.authorized(r, opAlter, acl.Topic(name)) {
				allowed = append(allowed, name)
			}
		}
	} else {
		for _, n := range names {
			if err := h.authorize(r, opAlter, acl.Topic(n)); err != nil {
				refused = append(refused, AlterMirrorResult{MirrorTopic: n, Err: err})
				continue
			}
			allowed = append(allowed, n)
		}
	}
	if len(allowed) == 0 {
		return refused, nil
	}
	results, err := h.links.AlterMirrors(r.Context(), link, op, allowed, "", validateOnly)
	return append(results, refused...), err
}

// describableOffsets leaves out the committed offsets (and so the lags) of
// topics the principal may not DESCRIBE, as OffsetFetch answers them with
// TOPIC_AUTHORIZATION_FAILED: DESCRIBE on a group does not reveal the
// topics it reads.
func (h *handler) describableOffsets(r *http.Request, offs []groupview.Offset) []groupview.Offset {
	if h.authz == nil {
		return offs
	}
	allowed := map[string]bool{}
	out := make([]groupview.Offset, 0, len(offs))
	for _, o := range offs {
		ok, seen := allowed[o.Topic]
		if !seen {
			ok = h.authorized(r, opDescribe, acl.Topic(o.Topic))
			allowed[o.Topic] = ok
		}
		if ok {
			out = append(out, o)
		}
	}
	return out
}
