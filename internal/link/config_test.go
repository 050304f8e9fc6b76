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
		{"source mode", with("link.mode", "SOURCE"), nil, true, ErrNotSupported},
		{"inbound", with("connection.mode", "INBOUND"), nil, true, ErrNotSupported},
		{"bad mode", with("link.mode", "SIDEWAYS"), nil, true, ErrInvalidConfig},
		{"offset sync on", with("consumer.offset.sync.enable", "true"), nil, true, ErrNotSupported},
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
		{"sasl stored", with("security.protocol", "SASL_SSL", "sasl.mechanism", "PLAIN", "sasl.jaas.config", "x"), nil, true, nil},
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

// TestTopicFiltersError: the reason ends the message (docs/link-configs.md
// quotes it), after the key and value the registry names once.
func TestTopicFiltersError(t *testing.T) {
	err := ValidateConfigs(map[string]string{"bootstrap.servers": "src:9092", "auto.create.mirror.topics.filters": `{"topicFilter":[]}`}, nil, true)
	want := `invalid value: auto.create.mirror.topics.filters="{\"topicFilter\":[]}": unknown field "topicFilter" (want {"topicFilters": [...]})`
	if !errors.Is(err, ErrInvalidConfig) || !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("err = %v, want ending %s", err, want)
	}
}
