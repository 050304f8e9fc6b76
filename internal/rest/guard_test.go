package rest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/ratelog"
)

// TestCrossSiteBodiesRefused sends what a web page can send cross-site
// without a CORS preflight (text/plain and form bodies, and no type) to
// every mutating route, and checks each is 415 and reaches no backend.
func TestCrossSiteBodiesRefused(t *testing.T) {
	e := newEnv(t)
	cp := "/kafka/v3/clusters/" + testCluster
	routes := []struct{ method, path, body string }{
		// The exploit: retention.ms=1 via configs:alter.
		{"POST", cp + "/topics/orders/configs:alter", `{"data":[{"name":"retention.ms","value":"1"}]}`},
		{"PUT", cp + "/topics/orders/configs/retention.ms", `{"value":"1"}`},
		{"POST", cp + "/topics", `{"topic_name":"csrf","partitions_count":1}`},
	}
	for _, ct := range []string{
		"text/plain",
		"text/plain;charset=UTF-8",
		"application/x-www-form-urlencoded",
		"multipart/form-data; boundary=x",
		"", // a fetch() with a string body and no headers is text/plain; some clients send none
		"application/jsonp",
		"application/json-seq",
		"not a media type",
	} {
		for _, r := range routes {
			req := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, req)
			if rec.Code != http.StatusUnsupportedMediaType {
				t.Errorf("%s %s Content-Type %q: %d %s, want 415", r.method, r.path, ct, rec.Code, rec.Body)
				continue
			}
			var eb errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.ErrorCode != 415 || eb.Message == "" {
				t.Errorf("%s %s Content-Type %q: body %s, want a Confluent error with error_code 415", r.method, r.path, ct, rec.Body)
			}
		}
	}
	if len(e.b.altered) != 0 || len(e.b.created) != 0 {
		t.Fatalf("refused requests reached the backend: altered %v created %v", e.b.altered, e.b.created)
	}

	// JSON with parameters, and a +json type, are accepted.
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON", "application/vnd.kafka.v3+json"} {
		req := httptest.NewRequest("POST", routes[0].path, strings.NewReader(routes[0].body))
		req.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNoContent {
			t.Errorf("Content-Type %q: %d %s, want 204", ct, rec.Code, rec.Body)
		}
	}
	if len(e.b.altered) != 4 {
		t.Errorf("accepted alters = %d, want 4", len(e.b.altered))
	}
}

// TestBodyLimit sends a body over the 1 MiB cap, with and without a
// Content-Length; neither reaches the backend.
func TestBodyLimit(t *testing.T) {
	e := newEnv(t)
	path := "/kafka/v3/clusters/" + testCluster + "/topics/orders/configs:alter"
	big := `{"data":[{"name":"retention.ms","value":"1"}],"pad":"` + strings.Repeat("x", 2<<20) + `"}`
	for _, chunked := range []bool{false, true} {
		var body io.Reader = strings.NewReader(big)
		if chunked {
			body = io.MultiReader(body) // hides the length: ContentLength -1
		}
		req := httptest.NewRequest("POST", path, body)
		if chunked {
			req.ContentLength = -1
		}
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("chunked=%v: %d %s, want 413", chunked, rec.Code, rec.Body)
		}
	}
	if len(e.b.altered) != 0 {
		t.Fatalf("oversized bodies reached the backend: %v", e.b.altered)
	}
}

func TestHostPolicy(t *testing.T) {
	p := NewHostPolicy([]string{"127.0.0.1", "", "0.0.0.0", "Broker-1.Example.com", "kafka.internal."},
		[]string{"tandem.example.org", "*.corp.example"})
	for host, want := range map[string]bool{
		"127.0.0.1:8090":                 true,
		"[::1]:8090":                     true,
		"10.1.2.3":                       true, // an address is never a rebinding name
		"localhost:8090":                 true,
		"LOCALHOST":                      true,
		"app.localhost":                  true,
		"broker-1.example.com":           true,
		"broker-1.example.com.":          true,
		"kafka.internal:8090":            true,
		"tandem.example.org:80":          true,
		"a.corp.example":                 true,
		"a.b.corp.example:8090":          true,
		"":                               true, // HTTP/1.0 without Host
		"corp.example":                   false,
		"evilcorp.example":               false,
		"attacker.example:8090":          false,
		"127.0.0.1.nip.io":               false,
		"localhost.attacker.test":        false,
		"broker-1.example.com.evil.test": false,
	} {
		if got := p.Allows(host); got != want {
			t.Errorf("Allows(%q) = %v, want %v", host, got, want)
		}
	}
	if !NewHostPolicy(nil, []string{"*"}).Allows("anything.example") {
		t.Error(`"*" does not admit every host`)
	}
}

