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
	"errors"
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
	// DeleteACLs deletes every ACL f matches and returns them.
	DeleteACLs(ctx context.Context, f acl.Filter) ([]acl.Binding, error)
}

// WithACLs serves /kafka/v3/clusters/{id}/acls from b. Without it those
// routes answer 404 and the cluster does not link to them.
func WithACLs(b ACLBackend) Option {
	return func(h *handler) { h.acls = b }
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
func (h *handler) aclFilterRequest(r *http.Request) (urls, acl.Filter, error) {
	u, err := h.aclURLs(r)
	if err != nil {
		return u, acl.Filter{}, err
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
func aclFilterParams(r *http.Request) (acl.Filter, error) {
	q := r.URL.Query()
	f := acl.AnyFilter
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

// binding reads one creation: every field is required, the enums are
// read as in filters, and the result is checked by acl.Binding.Validate
// as CreateAcls checks it (no ANY or MATCH, "Type:Name" principals, the
// cluster named kafka-cluster). field prefixes messages ("data[1].").
func (body aclBody) binding(field string) (acl.Binding, error) {
	var b acl.Binding
	for _, kv := range [][2]string{{body.ResourceType, "resource_type"}, {body.ResourceName, "resource_name"},
		{body.PatternType, "pattern_type"}, {body.Principal, "principal"}, {body.Host, "host"},
		{body.Operation, "operation"}, {body.Permission, "permission"}} {
		if kv[0] == "" {
			return b, badRequest("%s%s is required", field, kv[1])
		}
	}
	var err error
	if b.Type, err = enumParam(body.ResourceType, field+"resource_type", 0, kmsg.ParseACLResourceType); err != nil {
		return b, err
	}
	if b.PatternType, err = enumParam(body.PatternType, field+"pattern_type", 0, kmsg.ParseACLResourcePatternType); err != nil {
		return b, err
	}
	if b.Operation, err = enumParam(body.Operation, field+"operation", 0, kmsg.ParseACLOperation); err != nil {
		return b, err
	}
	if b.Permission, err = enumParam(body.Permission, field+"permission", 0, kmsg.ParseACLPermissionType); err != nil {
		return b, err
	}
	b.Name, b.Principal, b.Host = body.ResourceName, body.Principal, body.Host
	if err := b.Validate(); err != nil {
		return b, badRequest("%s%v", field, err)
	}
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
		return aclError(err)
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
		return aclError(err)
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
		return aclError(err)
	}
	WriteJSON(w, http.StatusOK, struct {
		Data []aclData `json:"data"`
	}{sortedACLData(u, deleted)})
	return nil
}

// aclError makes the store's refusal of a binding or filter a 400, as
// Kafka's InvalidRequestException is one (40002).
func aclError(err error) error {
	if errors.Is(err, acl.ErrInvalidBinding) {
		return &apiError{status: http.StatusBadRequest, code: codeKafkaBadRequest, msg: err.Error()}
	}
	return err
}
