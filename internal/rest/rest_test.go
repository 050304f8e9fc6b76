package rest

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tandem-streaming/tandem/internal/metrics"
)

const testCluster = "tandem-cluster-1"

// fakeBackend is an in-memory Backend that records mutating calls.
type fakeBackend struct {
	mu       sync.Mutex
	topics   map[string]TopicInfo
	configs  map[string][]ConfigEntry
	readyErr error
	// err, when set, is returned by every topic method.
	err error

	created []CreateTopicRequest
	deleted []string
	altered []alterCall
}

type alterCall struct {
	topic        string
	ops          []ConfigOp
	validateOnly bool
}

func newFake() *fakeBackend {
	return &fakeBackend{
		topics: map[string]TopicInfo{
			"orders": {
				Name:              "orders",
				ID:                [16]byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef},
				ReplicationFactor: 1,
				Partitions: []PartitionInfo{
					{Partition: 1, Leader: 1, LeaderEpoch: 3, LogStartOffset: 0, HighWatermark: 10},
					{Partition: 0, Leader: 1, LeaderEpoch: 3, LogStartOffset: 5, HighWatermark: 42},
					{Partition: 2, Leader: -1, LeaderEpoch: 4},
				},
			},
			"__consumer_offsets": {
				Name: "__consumer_offsets", Internal: true, ReplicationFactor: 1,
				Partitions: []PartitionInfo{{Partition: 0, Leader: 1}},
			},
		},
		configs: map[string][]ConfigEntry{
			"orders": {
				{Name: "retention.ms", Value: "3600000", Source: "DYNAMIC_TOPIC_CONFIG",
					Synonyms: []ConfigSynonym{
						{Name: "retention.ms", Value: "3600000", Source: "DYNAMIC_TOPIC_CONFIG"},
						{Name: "log.retention.hours", Value: "168", Source: "DEFAULT_CONFIG"},
					}},
				{Name: "cleanup.policy", Value: "delete", IsDefault: true, Source: "DEFAULT_CONFIG"},
				{Name: "secret.thing", Value: "hunter2", Sensitive: true, Source: "DYNAMIC_TOPIC_CONFIG",
					Synonyms: []ConfigSynonym{{Name: "secret.thing", Value: "hunter2", Source: "DYNAMIC_TOPIC_CONFIG"}}},
				{Name: "message.format.version", IsNull: true, ReadOnly: true},
			},
		},
	}
}

func (f *fakeBackend) ClusterID() string               { return testCluster }
func (f *fakeBackend) NodeID() int32                   { return 1 }
func (f *fakeBackend) AdvertisedHost() (string, int32) { return "kafka-1.example", 9092 }
func (f *fakeBackend) Ready() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.readyErr
}

func (f *fakeBackend) ListTopics(context.Context) ([]TopicInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	var out []TopicInfo
	for _, t := range f.topics {
		out = append(out, t)
	}
	return out, nil
}

func (f *fakeBackend) GetTopic(_ context.Context, name string) (TopicInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return TopicInfo{}, f.err
	}
	t, ok := f.topics[name]
	if !ok {
		return TopicInfo{}, fmt.Errorf("broker: topic %q: %w", name, kerr.UnknownTopicOrPartition)
	}
	return t, nil
}

func (f *fakeBackend) CreateTopic(_ context.Context, req CreateTopicRequest) (TopicInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created = append(f.created, req)
	if f.err != nil {
		return TopicInfo{}, f.err
	}
	if _, ok := f.topics[req.Name]; ok {
		return TopicInfo{}, fmt.Errorf("broker: create %q: %w", req.Name, kerr.TopicAlreadyExists)
	}
	n := req.Partitions
	if n == -1 {
		n = 1
	}
	rf := req.ReplicationFactor
	if rf == -1 {
		rf = 1
	}
	t := TopicInfo{Name: req.Name, ID: [16]byte{15: 1}, ReplicationFactor: rf}
	for p := range n {
		t.Partitions = append(t.Partitions, PartitionInfo{Partition: p, Leader: 1})
	}
	if !req.ValidateOnly {
		f.topics[req.Name] = t
	}
	return t, nil
}

func (f *fakeBackend) DeleteTopic(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if _, ok := f.topics[name]; !ok {
		return fmt.Errorf("broker: delete %q: %w", name, kerr.UnknownTopicOrPartition)
	}
	delete(f.topics, name)
	f.deleted = append(f.deleted, name)
	return nil
}

func (f *fakeBackend) TopicConfigs(_ context.Context, name string) ([]ConfigEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	if _, ok := f.topics[name]; !ok {
		return nil, fmt.Errorf("broker: configs %q: %w", name, kerr.UnknownTopicOrPartition)
	}
	return append([]ConfigEntry(nil), f.configs[name]...), nil
}

