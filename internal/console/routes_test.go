package console_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestRoutes checks that the console shares the HTTP listener with the
// REST API, health and metrics without taking any of their paths.
func TestRoutes(t *testing.T) {
	b := tandemtest.Start(t, tandemtest.Config("cluster.link.enable", "true"))
	base := "http://" + b.HTTPAddr()
	cases := []struct {
		path, contains, ctype string
		status                int
	}{
		{"/", "<title>Tandem console</title>", "text/html", 200},
		{"/console/static/app.js", "use strict", "javascript", 200},
		{"/console/static/style.css", "--accent", "text/css", 200},
		{"/console/api/overview", `"cluster_id"`, "application/json", 200},
		{"/console/api/topics", `"data"`, "application/json", 200},
		{"/console/api/groups", `"data"`, "application/json", 200},
		{"/console/api/readiness", `"definitions"`, "application/json", 200},
		{"/console/api/history?link=x", `"points"`, "application/json", 200},
		{"/console/api/history", "link is required", "application/json", 400},
		{"/console/nope", "Not Found", "application/json", 404},
		{"/kafka/v3/clusters", "KafkaClusterList", "application/json", 200},
		{"/readyz", "", "", 200},
		{"/livez", "", "", 200},
		{"/metrics", "tandem_", "text/plain", 200},
		{"/nope", "Not Found", "application/json", 404},
	}
	for _, c := range cases {
		resp, body := get(t, base+c.path)
		if resp.StatusCode != c.status || !strings.Contains(body, c.contains) || !strings.Contains(resp.Header.Get("Content-Type"), c.ctype) {
			t.Errorf("GET %s = %d %q %.200q; want %d %q containing %q", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, c.status, c.ctype, c.contains)
		}
		if strings.HasPrefix(c.path, "/console") || c.path == "/" {
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
				t.Errorf("GET %s: Content-Security-Policy = %q", c.path, csp)
			}
		}
	}
	// A POST to "/" is not the console's: REST answers it.
	resp, err := http.Post(base+"/", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST / = %d", resp.StatusCode)
	}
	var o struct {
		ClusterID string `json:"cluster_id"`
		Linking   bool   `json:"cluster_linking_enabled"`
	}
	_, body := get(t, base+"/console/api/overview")
	if err := json.Unmarshal([]byte(body), &o); err != nil || o.ClusterID != b.Node.ClusterID() || !o.Linking {
		t.Errorf("overview = %s (%v)", body, err)
	}
}
