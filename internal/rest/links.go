package rest

// Cluster links over Confluent REST v3 (cluster-linking.md §5): the link
// objects and their configs. Mirror topics are in mirrors.go.

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/tandem-streaming/tandem/internal/restapi"
)

// LinkBackend is implemented by the link manager. Errors carry a Kafka
// error (errors.As *kerr.Error) where one applies, or wrap one of the
// sentinel errors below (ErrLinkNotFound, ...); the handlers map both, as
// errors.go does for topics.
type LinkBackend interface {
	ListLinks(ctx context.Context) ([]LinkInfo, error)
	// GetLink describes one link; Tasks need only be filled when
	// includeTasks is set.
	GetLink(ctx context.Context, name string, includeTasks bool) (LinkInfo, error)
	CreateLink(ctx context.Context, req CreateLinkRequest) error
	// DeleteLink removes a link. Without force, a link that still has
	// mirror topics is refused with ErrLinkInUse.
	DeleteLink(ctx context.Context, name string, force, validateOnly bool) error
	LinkConfigs(ctx context.Context, name string) ([]LinkConfigEntry, error)
	AlterLinkConfigs(ctx context.Context, name string, ops []ConfigOp, validateOnly bool) error

	// ListMirrors lists the mirror topics of one link, or of every link
	// when link is "". status is "" (any) or one of the MirrorStatus
	// values (upper case).
	ListMirrors(ctx context.Context, link, status string) ([]MirrorInfo, error)
	GetMirror(ctx context.Context, link, mirror string) (MirrorInfo, error)
	CreateMirror(ctx context.Context, link string, req CreateMirrorRequest) error
	// AlterMirrors applies op (MirrorOpPause, ...) to the named mirrors,
	// or to the link's mirrors whose names match pattern (a full-string
	// regular expression) when names is nil. Per-mirror failures come back
	// in the results (AlterMirrorResult.Err), not as the error; the error
	// is for the request as a whole (unknown link, ...).
	AlterMirrors(ctx context.Context, link, op string, names []string, pattern string, validateOnly bool) ([]AlterMirrorResult, error)
}

// CreateLinkRequest is a link creation (or, with ValidateOnly, its
// validation). Exactly which cluster-id field is set depends on link.mode
// (§1.1); a DESTINATION link sets SourceClusterID or leaves it "" for the
// link manager to discover.
type CreateLinkRequest struct {
	Name                 string
	SourceClusterID      string
	DestinationClusterID string
	RemoteClusterID      string
	// ClusterLinkID is the expected link ID when creating the second half
	// of a bidirectional link (§4.2); usually "".
	ClusterLinkID string
	Configs       map[string]string
	ValidateOnly  bool
	// ValidateLink asks for a synchronous check that the remote cluster is
	// reachable, has the expected ID and lets the link read (§1.4).
	ValidateLink bool
}

// LinkInfo describes one link (KafkaLinkData).
type LinkInfo struct {
	Name string
	// ClusterLinkID is Kafka's base64 form of the link's UUID (22 chars,
	// e.g. qz0HDEV-Qz2B5aPFpcWQJQ).
	ClusterLinkID        string
	SourceClusterID      string
	DestinationClusterID string
	RemoteClusterID      string
	State                string // ACTIVE, PAUSED, UNAVAILABLE, FAILED, ...; "" = UNKNOWN
	Error                string // NO_ERROR, AUTHENTICATION_ERROR, ...; "" = NO_ERROR
	ErrorMessage         string // "" = null
	TopicNames           []string
	Tasks                []LinkTask
	CategoryCounts       []StateCount
	// RemoteLinkState is a paired half's view of its peer ("" for a link
	// that does not pair), RemoteLinkStateMessage why it is
	// REMOTE_LINK_NOT_FOUND, RemoteLinkStateTimeMs when the peer was last
	// heard of (epoch ms, 0 while UNKNOWN).
	RemoteLinkState, RemoteLinkStateMessage string
	RemoteLinkStateTimeMs                   int64
	// ConsumerGroupOffsets, ConsumerGroupLags and ConsumerGroupsSynced
	// are filled with Tasks (include_tasks).
	ConsumerGroupOffsets []restapi.ConsumerGroupOffset
	ConsumerGroupLags    []restapi.ConsumerGroupLag
	ConsumerGroupsSynced int
}

