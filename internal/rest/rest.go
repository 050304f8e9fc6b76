// Package rest serves Tandem's admin HTTP API: the subset of Confluent's
// REST API v3 (/kafka/v3/...) that topic and cluster-link tooling uses, the
// health endpoints, and /metrics.
//
// Shapes follow Confluent REST v3 (cluster-linking.md §5, §5.3): every
// resource has "kind" and "metadata":{"self","resource_name"}, collections
// are {"kind":"KafkaXxxList","metadata":{"self","next":null},"data":[...]},
// and errors are {"error_code":int,"message":string} (see errors.go).
//
// The package owns no broker state. Everything goes through Backend, which
// the broker implements; Kafka errors it returns are mapped to HTTP here,
// at the handler boundary.
package rest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tandem-streaming/tandem/internal/acl"
	"github.com/tandem-streaming/tandem/internal/metrics"
	"github.com/tandem-streaming/tandem/internal/ratelog"
)

// Backend is what the REST API needs from the broker. Errors should wrap a
// *kerr.Error where a Kafka error code applies (UNKNOWN_TOPIC_OR_PARTITION,
// TOPIC_ALREADY_EXISTS, INVALID_CONFIG, ...); see errors.go for the mapping.
type Backend interface {
	ClusterID() string
	NodeID() int32
	// AdvertisedHost is the Kafka listener host and port of this node.
	AdvertisedHost() (string, int32)
	ListTopics(ctx context.Context) ([]TopicInfo, error)
	GetTopic(ctx context.Context, name string) (TopicInfo, error)
	CreateTopic(ctx context.Context, req CreateTopicRequest) (TopicInfo, error)
	DeleteTopic(ctx context.Context, name string) error
	TopicConfigs(ctx context.Context, name string) ([]ConfigEntry, error)
	AlterTopicConfigs(ctx context.Context, name string, ops []ConfigOp, validateOnly bool) error
	// Ready returns nil when the node is serving, else the reason it is not.
	Ready() error
}

// TopicInfo describes one topic.
type TopicInfo struct {
	Name              string
	ID                [16]byte
	Internal          bool
	ReplicationFactor int16
	Partitions        []PartitionInfo
}

// PartitionInfo describes one partition of a topic.
type PartitionInfo struct {
	Partition      int32
	Leader         int32 // -1 when there is no leader
	LeaderEpoch    int32
	LogStartOffset int64
	HighWatermark  int64
}

// CreateTopicRequest is a topic creation (or its validation).
type CreateTopicRequest struct {
	Name              string
	Partitions        int32 // -1 = broker default
	ReplicationFactor int16 // -1 = broker default
	Configs           map[string]string
	ValidateOnly      bool
}

// ConfigEntry is one topic config as DescribeConfigs reports it.
type ConfigEntry struct {
	Name, Value                            string
	IsNull, IsDefault, ReadOnly, Sensitive bool
	Source                                 string // e.g. DYNAMIC_TOPIC_CONFIG
	Synonyms                               []ConfigSynonym
}

// ConfigSynonym is one synonym of a config entry (KIP-226).
type ConfigSynonym struct {
	Name, Value, Source string
}

// ConfigOp is one incremental config change: set Name to Value, or with
// Delete, remove the topic override so the default applies again.
type ConfigOp struct {
	Name, Value string
	Delete      bool
}

// maxBodyBytes caps request bodies. Nothing in this API legitimately needs
// more than a few KiB.
const maxBodyBytes = 1 << 20

// unmatchedRoute is the route label for requests no pattern matched, so
// that scanners probing random paths cannot mint metric series.
const unmatchedRoute = "unmatched"

type handler struct {
	b     Backend
	links LinkBackend // nil: cluster linking is disabled (links.go)
	// groups is nil when consumer groups are not served (groups.go).
	groups GroupSource
	// authz is nil when authorization is off (authz.go).
	authz acl.Authorizer
	// acls is nil when ACLs are not served (acls.go).
	acls ACLBackend
	// patterns are the routes registered, in order (authz_test.go checks
	// them against routeRules).
	patterns []string
	m        *metrics.Metrics
	// log is rate-limited: every line here is one a client can cause
	// once per request (issue #9).
	log *ratelog.Logger
	mux *http.ServeMux
}

// Option configures optional parts of the API.
type Option func(*handler)

