package rest

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tandem-streaming/tandem/internal/restapi"
)

func mirrorJSON(link, mirror, source string, parts int, lags, status, merr string, stateMs int64, extra string) string {
	return fmt.Sprintf(`{
		"kind": "KafkaMirrorData",
		"metadata": {"self": "%s/%s/mirrors/%s", "resource_name": "crn:///kafka=%s/cluster-link=%s/topic=%s"},
		"link_name": %q,
		"mirror_topic_name": %q,
		"source_topic_name": %q,
		"num_partitions": %d,
		"mirror_lags": %s,
		"mirror_status": %q,
		"mirror_topic_error": %q,
		%s
		"state_time_ms": %d
	}`, lu, link, mirror, testCluster, link, mirror, link, mirror, source, parts, lags, status, merr, extra, stateMs)
}

var (
	ordersLags   = `[{"partition": 0, "lag": 0, "last_source_fetch_offset": -1, "time_since_last_fetch_ms": 0, "local_log_end_offset": 0, "source_end_offset": 0, "source_end_age_ms": 0}, {"partition": 1, "lag": 5, "last_source_fetch_offset": 100, "time_since_last_fetch_ms": 0, "local_log_end_offset": 0, "source_end_offset": 0, "source_end_age_ms": 0}]`
	ordersMirror = mirrorJSON("east", "orders", "orders", 2, ordersLags, "ACTIVE", "NO_ERROR", 1700000000000, "")
	clicksMirror = mirrorJSON("east", "clicks", "clicks", 1,
		`[{"partition": 0, "lag": 1, "last_source_fetch_offset": 7, "time_since_last_fetch_ms": 0, "local_log_end_offset": 6, "source_end_offset": 7, "source_end_age_ms": 1500}]`, "PAUSED", "NO_ERROR", 0, "")
	brokenMirror = mirrorJSON("broken", "b.x", "x", 0, `[]`, "SOURCE_UNAVAILABLE", "NO_ERROR", 0, "")
)

func TestListMirrors(t *testing.T) {
	e := newLinkEnv(t)
	list := func(self string, items ...string) string {
		return `{"kind": "KafkaMirrorDataList", "metadata": {"self": "` + self + `", "next": null}, "data": [` +
			strings.Join(items, ",") + `]}`
	}
	expect(t, e.do(t, "GET", cp+"/links/-/mirrors", ""), 200,
		list(lu+"/-/mirrors", brokenMirror, clicksMirror, ordersMirror))
	expect(t, e.do(t, "GET", cp+"/links/east/mirrors", ""), 200,
		list(lu+"/east/mirrors", clicksMirror, ordersMirror))
	// The CLI's lower-case status values are accepted.
	expect(t, e.do(t, "GET", cp+"/links/-/mirrors?mirror_status=paused", ""), 200,
		list(lu+"/-/mirrors", clicksMirror))
	expect(t, e.do(t, "GET", cp+"/links/east/mirrors?mirror_status=STOPPED", ""), 200,
		list(lu+"/east/mirrors"))
	want := []listMirrorsCall{{"", ""}, {"east", ""}, {"", "PAUSED"}, {"east", "STOPPED"}}
	if !reflect.DeepEqual(e.l.listMirrorsAt, want) {
		t.Errorf("ListMirrors calls = %+v, want %+v", e.l.listMirrorsAt, want)
	}

	rec := e.do(t, "GET", cp+"/links/-/mirrors?mirror_status=sleeping", "")
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), `mirror_status \"sleeping\" is not one of ACTIVE, FAILED`) {
		t.Errorf("bad status filter: %d %s", rec.Code, rec.Body)
	}
	expect(t, e.do(t, "GET", cp+"/links/nope/mirrors", ""), 404,
		`{"error_code": 40404, "message": "links: \"nope\": cluster link not found"}`)
}

