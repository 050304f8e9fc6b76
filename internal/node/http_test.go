package node_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// rawStatus sends one request over a fresh connection, with exactly the
// headers given (Host included), and returns the status and body.
func rawStatus(t *testing.T, addr, method, path string, headers map[string]string, body string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", method, path)
	for k, v := range headers {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	if body != "" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("Connection: close\r\n\r\n")
	b.WriteString(body)
	go func() { _, _ = io.WriteString(c, b.String()) }()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// TestHTTPSurface checks the hostile inputs against a real broker:
// a cross-site text/plain configs:alter, a DNS-rebinding Host, pprof, and
// a 1 MiB header.
func TestHTTPSurface(t *testing.T) {
	b := tandemtest.Start(t)
	addr := b.HTTPAddr()
	base := "http://" + addr
	cid := b.Node.ClusterID()
	topics := base + "/kafka/v3/clusters/" + cid + "/topics"
	if code, body := httpDo(t, "POST", topics, map[string]any{"topic_name": "victim"}); code != 201 {
		t.Fatalf("create: %d %v", code, body)
	}
	alter := "/kafka/v3/clusters/" + cid + "/topics/victim/configs:alter"
	retention := func() string {
		t.Helper()
		code, body := httpDo(t, "GET", topics+"/victim/configs/retention.ms", nil)
		if code != 200 {
			t.Fatalf("get retention.ms: %d %v", code, body)
		}
		return body["value"].(string)
	}
	before := retention()

	// What any web page can send cross-site: a text/plain POST.
	code, body := rawStatus(t, addr, "POST", alter, map[string]string{
		"Host": addr, "Content-Type": "text/plain;charset=UTF-8", "Origin": "https://attacker.example",
	}, `{"data":[{"name":"retention.ms","value":"1"}]}`)
	if code != http.StatusUnsupportedMediaType || !strings.Contains(body, `"error_code":415`) {
		t.Errorf("text/plain configs:alter = %d %s, want 415", code, body)
	}
	// DNS rebinding: a JSON request whose Host is the attacker's name.
	code, body = rawStatus(t, addr, "POST", alter, map[string]string{
		"Host": "rebind.attacker.example:" + portOf(addr), "Content-Type": "application/json",
	}, `{"data":[{"name":"retention.ms","value":"1"}]}`)
	if code != http.StatusMisdirectedRequest || !strings.Contains(body, `"error_code":421`) {
		t.Errorf("rebinding Host configs:alter = %d %s, want 421", code, body)
	}
	if code, _ := rawStatus(t, addr, "GET", "/metrics", map[string]string{"Host": "rebind.attacker.example"}, ""); code != 421 {
		t.Errorf("rebinding Host /metrics = %d, want 421", code)
	}
	if after := retention(); after != before {
		t.Fatalf("retention.ms changed from %s to %s by refused requests", before, after)
	}
	// localhost and the listener's own address are answered.
	for _, host := range []string{"localhost:" + portOf(addr), addr} {
		if code, body := rawStatus(t, addr, "GET", "/livez", map[string]string{"Host": host}, ""); code != 200 {
			t.Errorf("Host %s /livez = %d %s, want 200", host, code, body)
		}
	}

	// The REST topic creation has the Kafka path's partition cap.
	code, huge := httpDo(t, "POST", topics, map[string]any{"topic_name": "huge", "partitions_count": 100_000})
	if msg, _ := huge["message"].(string); code != 400 || huge["error_code"].(float64) != 40002 ||
		!strings.Contains(msg, "Excessively large number of partitions per request: 100000 requested") {
		t.Errorf("create 100k partitions = %d %v, want 400 POLICY_VIOLATION", code, huge)
	}
	if code, _ := httpDo(t, "GET", topics+"/huge", nil); code != 404 {
		t.Errorf("refused topic: GET = %d, want 404", code)
	}

	// pprof is off by default.
	if code, _ := rawStatus(t, addr, "GET", "/debug/pprof/cmdline", map[string]string{"Host": addr}, ""); code != 404 {
		t.Errorf("/debug/pprof/cmdline = %d, want 404 (http.pprof.enable defaults to false)", code)
	}
	// A 1 MiB header is refused before any handler runs.
	code, _ = rawStatus(t, addr, "GET", "/livez", map[string]string{"Host": addr, "X-Big": strings.Repeat("a", 1<<20)}, "")
	if code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("1 MiB header = %d, want 431", code)
	}
}

func TestHTTPSurfaceConfigured(t *testing.T) {
	b := tandemtest.Start(t,
		tandemtest.Config("http.pprof.enable", "true"),
		tandemtest.Config("http.allowed.hosts", "tandem.example.org,*.corp.example"))
	addr := b.HTTPAddr()
	if code, _ := rawStatus(t, addr, "GET", "/debug/pprof/cmdline", map[string]string{"Host": addr}, ""); code != 200 {
		t.Errorf("/debug/pprof/cmdline with http.pprof.enable = %d, want 200", code)
	}
	for host, want := range map[string]int{
		"tandem.example.org:8090": 200,
		"broker.corp.example":     200,
		"tandem.example.org.evil": 421,
		"corp.example":            421,
		"attacker.example":        421,
	} {
		if code, _ := rawStatus(t, addr, "GET", "/livez", map[string]string{"Host": host}, ""); code != want {
			t.Errorf("Host %s = %d, want %d", host, code, want)
		}
	}
	// pprof is behind the Host check too.
	if code, _ := rawStatus(t, addr, "GET", "/debug/pprof/cmdline", map[string]string{"Host": "attacker.example"}, ""); code != 421 {
		t.Errorf("/debug/pprof/cmdline for attacker.example = %d, want 421", code)
	}
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}