// LinkTask is one background task of a link (§1.3).
type LinkTask struct {
	Name   string // ConsumerOffsetSync, AclSync, AutoCreateMirror, TopicConfigsSync, ...
	State  string // ACTIVE, IN_ERROR, NOT_CONFIGURED, LINK_FAILED, ...
	Errors []TaskError
	// LastRunMs and LastSuccessMs are epoch ms, 0 before the first (a
	// Tandem extension of Confluent's shape).
	LastRunMs, LastSuccessMs int64
}

// TaskError is a task or mirror state-transition error.
type TaskError struct {
	Code    string // e.g. MISCONFIGURATION_ERROR
	Message string
}

// StateCount counts the link's mirror partitions in one state category
// (PAUSED, IN_ERROR, PENDING, ACTIVE, NOT_APPLICABLE).
type StateCount struct {
	Category string
	Count    int
}

// LinkConfigEntry is one link config.
type LinkConfigEntry struct {
	Name, Value                            string
	IsNull, IsDefault, ReadOnly, Sensitive bool
	// Source is DYNAMIC_CLUSTER_LINK_CONFIG or DEFAULT_CONFIG; when ""
	// it is derived from IsDefault.
	Source   string
	Synonyms []string
}

// Sentinel errors for LinkBackend implementations to wrap (with %w). They
// become these HTTP answers; the message is the full error text.
var (
	// ErrLinkNotFound: 404, error_code 40404.
	ErrLinkNotFound = errors.New("cluster link not found")
	// ErrLinkExists: 409, error_code 40901 (kcp treats a 409 on create
	// as "already exists", §5.1).
	ErrLinkExists = errors.New("cluster link already exists")
	// ErrLinkInUse: a non-forced delete of a link with mirrors
	// (Confluent's CLUSTER_LINK_IN_USE): 409, error_code 40902.
	ErrLinkInUse = errors.New("cluster link has mirror topics")
	// ErrInvalidLink: link validation failed (bad configs, remote
	// unreachable or not the expected cluster): 400, error_code 40002.
	ErrInvalidLink = errors.New("invalid cluster link")
	// ErrMirrorNotFound: no such mirror topic on the link (or the topic
	// is not a mirror): 404, error_code 40403 like an unknown topic.
	ErrMirrorNotFound = errors.New("mirror topic not found")
	// ErrInvalidMirrorState: the operation is not allowed in the
	// mirror's state (resume an active mirror, promote with lag, ...):
	// 400, error_code 40002.
	ErrInvalidMirrorState = errors.New("operation not allowed in the mirror topic's state")
)

const (
	codeLinkNotFound = 40404
	codeLinkExists   = 40901
	codeLinkInUse    = 40902
)

var linkSentinels = []struct {
	err          error
	status, code int
}{
	{ErrLinkNotFound, http.StatusNotFound, codeLinkNotFound},
	{ErrLinkExists, http.StatusConflict, codeLinkExists},
	{ErrLinkInUse, http.StatusConflict, codeLinkInUse},
	{ErrInvalidLink, http.StatusBadRequest, codeKafkaBadRequest},
	{ErrMirrorNotFound, http.StatusNotFound, codeUnknownTopicOrPart},
	{ErrInvalidMirrorState, http.StatusBadRequest, codeKafkaBadRequest},
}

// linkError turns a wrapped sentinel into an apiError that keeps the full
// message; anything else is left for mapError.
func linkError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*apiError](err); ok {
		return err
	}
	for _, s := range linkSentinels {
		if errors.Is(err, s.err) {
			return &apiError{status: s.status, code: s.code, msg: err.Error()}
		}
	}
	return err
}

// WithLinks mounts the cluster-linking endpoints on lb. Without it they
// answer 404 "cluster linking is disabled".
func WithLinks(lb LinkBackend) Option {
	return func(h *handler) { h.links = lb }
}

// handleLink registers a cluster-linking route: it checks the cluster id,
// refuses when linking is disabled, and maps the sentinel errors.
func (h *handler) handleLink(pattern string, fn func(http.ResponseWriter, *http.Request, urls) error) {
	h.handle(pattern, func(w http.ResponseWriter, r *http.Request) error {
		u, err := h.clusterURLs(r)
		if err != nil {
			return err
		}
		if h.links == nil {
			return notFound("cluster linking is disabled on this broker")
		}
		return linkError(fn(w, r, u))
	})
}

