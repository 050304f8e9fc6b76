package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

func httpDo(t *testing.T, method, url string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: bad JSON %q: %v", method, url, raw, err)
		}
	}
	return resp.StatusCode, out
}

// TestHTTPAPIAgainstBroker drives the REST v3 surface of a real broker and
// checks that what it reports is what Kafka clients see.
func TestHTTPAPIAgainstBroker(t *testing.T) {
	b := tandemtest.Start(t)
	base := "http://" + b.HTTPAddr()

	code, clusters := httpDo(t, "GET", base+"/kafka/v3/clusters", nil)
	if code != 200 {
		t.Fatalf("clusters: %d", code)
	}
	data := clusters["data"].([]any)
	cid := data[0].(map[string]any)["cluster_id"].(string)
	if len(data) != 1 || cid != b.Node.ClusterID() {
		t.Fatalf("clusters: %v", clusters)
	}
	topics := base + "/kafka/v3/clusters/" + cid + "/topics"

	code, created := httpDo(t, "POST", topics, map[string]any{
		"topic_name": "web", "partitions_count": 3,
		"configs": []map[string]string{{"name": "retention.ms", "value": "60000"}},
	})
	if code != 201 || created["topic_name"] != "web" || created["partitions_count"].(float64) != 3 {
		t.Fatalf("create: %d %v", code, created)
	}
	if code, body := httpDo(t, "POST", topics, map[string]any{"topic_name": "web"}); code != 400 || body["error_code"].(float64) != 40002 {
		t.Fatalf("create twice: %d %v", code, body)
	}
	if code, body := httpDo(t, "POST", topics, map[string]any{"topic_name": "rf", "replication_factor": 3}); code != 400 {
		t.Fatalf("replication factor 3 on one node: %d %v", code, body)
	}

	// A Kafka client sees the topic the HTTP API created.
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DefaultProduceTopic("web"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := 0; i < 5; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v"), Partition: 0}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	code, cfgs := httpDo(t, "GET", topics+"/web/configs", nil)
	if code != 200 {
		t.Fatalf("configs: %d", code)
	}
	found := false
	for _, e := range cfgs["data"].([]any) {
		m := e.(map[string]any)
		if m["name"] == "retention.ms" {
			found = m["value"] == "60000" && m["source"] == "DYNAMIC_TOPIC_CONFIG"
		}
	}
	if !found {
		t.Fatalf("retention.ms override not reported: %v", cfgs)
	}
	if code, body := httpDo(t, "POST", topics+"/web/configs:alter", map[string]any{
		"data": []map[string]string{{"name": "retention.ms", "operation": "DELETE"}, {"name": "segment.bytes", "value": "2097152"}},
	}); code != 204 {
		t.Fatalf("alter configs: %d %v", code, body)
	}
	if code, body := httpDo(t, "PUT", topics+"/web/configs/segment.bytes", map[string]any{"value": "12"}); code != 400 {
		t.Fatalf("invalid config value: %d %v", code, body)
	}

	// Metrics reflect the traffic.
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`tandem_requests_total{api="Produce"`,
		`tandem_messages_in_total{topic="web"} 5`,
		`tandem_log_end_offset{partition="0",topic="web"} 5`,
		`tandem_partitions 8`, // 3 + the 5 partitions of __consumer_offsets in test brokers
	} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if code, body := httpDo(t, "GET", base+"/v1/health", nil); code != 200 || body["status"] != "UP" {
		t.Fatalf("health: %d %v", code, body)
	}

	if code, _ := httpDo(t, "DELETE", topics+"/web", nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, body := httpDo(t, "GET", topics+"/web", nil); code != 404 || body["error_code"].(float64) != 40403 {
		t.Fatalf("get deleted: %d %v", code, body)
	}
}

// TestGracefulShutdownAnswersInFlight checks that a long-poll fetch in
// flight when shutdown starts is answered, not cut, and that the data
// directory is marked clean.
func TestGracefulShutdownAnswersInFlight(t *testing.T) {
	b := tandemtest.Start(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()),
		kgo.ConsumeTopics("sd"), kgo.FetchMaxWait(3*time.Second), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	cl.PollFetches(ctx) // starts a long poll
	cancel()
	start := time.Now()
	b.Stop()
	// The long poll (3 s) is answered at once when draining starts.
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("shutdown took %v", d)
	}
	if _, err := os.Stat(filepath.Join(b.Dir, ".tandem_cleanshutdown")); err != nil {
		t.Fatalf("clean-shutdown marker missing after graceful stop: %v", err)
	}
}

// TestRESTAdvertisesOnlyWhatItServes follows every link the REST API
// hands out ("self" and "related", from the cluster list down through
// brokers, topics, partitions, replicas, configs and cluster links) and
// requires each to answer 200: a document must not point at a route that
// answers 404 (the cluster document linked acls, consumer-groups,
// broker-configs and reassignments, which did).
func TestRESTAdvertisesOnlyWhatItServes(t *testing.T) {
	src := tandemtest.Start(t)
	b := tandemtest.Start(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "orders", Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	base := "http://" + b.HTTPAddr()
	code, doc := httpDo(t, "POST", base+"/kafka/v3/clusters/"+b.Node.ClusterID()+"/links?link_name=dr",
		map[string]any{"configs": []map[string]string{{"name": "bootstrap.servers", "value": src.Addr()}}})
	if code >= 300 {
		t.Fatalf("create link: %d %v", code, doc)
	}
	seen := map[string]bool{}
	// Confluent's cluster document does not link to the cluster links;
	// start there too.
	queue := []string{base + "/kafka/v3/clusters", base + "/kafka/v3/clusters/" + b.Node.ClusterID() + "/links"}
	var collect func(v any)
	collect = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && (k == "self" || k == "related") && strings.HasPrefix(s, "http") && !seen[s] {
					seen[s] = true
					queue = append(queue, s)
				} else {
					collect(x)
				}
			}
		case []any:
			for _, x := range v {
				collect(x)
			}
		}
	}
	for len(queue) > 0 && len(seen) < 2000 {
		u := queue[0]
		queue = queue[1:]
		code, doc := httpDo(t, "GET", u, nil)
		if code != 200 {
			t.Errorf("GET %s: %d", u, code)
			continue
		}
		collect(doc)
	}
	for _, want := range []string{"/brokers/", "/topics/orders/partitions/0/replicas/", "/topics/orders/configs/", "/links/dr"} {
		found := false
		for u := range seen {
			found = found || strings.Contains(u, want)
		}
		if !found {
			t.Errorf("the walk never reached a %s URL (visited %d)", want, len(seen))
		}
	}
}