// New returns the admin API handler. m may be nil (no /metrics, no HTTP
// metrics); logger may be nil (discard).
func New(b Backend, m *metrics.Metrics, logger *slog.Logger, opts ...Option) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &handler{b: b, m: m, log: ratelog.New(logger, ratelog.Options{}), mux: http.NewServeMux()}
	for _, o := range opts {
		o(h)
	}
	h.routes()
	return h
}

func (h *handler) routes() {
	const c = "/kafka/v3/clusters/{cluster_id}"
	const t = c + "/topics/{topic_name}"

	h.handle("GET /kafka/v3/clusters", h.listClusters)
	h.handle("GET "+c, h.getCluster)

	h.handle("GET "+c+"/brokers", h.listBrokers)
	h.handle("GET "+c+"/brokers/{broker_id}", h.getBroker)

	h.handle("GET "+c+"/topics", h.listTopics)
	h.handle("POST "+c+"/topics", h.createTopic)
	h.handle("GET "+t, h.getTopic)
	h.handle("DELETE "+t, h.deleteTopic)

	h.handle("GET "+t+"/partitions", h.listPartitions)
	h.handle("GET "+t+"/partitions/{partition_id}", h.getPartition)
	h.handle("GET "+t+"/partitions/{partition_id}/replicas", h.listReplicas)
	h.handle("GET "+t+"/partitions/{partition_id}/replicas/{broker_id}", h.getReplica)

	h.handle("GET "+t+"/configs", h.listTopicConfigs)
	// "configs:alter" is a single literal path segment to ServeMux (only
	// "{...}" is special), so it cannot collide with configs/{name}.
	h.handle("POST "+t+"/configs:alter", h.alterTopicConfigs)
	h.handle("GET "+t+"/configs/{name}", h.getTopicConfig)
	h.handle("PUT "+t+"/configs/{name}", h.updateTopicConfig)
	h.handle("DELETE "+t+"/configs/{name}", h.resetTopicConfig)

	h.linkRoutes(c)
	h.groupRoutes(c)
	h.aclRoutes(c)

	h.handle("GET /v1/health", h.ready)
	h.handle("GET /readyz", h.ready)
	h.handle("GET /livez", h.live)

	if h.m != nil {
		prom := promhttp.HandlerFor(h.m.Registry(), promhttp.HandlerOpts{
			ErrorLog: promLogger{h.log},
			// A bad series (say, a duplicate from the partition
			// source) must not blank the whole scrape.
			ErrorHandling: promhttp.ContinueOnError,
			Registry:      h.m.Registry(),
		})
		h.handle("GET /metrics", func(w http.ResponseWriter, r *http.Request) error {
			prom.ServeHTTP(w, r)
			return nil
		})
	}
}

// handle registers fn under pattern. The wrapper tags the response writer
// with the route (for metrics and logs, and to tell our own 404s from the
// mux's) and turns a returned error into a Confluent error body.
func (h *handler) handle(pattern string, fn func(http.ResponseWriter, *http.Request) error) {
	_, route, _ := strings.Cut(pattern, " ") // the method is its own label
	rl := ruleFor(pattern)
	h.patterns = append(h.patterns, pattern)
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if rw, ok := w.(*respWriter); ok {
			rw.route = route
		}
		// Authorization first, as Kafka checks before looking at the
		// request: a refused caller learns nothing about the resource.
		if err := h.check(rl, r); err != nil {
			h.writeError(w, r, err)
			return
		}
		// Checked before the handler reads anything: a refused request
		// changes nothing (guard.go). A body known to be empty is let
		// through: every such route then fails with "request body is
		// empty", which says more.
		if needsJSON(r.Method) && r.ContentLength != 0 && !jsonBody(r) {
			h.writeError(w, r, unsupportedMediaType(r))
			return
		}
		if r.ContentLength > maxBodyBytes {
			w.Header().Set("Connection", "close")
			h.writeError(w, r, httpError(http.StatusRequestEntityTooLarge, "request body exceeds %d bytes", maxBodyBytes))
			return
		}
		if err := fn(w, r); err != nil {
			h.writeError(w, r, err)
		}
	})
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &respWriter{ResponseWriter: w}
	if r.Body != nil {
		// The original writer, not rw: net/http uses it to close the
		// connection after an oversized body.
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			h.log.Error("rest: handler panic", "method", r.Method, "path", r.URL.Path, "panic", p)
			if rw.status == 0 {
				WriteJSON(rw, http.StatusInternalServerError,
					errorBody{ErrorCode: codeServerError, Message: "internal server error"})
			}
		}
		h.finish(rw, r, start)
	}()
	h.mux.ServeHTTP(rw, r)
}