func (f *fakeBackend) AlterTopicConfigs(_ context.Context, name string, ops []ConfigOp, validateOnly bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.altered = append(f.altered, alterCall{name, ops, validateOnly})
	if f.err != nil {
		return f.err
	}
	if _, ok := f.topics[name]; !ok {
		return fmt.Errorf("broker: alter %q: %w", name, kerr.UnknownTopicOrPartition)
	}
	return nil
}

// harness

type testEnv struct {
	b   *fakeBackend
	m   *metrics.Metrics
	h   http.Handler
	log *bytes.Buffer
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b := newFake()
	m := metrics.New(1)
	return &testEnv{b: b, m: m, h: New(b, m, logger), log: &buf}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (e *testEnv) do(t *testing.T, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Host = "rest.example:8090"
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

// expect checks the status and, when want is non-empty, that the body is
// JSON equal to want (field by field, after decoding both) and is served
// as application/json.
func expect(t *testing.T, rec *httptest.ResponseRecorder, status int, want string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body: %s", rec.Code, status, rec.Body.String())
	}
	if want == "" {
		if rec.Body.Len() != 0 {
			t.Fatalf("body = %q, want empty", rec.Body.String())
		}
		return
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var got, exp any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, rec.Body.String())
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatalf("bad expectation JSON: %v", err)
	}
	if !reflect.DeepEqual(got, exp) {
		diffJSON(t, "", got, exp)
		t.Fatalf("body mismatch\n got: %s\nwant: %s", rec.Body.String(), want)
	}
}

// diffJSON reports each differing field path, so a failure names the field.
func diffJSON(t *testing.T, path string, got, want any) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s: got %T, want object", path, got)
			return
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				t.Errorf("%s.%s: missing", path, k)
				continue
			}
			diffJSON(t, path+"."+k, gv, wv)
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				t.Errorf("%s.%s: unexpected field (value %v)", path, k, g[k])
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			t.Errorf("%s: got %v, want %v", path, got, want)
			return
		}
		for i := range w {
			diffJSON(t, fmt.Sprintf("%s[%d]", path, i), g[i], w[i])
		}
	default:
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v, want %v", path, got, want)
		}
	}
}

const (
	root = "http://rest.example:8090"
	cu   = root + "/kafka/v3/clusters/" + testCluster
	cp   = "/kafka/v3/clusters/" + testCluster
)

var clusterJSON = `{
	"kind": "KafkaCluster",
	"metadata": {"self": "` + cu + `", "resource_name": "crn:///kafka=` + testCluster + `"},
	"cluster_id": "` + testCluster + `",
	"controller": {"related": "` + cu + `/brokers/1"},
	"brokers": {"related": "` + cu + `/brokers"},
	"topics": {"related": "` + cu + `/topics"}
}`

func TestClusters(t *testing.T) {
	e := newEnv(t)
	expect(t, e.do(t, "GET", "/kafka/v3/clusters", ""), 200, `{
		"kind": "KafkaClusterList",
		"metadata": {"self": "`+root+`/kafka/v3/clusters", "next": null},
		"data": [`+clusterJSON+`]
	}`)
	expect(t, e.do(t, "GET", cp, ""), 200, clusterJSON)
	expect(t, e.do(t, "GET", "/kafka/v3/clusters/other", ""), 404,
		`{"error_code": 404, "message": "Cluster other cannot be found."}`)
	// Every cluster-scoped route checks the id.
	expect(t, e.do(t, "GET", "/kafka/v3/clusters/other/topics/orders/configs", ""), 404,
		`{"error_code": 404, "message": "Cluster other cannot be found."}`)
}

func TestBrokers(t *testing.T) {
	e := newEnv(t)
	broker := `{
		"kind": "KafkaBroker",
		"metadata": {"self": "` + cu + `/brokers/1", "resource_name": "crn:///kafka=` + testCluster + `/broker=1"},
		"cluster_id": "` + testCluster + `",
		"broker_id": 1,
		"host": "kafka-1.example",
		"port": 9092,
		"rack": null
	}`
	expect(t, e.do(t, "GET", cp+"/brokers", ""), 200, `{
		"kind": "KafkaBrokerList",
		"metadata": {"self": "`+cu+`/brokers", "next": null},
		"data": [`+broker+`]
	}`)
	expect(t, e.do(t, "GET", cp+"/brokers/1", ""), 200, broker)
	expect(t, e.do(t, "GET", cp+"/brokers/2", ""), 404,
		`{"error_code": 404, "message": "Broker 2 cannot be found."}`)
	expect(t, e.do(t, "GET", cp+"/brokers/x", ""), 400,
		`{"error_code": 400, "message": "broker_id must be a 32-bit integer, got \"x\""}`)
}