func (h *handler) linkRoutes(c string) {
	const l = "/links/{link_name}"
	h.handleLink("GET "+c+"/links", h.listLinks)
	h.handleLink("POST "+c+"/links", h.createLink)
	h.handleLink("GET "+c+l, h.getLink)
	h.handleLink("DELETE "+c+l, h.deleteLink)

	h.handleLink("GET "+c+l+"/configs", h.listLinkConfigs)
	h.handleLink("PUT "+c+l+"/configs:alter", h.alterLinkConfigs)
	h.handleLink("GET "+c+l+"/configs/{name}", h.getLinkConfig)
	h.handleLink("PUT "+c+l+"/configs/{name}", h.updateLinkConfig)
	h.handleLink("DELETE "+c+l+"/configs/{name}", h.resetLinkConfig)

	// {link_name} "-" lists the mirrors of every link.
	h.handleLink("GET "+c+l+"/mirrors", h.listMirrors)
	h.handleLink("POST "+c+l+"/mirrors", h.createMirror)
	h.handleLink("GET "+c+l+"/mirrors/{mirror_topic_name}", h.getMirror)
	// "mirrors:pause" etc. are single literal segments to ServeMux, like
	// topics' "configs:alter".
	for _, op := range mirrorOps {
		h.handleLink("POST "+c+l+"/mirrors:"+op, h.alterMirrors(op))
	}
	for alias, op := range mirrorOpAliases {
		h.handleLink("POST "+c+l+"/mirrors:"+alias, h.alterMirrors(op))
	}
}

func (u urls) link(name string) string { return u.cluster + "/links/" + url.PathEscape(name) }
func (u urls) linkConfig(link, name string) string {
	return u.link(link) + "/configs/" + url.PathEscape(name)
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// linkUUID gives the deprecated link_id (a UUID string) for a
// cluster_link_id in Kafka's base64 UUID form; nil when it is not one.
func linkUUID(clusterLinkID string) *string {
	b, err := base64.RawURLEncoding.DecodeString(clusterLinkID)
	if err != nil || len(b) != 16 {
		return nil
	}
	return nullable(uuidString([16]byte(b)))
}

func linkDataFor(u urls, l LinkInfo, includeTasks bool) restapi.Link {
	topics := slices.Clone(l.TopicNames)
	if topics == nil {
		topics = []string{}
	}
	slices.Sort(topics)
	d := restapi.Link{
		Kind:                   "KafkaLinkData",
		Metadata:               resourceMeta{Self: u.link(l.Name), ResourceName: u.crn("cluster-link=" + l.Name)},
		SourceClusterID:        nullable(l.SourceClusterID),
		DestinationClusterID:   nullable(l.DestinationClusterID),
		RemoteClusterID:        nullable(l.RemoteClusterID),
		LinkName:               l.Name,
		LinkID:                 linkUUID(l.ClusterLinkID),
		ClusterLinkID:          l.ClusterLinkID,
		TopicNames:             topics,
		LinkState:              cmpOr(l.State, "UNKNOWN"),
		LinkError:              cmpOr(l.Error, "NO_ERROR"),
		LinkErrorMessage:       nullable(l.ErrorMessage),
		CategoryCounts:         make([]restapi.CategoryCount, 0, len(l.CategoryCounts)),
		RemoteLinkState:        nullable(l.RemoteLinkState),
		RemoteLinkStateMessage: nullable(l.RemoteLinkStateMessage),
	}
	if l.RemoteLinkStateTimeMs > 0 {
		d.RemoteLinkStateUpdateTimeMs = &l.RemoteLinkStateTimeMs
	}
	for _, c := range l.CategoryCounts {
		d.CategoryCounts = append(d.CategoryCounts, restapi.CategoryCount{StateCategory: c.Category, Count: c.Count})
	}
	if includeTasks {
		// Always an array with include_tasks: the confluent CLI
		// dereferences it without a nil check (§6.2).
		d.Tasks = make([]restapi.LinkTask, 0, len(l.Tasks))
		for _, t := range l.Tasks {
			d.Tasks = append(d.Tasks, restapi.LinkTask{TaskName: t.Name, State: t.State, Errors: taskErrors(t.Errors),
				LastRunMs: t.LastRunMs, LastSuccessMs: t.LastSuccessMs})
		}
		d.ConsumerGroupOffsets = l.ConsumerGroupOffsets
		d.ConsumerGroupLags, d.ConsumerGroupsSynced = l.ConsumerGroupLags, l.ConsumerGroupsSynced
	}
	return d
}

func taskErrors(errs []TaskError) []restapi.TaskError {
	out := make([]restapi.TaskError, 0, len(errs))
	for _, e := range errs {
		out = append(out, restapi.TaskError{ErrorCode: e.Code, ErrorMessage: e.Message})
	}
	return out
}

func (h *handler) listLinks(w http.ResponseWriter, r *http.Request, u urls) error {
	links, err := h.links.ListLinks(r.Context())
	if err != nil {
		return err
	}
	slices.SortFunc(links, func(a, b LinkInfo) int { return strings.Compare(a.Name, b.Name) })
	data := make([]restapi.Link, 0, len(links))
	for _, l := range links {
		data = append(data, linkDataFor(u, l, false))
	}
	WriteJSON(w, http.StatusOK, newList("KafkaLinkDataList", u.cluster+"/links", data))
	return nil
}

func (h *handler) getLink(w http.ResponseWriter, r *http.Request, u urls) error {
	includeTasks, err := boolParam(r, "include_tasks", false)
	if err != nil {
		return err
	}
	l, err := h.links.GetLink(r.Context(), r.PathValue("link_name"), includeTasks)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, linkDataFor(u, l, includeTasks))
	return nil
}

