package link

import (
	"strings"
	"testing"
)

func TestNameFilters(t *testing.T) {
	const all = `{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}`
	tests := []struct {
		json    string
		match   []string
		nomatch []string
	}{
		{``, nil, []string{"orders", "*"}},
		{`{"topicFilters":[]}`, nil, []string{"orders"}},
		{`{"topicFilters":[` + all + `]}`, []string{"orders", "a.b", "*"}, nil},
		{`{"topicFilters":[{"name":"orders","patternType":"LITERAL","filterType":"INCLUDE"}]}`, []string{"orders"}, []string{"orders2", "order"}},
		{`{"topicFilters":[{"name":"ord","patternType":"PREFIXED"}]}`, []string{"ord", "orders"}, []string{"xorders"}},
		// EXCLUDE wins, whatever the order.
		{`{"topicFilters":[{"name":"tmp.","patternType":"PREFIXED","filterType":"EXCLUDE"},` + all + `]}`, []string{"orders"}, []string{"tmp.x"}},
		{`{"topicFilters":[` + all + `,{"name":"secret","patternType":"LITERAL","filterType":"EXCLUDE"}]}`, []string{"orders", "secret2"}, []string{"secret"}},
		// An EXCLUDE alone selects nothing; defaults and case.
		{`{"topicFilters":[{"name":"x","filterType":"exclude"}]}`, nil, []string{"y", "x"}},
		{`{"topicFilters":[{"name":"x"}]}`, []string{"x"}, []string{"xy"}},
		{`{"topicFilters":[{"name":"x","patternType":"prefixed","filterType":"include"}]}`, []string{"xy"}, []string{"y"}},
	}
	for _, tt := range tests {
		fs, err := ParseNameFilters(tt.json, "topicFilters")
		if err != nil {
			t.Errorf("%s: %v", tt.json, err)
			continue
		}
		for _, n := range tt.match {
			if !fs.Match(n) {
				t.Errorf("%s: %q not selected", tt.json, n)
			}
		}
		for _, n := range tt.nomatch {
			if fs.Match(n) {
				t.Errorf("%s: %q selected", tt.json, n)
			}
		}
	}
	for _, bad := range []struct{ json, want string }{
		{`{"topicFilters":[`, "not a JSON object"},
		{`[]`, "not a JSON object"},
		{`{"groupFilters":[]}`, `unknown field "groupFilters"`},
		{`{}`, `no "topicFilters" list`},
		{`{"topicFilters":[{"name":"x","filter_type":"EXCLUDE"}]}`, "unknown field"},
		{`{"topicFilters":[{"name":""}]}`, "name is empty"},
		{`{"topicFilters":[{"name":"x","patternType":"MATCH"}]}`, "patternType"},
		{`{"topicFilters":[{"name":"x","filterType":"ALLOW"}]}`, "filterType"},
		{`{"topicFilters":[{"name":"*","patternType":"PREFIXED"}]}`, "LITERAL"},
		{`{"topicFilters":[]} {}`, "trailing data"},
	} {
		if _, err := ParseNameFilters(bad.json, "topicFilters"); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: err %v, want %q", bad.json, err, bad.want)
		}
	}
	// The same model serves group filters.
	fs, err := ParseNameFilters(`{"groupFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"},{"name":"my-consumer-group","patternType":"LITERAL","filterType":"EXCLUDE"}]}`, "groupFilters")
	if err != nil || !fs.Match("g") || fs.Match("my-consumer-group") {
		t.Errorf("group filters: %v %+v", err, fs)
	}
}
