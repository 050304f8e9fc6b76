package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tandem-streaming/tandem/internal/metrics"
)

// fakeLinks is a LinkBackend with canned data that records every call.
type fakeLinks struct {
	mu      sync.Mutex
	links   map[string]LinkInfo
	configs map[string][]LinkConfigEntry
	mirrors []MirrorInfo
	// err, when set, is returned by every method.
	err error
	// alterResults, when set, is what AlterMirrors returns.
	alterResults []AlterMirrorResult

	getLinkCalls  []getLinkCall
	created       []CreateLinkRequest
	deleted       []deleteLinkCall
	altered       []alterCall // topic field holds the link name
	listMirrorsAt []listMirrorsCall
	createdMirror []createMirrorCall
	alteredMirror []alterMirrorsCall
}

type getLinkCall struct {
	name         string
	includeTasks bool
}

type deleteLinkCall struct {
	name                string
	force, validateOnly bool
}

type listMirrorsCall struct{ link, status string }

type createMirrorCall struct {
	link string
	req  CreateMirrorRequest
}

type alterMirrorsCall struct {
	link, op     string
	names        []string
	pattern      string
	validateOnly bool
}

const testLinkID = "qz0HDEV-Qz2B5aPFpcWQJQ"

func newFakeLinks() *fakeLinks {
	return &fakeLinks{
		links: map[string]LinkInfo{
			"east": {
				Name: "east", ClusterLinkID: testLinkID, SourceClusterID: "src-1",
				State: "ACTIVE", TopicNames: []string{"orders", "clicks"},
				Tasks: []LinkTask{
					{Name: "AclSync", State: "NOT_CONFIGURED", LastRunMs: 1700000000123},
					{Name: "ConsumerOffsetSync", State: "IN_ERROR", Errors: []TaskError{
						{Code: "MISCONFIGURATION_ERROR", Message: "consumer.offset.group.filters is not set"}}},
				},
				CategoryCounts: []StateCount{{Category: "ACTIVE", Count: 4}},
			},
			"broken": {
				Name: "broken", ClusterLinkID: "not-a-uuid", State: "UNAVAILABLE",
				Error: "TIMEOUT_ERROR", ErrorMessage: "source unreachable",
			},
		},
		configs: map[string][]LinkConfigEntry{
			"east": {
				{Name: "sasl.jaas.config", Value: "secret", Sensitive: true, Source: "DYNAMIC_CLUSTER_LINK_CONFIG"},
				{Name: "bootstrap.servers", Value: "src:9092"},
				{Name: "consumer.offset.sync.ms", Value: "30000", IsDefault: true,
					Synonyms: []string{"consumer.offset.sync.ms"}},
				{Name: "link.mode", Value: "DESTINATION", ReadOnly: true, IsDefault: true, Source: "DEFAULT_CONFIG"},
				{Name: "cluster.link.prefix", IsNull: true, IsDefault: true},
			},
		},
		mirrors: []MirrorInfo{
			{Link: "east", MirrorTopic: "orders", SourceTopic: "orders", NumPartitions: 2, State: "ACTIVE",
				StateTimeMs: 1700000000000, Lags: []PartitionLag{
					{Partition: 1, Lag: 5, LastSourceFetchOffset: 100},
					{Partition: 0, Lag: 0, LastSourceFetchOffset: -1},
				},
				StateTransitionErrors: []TaskError{{Code: "INTERNAL_ERROR", Message: "offset sync failed"}}},
			{Link: "east", MirrorTopic: "clicks", SourceTopic: "clicks", NumPartitions: 1, State: "PAUSED",
				Lags: []PartitionLag{{Partition: 0, Lag: 1, LastSourceFetchOffset: 7, LocalLogEndOffset: 6, SourceEndOffset: 7, SourceEndAgeMs: 1500}}},
			{Link: "broken", MirrorTopic: "b.x", SourceTopic: "x", State: "SOURCE_UNAVAILABLE"},
		},
	}
}

func (f *fakeLinks) linkErr(name string) error {
	if f.err != nil {
		return f.err
	}
	if _, ok := f.links[name]; !ok {
		return fmt.Errorf("links: %q: %w", name, ErrLinkNotFound)
	}
	return nil
}