func TestGetMirror(t *testing.T) {
	e := newLinkEnv(t)
	expect(t, e.do(t, "GET", cp+"/links/east/mirrors/orders", ""), 200, ordersMirror)
	expect(t, e.do(t, "GET", cp+"/links/east/mirrors/orders?include_state_transition_errors=true", ""), 200,
		mirrorJSON("east", "orders", "orders", 2, ordersLags, "ACTIVE", "NO_ERROR", 1700000000000,
			`"mirror_state_transition_errors": [{"error_code": "INTERNAL_ERROR", "error_message": "offset sync failed"}],`))
	expect(t, e.do(t, "GET", cp+"/links/east/mirrors/clicks?include_state_transition_errors=true", ""), 200,
		mirrorJSON("east", "clicks", "clicks", 1, `[{"partition": 0, "lag": 1, "last_source_fetch_offset": 7, "time_since_last_fetch_ms": 0, "local_log_end_offset": 6, "source_end_offset": 7, "source_end_age_ms": 1500}]`,
			"PAUSED", "NO_ERROR", 0, `"mirror_state_transition_errors": [],`))
	expect(t, e.do(t, "GET", cp+"/links/east/mirrors/nope", ""), 404,
		`{"error_code": 40403, "message": "links: mirror \"nope\" on \"east\": mirror topic not found"}`)
	expect(t, e.do(t, "GET", cp+"/links/nope/mirrors/orders", ""), 404,
		`{"error_code": 40404, "message": "links: \"nope\": cluster link not found"}`)
	// Defaults for an empty state and error.
	e.l.mirrors = append(e.l.mirrors, MirrorInfo{Link: "east", MirrorTopic: "new", SourceTopic: "new"})
	expect(t, e.do(t, "GET", cp+"/links/east/mirrors/new", ""), 200,
		mirrorJSON("east", "new", "new", 0, `[]`, "UNKNOWN", "NO_ERROR", 0, ""))
	e.l.mirrors = append(e.l.mirrors, MirrorInfo{Link: "east", MirrorTopic: "f", SourceTopic: "f", State: "FAILED", Error: "SOURCE_PARTITIONS_DECREASED"})
	expect(t, e.do(t, "GET", cp+"/links/east/mirrors/f", ""), 200,
		mirrorJSON("east", "f", "f", 0, `[]`, "FAILED", "SOURCE_PARTITIONS_DECREASED", 0, ""))
}