func topicJSON(name, id string, internal bool, rf, parts int) string {
	u := cu + "/topics/" + name
	idField := ""
	if id != "" {
		idField = `"topic_id": "` + id + `",`
	}
	return fmt.Sprintf(`{
		"kind": "KafkaTopic",
		"metadata": {"self": %q, "resource_name": "crn:///kafka=%s/topic=%s"},
		"cluster_id": %q,
		"topic_name": %q,
		%s
		"is_internal": %t,
		"replication_factor": %d,
		"partitions_count": %d,
		"partitions": {"related": "%s/partitions"},
		"configs": {"related": "%s/configs"}
	}`, u, testCluster, name, testCluster, name, idField, internal, rf, parts, u, u)
}

const ordersID = "12345678-9abc-def0-0123-456789abcdef"

func TestTopics(t *testing.T) {
	e := newEnv(t)
	expect(t, e.do(t, "GET", cp+"/topics", ""), 200, `{
		"kind": "KafkaTopicList",
		"metadata": {"self": "`+cu+`/topics", "next": null},
		"data": [`+topicJSON("__consumer_offsets", "", true, 1, 1)+`,`+topicJSON("orders", ordersID, false, 1, 3)+`]
	}`)
	expect(t, e.do(t, "GET", cp+"/topics/orders", ""), 200, topicJSON("orders", ordersID, false, 1, 3))
	expect(t, e.do(t, "GET", cp+"/topics/nope", ""), 404,
		`{"error_code": 40403, "message": "broker: topic \"nope\": UNKNOWN_TOPIC_OR_PARTITION: This server does not host this topic-partition."}`)

	// Empty collections are [] not null.
	e.b.topics = map[string]TopicInfo{}
	expect(t, e.do(t, "GET", cp+"/topics", ""), 200, `{
		"kind": "KafkaTopicList",
		"metadata": {"self": "`+cu+`/topics", "next": null},
		"data": []
	}`)
}

func TestCreateTopic(t *testing.T) {
	e := newEnv(t)
	rec := e.do(t, "POST", cp+"/topics", `{
		"topic_name": "payments",
		"partitions_count": 3,
		"replication_factor": 1,
		"configs": [{"name": "cleanup.policy", "value": "compact"}, {"name": "retention.ms", "value": "1000"}]
	}`)
	expect(t, rec, 201, topicJSON("payments", "00000000-0000-0000-0000-000000000001", false, 1, 3))
	if loc := rec.Header().Get("Location"); loc != cu+"/topics/payments" {
		t.Errorf("Location = %q", loc)
	}
	want := CreateTopicRequest{
		Name: "payments", Partitions: 3, ReplicationFactor: 1,
		Configs: map[string]string{"cleanup.policy": "compact", "retention.ms": "1000"},
	}
	if got := e.b.created[0]; !reflect.DeepEqual(got, want) {
		t.Errorf("backend got %+v, want %+v", got, want)
	}

	// Absent counts mean "broker default" (-1).
	expect(t, e.do(t, "POST", cp+"/topics", `{"topic_name": "defaults"}`), 201,
		topicJSON("defaults", "00000000-0000-0000-0000-000000000001", false, 1, 1))
	if got := e.b.created[1]; got.Partitions != -1 || got.ReplicationFactor != -1 || got.Configs != nil || got.ValidateOnly {
		t.Errorf("defaults request = %+v", got)
	}

	// validate_only, in the body or the query, reaches the backend and
	// creates nothing (and advertises no Location).
	for i, tc := range []struct{ path, body string }{
		{cp + "/topics", `{"topic_name": "dry", "partitions_count": 2, "validate_only": true}`},
		{cp + "/topics?validate_only=true", `{"topic_name": "dry", "partitions_count": 2}`},
	} {
		rec := e.do(t, "POST", tc.path, tc.body)
		expect(t, rec, 201, topicJSON("dry", "00000000-0000-0000-0000-000000000001", false, 1, 2))
		if loc := rec.Header().Get("Location"); loc != "" {
			t.Errorf("case %d: Location %q on validate_only", i, loc)
		}
		if !e.b.created[len(e.b.created)-1].ValidateOnly {
			t.Errorf("case %d: ValidateOnly not passed", i)
		}
		if _, ok := e.b.topics["dry"]; ok {
			t.Fatalf("case %d: validate_only created the topic", i)
		}
	}

	expect(t, e.do(t, "POST", cp+"/topics", `{"topic_name": "orders"}`), 400,
		`{"error_code": 40002, "message": "broker: create \"orders\": TOPIC_ALREADY_EXISTS: Topic with this name already exists."}`)
}