func (f *fakeLinks) ListLinks(context.Context) ([]LinkInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	var out []LinkInfo
	for _, l := range f.links {
		l.Tasks = nil
		out = append(out, l)
	}
	return out, nil
}

func (f *fakeLinks) GetLink(_ context.Context, name string, includeTasks bool) (LinkInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.getLinkCalls = append(f.getLinkCalls, getLinkCall{name, includeTasks})
	if err := f.linkErr(name); err != nil {
		return LinkInfo{}, err
	}
	return f.links[name], nil
}

func (f *fakeLinks) CreateLink(_ context.Context, req CreateLinkRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created = append(f.created, req)
	if f.err != nil {
		return f.err
	}
	if _, ok := f.links[req.Name]; ok {
		return fmt.Errorf("links: %q: %w", req.Name, ErrLinkExists)
	}
	return nil
}

func (f *fakeLinks) DeleteLink(_ context.Context, name string, force, validateOnly bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, deleteLinkCall{name, force, validateOnly})
	if err := f.linkErr(name); err != nil {
		return err
	}
	if len(f.links[name].TopicNames) > 0 && !force {
		return fmt.Errorf("links: %q has mirror topics; delete them or force: %w", name, ErrLinkInUse)
	}
	return nil
}

func (f *fakeLinks) LinkConfigs(_ context.Context, name string) ([]LinkConfigEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.linkErr(name); err != nil {
		return nil, err
	}
	return append([]LinkConfigEntry(nil), f.configs[name]...), nil
}

func (f *fakeLinks) AlterLinkConfigs(_ context.Context, name string, ops []ConfigOp, validateOnly bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.altered = append(f.altered, alterCall{name, ops, validateOnly})
	return f.linkErr(name)
}

func (f *fakeLinks) ListMirrors(_ context.Context, link, status string) ([]MirrorInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listMirrorsAt = append(f.listMirrorsAt, listMirrorsCall{link, status})
	if link != "" {
		if err := f.linkErr(link); err != nil {
			return nil, err
		}
	}
	var out []MirrorInfo
	for _, m := range f.mirrors {
		if (link == "" || m.Link == link) && (status == "" || m.State == status) {
			out = append(out, m)
		}
	}
	return out, nil
}

func (f *fakeLinks) GetMirror(_ context.Context, link, mirror string) (MirrorInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.linkErr(link); err != nil {
		return MirrorInfo{}, err
	}
	for _, m := range f.mirrors {
		if m.Link == link && m.MirrorTopic == mirror {
			return m, nil
		}
	}
	return MirrorInfo{}, fmt.Errorf("links: mirror %q on %q: %w", mirror, link, ErrMirrorNotFound)
}

func (f *fakeLinks) CreateMirror(_ context.Context, link string, req CreateMirrorRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.createdMirror = append(f.createdMirror, createMirrorCall{link, req})
	return f.linkErr(link)
}

func (f *fakeLinks) AlterMirrors(_ context.Context, link, op string, names []string, pattern string, validateOnly bool) ([]AlterMirrorResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.alteredMirror = append(f.alteredMirror, alterMirrorsCall{link, op, names, pattern, validateOnly})
	if err := f.linkErr(link); err != nil {
		return nil, err
	}
	if f.alterResults != nil {
		return f.alterResults, nil
	}
	var out []AlterMirrorResult
	for _, n := range names {
		out = append(out, AlterMirrorResult{MirrorTopic: n})
	}
	return out, nil
}

type linkEnv struct {
	*testEnv
	l *fakeLinks
}

func newLinkEnv(t *testing.T) *linkEnv {
	t.Helper()
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b, l, m := newFake(), newFakeLinks(), metrics.New(1)
	return &linkEnv{testEnv: &testEnv{b: b, m: m, h: New(b, m, logger, WithLinks(l)), log: &buf}, l: l}
}

const lu = cu + "/links"

