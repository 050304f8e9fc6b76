package docs

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

const metricsDoc = "docs/metrics.md"

// family is one metric family of a /metrics scrape.
type family struct {
	typ    string
	labels map[string]bool // label names seen on its samples (without le)
}

// documentedMetric is one row of docs/metrics.md.
type documentedMetric struct {
	name, typ string
	labels    []string
}

// documentedMetrics returns the tandem_* metrics docs/metrics.md lists in
// its tables, by name.
func documentedMetrics(t *testing.T) map[string]documentedMetric {
	t.Helper()
	out := map[string]documentedMetric{}
	for _, row := range tableRows(readDoc(t, metricsDoc)) {
		spans := codeSpans(row[0])
		if len(row) != 4 || len(spans) != 1 || !strings.HasPrefix(spans[0], "tandem_") {
			continue
		}
		m := documentedMetric{name: spans[0], typ: row[1], labels: codeSpans(row[2])}
		if _, dup := out[m.name]; dup {
			t.Errorf("%s is listed twice", m.name)
		}
		out[m.name] = m
	}
	if len(out) < 20 {
		t.Fatalf("found %d metrics in %s", len(out), metricsDoc)
	}
	return out
}

// TestMetricsDocumentedAndExported runs a destination broker with a
// cluster link and a mirror topic, exercises every kind of series (produce,
// fetch, a produce error, HTTP requests, link tasks, mirror lag) and checks
// its /metrics against docs/metrics.md both ways: every metric listed is
// exported with the listed type and labels, and every tandem_* metric
// exported is listed. It then checks that every metric the Grafana
// dashboard queries is exported.
func TestMetricsDocumentedAndExported(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src := tandemtest.Start(t)
	// Per-partition group lag is opt-in; on here so that its labels are
	// checked too.
	dst := tandemtest.Start(t, tandemtest.Config("metrics.consumer.group.partition.lag.enable", "true"))

	// A source topic with data, mirrored to the destination over a link.
	scl := tandemtest.NewClient(t, src.Addr())
	if _, err := kadm.NewClient(scl).CreateTopic(ctx, 2, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	produce(ctx, t, scl, "orders", 50)
	lm := dst.Node.Links()
	if err := lm.CreateLink(ctx, "dr", "", map[string]string{"bootstrap.servers": src.Addr(), "replica.fetch.wait.max.ms": "100"}, false, true); err != nil {
		t.Fatal(err)
	}
	if err := lm.CreateMirror(ctx, "dr", "orders", "", nil, false); err != nil {
		t.Fatal(err)
	}

	// Local traffic on the destination: produce, consume, and a produce
	// the broker refuses (the mirror is read-only) for the error counter.
	dcl := tandemtest.NewClient(t, dst.Addr(), kgo.ConsumeTopics("local"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if _, err := kadm.NewClient(dcl).CreateTopic(ctx, 1, 1, nil, "local"); err != nil {
		t.Fatal(err)
	}
	produce(ctx, t, dcl, "local", 10)
	for n := 0; n < 10; {
		fs := dcl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		n += fs.NumRecords()
	}
	if err := dcl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("x")}).FirstErr(); err == nil {
		t.Fatal("a produce to a mirror topic was accepted")
	}
	// A consumer group with a committed offset, for the group lag series.
	var offs kadm.Offsets
	offs.AddOffset("local", 0, 4, -1)
	if resp, err := kadm.NewClient(dcl).CommitOffsets(ctx, "docs", offs); err != nil || resp.Error() != nil {
		t.Fatalf("commit: %v %v", err, resp.Error())
	}

	url := "http://" + dst.HTTPAddr() + "/metrics"
	var body string
	ready := []string{
		`tandem_link_max_lag{link="dr"} 0`,
		`tandem_mirror_last_fetch_age_seconds{`,
		`tandem_mirror_source_end_age_seconds{`,
		`tandem_link_task_last_run_timestamp_seconds{`,
		`tandem_link_fetch_latency_seconds_count{`,
		`tandem_http_requests_total{`,
		`tandem_consumer_group_lag_max{group="docs",topic="local"} 6`,
	}
	for deadline := time.Now().Add(60 * time.Second); ; {
		body = tandemtest.Get(t, url)
		missing := slices.DeleteFunc(slices.Clone(ready), func(s string) bool { return strings.Contains(body, s) })
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics never showed %q:\n%s", missing, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	exported := parseExposition(t, body)

	t.Run("list", func(t *testing.T) {
		documented := documentedMetrics(t)
		for _, m := range documented {
			f, ok := exported[m.name]
			if !ok {
				if !slices.Contains(dst.Node.Metrics().Names(), m.name) {
					t.Errorf("%s is listed in %s but the broker does not export it", m.name, metricsDoc)
				}
				continue
			}
			if f.typ != m.typ {
				t.Errorf("%s: listed as a %s, exported as a %s", m.name, m.typ, f.typ)
			}
			got := make([]string, 0, len(f.labels))
			for l := range f.labels {
				got = append(got, l)
			}
			want := slices.Clone(m.labels)
			sort.Strings(got)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s: listed with labels %v, exported with %v", m.name, want, got)
			}
		}
		for name := range exported {
			if _, ok := documented[name]; !ok && strings.HasPrefix(name, "tandem_") {
				t.Errorf("the broker exports %s but %s does not list it", name, metricsDoc)
			}
		}
		// Families with no series yet (a counter nothing has incremented)
		// are absent from the scrape; the registry still names them.
		for _, name := range dst.Node.Metrics().Names() {
			if _, ok := documented[name]; !ok && strings.HasPrefix(name, "tandem_") {
				t.Errorf("the broker can export %s but %s does not list it", name, metricsDoc)
			}
		}
		for _, name := range []string{"go_goroutines", "process_open_fds"} {
			if _, ok := exported[name]; !ok {
				t.Errorf("the page names %s as an example, but it is not exported", name)
			}
		}
	})

	t.Run("grafana", func(t *testing.T) {
		for _, name := range dashboardMetrics(t) {
			if _, ok := exported[name]; !ok {
				t.Errorf("%s queries %s, which the broker does not export", dashboardFile, name)
			}
		}
	})
}

var (
	typeLine   = regexp.MustCompile(`^# TYPE (\S+) (\S+)$`)
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? \S+$`)
	labelPair  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"`)
)

// parseExposition reads the families of a Prometheus text exposition and
// the label names their samples carry. A histogram's _bucket, _sum and
// _count samples belong to its family (and le is not a label of it).
func parseExposition(t *testing.T, body string) map[string]*family {
	t.Helper()
	out := map[string]*family{}
	for _, l := range strings.Split(body, "\n") {
		if m := typeLine.FindStringSubmatch(l); m != nil {
			out[m[1]] = &family{typ: m[2], labels: map[string]bool{}}
			continue
		}
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		m := sampleLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("cannot parse sample line %q", l)
		}
		f := out[m[1]]
		if f == nil {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(m[1], suffix); ok && out[base] != nil {
					f = out[base]
				}
			}
		}
		if f == nil {
			t.Fatalf("sample %q has no # TYPE line", l)
		}
		for _, p := range labelPair.FindAllStringSubmatch(m[2], -1) {
			if !(f.typ == "histogram" && p[1] == "le") {
				f.labels[p[1]] = true
			}
		}
	}
	return out
}

func produce(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, n int) {
	t.Helper()
	for i := range n {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprint("value-", i))}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce to %s: %v", topic, err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}