// TestCheckHost is the DNS rebinding case: a request for the attacker's
// name never reaches the API.
func TestCheckHost(t *testing.T) {
	e := newEnv(t)
	var warned int
	h := CheckHost(e.h, NewHostPolicy([]string{"127.0.0.1"}, nil), func(*http.Request) { warned++ })
	path := "/kafka/v3/clusters/" + testCluster + "/topics/orders/configs:alter"
	for _, host := range []string{"attacker.example:8090", "rebind.attacker.example"} {
		req := httptest.NewRequest("POST", path, strings.NewReader(`{"data":[{"name":"retention.ms","value":"1"}]}`))
		req.Header.Set("Content-Type", "application/json")
		req.Host = host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		expect(t, rec, http.StatusMisdirectedRequest, fmt.Sprintf(`{"error_code":421,"message":%q}`,
			"HTTP 421 Misdirected Request: host \""+host+"\" is not one this broker answers to; add it to http.allowed.hosts"))
	}
	for _, p := range []string{"/metrics", "/livez", "/debug/pprof/"} {
		req := httptest.NewRequest("GET", p, nil)
		req.Host = "attacker.example"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusMisdirectedRequest {
			t.Errorf("GET %s for attacker.example = %d, want 421", p, rec.Code)
		}
	}
	if len(e.b.altered) != 0 || warned != 5 {
		t.Fatalf("altered %v, warned %d; want none and 5", e.b.altered, warned)
	}
	req := httptest.NewRequest("GET", "/livez", nil)
	req.Host = "127.0.0.1:8090"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Errorf("GET /livez for 127.0.0.1 = %d, want 200", rec.Code)
	}
}

// TestServerHeaderLimit sends a 1 MiB header to a real Server: net/http
// answers 431 without calling the handler.
func TestServerHeaderLimit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	called := make(chan struct{}, 1)
	srv := NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called <- struct{}{} }), nil)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	if got := headerStatus(t, ln.Addr().String(), 1<<20); got != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("1 MiB header: status %d, want 431", got)
	}
	select {
	case <-called:
		t.Error("the handler ran for an oversized header")
	default:
	}
	if got := headerStatus(t, ln.Addr().String(), 16<<10); got != 200 {
		t.Errorf("16 KiB header: status %d, want 200", got)
	}
}

// headerStatus sends GET / with one header of n bytes over a raw
// connection and returns the status code.
func headerStatus(t *testing.T, addr string, n int) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		// The server may answer and close before reading it all.
		_, _ = fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", n))
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%d-byte header: %v", n, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestRequestLogsRateLimited floods the API with requests that each log a
// line (a 500 from the backend, with debug request lines on) and checks
// the log stays bounded.
func TestRequestLogsRateLimited(t *testing.T) {
	e := newEnv(t)
	e.b.err = errors.New("disk on fire")
	for range 1000 {
		if rec := e.do(t, "GET", "/kafka/v3/clusters/"+testCluster+"/topics/orders", ""); rec.Code != 500 {
			t.Fatalf("status %d, want 500", rec.Code)
		}
	}
	logs := e.log.String()
	failed, requests := strings.Count(logs, `msg="rest: request failed"`), strings.Count(logs, `msg="rest: request"`)
	if failed == 0 || failed > ratelog.DefaultBurst || requests == 0 || requests > ratelog.DefaultBurst {
		t.Errorf("1000 failing requests logged %d failure and %d request lines, want 1 to %d each",
			failed, requests, ratelog.DefaultBurst)
	}
}