func linkJSON(name, src, linkID, uuid, topics, state, lerr, msg, tasks, counts string) string {
	taskField := ""
	if tasks != "" {
		taskField = `"tasks": ` + tasks + `,`
	}
	return `{
		"kind": "KafkaLinkData",
		"metadata": {"self": "` + lu + `/` + name + `", "resource_name": "crn:///kafka=` + testCluster + `/cluster-link=` + name + `"},
		"source_cluster_id": ` + src + `,
		"destination_cluster_id": null,
		"remote_cluster_id": null,
		"link_name": "` + name + `",
		"link_id": ` + uuid + `,
		"cluster_link_id": "` + linkID + `",
		"topic_names": ` + topics + `,
		"link_state": "` + state + `",
		"link_error": "` + lerr + `",
		"link_error_message": ` + msg + `,
		` + taskField + `
		"category_counts": ` + counts + `
	}`
}

var (
	eastUUID = `"ab3d070c-457e-433d-81e5-a3c5a5c59025"`
	eastJSON = func(tasks string) string {
		return linkJSON("east", `"src-1"`, testLinkID, eastUUID, `["clicks", "orders"]`, "ACTIVE", "NO_ERROR", "null",
			tasks, `[{"state_category": "ACTIVE", "count": 4}]`)
	}
	brokenJSON = linkJSON("broken", "null", "not-a-uuid", "null", "[]", "UNAVAILABLE", "TIMEOUT_ERROR",
		`"source unreachable"`, "", "[]")
	eastTasks = `[
		{"task_name": "AclSync", "state": "NOT_CONFIGURED", "errors": [], "last_run_ms": 1700000000123, "last_success_ms": 0},
		{"task_name": "ConsumerOffsetSync", "state": "IN_ERROR", "errors": [
			{"error_code": "MISCONFIGURATION_ERROR", "error_message": "consumer.offset.group.filters is not set"}], "last_run_ms": 0, "last_success_ms": 0}]`
)

func TestLinkUUID(t *testing.T) {
	if got := linkUUID(testLinkID); got == nil || *got != strings.Trim(eastUUID, `"`) {
		t.Errorf("linkUUID(%s) = %v", testLinkID, got)
	}
	for _, bad := range []string{"", "not-a-uuid", "qz0HDEV-Qz2B5aPFpcWQ", "qz0HDEV+Qz2B5aPFpcWQJQ"} {
		if got := linkUUID(bad); got != nil {
			t.Errorf("linkUUID(%q) = %q, want nil", bad, *got)
		}
	}
}

func TestListLinks(t *testing.T) {
	e := newLinkEnv(t)
	expect(t, e.do(t, "GET", cp+"/links", ""), 200, `{
		"kind": "KafkaLinkDataList",
		"metadata": {"self": "`+lu+`", "next": null},
		"data": [`+brokenJSON+`,`+eastJSON("")+`]
	}`)
	e.l.links = map[string]LinkInfo{}
	expect(t, e.do(t, "GET", cp+"/links", ""), 200, `{
		"kind": "KafkaLinkDataList",
		"metadata": {"self": "`+lu+`", "next": null},
		"data": []
	}`)
}

func TestGetLink(t *testing.T) {
	e := newLinkEnv(t)
	expect(t, e.do(t, "GET", cp+"/links/east", ""), 200, eastJSON(""))
	expect(t, e.do(t, "GET", cp+"/links/east?include_tasks=false", ""), 200, eastJSON(""))
	expect(t, e.do(t, "GET", cp+"/links/east?include_tasks=true", ""), 200, eastJSON(eastTasks))
	// include_tasks=true always yields an array, even with no tasks.
	expect(t, e.do(t, "GET", cp+"/links/broken?include_tasks=true", ""), 200,
		linkJSON("broken", "null", "not-a-uuid", "null", "[]", "UNAVAILABLE", "TIMEOUT_ERROR",
			`"source unreachable"`, "[]", "[]"))
	want := []getLinkCall{{"east", false}, {"east", false}, {"east", true}, {"broken", true}}
	if !reflect.DeepEqual(e.l.getLinkCalls, want) {
		t.Errorf("GetLink calls = %+v, want %+v", e.l.getLinkCalls, want)
	}
	expect(t, e.do(t, "GET", cp+"/links/east?include_tasks=yes", ""), 400,
		`{"error_code": 400, "message": "include_tasks must be true or false, got \"yes\""}`)
	expect(t, e.do(t, "GET", cp+"/links/nope", ""), 404,
		`{"error_code": 40404, "message": "links: \"nope\": rest: cluster link not found"}`)
	// Empty state and error default to the enums' UNKNOWN / NO_ERROR.
	e.l.links["bare"] = LinkInfo{Name: "bare"}
	expect(t, e.do(t, "GET", cp+"/links/bare", ""), 200,
		linkJSON("bare", "null", "", "null", "[]", "UNKNOWN", "NO_ERROR", "null", "", "[]"))
}