func TestCreateTopicBadBodies(t *testing.T) {
	tests := []struct {
		name, body string
		status     int
		msg        string
	}{
		{"empty", "", 400, "request body is empty"},
		{"malformed", `{"topic_name": `, 400, "malformed JSON: unexpected end of input"},
		{"syntax", `{"topic_name" "x"}`, 400, "malformed JSON at offset 15: invalid character '\"' after object key"},
		{"not an object", `[1]`, 400, `field "(root)": cannot use JSON array as object`},
		{"wrong type count", `{"topic_name": "x", "partitions_count": "3"}`, 400, `field "partitions_count": cannot use JSON string as int32`},
		{"rf overflow", `{"topic_name": "x", "replication_factor": 70000}`, 400, `field "replication_factor": cannot use JSON number 70000 as int16`},
		{"wrong type name", `{"topic_name": 5}`, 400, `field "topic_name": cannot use JSON number as string`},
		{"trailing data", `{"topic_name": "x"} {}`, 400, "request body must contain a single JSON value"},
		{"trailing garbage", `{"topic_name": "x"} }`, 400, "malformed JSON at offset 20: invalid character '}' looking for beginning of value"},
		{"missing name", `{"partitions_count": 1}`, 400, "topic_name is required"},
		{"empty name", `{"topic_name": ""}`, 400, "topic_name is required"},
		{"config without name", `{"topic_name": "x", "configs": [{"value": "1"}]}`, 400, "configs[0].name is required"},
		{"config null value", `{"topic_name": "x", "configs": [{"name": "a", "value": null}]}`, 400, "configs[0] (a): value is required"},
		{"config dup", `{"topic_name": "x", "configs": [{"name": "a", "value": "1"}, {"name": "a", "value": "2"}]}`, 400, `configs: duplicate config "a"`},
		{"assignments", `{"topic_name": "x", "replicas_assignments": [{"partition_id": 0, "broker_ids": [1]}]}`, 400, "replicas_assignments is not supported"},
		{"too large", `{"topic_name": "` + strings.Repeat("a", maxBodyBytes) + `"}`, 413, "request body exceeds 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			want, _ := json.Marshal(errorBody{ErrorCode: tt.status, Message: tt.msg})
			expect(t, e.do(t, "POST", cp+"/topics", tt.body), tt.status, string(want))
			if len(e.b.created) != 0 {
				t.Errorf("backend called for a bad body: %+v", e.b.created)
			}
		})
	}
}

func TestDeleteTopic(t *testing.T) {
	e := newEnv(t)
	expect(t, e.do(t, "DELETE", cp+"/topics/orders", ""), 204, "")
	if !reflect.DeepEqual(e.b.deleted, []string{"orders"}) {
		t.Errorf("deleted = %v", e.b.deleted)
	}
	expect(t, e.do(t, "DELETE", cp+"/topics/orders", ""), 404,
		`{"error_code": 40403, "message": "broker: delete \"orders\": UNKNOWN_TOPIC_OR_PARTITION: This server does not host this topic-partition."}`)
}

func partitionJSON(p int, leader string) string {
	u := fmt.Sprintf("%s/topics/orders/partitions/%d", cu, p)
	return fmt.Sprintf(`{
		"kind": "KafkaPartition",
		"metadata": {"self": %q, "resource_name": "crn:///kafka=%s/topic=orders/partition=%d"},
		"cluster_id": %q,
		"topic_name": "orders",
		"partition_id": %d,
		"leader": %s,
		"replicas": {"related": "%s/replicas"}
	}`, u, testCluster, p, testCluster, p, leader, u)
}

func TestPartitions(t *testing.T) {
	e := newEnv(t)
	leader := func(p int) string {
		return fmt.Sprintf(`{"related": "%s/topics/orders/partitions/%d/replicas/1"}`, cu, p)
	}
	expect(t, e.do(t, "GET", cp+"/topics/orders/partitions", ""), 200, `{
		"kind": "KafkaPartitionList",
		"metadata": {"self": "`+cu+`/topics/orders/partitions", "next": null},
		"data": [`+partitionJSON(0, leader(0))+`,`+partitionJSON(1, leader(1))+`,`+partitionJSON(2, "null")+`]
	}`)
	expect(t, e.do(t, "GET", cp+"/topics/orders/partitions/1", ""), 200, partitionJSON(1, leader(1)))
	expect(t, e.do(t, "GET", cp+"/topics/orders/partitions/2", ""), 200, partitionJSON(2, "null"))
	expect(t, e.do(t, "GET", cp+"/topics/orders/partitions/9", ""), 404,
		`{"error_code": 40403, "message": "This server does not host this topic-partition: orders-9"}`)
	expect(t, e.do(t, "GET", cp+"/topics/orders/partitions/-1", ""), 404,
		`{"error_code": 40403, "message": "This server does not host this topic-partition: orders--1"}`)
	expect(t, e.do(t, "GET", cp+"/topics/orders/partitions/zero", ""), 400,
		`{"error_code": 400, "message": "partition_id must be a 32-bit integer, got \"zero\""}`)
	expect(t, e.do(t, "GET", cp+"/topics/nope/partitions", ""), 404,
		`{"error_code": 40403, "message": "broker: topic \"nope\": UNKNOWN_TOPIC_OR_PARTITION: This server does not host this topic-partition."}`)
	expect(t, e.do(t, "GET", cp+"/topics/nope/partitions/0", ""), 404,
		`{"error_code": 40403, "message": "broker: topic \"nope\": UNKNOWN_TOPIC_OR_PARTITION: This server does not host this topic-partition."}`)
}