// finish records metrics and the debug log line for one request.
func (h *handler) finish(rw *respWriter, r *http.Request, start time.Time) {
	status := rw.status
	if status == 0 {
		status = http.StatusOK
	}
	dur := time.Since(start)
	route := rw.route
	if route == "" {
		route = unmatchedRoute
	}
	h.m.ObserveHTTP(route, metricMethod(r.Method), status, dur)
	if !h.log.Slog().Enabled(r.Context(), slog.LevelDebug) {
		return // not even the attributes are built
	}
	h.log.Debug("rest: request",
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Int("bytes", rw.bytes),
		slog.Duration("duration", dur),
		slog.String("remote", r.RemoteAddr),
	)
}

// metricMethod bounds the method label to the standard methods.
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, body := mapError(err)
	if status >= 500 {
		h.log.Warn("rest: request failed", "method", r.Method, "path", r.URL.Path,
			"status", status, "error_code", body.ErrorCode, "err", err)
	}
	WriteJSON(w, status, body)
}

// WriteJSON writes v with the given status (the console writes its JSON
// with it too). Encoding our own response
// types cannot fail short of a bug, and a write error means the client has
// gone, so neither is reported.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error_code":50001,"message":"failed to encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// decodeJSON reads exactly one JSON value from the (size-capped) body into v
// and turns decoder failures into 400s (413 when over the cap) with a
// message that says what was wrong and where.
func decodeJSON(r *http.Request, v any) error {
	if r.Body == nil {
		return badRequest("request body is required")
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return decodeError(err)
		}
		return badRequest("request body must contain a single JSON value")
	}
	return nil
}

// jsonType names what a Go type decodes from, for clients: "array" and
// "object" rather than the server's own type names; scalars keep their Go
// name, which says the range (int16, int32, string, bool).
func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	}
	return t.String()
}

func decodeError(err error) error {
	if mbe, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return httpError(http.StatusRequestEntityTooLarge, "request body exceeds %d bytes", mbe.Limit)
	}
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return badRequest("malformed JSON at offset %d: %v", se.Offset, se)
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		field := te.Field
		if field == "" {
			field = "(root)"
		}
		return badRequest("field %q: cannot use JSON %s as %s", field, te.Value, jsonType(te.Type))
	}
	if errors.Is(err, io.EOF) {
		return badRequest("request body is empty")
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return badRequest("malformed JSON: unexpected end of input")
	}
	return badRequest("invalid JSON body: %v", err)
}

// respWriter records what a handler wrote, and replaces the mux's
// text/plain 404 and 405 answers (for requests that matched no route)
// with Confluent-style JSON errors.
type respWriter struct {
	http.ResponseWriter
	route    string // matched pattern; "" when no route matched
	status   int
	bytes    int
	suppress bool // the mux's plain-text body is being discarded
}

func (w *respWriter) WriteHeader(code int) {
	if w.status != 0 {
		return // superfluous; net/http would only log it
	}
	w.status = code
	if w.route == "" && (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) {
		// ServeMux has already set Allow for a 405.
		w.suppress = true
		msg := "HTTP 404 Not Found"
		if code == http.StatusMethodNotAllowed {
			msg = "HTTP 405 Method Not Allowed"
		}
		b, _ := json.Marshal(errorBody{ErrorCode: code, Message: msg})
		hdr := w.ResponseWriter.Header()
		hdr.Set("Content-Type", "application/json")
		hdr.Del("Content-Length")
		w.ResponseWriter.WriteHeader(code)
		n, _ := w.ResponseWriter.Write(append(b, '\n'))
		w.bytes += n
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *respWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.suppress {
		return len(p), nil
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *respWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// promLogger adapts slog to promhttp's Logger.
type promLogger struct{ log *ratelog.Logger }

func (l promLogger) Println(v ...any) {
	l.log.Warn("rest: metrics scrape error", "detail", fmtArgs(v))
}

func fmtArgs(v []any) string { return strings.TrimSuffix(fmt.Sprintln(v...), "\n") }
