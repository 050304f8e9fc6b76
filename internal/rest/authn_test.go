package rest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
	"github.com/tandem-streaming/tandem/internal/groupview"
	"github.com/tandem-streaming/tandem/internal/metrics"
	"github.com/tandem-streaming/tandem/internal/ratelog"
)

// fakePasswords stands in for auth.PasswordChecker.
type fakePasswords map[string]string

func (f fakePasswords) CheckPassword(user, password string) bool {
	p, ok := f[user]
	return ok && p == password
}

// grants is a fake authorizer: "User:alice DESCRIBE TOPIC orders" entries
// (a name of * matches every name), nothing implied.
type grants map[string]bool

func (g grants) Authorize(ctx acl.RequestContext, op acl.Operation, res acl.Resource) bool {
	for _, name := range []string{res.Name, "*"} {
		if g[fmt.Sprintf("%s %s %s %s", ctx.Principal, op, res.Type, name)] {
			return true
		}
	}
	return false
}

// authServer is the API behind Authenticate on a real HTTP server.
type authServer struct {
	*httptest.Server
	log *bytes.Buffer
	b   *fakeBackend
}

func newAuthServer(t *testing.T, sec Security, authz acl.Authorizer, opts ...Option) *authServer {
	t.Helper()
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b := newFake()
	if authz != nil {
		opts = append(opts, WithAuthorizer(authz))
	}
	h, err := Authenticate(New(b, metrics.New(1), logger, opts...), sec, ratelog.New(logger, ratelog.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &authServer{Server: srv, log: &buf, b: b}
}

type answer struct {
	status int
	header http.Header
	body   string
}

// call sends a request as curl would; user "" sends no credentials.
func (s *authServer) call(t *testing.T, method, path, user, pass, body string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func (a answer) errorBody(t *testing.T) errorBody {
	t.Helper()
	var eb errorBody
	if err := json.Unmarshal([]byte(a.body), &eb); err != nil {
		t.Fatalf("not an error body: %q", a.body)
	}
	return eb
}

func TestBasicAuthentication(t *testing.T) {
	var mu sync.Mutex
	counts := map[bool]int{}
	s := newAuthServer(t, Security{Method: AuthBasic, Passwords: fakePasswords{"alice": "alice-secret"},
		Observe: func(m string, ok bool) {
			mu.Lock()
			defer mu.Unlock()
			if m == AuthBasic {
				counts[ok]++
			}
		}}, nil)

	for _, c := range []struct{ user, pass, reason string }{
		{"", "", "credentials are required"},
		{"alice", "wrong-password", "invalid username or password"},
		{"mallory", "alice-secret", "invalid username or password"},
	} {
		a := s.call(t, "GET", cp+"/topics", c.user, c.pass, "")
		if a.status != 401 {
			t.Fatalf("%s/%s: status %d, want 401: %s", c.user, c.pass, a.status, a.body)
		}
		if got := a.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Basic realm="tandem"`) {
			t.Errorf("WWW-Authenticate = %q", got)
		}
		if eb := a.errorBody(t); eb.ErrorCode != 401 || !strings.Contains(eb.Message, c.reason) {
			t.Errorf("%s: body %+v, want error_code 401 and %q", c.user, eb, c.reason)
		}
	}
	if a := s.call(t, "GET", cp+"/topics", "alice", "alice-secret", ""); a.status != 200 {
		t.Fatalf("good credentials: %d %s", a.status, a.body)
	}
	// Health probes need no credentials; /metrics does.
	for _, p := range []string{"/livez", "/readyz", "/v1/health"} {
		if a := s.call(t, "GET", p, "", "", ""); a.status != 200 {
			t.Errorf("%s without credentials: %d", p, a.status)
		}
	}
	if a := s.call(t, "GET", "/metrics", "", "", ""); a.status != 401 {
		t.Errorf("/metrics without credentials: %d, want 401", a.status)
	}
	if a := s.call(t, "GET", "/metrics", "alice", "alice-secret", ""); a.status != 200 {
		t.Errorf("/metrics with credentials: %d", a.status)
	}
	mu.Lock()
	if counts[true] != 2 || counts[false] != 4 {
		t.Errorf("observed %d successes and %d failures, want 2 and 4", counts[true], counts[false])
	}
	mu.Unlock()
	logs := s.log.String()
	if !strings.Contains(logs, "authentication failed") {
		t.Errorf("no failure logged:\n%s", logs)
	}
	for _, secret := range []string{"alice-secret", "wrong-password", "Authorization", base64.StdEncoding.EncodeToString([]byte("alice:"))[:8]} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %q:\n%s", secret, logs)
		}
	}
}

func TestAuthenticateRefusesIncompleteSecurity(t *testing.T) {
	for _, sec := range []Security{{Method: AuthBasic}, {Method: AuthMTLS}, {Method: "KERBEROS"}} {
		if _, err := Authenticate(http.NotFoundHandler(), sec, nil); err == nil {
			t.Errorf("%+v accepted", sec)
		}
	}
}

func TestNoneIsAnonymous(t *testing.T) {
	// With an authorizer and NONE, requests are User:ANONYMOUS's.
	s := newAuthServer(t, Security{}, grants{"User:ANONYMOUS DESCRIBE TOPIC orders": true})
	a := s.call(t, "GET", cp+"/topics", "", "", "")
	if a.status != 200 || !strings.Contains(a.body, `"orders"`) || strings.Contains(a.body, "__consumer_offsets") {
		t.Fatalf("list: %d %s", a.status, a.body)
	}
	if a := s.call(t, "GET", cp+"/topics/__consumer_offsets", "", "", ""); a.status != 403 {
		t.Fatalf("describe unauthorized topic: %d %s", a.status, a.body)
	}
}

func TestTopicAuthorization(t *testing.T) {
	g := grants{
		"User:alice DESCRIBE TOPIC orders":         true,
		"User:alice DESCRIBE_CONFIGS TOPIC orders": true,
		"User:alice CREATE TOPIC fresh":            true,
		"User:admin DESCRIBE TOPIC *":              true,
		"User:admin DELETE TOPIC *":                true,
		"User:admin CREATE CLUSTER kafka-cluster":  true,
		"User:admin ALTER_CONFIGS TOPIC *":         true,
	}
	s := newAuthServer(t, Security{Method: AuthBasic, Passwords: fakePasswords{"alice": "a", "admin": "b"}}, g)
	forbidden := func(method, path, user, pass, body string) {
		t.Helper()
		a := s.call(t, method, path, user, pass, body)
		if a.status != 403 {
			t.Fatalf("%s %s as %s: %d, want 403: %s", method, path, user, a.status, a.body)
		}
		if eb := a.errorBody(t); eb.ErrorCode != 40301 || !strings.Contains(eb.Message, "User:"+user+" is not authorized") {
			t.Fatalf("%s %s: %+v", method, path, eb)
		}
	}
	ok := func(status int, method, path, user, pass, body string) answer {
		t.Helper()
		a := s.call(t, method, path, user, pass, body)
		if a.status != status {
			t.Fatalf("%s %s as %s: %d, want %d: %s", method, path, user, a.status, status, a.body)
		}
		return a
	}
	// The list holds only what the principal may DESCRIBE.
	if a := ok(200, "GET", cp+"/topics", "alice", "a", ""); strings.Contains(a.body, "__consumer_offsets") || !strings.Contains(a.body, `"orders"`) {
		t.Fatalf("alice's list: %s", a.body)
	}
	if a := ok(200, "GET", cp+"/topics", "admin", "b", ""); !strings.Contains(a.body, "__consumer_offsets") {
		t.Fatalf("admin's list: %s", a.body)
	}
	ok(200, "GET", cp+"/topics/orders", "alice", "a", "")
	ok(200, "GET", cp+"/topics/orders/partitions/0", "alice", "a", "")
	forbidden("GET", cp+"/topics/__consumer_offsets", "alice", "a", "")
	// Unknown topics are 403 too: existence is not revealed.
	forbidden("GET", cp+"/topics/nope", "alice", "a", "")
	forbidden("DELETE", cp+"/topics/orders", "alice", "a", "")
	ok(200, "GET", cp+"/topics/orders/configs", "alice", "a", "")
	forbidden("PUT", cp+"/topics/orders/configs/retention.ms", "alice", "a", `{"value":"1"}`)
	ok(204, "PUT", cp+"/topics/orders/configs/retention.ms", "admin", "b", `{"value":"1"}`)

	// CREATE on the topic, or on the cluster.
	ok(201, "POST", cp+"/topics", "alice", "a", `{"topic_name":"fresh"}`)
	forbidden("POST", cp+"/topics", "alice", "a", `{"topic_name":"other"}`)
	ok(201, "POST", cp+"/topics", "admin", "b", `{"topic_name":"other"}`)
	ok(204, "DELETE", cp+"/topics/other", "admin", "b", "")
	if n := len(s.b.created); n != 2 {
		t.Errorf("%d creations reached the backend, want 2", n)
	}
}

func TestConsoleAndMetricsNeedClusterDescribe(t *testing.T) {
	g := grants{"User:prom DESCRIBE CLUSTER kafka-cluster": true}
	inner := RequireCluster(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, PrincipalFrom(r.Context()))
	}), g, kmsg.ACLOperationDescribe)
	h, err := Authenticate(inner, Security{Method: AuthBasic, Passwords: fakePasswords{"prom": "p", "eve": "e"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, c := range []struct {
		user, pass string
		status     int
	}{{"prom", "p", 200}, {"eve", "e", 403}, {"", "", 401}} {
		req, _ := http.NewRequest("GET", srv.URL+"/console/api/overview", nil)
		if c.user != "" {
			req.SetBasicAuth(c.user, c.pass)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s: %d, want %d: %s", c.user, resp.StatusCode, c.status, b)
		}
		if c.status == 200 && string(b) != "User:prom" {
			t.Errorf("principal = %q", b)
		}
	}
	s := newAuthServer(t, Security{Method: AuthBasic, Passwords: fakePasswords{"prom": "p", "eve": "e"}}, g)
	if a := s.call(t, "GET", "/metrics", "prom", "p", ""); a.status != 200 {
		t.Errorf("/metrics as prom: %d", a.status)
	}
	if a := s.call(t, "GET", "/metrics", "eve", "e", ""); a.status != 403 {
		t.Errorf("/metrics as eve: %d", a.status)
	}
}

// twoGroups serves groups g1 and g2.
type twoGroups struct{}

func (twoGroups) List(context.Context) ([]groupview.Group, error) {
	return []groupview.Group{{ID: "g1", State: "Empty"}, {ID: "g2", State: "Empty"}}, nil
}

func (twoGroups) Get(_ context.Context, id string) (groupview.Group, error) {
	if id != "g1" && id != "g2" {
		return groupview.Group{}, groupview.ErrNotFound
	}
	return groupview.Group{ID: id, State: "Empty", Offsets: []groupview.Offset{
		{Topic: "orders", Partition: 0, Committed: 1, End: 5, Lag: 4, Owner: -1},
		{Topic: "payroll", Partition: 0, Committed: 1, End: 9, Lag: 8, Owner: -1},
	}}, nil
}

func TestGroupAuthorization(t *testing.T) {
	g := grants{"User:ANONYMOUS DESCRIBE GROUP g1": true, "User:ANONYMOUS DESCRIBE TOPIC orders": true}
	s := newAuthServer(t, Security{}, g, WithGroups(twoGroups{}))
	a := s.call(t, "GET", cp+"/consumer-groups", "", "", "")
	if a.status != 200 || !strings.Contains(a.body, `"g1"`) || strings.Contains(a.body, `"g2"`) {
		t.Fatalf("list: %d %s", a.status, a.body)
	}
	if a := s.call(t, "GET", cp+"/consumer-groups/g2", "", "", ""); a.status != 403 {
		t.Fatalf("g2: %d %s", a.status, a.body)
	}
	if a := s.call(t, "GET", cp+"/consumer-groups/g1", "", "", ""); a.status != 200 {
		t.Fatalf("g1: %d %s", a.status, a.body)
	}
	// The lags of topics the principal may not DESCRIBE are left out.
	if a := s.call(t, "GET", cp+"/consumer-groups/g1/lags", "", "", ""); a.status != 200 ||
		!strings.Contains(a.body, `"topic_name":"orders"`) || strings.Contains(a.body, "payroll") {
		t.Fatalf("g1 lags: %d %s", a.status, a.body)
	}
	if a := s.call(t, "GET", cp+"/consumer-groups/g1/lag-summary", "", "", ""); a.status != 200 ||
		!strings.Contains(a.body, `"total_lag":4`) {
		t.Fatalf("g1 lag summary: %d %s", a.status, a.body)
	}
}

func TestLinkAndMirrorAuthorization(t *testing.T) {
	g := grants{
		"User:ANONYMOUS DESCRIBE CLUSTER kafka-cluster": true,
		"User:ANONYMOUS CREATE TOPIC orders2":           true,
		"User:ANONYMOUS ALTER TOPIC orders2":            true,
		"User:ANONYMOUS ALTER TOPIC orders":             true,
	}
	l := newFakeLinks()
	s := newAuthServer(t, Security{}, g, WithLinks(l))
	if a := s.call(t, "GET", cp+"/links", "", "", ""); a.status != 200 {
		t.Fatalf("list links: %d %s", a.status, a.body)
	}
	for _, c := range []struct{ method, path, body string }{
		{"POST", cp + "/links?link_name=x", `{"source_cluster_id":"s","configs":[]}`},
		{"DELETE", cp + "/links/east", ""},
		{"PUT", cp + "/links/east/configs/consumer.offset.sync.ms", `{"value":"1000"}`},
		{"POST", cp + "/links/east/mirrors", `{"source_topic_name":"clicks"}`},
	} {
		if a := s.call(t, c.method, c.path, "", "", c.body); a.status != 403 {
			t.Errorf("%s %s: %d, want 403: %s", c.method, c.path, a.status, a.body)
		}
	}
	if a := s.call(t, "POST", cp+"/links/east/mirrors", "", "", `{"source_topic_name":"orders","mirror_topic_name":"orders2"}`); a.status != 204 {
		t.Fatalf("create allowed mirror: %d %s", a.status, a.body)
	}
	// Named mirrors: the refused one gets its own 40301 result.
	a := s.call(t, "POST", cp+"/links/east/mirrors:pause", "", "", `{"mirror_topic_names":["orders","clicks"]}`)
	if a.status != 200 || !strings.Contains(a.body, `"error_code":40301`) {
		t.Fatalf("pause: %d %s", a.status, a.body)
	}
	// A pattern silently leaves the refused mirrors out.
	s.call(t, "POST", cp+"/links/east/mirrors:resume", "", "", `{"mirror_topic_name_pattern":".*"}`)
	// truncate-and-restore's pattern matches topics (the old primary's
	// are not mirrors), never internal ones.
	s.call(t, "POST", cp+"/links/east/mirrors:truncate-and-restore", "", "", `{"mirror_topic_name_pattern":".*"}`)
	l.mu.Lock()
	defer l.mu.Unlock()
	want := []alterMirrorsCall{{link: "east", op: "pause", names: []string{"orders"}}, {link: "east", op: "resume", names: []string{"orders"}},
		{link: "east", op: "truncate-and-restore", names: []string{"orders"}}}
	if len(l.alteredMirror) != 3 || !slices.Equal(l.alteredMirror[0].names, want[0].names) || !slices.Equal(l.alteredMirror[1].names, want[1].names) ||
		l.alteredMirror[1].pattern != "" || !slices.Equal(l.alteredMirror[2].names, want[2].names) || l.alteredMirror[2].op != "truncate-and-restore" {
		t.Fatalf("backend calls = %+v, want %+v", l.alteredMirror, want)
	}
}

// fakeACLs is an in-memory ACLBackend.
type fakeACLs struct {
	mu sync.Mutex
	bs []acl.Binding
}

func (f *fakeACLs) ACLs() []acl.Binding {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.bs)
}

func (f *fakeACLs) CreateACLs(_ context.Context, bs []acl.Binding) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range bs {
		if !slices.Contains(f.bs, b) {
			f.bs = append(f.bs, b)
		}
	}
	return nil
}

func (f *fakeACLs) DeleteACLs(_ context.Context, flt acl.Filter) ([]acl.Binding, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var deleted, kept []acl.Binding
	for _, b := range f.bs {
		if flt.Matches(b) {
			deleted = append(deleted, b)
		} else {
			kept = append(kept, b)
		}
	}
	f.bs = kept
	return deleted, nil
}

func TestACLsCRUD(t *testing.T) {
	store := &fakeACLs{}
	g := grants{"User:admin DESCRIBE CLUSTER kafka-cluster": true, "User:admin ALTER CLUSTER kafka-cluster": true,
		"User:viewer DESCRIBE CLUSTER kafka-cluster": true}
	s := newAuthServer(t, Security{Method: AuthBasic, Passwords: fakePasswords{"admin": "a", "viewer": "v"}}, g, WithACLs(store))
	const acls = cp + "/acls"

	// The cluster links to the ACLs now that they are served.
	if a := s.call(t, "GET", cp, "viewer", "v", ""); !strings.Contains(a.body, `"acls":{"related":"`+s.URL+acls+`"}`) {
		t.Fatalf("cluster: %s", a.body)
	}
	create := `{"resource_type":"TOPIC","resource_name":"orders","pattern_type":"LITERAL","principal":"User:alice","host":"*","operation":"READ","permission":"ALLOW"}`
	a := s.call(t, "POST", acls, "admin", "a", create)
	if a.status != 201 || a.body != "" {
		t.Fatalf("create: %d %q", a.status, a.body)
	}
	if loc := a.header.Get("Location"); !strings.Contains(loc, "/acls?resource_type=TOPIC&resource_name=orders&pattern_type=LITERAL") {
		t.Errorf("Location = %q", loc)
	}
	batch := `{"data":[
		{"resource_type":"topic","resource_name":"ord","pattern_type":"prefixed","principal":"User:bob","host":"*","operation":"write","permission":"allow"},
		{"resource_type":"GROUP","resource_name":"*","pattern_type":"LITERAL","principal":"User:alice","host":"10.0.0.1","operation":"READ","permission":"DENY"}]}`
	if a := s.call(t, "POST", acls+":batch", "admin", "a", batch); a.status != 204 {
		t.Fatalf("batch: %d %s", a.status, a.body)
	}
	if a := s.call(t, "POST", acls, "viewer", "v", create); a.status != 403 {
		t.Fatalf("create as viewer: %d", a.status)
	}

	list := func(query string) []aclData {
		t.Helper()
		a := s.call(t, "GET", acls+query, "viewer", "v", "")
		if a.status != 200 {
			t.Fatalf("list %s: %d %s", query, a.status, a.body)
		}
		var l struct {
			Kind string    `json:"kind"`
			Data []aclData `json:"data"`
		}
		if err := json.Unmarshal([]byte(a.body), &l); err != nil || l.Kind != "KafkaAclList" {
			t.Fatalf("list body: %v %s", err, a.body)
		}
		return l.Data
	}
	if got := list(""); len(got) != 3 || got[0].ResourceType != "GROUP" || got[0].Kind != "KafkaAcl" ||
		got[0].ClusterID != testCluster || got[1].PatternType != "PREFIXED" || got[2].PatternType != "LITERAL" {
		t.Fatalf("all ACLs: %+v", got)
	}
	if got := list("?principal=User:alice&resource_type=topic"); len(got) != 1 || got[0].Operation != "READ" {
		t.Fatalf("alice's topic ACLs: %+v", got)
	}
	// MATCH: what applies to topic "orders": the literal and the prefix.
	if got := list("?resource_type=TOPIC&resource_name=orders&pattern_type=MATCH"); len(got) != 2 {
		t.Fatalf("MATCH orders: %+v", got)
	}
	if a := s.call(t, "GET", acls+"?operation=FLY", "viewer", "v", ""); a.status != 400 {
		t.Fatalf("bad operation: %d %s", a.status, a.body)
	}
	if a := s.call(t, "DELETE", acls+"?resource_type=TOPIC", "viewer", "v", ""); a.status != 403 {
		t.Fatalf("delete as viewer: %d", a.status)
	}

	a = s.call(t, "DELETE", acls+"?resource_type=TOPIC&pattern_type=PREFIXED", "admin", "a", "")
	var del struct {
		Data []aclData `json:"data"`
	}
	if err := json.Unmarshal([]byte(a.body), &del); a.status != 200 || err != nil || len(del.Data) != 1 || del.Data[0].Principal != "User:bob" {
		t.Fatalf("delete: %d %s", a.status, a.body)
	}
	if got := list(""); len(got) != 2 {
		t.Fatalf("after delete: %+v", got)
	}

	for _, bad := range []string{
		`{"resource_type":"ANY","resource_name":"x","pattern_type":"LITERAL","principal":"User:a","host":"*","operation":"READ","permission":"ALLOW"}`,
		`{"resource_type":"TOPIC","resource_name":"x","pattern_type":"MATCH","principal":"User:a","host":"*","operation":"READ","permission":"ALLOW"}`,
		`{"resource_type":"TOPIC","resource_name":"x","pattern_type":"LITERAL","principal":"alice","host":"*","operation":"READ","permission":"ALLOW"}`,
		`{"resource_type":"CLUSTER","resource_name":"x","pattern_type":"LITERAL","principal":"User:a","host":"*","operation":"ALTER","permission":"ALLOW"}`,
		`{"resource_type":"TOPIC","resource_name":"x","pattern_type":"LITERAL","principal":"User:a","host":"*","operation":"ANY","permission":"ALLOW"}`,
		`{"resource_type":"TOPIC","resource_name":"x","pattern_type":"LITERAL","principal":"User:a","operation":"READ","permission":"ALLOW"}`,
	} {
		if a := s.call(t, "POST", acls, "admin", "a", bad); a.status != 400 {
			t.Errorf("%s: %d %s", bad, a.status, a.body)
		}
	}
}

func TestACLsNotServedWithoutBackend(t *testing.T) {
	e := newEnv(t)
	expect(t, e.do(t, "GET", cp+"/acls", ""), 404,
		`{"error_code":404,"message":"ACLs are not served: no authorizer is configured (authorizer.class.name)"}`)
	if strings.Contains(e.do(t, "GET", cp, "").Body.String(), "acls") {
		t.Error("the cluster links to ACLs that are not served")
	}
}