func TestCreateMirror(t *testing.T) {
	tests := []struct {
		name, path, body string
		status           int
		resp, location   string
		want             *createMirrorCall
	}{
		{"full", "/links/east/mirrors",
			`{"source_topic_name": "orders", "mirror_topic_name": "east.orders", "replication_factor": 3,
			  "configs": [{"name": "retention.ms", "value": "1000"}]}`, 204, "", lu + "/east/mirrors/east.orders",
			&createMirrorCall{"east", CreateMirrorRequest{SourceTopic: "orders", MirrorTopic: "east.orders",
				ReplicationFactor: 3, Configs: map[string]string{"retention.ms": "1000"}}}},
		{"source only", "/links/east/mirrors", `{"source_topic_name": "orders"}`, 204, "", "",
			&createMirrorCall{"east", CreateMirrorRequest{SourceTopic: "orders", ReplicationFactor: -1}}},
		{"validate query", "/links/east/mirrors?validate_only=true", `{"source_topic_name": "o", "mirror_topic_name": "o"}`, 204, "", "",
			&createMirrorCall{"east", CreateMirrorRequest{SourceTopic: "o", MirrorTopic: "o", ReplicationFactor: -1, ValidateOnly: true}}},
		{"validate body", "/links/east/mirrors", `{"source_topic_name": "o", "validate_only": true}`, 204, "", "",
			&createMirrorCall{"east", CreateMirrorRequest{SourceTopic: "o", ReplicationFactor: -1, ValidateOnly: true}}},
		{"unknown link", "/links/nope/mirrors", `{"source_topic_name": "o"}`, 404,
			`{"error_code": 40404, "message": "links: \"nope\": cluster link not found"}`, "",
			&createMirrorCall{"nope", CreateMirrorRequest{SourceTopic: "o", ReplicationFactor: -1}}},
		{"no source", "/links/east/mirrors", `{"mirror_topic_name": "o"}`, 400,
			`{"error_code": 400, "message": "source_topic_name is required"}`, "", nil},
		{"empty mirror name", "/links/east/mirrors", `{"source_topic_name": "o", "mirror_topic_name": ""}`, 400,
			`{"error_code": 400, "message": "mirror_topic_name must not be empty (omit it to use the source topic name)"}`, "", nil},
		{"bad rf", "/links/east/mirrors", `{"source_topic_name": "o", "replication_factor": "3"}`, 400,
			`{"error_code": 400, "message": "field \"replication_factor\": cannot use JSON string as int16"}`, "", nil},
		{"config dup", "/links/east/mirrors", `{"source_topic_name": "o", "configs": [{"name": "a", "value": "1"}, {"name": "a", "value": "1"}]}`, 400,
			`{"error_code": 400, "message": "configs: duplicate config \"a\""}`, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newLinkEnv(t)
			rec := e.do(t, "POST", cp+tt.path, tt.body)
			expect(t, rec, tt.status, tt.resp)
			if loc := rec.Header().Get("Location"); loc != tt.location {
				t.Errorf("Location = %q, want %q", loc, tt.location)
			}
			switch {
			case tt.want == nil && len(e.l.createdMirror) != 0:
				t.Errorf("backend called: %+v", e.l.createdMirror)
			case tt.want != nil && (len(e.l.createdMirror) != 1 || !reflect.DeepEqual(e.l.createdMirror[0], *tt.want)):
				t.Errorf("backend calls = %+v, want [%+v]", e.l.createdMirror, *tt.want)
			}
		})
	}
}

func alterItem(topic, errCode, errMsg, lags string) string {
	return `{
		"kind": "AlterMirrorsData",
		"metadata": {"self": "` + lu + `/east/mirrors/` + topic + `", "resource_name": "crn:///kafka=` + testCluster + `/cluster-link=east/topic=` + topic + `"},
		"mirror_topic_name": "` + topic + `",
		"error_code": ` + errCode + `,
		"error_message": ` + errMsg + `,
		"mirror_lags": ` + lags + `,
		"messages_truncated": null,
		"partition_level_truncation_data": []
	}`
}

func TestAlterMirrorsRouting(t *testing.T) {
	// Each ":"-suffixed path reaches AlterMirrors with its own op, also
	// with the colon percent-encoded.
	for _, op := range []string{"pause", "resume", "promote", "failover", "truncate-and-restore", "reverse-and-start-mirror", "reverse-and-pause-mirror"} {
		for _, sep := range []string{":", "%3A", "%3a"} {
			e := newLinkEnv(t)
			expect(t, e.do(t, "POST", cp+"/links/east/mirrors"+sep+op, `{"mirror_topic_names": ["orders"]}`), 200, `{
				"kind": "AlterMirrorsDataList",
				"metadata": {"self": "`+lu+`/east/mirrors:`+op+`", "next": null},
				"data": [`+alterItem("orders", "null", "null", "[]")+`]
			}`)
			want := []alterMirrorsCall{{"east", op, []string{"orders"}, "", false}}
			if !reflect.DeepEqual(e.l.alteredMirror, want) {
				t.Errorf("%s%s: calls = %+v, want %+v", sep, op, e.l.alteredMirror, want)
			}
		}
	}
}