func TestCreateLink(t *testing.T) {
	e := newLinkEnv(t)
	rec := e.do(t, "POST", cp+"/links?link_name=west", `{
		"source_cluster_id": "src-2",
		"configs": [{"name": "bootstrap.servers", "value": "west:9092"}, {"name": "consumer.offset.sync.enable", "value": "true"}]
	}`)
	expect(t, rec, 204, "")
	if loc := rec.Header().Get("Location"); loc != lu+"/west" {
		t.Errorf("Location = %q", loc)
	}
	want := CreateLinkRequest{
		Name: "west", SourceClusterID: "src-2", ValidateLink: true,
		Configs: map[string]string{"bootstrap.servers": "west:9092", "consumer.offset.sync.enable": "true"},
	}
	if !reflect.DeepEqual(e.l.created, []CreateLinkRequest{want}) {
		t.Errorf("created = %+v, want %+v", e.l.created, want)
	}

	// Query flags and every cluster-id field reach the backend.
	rec = e.do(t, "POST", cp+"/links?link_name=bidi&validate_only=true&validate_link=false", `{
		"destination_cluster_id": "d", "remote_cluster_id": "r", "cluster_link_id": "`+testLinkID+`"
	}`)
	expect(t, rec, 204, "")
	if loc := rec.Header().Get("Location"); loc != "" {
		t.Errorf("Location %q on validate_only", loc)
	}
	want = CreateLinkRequest{Name: "bidi", DestinationClusterID: "d", RemoteClusterID: "r",
		ClusterLinkID: testLinkID, ValidateOnly: true}
	if got := e.l.created[1]; !reflect.DeepEqual(got, want) {
		t.Errorf("created = %+v, want %+v", got, want)
	}

	expect(t, e.do(t, "POST", cp+"/links?link_name=east", `{"configs": []}`), 409,
		`{"error_code": 40901, "message": "links: \"east\": rest: cluster link already exists"}`)

	e.l.err = fmt.Errorf("links: source cluster id is src-9, not src-2: %w", ErrInvalidLink)
	expect(t, e.do(t, "POST", cp+"/links?link_name=x", `{}`), 400,
		`{"error_code": 40002, "message": "links: source cluster id is src-9, not src-2: rest: invalid cluster link"}`)
	e.l.err = fmt.Errorf("links: %w", kerr.InvalidConfig)
	expect(t, e.do(t, "POST", cp+"/links?link_name=x", `{}`), 400,
		`{"error_code": 40002, "message": "links: INVALID_CONFIG: Configuration is invalid."}`)
}

func TestCreateLinkBadRequests(t *testing.T) {
	tests := []struct {
		name, query, body string
		status            int
		msg               string
	}{
		{"no link_name", "", `{}`, 400, "link_name query parameter is required"},
		{"empty link_name", "?link_name=", `{}`, 400, "link_name query parameter is required"},
		{"bad validate_link", "?link_name=x&validate_link=nope", `{}`, 400, `validate_link must be true or false, got "nope"`},
		{"bad validate_only", "?link_name=x&validate_only=2", `{}`, 400, `validate_only must be true or false, got "2"`},
		{"no body", "?link_name=x", ``, 400, "request body is empty"},
		{"config no name", "?link_name=x", `{"configs": [{"value": "1"}]}`, 400, "configs[0].name is required"},
		{"config null", "?link_name=x", `{"configs": [{"name": "a"}]}`, 400, "configs[0] (a): value is required"},
		{"config dup", "?link_name=x", `{"configs": [{"name": "a", "value": "1"}, {"name": "a", "value": "2"}]}`, 400, `configs: duplicate config "a"`},
		{"configs not a list", "?link_name=x", `{"configs": {"a": "1"}}`, 400, `field "configs": cannot use JSON object as array`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newLinkEnv(t)
			want, _ := json.Marshal(errorBody{ErrorCode: tt.status, Message: tt.msg})
			expect(t, e.do(t, "POST", cp+"/links"+tt.query, tt.body), tt.status, string(want))
			if len(e.l.created) != 0 {
				t.Errorf("backend called: %+v", e.l.created)
			}
		})
	}
}

