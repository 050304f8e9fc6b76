package docs

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const dashboardFile = "docs/grafana/tandem.json"

// metricName matches the tandem_* identifiers of a PromQL expression.
var metricName = regexp.MustCompile(`\btandem_[a-zA-Z0-9_]+`)

// dashboardQueries returns every query of the dashboard: panel targets'
// expr and the template variables' query and definition.
func dashboardQueries(t *testing.T) []string {
	t.Helper()
	var dash any
	if err := json.Unmarshal([]byte(readDoc(t, dashboardFile)), &dash); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && (k == "expr" || k == "query" || k == "definition") {
					out = append(out, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(dash)
	return out
}

// dashboardMetrics returns the metric names the dashboard queries, with a
// histogram's _bucket, _sum and _count series named by their family.
func dashboardMetrics(t *testing.T) []string {
	t.Helper()
	var names []string
	for _, q := range dashboardQueries(t) {
		for _, n := range metricName.FindAllString(q, -1) {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				n = strings.TrimSuffix(n, suffix)
			}
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	return names
}

// TestDashboard checks the Grafana dashboard without a broker: it is JSON
// with a title and uid, every panel but rows has queries on the dashboard's
// data source variable, and every metric it queries is listed in
// docs/metrics.md (which TestMetricsDocumentedAndExported checks against
// the broker; it also checks the dashboard's metrics are exported).
func TestDashboard(t *testing.T) {
	var dash struct {
		Title, UID string
		Panels     []struct {
			Type, Title string
			Datasource  struct{ UID string }
			Targets     []struct{ Expr string }
		}
	}
	if err := json.Unmarshal([]byte(readDoc(t, dashboardFile)), &dash); err != nil {
		t.Fatal(err)
	}
	if dash.Title == "" || dash.UID == "" {
		t.Errorf("dashboard title %q uid %q", dash.Title, dash.UID)
	}
	panels := 0
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		panels++
		if p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: data source %q, want the ${datasource} variable", p.Title, p.Datasource.UID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		for _, q := range p.Targets {
			if !metricName.MatchString(q.Expr) {
				t.Errorf("panel %q: query %q uses no tandem metric", p.Title, q.Expr)
			}
		}
	}
	if panels < 20 {
		t.Errorf("%d panels", panels)
	}
	documented := documentedMetrics(t)
	names := dashboardMetrics(t)
	for _, n := range names {
		if _, ok := documented[n]; !ok {
			t.Errorf("the dashboard queries %s, which %s does not list", n, metricsDoc)
		}
	}
	// The dashboard covers what the issue asks for.
	for _, want := range []string{"tandem_bytes_in_total", "tandem_bytes_out_total", "tandem_request_duration_seconds",
		"tandem_log_size_bytes", "tandem_link_state", "tandem_link_max_lag", "tandem_mirror_partition_lag", "tandem_link_fetch_errors_total"} {
		if !slices.Contains(names, want) {
			t.Errorf("the dashboard does not show %s", want)
		}
	}
}