// TestAlterMirrorsOldReverseNames: the older CP spellings of the reverse
// operations reach the same operations (§5.1).
func TestAlterMirrorsOldReverseNames(t *testing.T) {
	for alias, op := range map[string]string{"promote-local-and-start-remote-mirror": "reverse-and-start-mirror",
		"promote-local-and-pause-remote-mirror": "reverse-and-pause-mirror"} {
		e := newLinkEnv(t)
		expect(t, e.do(t, "POST", cp+"/links/east/mirrors:"+alias, `{"mirror_topic_names": ["orders"]}`), 200, `{
			"kind": "AlterMirrorsDataList",
			"metadata": {"self": "`+lu+`/east/mirrors:`+op+`", "next": null},
			"data": [`+alterItem("orders", "null", "null", "[]")+`]
		}`)
		if want := []alterMirrorsCall{{"east", op, []string{"orders"}, "", false}}; !reflect.DeepEqual(e.l.alteredMirror, want) {
			t.Errorf("%s: calls = %+v, want %+v", alias, e.l.alteredMirror, want)
		}
	}
}

// TestTruncateAndRestoreResponse: messages_truncated always, the
// per-partition data only with include_partition_level_truncation_data.
func TestTruncateAndRestoreResponse(t *testing.T) {
	n := int64(8)
	for _, include := range []bool{false, true} {
		e := newLinkEnv(t)
		e.l.alterResults = []AlterMirrorResult{
			{MirrorTopic: "orders", MessagesTruncated: &n, Truncation: []restapi.Truncation{
				{PartitionID: 0, OffsetTruncatedTo: 10, MessagesTruncated: 5}, {PartitionID: 1, OffsetTruncatedTo: 7, MessagesTruncated: 3}}},
		}
		parts := "[]"
		if include {
			parts = `[{"partition_id": 0, "offset_truncated_to": 10, "messages_truncated": 5}, {"partition_id": 1, "offset_truncated_to": 7, "messages_truncated": 3}]`
		}
		expect(t, e.do(t, "POST", cp+"/links/east/mirrors:truncate-and-restore?validate_only=true&include_partition_level_truncation_data="+fmt.Sprint(include),
			`{"mirror_topic_names": ["orders"]}`), 200, `{
			"kind": "AlterMirrorsDataList",
			"metadata": {"self": "`+lu+`/east/mirrors:truncate-and-restore", "next": null},
			"data": [{
				"kind": "AlterMirrorsData",
				"metadata": {"self": "`+lu+`/east/mirrors/orders", "resource_name": "crn:///kafka=`+testCluster+`/cluster-link=east/topic=orders"},
				"mirror_topic_name": "orders",
				"error_code": null,
				"error_message": null,
				"mirror_lags": [],
				"messages_truncated": 8,
				"partition_level_truncation_data": `+parts+`
			}]
		}`)
		if want := []alterMirrorsCall{{"east", "truncate-and-restore", []string{"orders"}, "", true}}; !reflect.DeepEqual(e.l.alteredMirror, want) {
			t.Errorf("calls = %+v, want %+v", e.l.alteredMirror, want)
		}
	}
}