func TestDeleteLink(t *testing.T) {
	e := newLinkEnv(t)
	expect(t, e.do(t, "DELETE", cp+"/links/broken", ""), 204, "")
	expect(t, e.do(t, "DELETE", cp+"/links/east", ""), 409,
		`{"error_code": 40902, "message": "links: \"east\" has mirror topics; delete them or force: rest: cluster link has mirror topics"}`)
	expect(t, e.do(t, "DELETE", cp+"/links/east?force=true&validate_only=true", ""), 204, "")
	expect(t, e.do(t, "DELETE", cp+"/links/nope", ""), 404,
		`{"error_code": 40404, "message": "links: \"nope\": rest: cluster link not found"}`)
	expect(t, e.do(t, "DELETE", cp+"/links/east?force=maybe", ""), 400,
		`{"error_code": 400, "message": "force must be true or false, got \"maybe\""}`)
	want := []deleteLinkCall{{"broken", false, false}, {"east", false, false}, {"east", true, true}, {"nope", false, false}}
	if !reflect.DeepEqual(e.l.deleted, want) {
		t.Errorf("deleted = %+v, want %+v", e.l.deleted, want)
	}
}

func linkConfigJSON(name, value string, isDefault, readOnly, sensitive bool, source, synonyms string) string {
	return fmt.Sprintf(`{
		"kind": "KafkaLinkConfigData",
		"metadata": {"self": "%s/east/configs/%s", "resource_name": "crn:///kafka=%s/cluster-link=east/config=%s"},
		"cluster_id": %q,
		"link_name": "east",
		"name": %q,
		"value": %s,
		"is_default": %t,
		"is_read_only": %t,
		"read_only": %t,
		"is_sensitive": %t,
		"sensitive": %t,
		"source": %q,
		"synonyms": %s
	}`, lu, name, testCluster, name, testCluster, name, value, isDefault, readOnly, readOnly, sensitive, sensitive, source, synonyms)
}

func TestLinkConfigsRead(t *testing.T) {
	e := newLinkEnv(t)
	bootstrap := linkConfigJSON("bootstrap.servers", `"src:9092"`, false, false, false, "DYNAMIC_CLUSTER_LINK_CONFIG", `[]`)
	jaas := linkConfigJSON("sasl.jaas.config", `null`, false, false, true, "DYNAMIC_CLUSTER_LINK_CONFIG", `[]`)
	expect(t, e.do(t, "GET", cp+"/links/east/configs", ""), 200, `{
		"kind": "KafkaLinkConfigDataList",
		"metadata": {"self": "`+lu+`/east/configs", "next": null},
		"data": [
			`+bootstrap+`,
			`+linkConfigJSON("cluster.link.prefix", `null`, true, false, false, "DEFAULT_CONFIG", `[]`)+`,
			`+linkConfigJSON("consumer.offset.sync.ms", `"30000"`, true, false, false, "DEFAULT_CONFIG", `["consumer.offset.sync.ms"]`)+`,
			`+linkConfigJSON("link.mode", `"DESTINATION"`, true, true, false, "DEFAULT_CONFIG", `[]`)+`,
			`+jaas+`
		]
	}`)
	if strings.Contains(e.do(t, "GET", cp+"/links/east/configs", "").Body.String(), "secret") {
		t.Error("sensitive value leaked")
	}
	expect(t, e.do(t, "GET", cp+"/links/east/configs/bootstrap.servers", ""), 200, bootstrap)
	expect(t, e.do(t, "GET", cp+"/links/east/configs/sasl.jaas.config", ""), 200, jaas)
	expect(t, e.do(t, "GET", cp+"/links/east/configs/nope", ""), 404,
		`{"error_code": 404, "message": "Config nope cannot be found for cluster link east."}`)
	expect(t, e.do(t, "GET", cp+"/links/nope/configs", ""), 404,
		`{"error_code": 40404, "message": "links: \"nope\": rest: cluster link not found"}`)
}

