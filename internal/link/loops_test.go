package link

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/metadata"
)

// TestLoopRulesCreateMirror: over a link with cluster.link.prefix "p.", a
// source topic named like the link's own mirrors, and a source topic that
// is a mirror on the source while a topic of its name exists here, are
// refused with ErrMirrorLoop naming the topics; a chain (the source's
// mirror of a third cluster's topic) is allowed.
func TestLoopRulesCreateMirror(t *testing.T) {
	// The source says "t" and "chained" are mirror topics there.
	src := mirrorSource(t, []string{"p.x", "t", "chained"}, "t", "chained")
	// "t" is ours: the source's "t" is its mirror.
	c, m := loopManager(t, src, map[string]string{"cluster.link.prefix": "p."}, "t")
	ctx := context.Background()
	for _, tc := range []struct {
		source string
		want   string // "" when allowed
	}{
		{"p.x", "source topic 'p.x' is named like the mirror topics of cluster link 'l' (cluster.link.prefix 'p.'): its mirror would be 'p.p.x'"},
		{"t", "source topic 't' is a mirror topic on the source cluster and topic 't' exists here"},
		{"chained", ""},
	} {
		err := m.CreateMirror(ctx, "l", tc.source, "", nil, true)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v, want allowed (a chain)", tc.source, err)
			}
			continue
		}
		if !errors.Is(err, ErrMirrorLoop) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrMirrorLoop %q", tc.source, err, tc.want)
		}
	}
	if _, err := c.TopicByName("p.t"); err == nil {
		t.Error("p.t was created")
	}
}

// TestLoopRulesFilters: an auto-create INCLUDE filter that selects only
// names starting with cluster.link.prefix is refused at link create and
// alter; "*", EXCLUDE filters, other names and links without a prefix are
// fine.
func TestLoopRulesFilters(t *testing.T) {
	for _, tc := range []struct {
		prefix, filters string
		bad             bool
	}{
		{"p.", `{"topicFilters":[{"name":"p.orders"}]}`, true},
		{"p.", `{"topicFilters":[{"name":"p.","patternType":"PREFIXED"}]}`, true},
		{"p.", `{"topicFilters":[{"name":"p.or","patternType":"PREFIXED"}]}`, true},
		{"p.", `{"topicFilters":[{"name":"*"}]}`, false},
		{"p.", `{"topicFilters":[{"name":"*"},{"name":"p.","patternType":"PREFIXED","filterType":"EXCLUDE"}]}`, false},
		{"p.", `{"topicFilters":[{"name":"orders"},{"name":"p","patternType":"PREFIXED"}]}`, false},
		{"", `{"topicFilters":[{"name":"p.orders"}]}`, false},
	} {
		cfg := map[string]string{"bootstrap.servers": "h:9092", "auto.create.mirror.topics.enable": "true",
			"auto.create.mirror.topics.filters": tc.filters}
		if tc.prefix != "" {
			cfg["cluster.link.prefix"] = tc.prefix
		}
		err := ValidateConfigs(cfg, nil, true)
		if tc.bad != (err != nil) {
			t.Errorf("prefix %q filters %s: %v, want refused=%v", tc.prefix, tc.filters, err, tc.bad)
			continue
		}
		if tc.bad && (!errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "the names of this link's own mirror topics")) {
			t.Errorf("prefix %q filters %s: %v", tc.prefix, tc.filters, err)
		}
		if tc.bad {
			// Altering an existing link to it is refused too.
			if err := ValidateConfigs(cfg, cfg, false); err == nil {
				t.Errorf("alter to %s accepted", tc.filters)
			}
		}
	}
}

// TestLoopRulesAutoCreateNoPrefix: two links in opposite directions
// without a prefix. The source's mirror of our ordinary topic "t" is not
// mirrored back and is not reported as a conflict; the source's ordinary
// topic "u", named like our ordinary "u", still is; "v" is mirrored.
func TestLoopRulesAutoCreateNoPrefix(t *testing.T) {
	src := mirrorSource(t, []string{"t", "u", "v"}, "t")
	c, m := loopManager(t, src, map[string]string{"auto.create.mirror.topics.enable": "true",
		"auto.create.mirror.topics.interval.ms": "3600000",
		"auto.create.mirror.topics.filters":     `{"topicFilters":[{"name":"*"}]}`}, "t", "u")
	st := waitTaskRun(t, m, "l", TaskAutoCreateMirror)
	if v, err := c.TopicByName("v"); err != nil || v.Mirror == nil {
		t.Errorf("v was not mirrored: %+v %v", v, err)
	}
	if tt, _ := c.TopicByName("t"); tt.Mirror != nil {
		t.Errorf("the ordinary t was changed: %+v", tt.Mirror)
	}
	if st.State != TaskInError || !strings.Contains(st.ErrorMessage, "u exists and is not a mirror topic") || strings.Contains(st.ErrorMessage, "t exists") {
		t.Errorf("task %+v: want IN_ERROR for u only", st)
	}
}

// mirrorSource is a kfake source cluster with topics, of which mirrors
// answer a validate-only legacy AlterConfigs as a Confluent or Tandem
// mirror topic does (autocreate.go, sourceMirrors).
func mirrorSource(t *testing.T, topics []string, mirrors ...string) *kfake.Cluster {
	t.Helper()
	src, err := kfake.NewCluster(kfake.SeedTopics(1, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Close)
	src.ControlKey(kmsg.AlterConfigs.Int16(), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		src.KeepControl()
		req := kreq.(*kmsg.AlterConfigsRequest)
		resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
		for _, r := range req.Resources {
			rr := kmsg.NewAlterConfigsResponseResource()
			rr.ResourceType, rr.ResourceName = r.ResourceType, r.ResourceName
			if slices.Contains(mirrors, r.ResourceName) {
				msg := fmt.Sprintf("Non-incremental configuration updates for mirror topic '%s' are disallowed", r.ResourceName)
				rr.ErrorCode, rr.ErrorMessage = kerr.InvalidConfig.Code, &msg
			}
			resp.Resources = append(resp.Resources, rr)
		}
		return resp, nil, true
	})
	return src
}

// waitTaskRun waits until task has run once on link and returns its
// status.
func waitTaskRun(t *testing.T, m *Manager, link, task string) TaskStatus {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		li, err := m.Link(link)
		if err != nil {
			t.Fatal(err)
		}
		for _, ts := range li.Tasks {
			if ts.Name == task && ts.Runs > 0 {
				return ts
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s of link %s did not run", task, link)
		}
	}
}

// loopManager starts a Manager with link "l" from src (configs added to
// quiet defaults) and the ordinary local topics named.
func loopManager(t *testing.T, src *kfake.Cluster, configs map[string]string, local ...string) (*storeCluster, *Manager) {
	t.Helper()
	store, err := metadata.OpenBolt(t.TempDir(), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cfg := map[string]string{"bootstrap.servers": src.ListenAddrs()[0], "topic.config.sync.ms": "3600000",
		"availability.check.ms": "3600000"}
	maps.Copy(cfg, configs)
	if err := store.CreateLink(metadata.Link{Name: "l", Configs: cfg}); err != nil {
		t.Fatal(err)
	}
	for _, n := range local {
		if err := store.CreateTopic(metadata.Topic{Name: n, Partitions: 1, ReplicationFactor: 1}); err != nil {
			t.Fatal(err)
		}
	}
	c := &storeCluster{Store: store}
	m, err := NewManager(store, c, &modeData{mode: map[string]dataPathMode{}}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return c, m
}
