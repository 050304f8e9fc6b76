package rest

// ACLs over Confluent REST v3 (kafka-rest's AclsResource and
// CreateAclBatchAction): GET /acls searches with a filter, POST /acls
// creates one ACL, POST /acls:batch creates several, DELETE /acls deletes
// every ACL a filter matches and returns them. Filters and their defaults
// are DescribeAcls/DeleteAcls' (Kafka's AclBindingFilter): an absent
// resource_type, pattern_type, operation or permission is ANY, an absent
// resource_name, principal or host matches any.

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
)

// ACLBackend stores the ACLs (the metadata store behind the broker's
// CreateAcls, DescribeAcls and DeleteAcls).
type ACLBackend interface {
	ACLs() []acl.Binding
	CreateACLs(ctx context.Context, bindings []acl.Binding) error
	// DeleteACLs deletes every ACL a filter matches and returns them.
	DeleteACLs(ctx context.Context, f ACLFilter) ([]acl.Binding, error)
}

// WithACLs serves /kafka/v3/clusters/{id}/acls from b. Without it those
// routes answer 404 and the cluster does not link to them.
func WithACLs(b ACLBackend) Option {
	return func(h *handler) { h.acls = b }
}

// ACLFilter is Kafka's AclBindingFilter: ANY (type, pattern type,
// operation, permission) and nil (name, principal, host) match anything;
// pattern type MATCH matches the patterns that would apply to the named
// resource (the literal name, the "*" literal, and prefixes of it).
type ACLFilter struct {
	ResourceType acl.ResourceType
	Name         *string
	PatternType  acl.PatternType
	Principal    *string
	Host         *string
	Operation    acl.Operation
	Permission   acl.Permission
}

// Matches reports whether b is selected by f (Kafka's
// AclBindingFilter.matches).
func (f ACLFilter) Matches(b acl.Binding) bool {
	if f.ResourceType != kmsg.ACLResourceTypeAny && f.ResourceType != b.Type {
		return false
	}
	if !f.patternMatches(b.Pattern) {
		return false
	}
	return (f.Principal == nil || *f.Principal == b.Principal) &&
		(f.Host == nil || *f.Host == b.Host) &&
		(f.Operation == kmsg.ACLOperationAny || f.Operation == b.Operation) &&
		(f.Permission == kmsg.ACLPermissionTypeAny || f.Permission == b.Permission)
}

// patternMatches is ResourcePatternFilter.matches.
func (f ACLFilter) patternMatches(p acl.Pattern) bool {
	switch f.PatternType {
	case kmsg.ACLResourcePatternTypeAny:
		return f.Name == nil || *f.Name == p.Name
	case kmsg.ACLResourcePatternTypeMatch:
		if f.Name == nil {
			return true
		}
		switch p.PatternType {
		case kmsg.ACLResourcePatternTypeLiteral:
			return p.Name == *f.Name || p.Name == acl.Wildcard
		case kmsg.ACLResourcePatternTypePrefixed:
			return strings.HasPrefix(*f.Name, p.Name)
		}
		return false
	}
	return f.PatternType == p.PatternType && (f.Name == nil || *f.Name == p.Name)
}

// aclData is KafkaAcl.
type aclData struct {
	Kind         string       `json:"kind"`
	Metadata     resourceMeta `json:"metadata"`
	ClusterID    string       `json:"cluster_id"`
	ResourceType string       `json:"resource_type"`
	ResourceName string       `json:"resource_name"`
	PatternType  string       `json:"pattern_type"`
	Principal    string       `json:"principal"`
	Host         string       `json:"host"`
	Operation    string       `json:"operation"`
	Permission   string       `json:"permission"`
}

// aclBody is CreateAclRequestData (one entry of acls:batch's "data" too).
type aclBody struct {
	ResourceType string `json:"resource_type"`
	ResourceName string `json:"resource_name"`
	PatternType  string `json:"pattern_type"`
	Principal    string `json:"principal"`
	Host         string `json:"host"`
	Operation    string `json:"operation"`
	Permission   string `json:"permission"`
}

type aclBatchBody struct {
	Data []aclBody `json:"data"`
}

func (h *handler) aclRoutes(c string) {
	h.handle("GET "+c+"/acls", h.listACLs)
	h.handle("POST "+c+"/acls", h.createACL)
	// "acls:batch" is one literal segment to ServeMux, like configs:alter.
	h.handle("POST "+c+"/acls:batch", h.createACLBatch)
	h.handle("DELETE "+c+"/acls", h.deleteACLs)
}

// aclURLs checks the cluster id and that ACLs are served.
func (h *handler) aclURLs(r *http.Request) (urls, error) {
	u, err := h.clusterURLs(r)
	if err != nil {
		return u, err
	}
	if h.acls == nil {
		return u, notFound("ACLs are not served: no authorizer is configured (authorizer.class.name)")
	}
	return u, nil
}