func TestLinkConfigsWrite(t *testing.T) {
	tests := []struct {
		name, method, path, body string
		status                   int
		resp                     string
		want                     *alterCall
	}{
		{"put", "PUT", "/links/east/configs/consumer.offset.sync.ms", `{"value": "5000"}`, 204, "",
			&alterCall{"east", []ConfigOp{{Name: "consumer.offset.sync.ms", Value: "5000"}}, false}},
		{"put no value", "PUT", "/links/east/configs/a", `{}`, 400,
			`{"error_code": 400, "message": "value is required (to reset a config to its default, DELETE it)"}`, nil},
		{"delete", "DELETE", "/links/east/configs/consumer.offset.sync.ms", "", 204, "",
			&alterCall{"east", []ConfigOp{{Name: "consumer.offset.sync.ms", Delete: true}}, false}},
		{"alter cli shape", "PUT", "/links/east/configs:alter",
			`{"data": [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}]}`, 204, "",
			&alterCall{"east", []ConfigOp{{Name: "a", Value: "1"}, {Name: "b", Value: "2"}}, false}},
		{"alter ops", "PUT", "/links/east/configs:alter",
			`{"data": [{"name": "a", "value": "1", "operation": "SET"}, {"name": "b", "operation": "delete"}]}`, 204, "",
			&alterCall{"east", []ConfigOp{{Name: "a", Value: "1"}, {Name: "b", Delete: true}}, false}},
		{"alter validate body", "PUT", "/links/east/configs:alter",
			`{"data": [{"name": "a", "value": "1"}], "validate_only": true}`, 204, "",
			&alterCall{"east", []ConfigOp{{Name: "a", Value: "1"}}, true}},
		{"alter validate query", "PUT", "/links/east/configs:alter?validate_only=true",
			`{"data": [{"name": "a", "value": "1"}]}`, 204, "",
			&alterCall{"east", []ConfigOp{{Name: "a", Value: "1"}}, true}},
		{"alter escaped colon", "PUT", "/links/east/configs%3Aalter",
			`{"data": [{"name": "a", "value": "1"}]}`, 204, "",
			&alterCall{"east", []ConfigOp{{Name: "a", Value: "1"}}, false}},
		{"alter unknown link", "PUT", "/links/nope/configs:alter", `{"data": []}`, 404,
			`{"error_code": 40404, "message": "links: \"nope\": rest: cluster link not found"}`,
			&alterCall{"nope", []ConfigOp{}, false}},
		{"alter no data", "PUT", "/links/east/configs:alter", `{}`, 400,
			`{"error_code": 400, "message": "data is required"}`, nil},
		{"alter bad op", "PUT", "/links/east/configs:alter", `{"data": [{"name": "a", "operation": "ADD"}]}`, 400,
			`{"error_code": 400, "message": "data[0] (a): operation must be SET or DELETE, got \"ADD\""}`, nil},
		{"alter set no value", "PUT", "/links/east/configs:alter", `{"data": [{"name": "a"}]}`, 400,
			`{"error_code": 400, "message": "data[0] (a): value is required for SET"}`, nil},
		{"alter no name", "PUT", "/links/east/configs:alter", `{"data": [{"value": "1"}]}`, 400,
			`{"error_code": 400, "message": "data[0].name is required"}`, nil},
		{"alter dup", "PUT", "/links/east/configs:alter", `{"data": [{"name": "a", "value": "1"}, {"name": "a", "value": "2"}]}`, 400,
			`{"error_code": 400, "message": "data: duplicate config \"a\""}`, nil},
		{"alter bad validate_only", "PUT", "/links/east/configs:alter?validate_only=x", `{"data": []}`, 400,
			`{"error_code": 400, "message": "validate_only must be true or false, got \"x\""}`, nil},
		// Link configs:alter is PUT, where the topic one is POST (§5.3).
		{"alter wrong method", "POST", "/links/east/configs:alter", `{"data": []}`, 405,
			`{"error_code": 405, "message": "HTTP 405 Method Not Allowed"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newLinkEnv(t)
			expect(t, e.do(t, tt.method, cp+tt.path, tt.body), tt.status, tt.resp)
			switch {
			case tt.want == nil && len(e.l.altered) != 0:
				t.Errorf("backend called: %+v", e.l.altered)
			case tt.want != nil && (len(e.l.altered) != 1 || !reflect.DeepEqual(e.l.altered[0], *tt.want)):
				t.Errorf("backend calls = %+v, want [%+v]", e.l.altered, *tt.want)
			}
		})
	}
}

// TestLinksDisabled: without WithLinks every link route is a clear 404,
// after the cluster id check.
func TestLinksDisabled(t *testing.T) {
	h := New(newFake(), nil, nil)
	disabled := `{"error_code": 404, "message": "cluster linking is disabled on this broker"}`
	for _, r := range []struct{ method, path string }{
		{"GET", "/links"}, {"POST", "/links?link_name=x"}, {"GET", "/links/x"}, {"DELETE", "/links/x"},
		{"GET", "/links/x/configs"}, {"PUT", "/links/x/configs:alter"}, {"GET", "/links/x/configs/a"},
		{"PUT", "/links/x/configs/a"}, {"DELETE", "/links/x/configs/a"},
		{"GET", "/links/-/mirrors"}, {"GET", "/links/x/mirrors"}, {"POST", "/links/x/mirrors"},
		{"GET", "/links/x/mirrors/m"}, {"POST", "/links/x/mirrors:pause"}, {"POST", "/links/x/mirrors:failover"},
		{"POST", "/links/x/mirrors:truncate-and-restore"},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(r.method, cp+r.path, strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(rec, req)
		expect(t, rec, 404, disabled)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/kafka/v3/clusters/other/links", nil))
	expect(t, rec, 404, `{"error_code": 404, "message": "Cluster other cannot be found."}`)
}

func TestLinkWrongCluster(t *testing.T) {
	e := newLinkEnv(t)
	for _, p := range []string{"/links", "/links/east", "/links/east/configs", "/links/-/mirrors", "/links/east/mirrors/orders"} {
		expect(t, e.do(t, "GET", "/kafka/v3/clusters/other"+p, ""), 404,
			`{"error_code": 404, "message": "Cluster other cannot be found."}`)
	}
	if len(e.l.getLinkCalls)+len(e.l.listMirrorsAt) != 0 {
		t.Error("backend called for another cluster")
	}
}

func TestLinkErrorMapping(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		code   int
	}{
		{"link not found", fmt.Errorf("x: %w", ErrLinkNotFound), 404, 40404},
		{"link exists", ErrLinkExists, 409, 40901},
		{"link in use", fmt.Errorf("a: %w", fmt.Errorf("b: %w", ErrLinkInUse)), 409, 40902},
		{"invalid link", ErrInvalidLink, 400, 40002},
		{"mirror not found", ErrMirrorNotFound, 404, 40403},
		{"mirror state", ErrInvalidMirrorState, 400, 40002},
		{"kafka authz", fmt.Errorf("x: %w", kerr.ClusterAuthorizationFailed), 403, 40301},
		{"kafka unknown topic", kerr.UnknownTopicOrPartition, 404, 40403},
		{"kafka retriable", kerr.RequestTimedOut, 500, 50003},
		{"plain", errors.New("links: boom"), 500, 50001},
		{"rest error kept", badRequest("bad"), 400, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := mapError(linkError(tt.err))
			if status != tt.status || body.ErrorCode != tt.code {
				t.Errorf("got %d/%d, want %d/%d", status, body.ErrorCode, tt.status, tt.code)
			}
			if body.Message != tt.err.Error() {
				t.Errorf("message %q, want the full error %q", body.Message, tt.err.Error())
			}
		})
	}
	if linkError(nil) != nil {
		t.Error("linkError(nil) != nil")
	}
}

func TestLinkBackendErrorLogged(t *testing.T) {
	e := newLinkEnv(t)
	e.l.err = errors.New("links: store on fire")
	expect(t, e.do(t, "GET", cp+"/links", ""), 500, `{"error_code": 50001, "message": "links: store on fire"}`)
	if !strings.Contains(e.log.String(), "store on fire") {
		t.Error("5xx not logged")
	}
}