func TestAlterMirrors(t *testing.T) {
	e := newLinkEnv(t)
	// Per-topic failures come back inside a 200 with mapped codes.
	e.l.alterResults = []AlterMirrorResult{
		{MirrorTopic: "orders", Lags: []PartitionLag{{Partition: 1, Lag: 0, LastSourceFetchOffset: 9}, {Partition: 0, Lag: 2, LastSourceFetchOffset: 3}}},
		{MirrorTopic: "clicks", Err: fmt.Errorf("links: topic 'clicks' has already stopped its mirror from 'east': %w", ErrInvalidMirrorState)},
		{MirrorTopic: "ghost", Err: fmt.Errorf("links: %w", ErrMirrorNotFound)},
		{MirrorTopic: "locked", Err: fmt.Errorf("links: %w", kerr.TopicAuthorizationFailed)},
	}
	expect(t, e.do(t, "POST", cp+"/links/east/mirrors:failover?validate_only=true",
		`{"mirror_topic_names": ["orders", "clicks", "ghost", "locked"]}`), 200, `{
		"kind": "AlterMirrorsDataList",
		"metadata": {"self": "`+lu+`/east/mirrors:failover", "next": null},
		"data": [
			`+alterItem("orders", "null", "null", `[{"partition": 0, "lag": 2, "last_source_fetch_offset": 3, "time_since_last_fetch_ms": 0, "local_log_end_offset": 0, "source_end_offset": 0, "source_end_age_ms": 0}, {"partition": 1, "lag": 0, "last_source_fetch_offset": 9, "time_since_last_fetch_ms": 0, "local_log_end_offset": 0, "source_end_offset": 0, "source_end_age_ms": 0}]`)+`,
			`+alterItem("clicks", "40002", `"links: topic 'clicks' has already stopped its mirror from 'east': operation not allowed in the mirror topic's state"`, "[]")+`,
			`+alterItem("ghost", "40403", `"links: mirror topic not found"`, "[]")+`,
			`+alterItem("locked", "40301", `"links: TOPIC_AUTHORIZATION_FAILED: Not authorized to access topics: [Topic authorization failed.]"`, "[]")+`
		]
	}`)
	e.l.alterResults = nil

	// A pattern goes to the backend as is; validate_only in the body too.
	expect(t, e.do(t, "POST", cp+"/links/east/mirrors:pause", `{"mirror_topic_name_pattern": "or.*", "validate_only": true}`), 200, `{
		"kind": "AlterMirrorsDataList",
		"metadata": {"self": "`+lu+`/east/mirrors:pause", "next": null},
		"data": []
	}`)
	want := []alterMirrorsCall{
		{"east", "failover", []string{"orders", "clicks", "ghost", "locked"}, "", true},
		{"east", "pause", nil, "or.*", true},
	}
	if !reflect.DeepEqual(e.l.alteredMirror, want) {
		t.Errorf("calls = %+v, want %+v", e.l.alteredMirror, want)
	}

	expect(t, e.do(t, "POST", cp+"/links/nope/mirrors:resume", `{"mirror_topic_names": ["a"]}`), 404,
		`{"error_code": 40404, "message": "links: \"nope\": cluster link not found"}`)
}

func TestAlterMirrorsBadRequests(t *testing.T) {
	tests := []struct {
		name, path, body string
		status           int
		msg              string
	}{
		{"neither", "/links/east/mirrors:pause", `{}`, 400, "mirror_topic_names or mirror_topic_name_pattern is required"},
		{"empty names", "/links/east/mirrors:pause", `{"mirror_topic_names": []}`, 400, "mirror_topic_names or mirror_topic_name_pattern is required"},
		{"both", "/links/east/mirrors:pause", `{"mirror_topic_names": ["a"], "mirror_topic_name_pattern": "a"}`, 400, "give mirror_topic_names or mirror_topic_name_pattern, not both"},
		{"empty pattern", "/links/east/mirrors:pause", `{"mirror_topic_name_pattern": ""}`, 400, "mirror_topic_name_pattern must not be empty"},
		{"bad pattern", "/links/east/mirrors:pause", `{"mirror_topic_name_pattern": "("}`, 400, "mirror_topic_name_pattern: error parsing regexp: missing closing ): `(`"},
		{"empty name", "/links/east/mirrors:promote", `{"mirror_topic_names": ["a", ""]}`, 400, "mirror_topic_names[1] is empty"},
		{"dup name", "/links/east/mirrors:promote", `{"mirror_topic_names": ["a", "a"]}`, 400, `mirror_topic_names: duplicate topic "a"`},
		{"names not list", "/links/east/mirrors:promote", `{"mirror_topic_names": "a"}`, 400, `field "mirror_topic_names": cannot use JSON string as array`},
		{"bad validate_only", "/links/east/mirrors:failover?validate_only=y", `{"mirror_topic_names": ["a"]}`, 400, `validate_only must be true or false, got "y"`},
		{"no body", "/links/east/mirrors:resume", ``, 400, "request body is empty"},
		{"bad include_partition_level_truncation_data", "/links/east/mirrors:truncate-and-restore?include_partition_level_truncation_data=1x", `{"mirror_topic_names": ["a"]}`, 400,
			`include_partition_level_truncation_data must be true or false, got "1x"`},
		{"unknown op", "/links/east/mirrors:frobnicate", `{}`, 404, "HTTP 404 Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newLinkEnv(t)
			want, _ := json.Marshal(errorBody{ErrorCode: tt.status, Message: tt.msg})
			expect(t, e.do(t, "POST", cp+tt.path, tt.body), tt.status, string(want))
			if len(e.l.alteredMirror) != 0 {
				t.Errorf("backend called: %+v", e.l.alteredMirror)
			}
		})
	}
}