// aclFilterRequest is aclURLs plus the query's filter (GET and DELETE).
func (h *handler) aclFilterRequest(r *http.Request) (urls, ACLFilter, error) {
	u, err := h.aclURLs(r)
	if err != nil {
		return u, ACLFilter{}, err
	}
	f, err := aclFilterParams(r)
	return u, f, err
}

// aclQuery is the query string naming one ACL or filter, in Confluent's
// parameter order.
func aclQuery(rt, name, pt, principal, host, op, perm string) string {
	var b strings.Builder
	for i, kv := range [][2]string{{"resource_type", rt}, {"resource_name", name}, {"pattern_type", pt},
		{"principal", principal}, {"host", host}, {"operation", op}, {"permission", perm}} {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(kv[0] + "=" + url.QueryEscape(kv[1]))
	}
	return b.String()
}

func aclDataFor(u urls, b acl.Binding) aclData {
	d := aclData{Kind: "KafkaAcl", ClusterID: u.clusterID,
		ResourceType: b.Type.String(), ResourceName: b.Name, PatternType: b.PatternType.String(),
		Principal: b.Principal, Host: b.Host, Operation: b.Operation.String(), Permission: b.Permission.String()}
	d.Metadata = resourceMeta{Self: u.cluster + "/acls?" + aclQuery(d.ResourceType, d.ResourceName, d.PatternType,
		d.Principal, d.Host, d.Operation, d.Permission)}
	return d
}

// sortedACLData sorts as kafka-rest does: by type, name, pattern type,
// principal, host, operation, permission.
func sortedACLData(u urls, bs []acl.Binding) []aclData {
	out := make([]aclData, 0, len(bs))
	for _, b := range bs {
		out = append(out, aclDataFor(u, b))
	}
	slices.SortFunc(out, func(a, b aclData) int {
		return cmp.Or(strings.Compare(a.ResourceType, b.ResourceType), strings.Compare(a.ResourceName, b.ResourceName),
			strings.Compare(a.PatternType, b.PatternType), strings.Compare(a.Principal, b.Principal),
			strings.Compare(a.Host, b.Host), strings.Compare(a.Operation, b.Operation),
			strings.Compare(a.Permission, b.Permission))
	})
	return out
}

// aclFilterParams reads a filter from the query string.
func aclFilterParams(r *http.Request) (ACLFilter, error) {
	q := r.URL.Query()
	f := ACLFilter{ResourceType: kmsg.ACLResourceTypeAny, PatternType: kmsg.ACLResourcePatternTypeAny,
		Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny}
	var err error
	if f.ResourceType, err = enumParam(q.Get("resource_type"), "resource_type", f.ResourceType, kmsg.ParseACLResourceType); err != nil {
		return f, err
	}
	if f.PatternType, err = enumParam(q.Get("pattern_type"), "pattern_type", f.PatternType, kmsg.ParseACLResourcePatternType); err != nil {
		return f, err
	}
	if f.Operation, err = enumParam(q.Get("operation"), "operation", f.Operation, kmsg.ParseACLOperation); err != nil {
		return f, err
	}
	if f.Permission, err = enumParam(q.Get("permission"), "permission", f.Permission, kmsg.ParseACLPermissionType); err != nil {
		return f, err
	}
	// An empty value is "any", as kafka-rest reads its "" defaults.
	opt := func(k string) *string {
		if v := q.Get(k); v != "" {
			return &v
		}
		return nil
	}
	f.Name, f.Principal, f.Host = opt("resource_name"), opt("principal"), opt("host")
	return f, nil
}

// enumParam parses one of Kafka's ACL enums case-insensitively (kmsg
// ignores "_" too, so ALTER_CONFIGS and alterconfigs are the same); ""
// is def. UNKNOWN is refused, as kafka-rest does.
func enumParam[E interface {
	~int8
	String() string
}](v, name string, def E, parse func(string) (E, error)) (E, error) {
	if v == "" {
		return def, nil
	}
	e, err := parse(v)
	if err != nil || e == 0 {
		return def, badRequest("%s %q is not a valid value", name, v)
	}
	return e, nil
}

func (h *handler) listACLs(w http.ResponseWriter, r *http.Request) error {
	u, f, err := h.aclFilterRequest(r)
	if err != nil {
		return err
	}
	var match []acl.Binding
	for _, b := range h.acls.ACLs() {
		if f.Matches(b) {
			match = append(match, b)
		}
	}
	self := u.cluster + "/acls"
	if r.URL.RawQuery != "" {
		self += "?" + r.URL.RawQuery
	}
	WriteJSON(w, http.StatusOK, newList("KafkaAclList", self, sortedACLData(u, match)))
	return nil
}