func TestReplicas(t *testing.T) {
	e := newEnv(t)
	u := cu + "/topics/orders/partitions/0/replicas"
	replica := `{
		"kind": "KafkaReplica",
		"metadata": {"self": "` + u + `/1", "resource_name": "crn:///kafka=` + testCluster + `/topic=orders/partition=0/replica=1"},
		"cluster_id": "` + testCluster + `",
		"topic_name": "orders",
		"partition_id": 0,
		"broker_id": 1,
		"is_leader": true,
		"is_in_sync": true,
		"broker": {"related": "` + cu + `/brokers/1"}
	}`
	expect(t, e.do(t, "GET", cp+"/topics/orders/partitions/0/replicas", ""), 200, `{
		"kind": "KafkaReplicaList", "metadata": {"self": "`+u+`", "next": null}, "data": [`+replica+`]}`)
	expect(t, e.do(t, "GET", cp+"/topics/orders/partitions/0/replicas/1", ""), 200, replica)
	expect(t, e.do(t, "GET", cp+"/topics/orders/partitions/0/replicas/2", ""), 404,
		`{"error_code": 404, "message": "Replica 2 of partition orders-0 cannot be found."}`)
	// A leaderless partition lists no replicas.
	expect(t, e.do(t, "GET", cp+"/topics/orders/partitions/2/replicas", ""), 200, `{
		"kind": "KafkaReplicaList", "metadata": {"self": "`+cu+`/topics/orders/partitions/2/replicas", "next": null}, "data": []}`)
}

func configJSON(name, value string, isDefault, readOnly, sensitive bool, source, synonyms string) string {
	u := cu + "/topics/orders/configs/" + name
	return fmt.Sprintf(`{
		"kind": "KafkaTopicConfig",
		"metadata": {"self": %q, "resource_name": "crn:///kafka=%s/topic=orders/config=%s"},
		"cluster_id": %q,
		"topic_name": "orders",
		"name": %q,
		"value": %s,
		"is_default": %t,
		"is_read_only": %t,
		"is_sensitive": %t,
		"source": %q,
		"synonyms": %s
	}`, u, testCluster, name, testCluster, name, value, isDefault, readOnly, sensitive, source, synonyms)
}

var (
	cfgCleanup   = configJSON("cleanup.policy", `"delete"`, true, false, false, "DEFAULT_CONFIG", `[]`)
	cfgFormat    = configJSON("message.format.version", `null`, false, true, false, "UNKNOWN", `[]`)
	cfgRetention = configJSON("retention.ms", `"3600000"`, false, false, false, "DYNAMIC_TOPIC_CONFIG", `[
		{"name": "retention.ms", "value": "3600000", "source": "DYNAMIC_TOPIC_CONFIG"},
		{"name": "log.retention.hours", "value": "168", "source": "DEFAULT_CONFIG"}]`)
	cfgSecret = configJSON("secret.thing", `null`, false, false, true, "DYNAMIC_TOPIC_CONFIG", `[
		{"name": "secret.thing", "value": null, "source": "DYNAMIC_TOPIC_CONFIG"}]`)
)

func TestTopicConfigsRead(t *testing.T) {
	e := newEnv(t)
	expect(t, e.do(t, "GET", cp+"/topics/orders/configs", ""), 200, `{
		"kind": "KafkaTopicConfigList",
		"metadata": {"self": "`+cu+`/topics/orders/configs", "next": null},
		"data": [`+cfgCleanup+`,`+cfgFormat+`,`+cfgRetention+`,`+cfgSecret+`]
	}`)
	expect(t, e.do(t, "GET", cp+"/topics/orders/configs/retention.ms", ""), 200, cfgRetention)
	expect(t, e.do(t, "GET", cp+"/topics/orders/configs/secret.thing", ""), 200, cfgSecret)
	expect(t, e.do(t, "GET", cp+"/topics/orders/configs/nope.ms", ""), 404,
		`{"error_code": 404, "message": "Config nope.ms cannot be found for topic orders."}`)
	expect(t, e.do(t, "GET", cp+"/topics/nope/configs", ""), 404,
		`{"error_code": 40403, "message": "broker: configs \"nope\": UNKNOWN_TOPIC_OR_PARTITION: This server does not host this topic-partition."}`)
	if strings.Contains(e.do(t, "GET", cp+"/topics/orders/configs", "").Body.String(), "hunter2") {
		t.Error("sensitive value leaked")
	}
}