func TestLinkRouting(t *testing.T) {
	e := newLinkEnv(t)
	methodBody := `{"error_code": 405, "message": "HTTP 405 Method Not Allowed"}`
	tests := []struct{ method, path, allow string }{
		{"PUT", "/links", "GET, HEAD, POST"},
		{"PATCH", "/links/east", "DELETE, GET, HEAD"},
		{"POST", "/links/east/configs", "GET, HEAD"},
		{"GET", "/links/east/configs:alter", "PUT"},
		{"POST", "/links/east/configs/a", "DELETE, GET, HEAD, PUT"},
		{"DELETE", "/links/east/mirrors", "GET, HEAD, POST"},
		{"DELETE", "/links/east/mirrors/orders", "GET, HEAD"},
		{"GET", "/links/east/mirrors:pause", "POST"},
		{"GET", "/links/east/mirrors:failover", "POST"},
	}
	for _, tt := range tests {
		rec := e.do(t, tt.method, cp+tt.path, "")
		expect(t, rec, 405, methodBody)
		if got := rec.Header().Get("Allow"); got != tt.allow {
			t.Errorf("%s %s: Allow = %q, want %q", tt.method, tt.path, got, tt.allow)
		}
	}
	// A link or mirror literally named like a path word still routes as a
	// name: these are {link_name} and {mirror_topic_name} segments.
	expect(t, e.do(t, "GET", cp+"/links/mirrors", ""), 404,
		`{"error_code": 40404, "message": "links: \"mirrors\": cluster link not found"}`)
	expect(t, e.do(t, "GET", cp+"/links/east/mirrors/mirrors:pause", ""), 404,
		`{"error_code": 40403, "message": "links: mirror \"mirrors:pause\" on \"east\": mirror topic not found"}`)
}

// FuzzLinkRequestBodies: whatever the body, the link endpoints answer a
// client error or success, never a 5xx or a panic, and any body is JSON.
func FuzzLinkRequestBodies(f *testing.F) {
	for _, s := range []string{
		`{"source_cluster_id":"s","configs":[{"name":"bootstrap.servers","value":"h:1"}]}`,
		`{"source_topic_name":"t","mirror_topic_name":"m","replication_factor":1}`,
		`{"mirror_topic_names":["a","b"]}`,
		`{"mirror_topic_name_pattern":".*"}`,
		`{"data":[{"name":"a","value":"1"},{"name":"b","operation":"DELETE"}]}`,
		`{"value":"1"}`, `[]`, `null`, `{`, ``,
	} {
		f.Add(s)
	}
	paths := []struct{ method, path string }{
		{"POST", cp + "/links?link_name=new"},
		{"POST", cp + "/links/east/mirrors"},
		{"POST", cp + "/links/east/mirrors:pause"},
		{"POST", cp + "/links/east/mirrors:failover"},
		{"POST", cp + "/links/east/mirrors:truncate-and-restore?include_partition_level_truncation_data=true"},
		{"POST", cp + "/links/east/mirrors:reverse-and-start-mirror"},
		{"PUT", cp + "/links/east/configs:alter"},
		{"PUT", cp + "/links/east/configs/a"},
	}
	f.Fuzz(func(t *testing.T, body string) {
		h := New(newFake(), nil, nil, WithLinks(newFakeLinks()))
		for _, p := range paths {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(p.method, p.path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			h.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s %s with %q: %d %s", p.method, p.path, body, rec.Code, rec.Body)
			}
			if rec.Body.Len() > 0 && !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("%s %s with %q: non-JSON body %q", p.method, p.path, body, rec.Body)
			}
		}
	})
}
