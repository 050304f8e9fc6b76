package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/rest"
)

func TestNormalizeRESTURL(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"http://127.0.0.1:8090", "http://127.0.0.1:8090", ""},
		{"http://127.0.0.1:8090/", "http://127.0.0.1:8090", ""},
		{"127.0.0.1:8090", "http://127.0.0.1:8090", ""},
		{"broker:8090/kafka", "http://broker:8090", ""},
		{"https://broker:8090/kafka/v3/", "https://broker:8090", ""},
		{"http://proxy/tandem/kafka/v3?x=1#f", "http://proxy/tandem", ""},
		{" http://h:1 ", "http://h:1", ""},
		{"", "", "the REST URL is empty (set --url, $TANDEM_URL or $CONFLUENT_REST_URL)"},
		{"ftp://h:1", "", `invalid REST URL "ftp://h:1": want http://HOST:PORT`},
		{"http://", "", `invalid REST URL "http://": want http://HOST:PORT`},
	}
	for _, tt := range tests {
		got, err := normalizeRESTURL(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%q: err = %v, want %s", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// requestLog records the requests a server saw.
type requestLog struct {
	next           http.Handler
	seen           []string
	badContentType []string
}

func (l *requestLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.seen = append(l.seen, r.Method+" "+r.URL.RequestURI()+" ua="+r.Header.Get("User-Agent"))
	// Every body the CLI sends is JSON and says so (the server may
	// refuse a POST or PUT body without the header).
	if r.ContentLength != 0 && r.Header.Get("Content-Type") != "application/json" {
		l.badContentType = append(l.badContentType, r.Method+" "+r.URL.Path+": "+r.Header.Get("Content-Type"))
	}
	l.next.ServeHTTP(w, r)
}

func TestURLFromFlagEnvAndPrefix(t *testing.T) {
	sim := newSimLinks()
	log := &requestLog{next: rest.New(sim, nil, nil, rest.WithLinks(sim))}
	srv := httptest.NewServer(log)
	defer srv.Close()
	dead := "http://127.0.0.1:1" // nothing listens: using it fails

	for _, tc := range []struct {
		name              string
		tandem, confluent string
		flag              string
		wantErr           bool
	}{
		// TANDEM_URL is used when --url is not given.
		{name: "TANDEM_URL", tandem: srv.URL + "/kafka"},
		// --url wins over both variables.
		{name: "--url first", tandem: dead, confluent: dead, flag: srv.URL},
		// CONFLUENT_REST_URL as the confluent CLI reads it: with the
		// embedded REST API's /kafka, a trailing / or /v3, or none.
		{name: "CONFLUENT_REST_URL /kafka", confluent: srv.URL + "/kafka"},
		{name: "CONFLUENT_REST_URL /kafka/v3/", confluent: srv.URL + "/kafka/v3/"},
		{name: "CONFLUENT_REST_URL bare", confluent: strings.TrimPrefix(srv.URL, "http://")},
		// TANDEM_URL wins over CONFLUENT_REST_URL.
		{name: "TANDEM_URL first", tandem: srv.URL, confluent: dead},
		{name: "TANDEM_URL first, failing", tandem: dead, confluent: srv.URL, wantErr: true},
		// Empty variables count as unset.
		{name: "empty TANDEM_URL", tandem: " ", confluent: srv.URL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(restURLEnv, tc.tandem)
			t.Setenv(confluentURLEnv, tc.confluent)
			log.seen = nil
			args := []string{"link", "list"}
			if tc.flag != "" {
				args = append(args, "--url", tc.flag)
			}
			_, _, err := runCLI(t, args...)
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "cannot reach the Tandem HTTP API at "+dead) {
					t.Errorf("err = %v, want the unreachable %s", err, dead)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := []string{
				"GET /kafka/v3/clusters ua=tandem-cli/" + version,
				"GET /kafka/v3/clusters/" + simCluster + "/links ua=tandem-cli/" + version,
			}
			if !reflect.DeepEqual(log.seen, want) {
				t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(log.seen, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestRESTQueryParams(t *testing.T) {
	sim := newSimLinks()
	log := &requestLog{next: rest.New(sim, nil, nil, rest.WithLinks(sim))}
	srv := httptest.NewServer(log)
	defer srv.Close()
	run := func(args ...string) {
		t.Helper()
		if _, _, err := runCLI(t, append(args, "--url", srv.URL)...); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	run("link", "create", "a/b", "--source-bootstrap-server", "s:1", "--no-validate")
	run("mirror", "create", "t", "--link", "a/b", "--dry-run")
	run("mirror", "list", "--link", "a/b", "--mirror-status", "active")
	run("link", "update", "a/b", "--config", "x=1")
	// t was only validated: pausing it fails per topic, after the request.
	if _, _, err := runCLI(t, "mirror", "pause", "t", "--link", "a/b", "--dry-run", "--url", srv.URL); err == nil {
		t.Error("pausing a mirror that does not exist succeeded")
	}
	run("link", "delete", "a/b", "--force")
	if len(log.badContentType) > 0 {
		t.Errorf("bodies sent without Content-Type: application/json: %q", log.badContentType)
	}
	var got []string
	for _, s := range log.seen {
		if !strings.HasPrefix(s, "GET /kafka/v3/clusters ") {
			got = append(got, strings.TrimSuffix(s, " ua=tandem-cli/"+version))
		}
	}
	c := "/kafka/v3/clusters/" + simCluster
	want := []string{
		"POST " + c + "/links?link_name=a%2Fb&validate_link=false&validate_only=false",
		"GET " + c + "/links/a%2Fb?include_tasks=true",
		"POST " + c + "/links/a%2Fb/mirrors?validate_only=true",
		// mirror create reads the link's prefix to report the name.
		"GET " + c + "/links/a%2Fb/configs/cluster.link.prefix",
		"GET " + c + "/links/a%2Fb/mirrors?mirror_status=active",
		"PUT " + c + "/links/a%2Fb/configs:alter",
		"POST " + c + "/links/a%2Fb/mirrors:pause?validate_only=true",
		"DELETE " + c + "/links/a%2Fb?force=true&validate_only=false",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestRESTErrors(t *testing.T) {
	// Linking disabled on the broker.
	srv := httptest.NewServer(rest.New(newSimLinks(), nil, nil))
	defer srv.Close()
	_, _, err := runCLI(t, "link", "list", "--url", srv.URL)
	if err == nil || err.Error() != "cluster linking is disabled on this broker (error code 404)" {
		t.Errorf("disabled: %v", err)
	}

	// A non-JSON error answer (a proxy in the way, say).
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream is down", http.StatusBadGateway)
	}))
	defer plain.Close()
	_, _, err = runCLI(t, "link", "list", "--url", plain.URL)
	if re, ok := err.(*restError); !ok || re.Status != 502 || err.Error() != "upstream is down (error code 502)" {
		t.Errorf("plain error: %#v", err)
	}

	// No clusters.
	empty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"data":[]}`))
	}))
	defer empty.Close()
	_, _, err = runCLI(t, "mirror", "list", "--url", empty.URL)
	if err == nil || err.Error() != "no clusters found at "+empty.URL {
		t.Errorf("no clusters: %v", err)
	}

	// Nothing listening.
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	_, _, err = runCLI(t, "link", "list", "--url", gone.URL)
	if err == nil || !strings.HasPrefix(err.Error(), "cannot reach the Tandem HTTP API at "+gone.URL+
		" (is the broker running? set --url, $TANDEM_URL or $CONFLUENT_REST_URL): ") {
		t.Errorf("unreachable: %v", err)
	}
}

func TestParseConfigFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a.properties")
	if err := os.WriteFile(file, []byte("x=1\ny : 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.properties")
	if err := os.WriteFile(bad, []byte("k=\\u12"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in   []string
		want map[string]string
		err  string
	}{
		{nil, map[string]string{}, ""},
		{[]string{"a=1"}, map[string]string{"a": "1"}, ""},
		{[]string{"a=1,b=2", "c="}, map[string]string{"a": "1", "b": "2", "c": ""}, ""},
		{[]string{"a=x=y"}, map[string]string{"a": "x=y"}, ""},
		{[]string{`f={"topicFilters":[{"name":"*","patternType":"LITERAL"}]},g=1`},
			map[string]string{"f": `{"topicFilters":[{"name":"*","patternType":"LITERAL"}]}`, "g": "1"}, ""},
		{[]string{"a=1,"}, map[string]string{"a": "1,"}, ""},
		{[]string{"a=1", "a=2"}, map[string]string{"a": "2"}, ""},
		{[]string{file, "y=3"}, map[string]string{"x": "1", "y": "3"}, ""},
		{[]string{" k =v"}, map[string]string{"k": "v"}, ""},
		{[]string{"=1"}, nil, `--config "=1": "=1" has no name before '='`},
		{[]string{"a=1,=2"}, nil, `--config "a=1,=2": "=2" has no name before '='`},
		{[]string{filepath.Join(dir, "missing")}, nil, `--config "` + filepath.Join(dir, "missing") + `": not NAME=VALUE and no such properties file`},
	}
	for _, tt := range tests {
		got, err := parseConfigFlags(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%q: err = %v, want %s", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	if _, err := parseConfigFlags([]string{bad}); err == nil || !strings.HasPrefix(err.Error(), "--config "+bad+": ") {
		t.Errorf("bad file: %v", err)
	}
}

func TestJSONToYAML(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"scalars", map[string]any{}, "{}\n"},
		{"empty list", []int{}, "[]\n"},
		{"string", "hello", "hello\n"},
		{"ordered object", struct {
			B string   `json:"b"`
			A int      `json:"a"`
			N *string  `json:"n"`
			T bool     `json:"t"`
			F float64  `json:"f"`
			E []string `json:"e"`
			O struct{} `json:"o"`
		}{B: "x", A: -3, T: true, F: 1.5, E: []string{}}, `b: x
a: -3
"n": null
t: true
f: 1.5
e: []
o: {}
`},
		{"quoting", []string{
			"ACTIVE", "src:9092", "a/b.c-d_e", "30000", "1.5", "true", "No", "null", "y", "", " lead", "a: b",
			"x#y", "- dash", "*", `quote"d`, "tab\there", "line\nbreak", "ünï", "<html>&", "trailing:",
		}, `- ACTIVE
- src:9092
- a/b.c-d_e
- "30000"
- "1.5"
- "true"
- "No"
- "null"
- "y"
- ""
- " lead"
- "a: b"
- "x#y"
- "- dash"
- "*"
- "quote\"d"
- "tab\there"
- "line\nbreak"
- "ünï"
- "<html>&"
- "trailing:"
`},
		{"nested", map[string]any{
			"list": []any{
				map[string]any{"a": 1, "b": []int{1, 2}},
				[]any{"x", []int{}},
				map[string]any{},
			},
			"obj": map[string]any{"deep": map[string]any{"k": "v"}},
		}, `list:
  - a: 1
    b:
      - 1
      - 2
  - - x
    - []
  - {}
obj:
  deep:
    k: v
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			p := printer{w: &b, format: "yaml"}
			if err := p.structured(tt.in); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", b.String(), tt.want)
			}
		})
	}
}

func TestTableAndFields(t *testing.T) {
	var b bytes.Buffer
	p := printer{w: &b, format: "human"}
	p.table([]string{"A", "Long Header", "C"}, [][]string{{"wide value", "", "z"}, {"ü", "x", ""}})
	p.fields([][2]string{{"Name", "east"}, {"Longer Name", ""}})
	want := `  A          | Long Header | C
-------------+-------------+---
  wide value |             | z
  ü          | x           |
+-------------+------+
| Name        | east |
| Longer Name |      |
+-------------+------+
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestStructuredJSON(t *testing.T) {
	var b bytes.Buffer
	p := printer{w: &b, format: "json"}
	if err := p.structured(map[string]any{"a": []int{1}}); err != nil {
		t.Fatal(err)
	}
	if b.String() != "{\n  \"a\": [\n    1\n  ]\n}\n" {
		t.Errorf("got %q", b.String())
	}
	var v any
	if err := json.Unmarshal(b.Bytes(), &v); err != nil {
		t.Error(err)
	}
}

func TestClusterIDCached(t *testing.T) {
	sim := newSimLinks()
	log := &requestLog{next: rest.New(sim, nil, nil, rest.WithLinks(sim))}
	srv := httptest.NewServer(log)
	defer srv.Close()
	c, err := newRESTClient(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := c.inCluster(context.Background(), http.MethodGet, "/links", nil, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if len(log.seen) != 4 {
		t.Errorf("requests = %q, want one cluster lookup then three", log.seen)
	}
}
