package link

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateConfigs(t *testing.T) {
	base := map[string]string{"bootstrap.servers": "src:9092"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{"bootstrap.servers": "src:9092"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name     string
		configs  map[string]string
		previous map[string]string
		creating bool
		want     error
	}{
		{"minimal", base, nil, true, nil},
		{"missing bootstrap", map[string]string{}, nil, true, ErrInvalidConfig},
		{"bad bootstrap", with("bootstrap.servers", "nohost"), nil, true, ErrInvalidConfig},
		{"unknown key", with("no.such", "1"), nil, true, ErrUnknownConfig},
		{"prefix at create", with("cluster.link.prefix", "dr."), nil, true, nil},
		{"prefix too long", with("cluster.link.prefix", "abcdefghijklm"), nil, true, ErrInvalidConfig},
		{"prefix changed later", with("cluster.link.prefix", "x."), with("cluster.link.prefix", "dr."), false, ErrCreateOnly},
		{"prefix kept later", with("cluster.link.prefix", "dr."), with("cluster.link.prefix", "dr."), false, nil},
		{"prefix removed later", base, with("cluster.link.prefix", "dr."), false, ErrCreateOnly},
		{"source mode", with("link.mode", "SOURCE"), nil, true, nil},
		{"source mode inbound", with("link.mode", "SOURCE", "connection.mode", "INBOUND"), nil, true, ErrInvalidConfig},
		{"source mode behavioural key", with("link.mode", "SOURCE", "consumer.offset.sync.enable", "true"), nil, true, ErrInvalidConfig},
		{"source mode local", with("link.mode", "SOURCE", "local.listener.name", "INTERNAL", "local.security.protocol", "SASL_PLAINTEXT",
			"local.sasl.mechanism", "PLAIN", "local.sasl.jaas.config", `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";`), nil, true, nil},
		{"source mode bad local jaas", with("link.mode", "SOURCE", "local.security.protocol", "SASL_PLAINTEXT",
			"local.sasl.mechanism", "PLAIN", "local.sasl.jaas.config", "x"), nil, true, ErrInvalidConfig},
		{"local on destination", with("local.listener.name", "INTERNAL"), nil, true, ErrInvalidConfig},
		{"inbound with bootstrap", with("connection.mode", "INBOUND"), nil, true, ErrInvalidConfig},
		{"inbound", map[string]string{"connection.mode": "INBOUND", "cluster.link.prefix": "dr."}, nil, true, nil},
		{"inbound bidirectional", map[string]string{"connection.mode": "INBOUND", "link.mode": "BIDIRECTIONAL"}, nil, true, nil},
		{"bidirectional", with("link.mode", "bidirectional", "local.security.protocol", "PLAINTEXT"), nil, true, nil},
		{"bidirectional group prefix", with("link.mode", "BIDIRECTIONAL", "consumer.group.prefix.enable", "true", "cluster.link.prefix", "dr."), nil, true, ErrInvalidConfig},
		{"bidirectional missing bootstrap", map[string]string{"link.mode": "BIDIRECTIONAL"}, nil, true, ErrInvalidConfig},
		{"bad mode", with("link.mode", "SIDEWAYS"), nil, true, ErrInvalidConfig},
		{"offset sync on", with("consumer.offset.sync.enable", "true"), nil, true, nil},
		{"offset sync on with filters", with("consumer.offset.sync.enable", "true", "consumer.offset.group.filters",
			`{"groupFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}]}`), nil, true, nil},
		{"offset sync too fast", with("consumer.offset.sync.ms", "999"), nil, true, ErrInvalidConfig},
		{"offset sync interval", with("consumer.offset.sync.ms", "1000"), base, false, nil},
		{"bad group filters", with("consumer.offset.group.filters", `{"groupFilters":[{"name":"a","patternType":"REGEX"}]}`), nil, true, ErrInvalidConfig},
		{"bad group filters later", with("consumer.offset.group.filters", `not json`), base, false, ErrInvalidConfig},
		{"group prefix without link prefix", with("consumer.group.prefix.enable", "true"), nil, true, ErrInvalidConfig},
		{"group prefix with link prefix", with("consumer.group.prefix.enable", "true", "cluster.link.prefix", "dr."), nil, true, nil},
		{"acl sync on without filters", with("acl.sync.enable", "true"), nil, true, ErrInvalidConfig},
		{"acl sync on with empty filters", with("acl.sync.enable", "true", "acl.filters", `{"aclFilters":[]}`), nil, true, ErrInvalidConfig},
		{"acl sync on", with("acl.sync.enable", "true", "acl.filters", aclFiltersAll), nil, true, nil},
		{"acl sync on later", with("acl.sync.enable", "true", "acl.filters", aclFiltersAll, "acl.sync.ms", "1000"), base, false, nil},
		{"acl sync with prefix", with("acl.sync.enable", "true", "acl.filters", aclFiltersAll, "cluster.link.prefix", "dr."), nil, true, ErrInvalidConfig},
		{"acl filters while off", with("acl.filters", aclFiltersAll), nil, true, nil},
		{"acl filters bad JSON", with("acl.filters", `{"aclFilters":[`), nil, true, ErrInvalidConfig},
		{"acl filters bad value", with("acl.filters", `{"aclFilters":[{"resourceFilter":{"resourceType":"topics","patternType":"literal"},"accessFilter":{"operation":"any","permissionType":"any"}}]}`), base, false, ErrInvalidConfig},
		{"acl sync too fast", with("acl.sync.ms", "10"), nil, true, ErrInvalidConfig},
		{"offset sync off", with("consumer.offset.sync.enable", "false"), nil, true, nil},
		{"start latest", with("mirror.start.offset.spec", "latest"), nil, true, nil},
		{"start timestamp", with("mirror.start.offset.spec", "2026-11-21T10:00:00Z"), nil, true, nil},
		{"start bad", with("mirror.start.offset.spec", "yesterday"), nil, true, ErrInvalidConfig},
		{"sync too fast", with("topic.config.sync.ms", "10"), nil, true, ErrInvalidConfig},
		{"auto-create on", with("auto.create.mirror.topics.enable", "true", "auto.create.mirror.topics.filters", `{"topicFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}]}`), nil, true, nil},
		{"auto-create filters bad JSON", with("auto.create.mirror.topics.filters", `{"topicFilters":[`), nil, true, ErrInvalidConfig},
		{"auto-create filters group key", with("auto.create.mirror.topics.filters", `{"groupFilters":[{"name":"*"}]}`), nil, true, ErrInvalidConfig},
		{"auto-create filters altered bad", with("auto.create.mirror.topics.filters", `{"topicFilters":[{"name":"a","patternType":"REGEX"}]}`), base, false, ErrInvalidConfig},
		{"auto-create interval too small", with("auto.create.mirror.topics.interval.ms", "10"), nil, true, ErrInvalidConfig},
		{"sasl plaintext", with("security.protocol", "SASL_PLAINTEXT", "sasl.mechanism", "PLAIN", "sasl.jaas.config",
			`org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";`), nil, true, nil},
		{"sasl bad jaas", with("security.protocol", "SASL_PLAINTEXT", "sasl.mechanism", "PLAIN", "sasl.jaas.config", "x"), nil, true, ErrInvalidConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateConfigs(tt.configs, tt.previous, tt.creating)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDescribeMasksSensitiveAndReportsSources(t *testing.T) {
	entries := Describe(map[string]string{"bootstrap.servers": "src:9092", "sasl.jaas.config": "secret"})
	seen := map[string]Entry{}
	for _, e := range entries {
		seen[e.Name] = e
	}
	if e := seen["sasl.jaas.config"]; !e.Sensitive || !e.IsNull || e.Value != "" || e.Source != SourceDynamic {
		t.Errorf("sensitive entry %+v", e)
	}
	if e := seen["bootstrap.servers"]; e.Value != "src:9092" || e.Source != SourceDynamic || e.IsDefault {
		t.Errorf("bootstrap entry %+v", e)
	}
	if e := seen["topic.config.sync.ms"]; e.Value != "5000" || e.Source != SourceDefault || !e.IsDefault {
		t.Errorf("default entry %+v", e)
	}
	if e := seen["cluster.link.prefix"]; !e.IsNull || !e.ReadOnly {
		t.Errorf("prefix entry %+v", e)
	}
	if Millis(map[string]string{}, "topic.config.sync.ms").Milliseconds() != 5000 {
		t.Error("Millis default")
	}
}

// TestStartOffsetSpecOneParser: the link accepts exactly what the data
// path parses — a zone-less timestamp (which docs/mirroring.md promises
// and the link's own validator used to refuse) included.
func TestStartOffsetSpecOneParser(t *testing.T) {
	for _, v := range []string{"earliest", "latest", "LATEST", "2024-05-01T12:00:00Z", "2024-05-01T14:00:00.5+02:00", "2024-05-01T12:00:00"} {
		if err := ValidateConfigs(map[string]string{"bootstrap.servers": "h:9092", "mirror.start.offset.spec": v}, nil, true); err != nil {
			t.Errorf("%q refused: %v", v, err)
		}
	}
	for _, v := range []string{"yesterday", "2024-13-01T00:00:00Z", "12345"} {
		if err := ValidateConfigs(map[string]string{"bootstrap.servers": "h:9092", "mirror.start.offset.spec": v}, nil, true); err == nil {
			t.Errorf("%q accepted", v)
		}
	}
}

// TestGroupFilters: consumer.offset.group.filters as cluster-linking.md
// §3.1 describes it: LITERAL and PREFIXED names, "*" for every group,
// INCLUDE by default, EXCLUDE wins, no match (or no filter) syncs nothing.
func TestGroupFilters(t *testing.T) {
	const all = `{"groupFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}]}`
	tests := []struct {
		name    string
		json    string
		bad     string // a substring of the error, "" when valid
		match   []string
		noMatch []string
	}{
		{name: "empty", json: "", noMatch: []string{"a", "*"}},
		{name: "empty list", json: `{"groupFilters":[]}`, noMatch: []string{"a"}},
		{name: "star", json: all, match: []string{"a", "orders-app", "*"}},
		{name: "literal", json: `{"groupFilters":[{"name":"app","patternType":"LITERAL","filterType":"INCLUDE"}]}`,
			match: []string{"app"}, noMatch: []string{"app2", "ap"}},
		{name: "prefixed", json: `{"groupFilters":[{"name":"app-","patternType":"PREFIXED"}]}`,
			match: []string{"app-1", "app-"}, noMatch: []string{"app", "x-app-1"}},
		{name: "defaults and any case", json: `{"groupFilters":[{"name":"app","patternType":"literal","filterType":"include"}]}`,
			match: []string{"app"}},
		{name: "exclude wins", json: `{"groupFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"},
			{"name":"my-consumer-group","patternType":"LITERAL","filterType":"EXCLUDE"}]}`,
			match: []string{"other"}, noMatch: []string{"my-consumer-group"}},
		{name: "exclude before include", json: `{"groupFilters":[{"name":"tmp-","patternType":"PREFIXED","filterType":"EXCLUDE"},
			{"name":"tmp-keep","patternType":"LITERAL"}]}`, noMatch: []string{"tmp-keep", "tmp-x", "other"}},
		{name: "only exclude", json: `{"groupFilters":[{"name":"a","filterType":"EXCLUDE"}]}`, noMatch: []string{"a", "b"}},
		{name: "not json", json: `groupFilters`, bad: "not a JSON object"},
		{name: "no array", json: `{}`, bad: `no "groupFilters" list`},
		{name: "unknown field", json: `{"groupFilters":[{"name":"a","pattern":"LITERAL"}]}`, bad: "unknown field"},
		{name: "no name", json: `{"groupFilters":[{"patternType":"LITERAL"}]}`, bad: "name is empty"},
		{name: "bad pattern", json: `{"groupFilters":[{"name":"a","patternType":"MATCH"}]}`, bad: "(LITERAL or PREFIXED)"},
		{name: "bad filter", json: `{"groupFilters":[{"name":"a","filterType":"DENY"}]}`, bad: "(INCLUDE or EXCLUDE)"},
		{name: "trailing", json: all + `{}`, bad: "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, err := ParseGroupFilters(tt.json)
			if tt.bad != "" {
				if err == nil || !strings.Contains(err.Error(), tt.bad) {
					t.Fatalf("err = %v, want one containing %q", err, tt.bad)
				}
				verr := ValidateConfigs(map[string]string{"bootstrap.servers": "h:9092", "consumer.offset.group.filters": tt.json}, nil, true)
				if !errors.Is(verr, ErrInvalidConfig) || !strings.Contains(verr.Error(), "consumer.offset.group.filters") {
					t.Errorf("ValidateConfigs: %v", verr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range tt.match {
				if !fs.Match(g) {
					t.Errorf("%q not selected", g)
				}
			}
			for _, g := range tt.noMatch {
				if fs.Match(g) {
					t.Errorf("%q selected", g)
				}
			}
		})
	}
}

// TestTopicFiltersError: the reason ends the message (docs/link-configs.md
// quotes it), after the key and value the registry names once.
func TestTopicFiltersError(t *testing.T) {
	err := ValidateConfigs(map[string]string{"bootstrap.servers": "src:9092", "auto.create.mirror.topics.filters": `{"topicFilter":[]}`}, nil, true)
	want := `invalid cluster link config auto.create.mirror.topics.filters="{\"topicFilter\":[]}": unknown field "topicFilter" (want {"topicFilters": [...]})`
	if !errors.Is(err, ErrInvalidConfig) || !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("err = %v, want ending %s", err, want)
	}
}