func TestTopicConfigsWrite(t *testing.T) {
	tests := []struct {
		name, method, path, body string
		status                   int
		resp                     string
		want                     *alterCall // nil: backend must not be called
	}{
		{"put", "PUT", "/topics/orders/configs/retention.ms", `{"value": "5000"}`, 204, "",
			&alterCall{"orders", []ConfigOp{{Name: "retention.ms", Value: "5000"}}, false}},
		{"put empty string", "PUT", "/topics/orders/configs/x", `{"value": ""}`, 204, "",
			&alterCall{"orders", []ConfigOp{{Name: "x", Value: ""}}, false}},
		{"put missing value", "PUT", "/topics/orders/configs/retention.ms", `{}`, 400,
			`{"error_code": 400, "message": "value is required (to reset a config to its default, DELETE it)"}`, nil},
		{"put wrong type", "PUT", "/topics/orders/configs/retention.ms", `{"value": 5000}`, 400,
			`{"error_code": 400, "message": "field \"value\": cannot use JSON number as string"}`, nil},
		{"delete", "DELETE", "/topics/orders/configs/retention.ms", "", 204, "",
			&alterCall{"orders", []ConfigOp{{Name: "retention.ms", Delete: true}}, false}},
		{"alter", "POST", "/topics/orders/configs:alter",
			`{"data": [{"name": "a", "value": "1"}, {"name": "b", "operation": "DELETE"}, {"name": "c", "value": "3", "operation": "set"}]}`, 204, "",
			&alterCall{"orders", []ConfigOp{{Name: "a", Value: "1"}, {Name: "b", Delete: true}, {Name: "c", Value: "3"}}, false}},
		{"alter validate body", "POST", "/topics/orders/configs:alter",
			`{"data": [{"name": "a", "value": "1"}], "validate_only": true}`, 204, "",
			&alterCall{"orders", []ConfigOp{{Name: "a", Value: "1"}}, true}},
		{"alter validate query", "POST", "/topics/orders/configs:alter?validate_only=true",
			`{"data": [{"name": "a", "value": "1"}]}`, 204, "",
			&alterCall{"orders", []ConfigOp{{Name: "a", Value: "1"}}, true}},
		{"alter escaped colon", "POST", "/topics/orders/configs%3Aalter",
			`{"data": [{"name": "a", "value": "1"}]}`, 204, "",
			&alterCall{"orders", []ConfigOp{{Name: "a", Value: "1"}}, false}},
		{"alter empty batch", "POST", "/topics/orders/configs:alter", `{"data": []}`, 204, "",
			&alterCall{"orders", []ConfigOp{}, false}},
		{"alter missing data", "POST", "/topics/orders/configs:alter", `{}`, 400,
			`{"error_code": 400, "message": "data is required"}`, nil},
		{"alter bad op", "POST", "/topics/orders/configs:alter", `{"data": [{"name": "a", "operation": "APPEND"}]}`, 400,
			`{"error_code": 400, "message": "data[0] (a): operation must be SET or DELETE, got \"APPEND\""}`, nil},
		{"alter set without value", "POST", "/topics/orders/configs:alter", `{"data": [{"name": "a"}]}`, 400,
			`{"error_code": 400, "message": "data[0] (a): value is required for SET"}`, nil},
		{"alter no name", "POST", "/topics/orders/configs:alter", `{"data": [{"value": "1"}]}`, 400,
			`{"error_code": 400, "message": "data[0].name is required"}`, nil},
		{"alter dup", "POST", "/topics/orders/configs:alter", `{"data": [{"name": "a", "value": "1"}, {"name": "a", "operation": "DELETE"}]}`, 400,
			`{"error_code": 400, "message": "data: duplicate config \"a\""}`, nil},
		{"alter data wrong type", "POST", "/topics/orders/configs:alter", `{"data": {"name": "a"}}`, 400,
			`{"error_code": 400, "message": "field \"data\": cannot use JSON object as array"}`, nil},
		{"alter unknown topic", "POST", "/topics/nope/configs:alter", `{"data": [{"name": "a", "value": "1"}]}`, 404,
			`{"error_code": 40403, "message": "broker: alter \"nope\": UNKNOWN_TOPIC_OR_PARTITION: This server does not host this topic-partition."}`,
			&alterCall{"nope", []ConfigOp{{Name: "a", Value: "1"}}, false}},
		{"alter wrong method", "PUT", "/topics/orders/configs:alter", `{"data": []}`, 405,
			`{"error_code": 405, "message": "HTTP 405 Method Not Allowed"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			expect(t, e.do(t, tt.method, cp+tt.path, tt.body), tt.status, tt.resp)
			switch {
			case tt.want == nil && len(e.b.altered) != 0:
				t.Errorf("backend called: %+v", e.b.altered)
			case tt.want != nil && (len(e.b.altered) != 1 || !reflect.DeepEqual(e.b.altered[0], *tt.want)):
				t.Errorf("backend calls = %+v, want [%+v]", e.b.altered, *tt.want)
			}
		})
	}
}

func TestBackendErrorIsMapped(t *testing.T) {
	e := newEnv(t)
	e.b.err = fmt.Errorf("broker: alter: %w", kerr.InvalidConfig)
	expect(t, e.do(t, "POST", cp+"/topics/orders/configs:alter", `{"data": [{"name": "a", "value": "x"}]}`), 400,
		`{"error_code": 40002, "message": "broker: alter: INVALID_CONFIG: Configuration is invalid."}`)
	e.b.err = fmt.Errorf("broker: %w", kerr.NotController)
	expect(t, e.do(t, "GET", cp+"/topics", ""), 500,
		`{"error_code": 50003, "message": "broker: NOT_CONTROLLER: This is not the correct controller for this cluster."}`)
	e.b.err = errors.New("broker: disk on fire")
	expect(t, e.do(t, "DELETE", cp+"/topics/orders", ""), 500,
		`{"error_code": 50001, "message": "broker: disk on fire"}`)
	if !strings.Contains(e.log.String(), "disk on fire") {
		t.Error("5xx not logged")
	}
}

func TestErrorMapping(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		code   int
	}{
		{"unknown topic", kerr.UnknownTopicOrPartition, 404, 40403},
		{"unknown topic wrapped twice", fmt.Errorf("a: %w", fmt.Errorf("b: %w", kerr.UnknownTopicOrPartition)), 404, 40403},
		{"unknown topic id", kerr.UnknownTopicID, 404, 40403},
		{"exists", kerr.TopicAlreadyExists, 400, 40002},
		{"invalid topic", kerr.InvalidTopicException, 400, 40002},
		{"invalid partitions", kerr.InvalidPartitions, 400, 40002},
		{"invalid rf", kerr.InvalidReplicationFactor, 400, 40002},
		{"invalid assignment", kerr.InvalidReplicaAssignment, 400, 40002},
		{"invalid config", kerr.InvalidConfig, 400, 40002},
		{"invalid request", kerr.InvalidRequest, 400, 40002},
		{"policy", kerr.PolicyViolation, 400, 40002},
		{"unsupported version", kerr.UnsupportedVersion, 400, 40035},
		{"sasl", kerr.SaslAuthenticationFailed, 401, 40101},
		{"topic authz", kerr.TopicAuthorizationFailed, 403, 40301},
		{"cluster authz", kerr.ClusterAuthorizationFailed, 403, 40301},
		{"retriable", kerr.RequestTimedOut, 500, 50003},
		{"retriable not controller", fmt.Errorf("x: %w", kerr.NotController), 500, 50003},
		{"non-retriable kafka", kerr.TopicDeletionDisabled, 500, 50001},
		{"unknown server error", kerr.UnknownServerError, 500, 50001},
		{"plain", errors.New("boom"), 500, 50001},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), 500, 50003},
		{"joined", errors.Join(errors.New("other"), kerr.PolicyViolation), 400, 40002},
		{"rest error", badRequest("nope"), 400, 400},
		{"rest error wrapped", fmt.Errorf("ctx: %w", notFound("gone")), 404, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := mapError(tt.err)
			if status != tt.status || body.ErrorCode != tt.code {
				t.Errorf("mapError(%v) = %d/%d, want %d/%d", tt.err, status, body.ErrorCode, tt.status, tt.code)
			}
			if body.Message == "" {
				t.Error("empty message")
			}
		})
	}
}

func TestHealth(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/v1/health", "/readyz", "/livez"} {
		expect(t, e.do(t, "GET", p, ""), 200, `{"status": "UP"}`)
	}
	e.b.readyErr = errors.New("broker: loading partitions")
	for _, p := range []string{"/v1/health", "/readyz"} {
		expect(t, e.do(t, "GET", p, ""), 503, `{"status": "DOWN", "reason": "broker: loading partitions"}`)
	}
	expect(t, e.do(t, "GET", "/livez", ""), 200, `{"status": "UP"}`)
	// HEAD is served for GET routes (probes sometimes use it).
	if rec := e.do(t, "HEAD", "/livez", ""); rec.Code != 200 {
		t.Errorf("HEAD /livez = %d", rec.Code)
	}
}

func TestRouting(t *testing.T) {
	e := newEnv(t)
	notFoundBody := `{"error_code": 404, "message": "HTTP 404 Not Found"}`
	methodBody := `{"error_code": 405, "message": "HTTP 405 Method Not Allowed"}`
	tests := []struct {
		method, path string
		status       int
		body, allow  string
	}{
		{"GET", "/nope", 404, notFoundBody, ""},
		{"GET", "/kafka/v3/clusters/" + testCluster + "/links", 404, `{"error_code": 404, "message": "cluster linking is disabled on this broker"}`, ""},
		{"GET", cp + "/topics/orders/configs:frobnicate", 404, notFoundBody, ""},
		{"POST", "/kafka/v3/clusters", 405, methodBody, "GET, HEAD"},
		{"PATCH", cp + "/topics/orders", 405, methodBody, "DELETE, GET, HEAD"},
		{"DELETE", cp + "/topics", 405, methodBody, "GET, HEAD, POST"},
		{"GET", cp + "/topics/orders/configs:alter", 405, methodBody, "POST"},
	}
	for _, tt := range tests {
		rec := e.do(t, tt.method, tt.path, "")
		expect(t, rec, tt.status, tt.body)
		if got := rec.Header().Get("Allow"); got != tt.allow {
			t.Errorf("%s %s: Allow = %q, want %q", tt.method, tt.path, got, tt.allow)
		}
	}
}

func TestSelfLinksUseSchemeAndHost(t *testing.T) {
	e := newEnv(t)
	req := httptest.NewRequest("GET", cp, nil)
	req.Host = "admin.internal:443"
	req.TLS = &tls.ConnectionState{}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	var got clusterData
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if want := "https://admin.internal:443/kafka/v3/clusters/" + testCluster; got.Metadata.Self != want {
		t.Errorf("self = %q, want %q", got.Metadata.Self, want)
	}
}

func TestPanicBecomes500(t *testing.T) {
	b := &panicBackend{fakeBackend: newFake()}
	h := New(b, nil, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", cp+"/topics", nil))
	expect(t, rec, 500, `{"error_code": 50001, "message": "internal server error"}`)
}

type panicBackend struct{ *fakeBackend }

func (panicBackend) ListTopics(context.Context) ([]TopicInfo, error) { panic("kaboom") }

// gatherValue returns the value of one counter series from the registry.
func gatherValue(t *testing.T, m *metrics.Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, met := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range met.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			return met.GetCounter().GetValue()
		}
	}
	return 0
}

func TestMetricsAndLogging(t *testing.T) {
	e := newEnv(t)
	e.do(t, "GET", cp+"/topics", "")
	e.do(t, "GET", cp+"/topics", "")
	e.do(t, "GET", cp+"/topics/nope", "")
	e.do(t, "GET", "/random/scanner/path", "")
	e.do(t, "BREW", "/random", "")

	for _, tc := range []struct {
		labels map[string]string
		want   float64
	}{
		{map[string]string{"route": "/kafka/v3/clusters/{cluster_id}/topics", "method": "GET", "code": "200"}, 2},
		{map[string]string{"route": "/kafka/v3/clusters/{cluster_id}/topics/{topic_name}", "method": "GET", "code": "404"}, 1},
		{map[string]string{"route": "unmatched", "method": "GET", "code": "404"}, 1},
		{map[string]string{"route": "unmatched", "method": "OTHER", "code": "404"}, 1},
	} {
		if got := gatherValue(t, e.m, "tandem_http_requests_total", tc.labels); got != tc.want {
			t.Errorf("http_requests_total%v = %v, want %v", tc.labels, got, tc.want)
		}
	}

	rec := e.do(t, "GET", "/metrics", "")
	if rec.Code != 200 {
		t.Fatalf("/metrics = %d", rec.Code)
	}
	body := rec.Body.String()
	for _, want := range []string{
		`tandem_http_requests_total{code="200",method="GET",route="/kafka/v3/clusters/{cluster_id}/topics"} 2`,
		`tandem_node_info{node_id="1"} 1`,
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	logs := e.log.String()
	if !strings.Contains(logs, `msg="rest: request" method=GET path=/kafka/v3/clusters/`+testCluster+`/topics/nope route=/kafka/v3/clusters/{cluster_id}/topics/{topic_name} status=404`) {
		t.Errorf("debug request log missing; got:\n%s", logs)
	}

	// Without metrics there is no /metrics route, and nothing panics.
	h := New(newFake(), nil, nil)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 404 {
		t.Errorf("/metrics without Metrics = %d, want 404", rec.Code)
	}
}

func TestServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(New(newFake(), nil, nil), nil)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()

	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + ln.Addr().String() + "/livez")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != `{"status":"UP"}` {
		t.Errorf("GET /livez = %d %s", resp.StatusCode, b)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve returned %v after Shutdown, want nil", err)
		}
	case <-ctx.Done():
		t.Fatal("Serve did not return after Shutdown")
	}
}

func TestUUIDString(t *testing.T) {
	if got := uuidString([16]byte{}); got != "" {
		t.Errorf("zero = %q", got)
	}
	id := [16]byte{0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xee}
	if got, want := uuidString(id), "ff010203-0405-0607-0809-0a0b0c0d0eee"; got != want {
		t.Errorf("uuidString = %q, want %q", got, want)
	}
}