// createLink answers 204 as Confluent's createKafkaLink does (§5.1).
func (h *handler) createLink(w http.ResponseWriter, r *http.Request, u urls) error {
	name := r.URL.Query().Get("link_name")
	if name == "" {
		return badRequest("link_name query parameter is required")
	}
	validateOnly, err := boolParam(r, "validate_only", false)
	if err != nil {
		return err
	}
	validateLink, err := boolParam(r, "validate_link", true)
	if err != nil {
		return err
	}
	var body createLinkBody
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	configs, err := configMap(body.Configs)
	if err != nil {
		return err
	}
	req := CreateLinkRequest{
		Name:                 name,
		SourceClusterID:      body.SourceClusterID,
		DestinationClusterID: body.DestinationClusterID,
		RemoteClusterID:      body.RemoteClusterID,
		ClusterLinkID:        body.ClusterLinkID,
		Configs:              configs,
		ValidateOnly:         validateOnly,
		ValidateLink:         validateLink,
	}
	if err := h.links.CreateLink(r.Context(), req); err != nil {
		return err
	}
	if !validateOnly {
		w.Header().Set("Location", u.link(name))
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// configMap turns [{name,value}] into a map, refusing nameless, null and
// duplicate entries as the topic create does.
func configMap(in []configKVInput) (map[string]string, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(in))
	for i, c := range in {
		if c.Name == "" {
			return nil, badRequest("configs[%d].name is required", i)
		}
		if c.Value == nil {
			return nil, badRequest("configs[%d] (%s): value is required", i, c.Name)
		}
		if _, dup := out[c.Name]; dup {
			return nil, badRequest("configs: duplicate config %q", c.Name)
		}
		out[c.Name] = *c.Value
	}
	return out, nil
}

func (h *handler) deleteLink(w http.ResponseWriter, r *http.Request, _ urls) error {
	force, err := boolParam(r, "force", false)
	if err != nil {
		return err
	}
	validateOnly, err := boolParam(r, "validate_only", false)
	if err != nil {
		return err
	}
	if err := h.links.DeleteLink(r.Context(), r.PathValue("link_name"), force, validateOnly); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func linkConfigDataFor(u urls, link string, e LinkConfigEntry) restapi.LinkConfig {
	source := e.Source
	if source == "" {
		source = "DYNAMIC_CLUSTER_LINK_CONFIG"
		if e.IsDefault {
			source = "DEFAULT_CONFIG"
		}
	}
	synonyms := slices.Clone(e.Synonyms)
	if synonyms == nil {
		synonyms = []string{}
	}
	d := restapi.LinkConfig{
		Kind: "KafkaLinkConfigData",
		Metadata: resourceMeta{
			Self:         u.linkConfig(link, e.Name),
			ResourceName: u.crn("cluster-link="+link, "config="+e.Name),
		},
		ClusterID:   u.clusterID,
		LinkName:    link,
		Name:        e.Name,
		IsDefault:   e.IsDefault,
		IsReadOnly:  e.ReadOnly,
		ReadOnly:    e.ReadOnly,
		IsSensitive: e.Sensitive,
		Sensitive:   e.Sensitive,
		Source:      source,
		Synonyms:    synonyms,
	}
	// Sensitive values (JAAS configs, passwords, keys) are never echoed
	// (§1.2).
	if !e.IsNull && !e.Sensitive {
		v := e.Value
		d.Value = &v
	}
	return d
}

func (h *handler) listLinkConfigs(w http.ResponseWriter, r *http.Request, u urls) error {
	link := r.PathValue("link_name")
	entries, err := h.links.LinkConfigs(r.Context(), link)
	if err != nil {
		return err
	}
	slices.SortFunc(entries, func(a, b LinkConfigEntry) int { return strings.Compare(a.Name, b.Name) })
	data := make([]restapi.LinkConfig, 0, len(entries))
	for _, e := range entries {
		data = append(data, linkConfigDataFor(u, link, e))
	}
	WriteJSON(w, http.StatusOK, newList("KafkaLinkConfigDataList", u.link(link)+"/configs", data))
	return nil
}

func (h *handler) getLinkConfig(w http.ResponseWriter, r *http.Request, u urls) error {
	link, name := r.PathValue("link_name"), r.PathValue("name")
	entries, err := h.links.LinkConfigs(r.Context(), link)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name == name {
			WriteJSON(w, http.StatusOK, linkConfigDataFor(u, link, e))
			return nil
		}
	}
	return notFound("Config %s cannot be found for cluster link %s.", name, link)
}

// updateLinkConfig sets one config (PUT .../configs/{name}, {"value":..}).
func (h *handler) updateLinkConfig(w http.ResponseWriter, r *http.Request, _ urls) error {
	op, err := setOp(r)
	if err != nil {
		return err
	}
	if err := h.links.AlterLinkConfigs(r.Context(), r.PathValue("link_name"), []ConfigOp{op}, false); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// resetLinkConfig returns one config to its default (DELETE .../configs/{name}).
func (h *handler) resetLinkConfig(w http.ResponseWriter, r *http.Request, _ urls) error {
	op := ConfigOp{Name: r.PathValue("name"), Delete: true}
	if err := h.links.AlterLinkConfigs(r.Context(), r.PathValue("link_name"), []ConfigOp{op}, false); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// alterLinkConfigs applies a batch (PUT .../configs:alter; note PUT, where
// topics use POST, §5.3). Entries without "operation" are SETs, which is
// what the confluent CLI sends (§6.2).
func (h *handler) alterLinkConfigs(w http.ResponseWriter, r *http.Request, _ urls) error {
	var body alterConfigsBody
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	ops, err := configOps(body.Data)
	if err != nil {
		return err
	}
	validateOnly, err := validateOnlyParam(r, body.ValidateOnly)
	if err != nil {
		return err
	}
	if err := h.links.AlterLinkConfigs(r.Context(), r.PathValue("link_name"), ops, validateOnly); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// configOps checks an alter batch: every entry named once, SET with a
// value, or DELETE.
func configOps(data []alterConfigEntry) ([]ConfigOp, error) {
	if data == nil {
		return nil, badRequest("data is required")
	}
	ops := make([]ConfigOp, 0, len(data))
	seen := make(map[string]bool, len(data))
	for i, e := range data {
		if e.Name == "" {
			return nil, badRequest("data[%d].name is required", i)
		}
		if seen[e.Name] {
			return nil, badRequest("data: duplicate config %q", e.Name)
		}
		seen[e.Name] = true
		op := "SET"
		if e.Operation != nil {
			op = strings.ToUpper(*e.Operation)
		}
		switch op {
		case "SET":
			if e.Value == nil {
				return nil, badRequest("data[%d] (%s): value is required for SET", i, e.Name)
			}
			ops = append(ops, ConfigOp{Name: e.Name, Value: *e.Value})
		case "DELETE":
			ops = append(ops, ConfigOp{Name: e.Name, Delete: true})
		default:
			return nil, badRequest("data[%d] (%s): operation must be SET or DELETE, got %q", i, e.Name, *e.Operation)
		}
	}
	return ops, nil
}

// validateOnlyParam: validate_only in the body (fromBody) or the query.
func validateOnlyParam(r *http.Request, fromBody bool) (bool, error) {
	if fromBody {
		return true, nil
	}
	return boolParam(r, "validate_only", false)
}

// boolParam reads an optional boolean query parameter. Unlike queryBool,
// a value that is not a boolean is a 400, since several of these default
// to true (validate_link) and a typo must not flip them.
func boolParam(r *http.Request, name string, def bool) (bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, badRequest("%s must be true or false, got %q", name, s)
	}
	return v, nil
}