// binding validates one creation as CreateAcls does: concrete enums
// (no ANY, MATCH or UNKNOWN), a "Type:Name" principal, a host, and the
// cluster resource named kafka-cluster.
func (body aclBody) binding(field string) (acl.Binding, error) {
	var b acl.Binding
	var err error
	req := func(v, name string) error {
		if v == "" {
			return badRequest("%s%s is required", field, name)
		}
		return nil
	}
	for _, kv := range [][2]string{{body.ResourceType, "resource_type"}, {body.PatternType, "pattern_type"},
		{body.Operation, "operation"}, {body.Permission, "permission"}, {body.Principal, "principal"}, {body.Host, "host"}} {
		if err := req(kv[0], kv[1]); err != nil {
			return b, err
		}
	}
	if b.Type, err = enumParam(body.ResourceType, field+"resource_type", 0, kmsg.ParseACLResourceType); err != nil || b.Type == kmsg.ACLResourceTypeAny {
		return b, badRequest("%sresource_type %q must be TOPIC, GROUP, CLUSTER, TRANSACTIONAL_ID or DELEGATION_TOKEN", field, body.ResourceType)
	}
	if b.PatternType, err = enumParam(body.PatternType, field+"pattern_type", 0, kmsg.ParseACLResourcePatternType); err != nil ||
		(b.PatternType != kmsg.ACLResourcePatternTypeLiteral && b.PatternType != kmsg.ACLResourcePatternTypePrefixed) {
		return b, badRequest("%spattern_type %q must be LITERAL or PREFIXED", field, body.PatternType)
	}
	if b.Operation, err = enumParam(body.Operation, field+"operation", 0, kmsg.ParseACLOperation); err != nil || b.Operation == kmsg.ACLOperationAny {
		return b, badRequest("%soperation %q is not a valid operation (ANY is only for filters)", field, body.Operation)
	}
	if b.Permission, err = enumParam(body.Permission, field+"permission", 0, kmsg.ParseACLPermissionType); err != nil || b.Permission == kmsg.ACLPermissionTypeAny {
		return b, badRequest("%spermission %q must be ALLOW or DENY", field, body.Permission)
	}
	if body.ResourceName == "" {
		return b, badRequest("%sresource_name is required", field)
	}
	if b.Type == kmsg.ACLResourceTypeCluster && body.ResourceName != acl.ClusterName {
		return b, badRequest("%sresource_name of a CLUSTER ACL must be %s", field, acl.ClusterName)
	}
	if typ, name, ok := strings.Cut(body.Principal, ":"); !ok || typ == "" || name == "" {
		return b, badRequest("%sprincipal %q: want Type:Name, such as User:alice", field, body.Principal)
	}
	b.Name, b.Principal, b.Host = body.ResourceName, body.Principal, body.Host
	return b, nil
}

// createACL answers 201 with a Location naming the ACL and no body, as
// kafka-rest does.
func (h *handler) createACL(w http.ResponseWriter, r *http.Request) error {
	u, err := h.aclURLs(r)
	if err != nil {
		return err
	}
	var body aclBody
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	b, err := body.binding("")
	if err != nil {
		return err
	}
	if err := h.acls.CreateACLs(r.Context(), []acl.Binding{b}); err != nil {
		return err
	}
	w.Header().Set("Location", aclDataFor(u, b).Metadata.Self)
	w.WriteHeader(http.StatusCreated)
	return nil
}

// createACLBatch creates every ACL of {"data":[...]} or, when one is
// invalid, none; 204 as kafka-rest's CreateAclBatchAction.
func (h *handler) createACLBatch(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.aclURLs(r); err != nil {
		return err
	}
	var body aclBatchBody
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if len(body.Data) == 0 {
		return badRequest("data must hold at least one ACL")
	}
	bs := make([]acl.Binding, 0, len(body.Data))
	for i, d := range body.Data {
		b, err := d.binding("data[" + itoa(int32(i)) + "].")
		if err != nil {
			return err
		}
		bs = append(bs, b)
	}
	if err := h.acls.CreateACLs(r.Context(), bs); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deleteACLs deletes what the filter matches and answers
// {"data":[KafkaAcl...]} with the deleted ACLs (DeleteAclsResponse).
func (h *handler) deleteACLs(w http.ResponseWriter, r *http.Request) error {
	u, f, err := h.aclFilterRequest(r)
	if err != nil {
		return err
	}
	deleted, err := h.acls.DeleteACLs(r.Context(), f)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, struct {
		Data []aclData `json:"data"`
	}{sortedACLData(u, deleted)})
	return nil
}
