package mirror_test

// Auto-created mirror topics (issue #11 item 3), between real brokers and
// from kfake.

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/link"
	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

const (
	acInterval = 300 * time.Millisecond
	allTopics  = `{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}`
)

func topicFiltersJSON(filters ...string) string {
	return `{"topicFilters":[` + strings.Join(filters, ",") + `]}`
}

// autoCreateLink is a link config with auto-create on.
func autoCreateLink(bootstrap, prefix, filters string) map[string]string {
	cfg := map[string]string{"bootstrap.servers": bootstrap, "replica.fetch.wait.max.ms": "100",
		"auto.create.mirror.topics.enable": "true", "auto.create.mirror.topics.filters": filters,
		"auto.create.mirror.topics.interval.ms": "300"}
	if prefix != "" {
		cfg["cluster.link.prefix"] = prefix
	}
	return cfg
}

func createTopics(t *testing.T, cl *kgo.Client, partitions int32, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := kadm.NewClient(cl).CreateTopic(ctxT(t), partitions, 1, nil, n); err != nil {
			t.Fatalf("creating %s: %v", n, err)
		}
	}
}

func hasMirror(b *tandemtest.Broker, link, name string) bool {
	tp, err := b.Node.Broker().TopicByName(name)
	return err == nil && tp.Mirror != nil && tp.Mirror.Link == link
}

func hasTopic(b *tandemtest.Broker, name string) bool {
	_, err := b.Node.Broker().TopicByName(name)
	return err == nil
}

func taskOf(t *testing.T, lm *link.Manager, l, name string) link.TaskStatus {
	t.Helper()
	info, err := lm.Link(l)
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range info.Tasks {
		if ts.Name == name {
			return ts
		}
	}
	t.Fatalf("link %s has no task %s: %+v", l, name, info.Tasks)
	return link.TaskStatus{}
}

// sameBytes waits until mirror dst (on dcl) has caught up with src (on
// scl) and compares every partition's batches byte for byte.
func sameBytes(t *testing.T, scl, dcl *kgo.Client, src, dst string) {
	t.Helper()
	ends, err := kadm.NewClient(scl).ListEndOffsets(ctxT(t), src)
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, dst+" catches up with "+src, func() bool {
		dends, err := kadm.NewClient(dcl).ListEndOffsets(ctxT(t), dst)
		caught := err == nil
		ends.Each(func(o kadm.ListedOffset) {
			if d, ok := dends.Lookup(dst, o.Partition); !ok || d.Offset != o.Offset {
				caught = false
			}
		})
		return caught
	})
	total := 0
	ends.Each(func(o kadm.ListedOffset) {
		s, d := rawBatches(t, scl, src, o.Partition, o.Offset), rawBatches(t, dcl, dst, o.Partition, o.Offset)
		total += len(s)
		if !bytes.Equal(s, d) {
			t.Errorf("%s-%d: mirror %s has %d bytes, differing from the source's %d", src, o.Partition, dst, len(d), len(s))
		}
	})
	if total == 0 {
		t.Errorf("%s: no data compared", src)
	}
}

// TestAutoCreateMirrors: with auto-create on, matching source topics
// become mirrors at once and a new one within one interval, byte for
// byte; excluded and internal topics never do; a mirror created by hand
// is left as it is; a local topic under a mirror's name is reported in the
// task's error (in describe with include_tasks) and left alone; a filter
// edit takes effect at once.
func TestAutoCreateMirrors(t *testing.T) {
	src := tandemtest.Start(t)
	dst := tandemtest.Start(t)
	scl := newClient(t, src.Addr())
	dcl := newClient(t, dst.Addr())
	createTopics(t, scl, 2, "orders", "tmp.scratch", "manual", "taken", "_confluent-metrics")
	for _, n := range []string{"orders", "tmp.scratch", "manual", "taken"} {
		produceN(t, scl, n, 50)
	}
	// __consumer_offsets exists on the source.
	if err := kadm.NewClient(scl).CommitAllOffsets(ctxT(t), "g", kadm.Offsets{"orders": {0: {At: 1}}}); err != nil {
		t.Fatal(err)
	}
	createTopics(t, dcl, 1, "taken") // an ordinary local topic under a mirror's name

	lm := dst.Node.Links()
	// A mirror created by hand before auto-create is on, then paused.
	if err := lm.CreateLink(ctxT(t), "dr", "", map[string]string{"bootstrap.servers": src.Addr(), "replica.fetch.wait.max.ms": "100"}, false, true); err != nil {
		t.Fatal(err)
	}
	if err := lm.CreateMirror(ctxT(t), "dr", "manual", "", nil, false); err != nil {
		t.Fatal(err)
	}
	if res, _ := lm.AlterMirrors(ctxT(t), "dr", "pause", []string{"manual"}, "", false); res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	if ts := taskOf(t, lm, "dr", link.TaskAutoCreateMirror); ts.State != link.TaskNotConfigured {
		t.Fatalf("auto-create off: task %+v", ts)
	}

	// Every topic is selected, and __consumer_offsets by name too:
	// internal topics are skipped whatever the filters say.
	filters := topicFiltersJSON(allTopics, `{"name":"__consumer_offsets","patternType":"LITERAL","filterType":"INCLUDE"}`,
		`{"name":"tmp.","patternType":"PREFIXED","filterType":"EXCLUDE"}`)
	if err := lm.AlterLinkConfigs("dr", autoCreateLink(src.Addr(), "", filters), false); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "orders auto-created", func() bool { return hasMirror(dst, "dr", "orders") })
	sameBytes(t, scl, dcl, "orders", "orders")

	// A new source topic: a mirror within one interval.
	createTopics(t, scl, 3, "late")
	produceN(t, scl, "late", 100)
	took := waitUntil(t, 10*time.Second, "late auto-created", func() bool { return hasMirror(dst, "dr", "late") })
	t.Logf("new source topic mirrored after %v (interval %v)", took, acInterval)
	if took > acInterval+time.Second {
		t.Errorf("late mirrored after %v, interval %v", took, acInterval)
	}
	sameBytes(t, scl, dcl, "late", "late")
	if tp, _ := dst.Node.Broker().TopicByName("late"); tp.Partitions != 3 {
		t.Errorf("late has %d partitions, the source 3", tp.Partitions)
	}

	time.Sleep(3 * acInterval) // more runs
	for _, n := range []string{"tmp.scratch", "__consumer_offsets", "_confluent-metrics"} {
		if hasMirror(dst, "dr", n) {
			t.Errorf("%s was mirrored", n)
		}
	}
	if tp, _ := dst.Node.Broker().TopicByName("taken"); tp.Mirror != nil {
		t.Errorf("the local topic taken became a mirror: %+v", tp.Mirror)
	}
	if mi := mirrorOf(t, lm, "dr", "manual"); mi.State != metadata.MirrorPaused {
		t.Errorf("the mirror created by hand is %s, not PAUSED", mi.State)
	}
	ts := taskOf(t, lm, "dr", link.TaskAutoCreateMirror)
	if ts.State != link.TaskInError || ts.ErrorCode != "MISCONFIGURATION_ERROR" || !strings.Contains(ts.ErrorMessage, "taken exists and is not a mirror topic") || ts.Runs < 3 {
		t.Errorf("task with a conflict: %+v", ts)
	}
	// The same in describe with include_tasks.
	var doc struct {
		Tasks []struct {
			TaskName string `json:"task_name"`
			State    string `json:"state"`
			Errors   []struct {
				ErrorCode    string `json:"error_code"`
				ErrorMessage string `json:"error_message"`
			} `json:"errors"`
		} `json:"tasks"`
	}
	body := tandemtest.Get(t, "http://"+dst.HTTPAddr()+"/kafka/v3/clusters/"+dst.Node.ClusterID()+"/links/dr?include_tasks=true")
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tk := range doc.Tasks {
		if tk.TaskName == "AutoCreateMirror" {
			found = tk.State == "IN_ERROR" && len(tk.Errors) == 1 && tk.Errors[0].ErrorCode == "MISCONFIGURATION_ERROR" &&
				strings.Contains(tk.Errors[0].ErrorMessage, "taken")
		}
	}
	if !found {
		t.Errorf("describe include_tasks: %s", body)
	}

	// Once the conflict is gone the task is ACTIVE again (the topic is
	// mirrored); a filter edit applies at once.
	if _, err := kadm.NewClient(dcl).DeleteTopic(ctxT(t), "taken"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "taken mirrored once free", func() bool { return hasMirror(dst, "dr", "taken") })
	waitUntil(t, 5*time.Second, "task ACTIVE", func() bool {
		return taskOf(t, lm, "dr", link.TaskAutoCreateMirror).State == link.TaskActive
	})
	if err := lm.AlterLinkConfigs("dr", autoCreateLink(src.Addr(), "", topicFiltersJSON(`{"name":"tmp.","patternType":"PREFIXED"}`)), false); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "tmp.scratch mirrored after the filter edit", func() bool { return hasMirror(dst, "dr", "tmp.scratch") })
	sameBytes(t, scl, dcl, "tmp.scratch", "tmp.scratch")

	// An invalid filter is refused and changes nothing; empty filters
	// select nothing and put the task in error.
	if err := lm.AlterLinkConfigs("dr", autoCreateLink(src.Addr(), "", `{"topicFilters":[{"name":"x","patternType":"REGEX"}]}`), false); err == nil ||
		!strings.Contains(err.Error(), "patternType") {
		t.Errorf("invalid filters: %v", err)
	}
	if err := lm.AlterLinkConfigs("dr", autoCreateLink(src.Addr(), "", ""), false); err != nil {
		t.Fatal(err)
	}
	createTopics(t, scl, 1, "after-empty")
	waitUntil(t, 5*time.Second, "task IN_ERROR without filters", func() bool {
		ts := taskOf(t, lm, "dr", link.TaskAutoCreateMirror)
		return ts.State == link.TaskInError && ts.ErrorCode == "MISCONFIGURATION_ERROR" && strings.Contains(ts.ErrorMessage, "filters is empty")
	})
	if hasTopic(dst, "after-empty") {
		t.Error("empty filters selected a topic")
	}
}

// TestAutoCreateLoopRules: in a chain A→B→C with prefixes, C does not
// mirror B's mirrors (no b.a.t), nor a topic named with its own prefix;
// links in both directions between A and B (prefixes a. and b.) mirror
// each other's own topics only; a chain without prefixes is allowed.
func TestAutoCreateLoopRules(t *testing.T) {
	a, b, c, d := tandemtest.Start(t), tandemtest.Start(t), tandemtest.Start(t), tandemtest.Start(t)
	acl, bcl, ccl, dcl := newClient(t, a.Addr()), newClient(t, b.Addr()), newClient(t, c.Addr()), newClient(t, d.Addr())
	createTopics(t, acl, 1, "t", "a.y")
	createTopics(t, bcl, 1, "u", "b.x")
	for _, p := range []struct {
		cl    *kgo.Client
		topic string
	}{{acl, "t"}, {acl, "a.y"}, {bcl, "u"}, {bcl, "b.x"}} {
		produceN(t, p.cl, p.topic, 20)
	}
	all := topicFiltersJSON(allTopics)
	mk := func(on *tandemtest.Broker, name string, from *tandemtest.Broker, prefix string) *link.Manager {
		lm := on.Node.Links()
		if err := lm.CreateLink(ctxT(t), name, "", autoCreateLink(from.Addr(), prefix, all), false, true); err != nil {
			t.Fatal(err)
		}
		return lm
	}
	lb := mk(b, "from-a", a, "a.") // A→B
	lc := mk(c, "from-b", b, "b.") // B→C
	la := mk(a, "from-b", b, "b.") // B→A: A and B mirror each other
	ld := mk(d, "from-b", b, "")   // B→D, no prefix: chaining allowed

	waitUntil(t, 10*time.Second, "a.t on B", func() bool { return hasMirror(b, "from-a", "a.t") })
	waitUntil(t, 10*time.Second, "b.u on C", func() bool { return hasMirror(c, "from-b", "b.u") })
	waitUntil(t, 10*time.Second, "b.u on A", func() bool { return hasMirror(a, "from-b", "b.u") })
	waitUntil(t, 10*time.Second, "a.t and u on D", func() bool {
		return hasMirror(d, "from-b", "a.t") && hasMirror(d, "from-b", "u") && hasMirror(d, "from-b", "b.x")
	})
	sameBytes(t, bcl, ccl, "u", "b.u")
	sameBytes(t, acl, dcl, "t", "a.t") // A→B→D, byte for byte
	time.Sleep(5 * acInterval)
	for _, n := range []struct {
		on   *tandemtest.Broker
		name string
		why  string
	}{
		{c, "b.a.t", "C mirrored B's mirror a.t"},
		{c, "b.b.x", "C mirrored b.x, named with its own prefix"},
		{b, "a.a.y", "B mirrored a.y, named with its own prefix"},
		{b, "a.b.u", "B mirrored A's mirror b.u (a loop)"},
		{a, "b.a.t", "A mirrored B's mirror a.t (a loop)"},
	} {
		if hasTopic(n.on, n.name) {
			t.Errorf("%s: %s exists", n.why, n.name)
		}
	}
	for _, l := range []struct {
		lm   *link.Manager
		name string
	}{{lb, "from-a"}, {lc, "from-b"}, {la, "from-b"}, {ld, "from-b"}} {
		if ts := taskOf(t, l.lm, l.name, link.TaskAutoCreateMirror); ts.State != link.TaskActive || ts.Runs < 2 {
			t.Errorf("%s: task %+v", l.name, ts)
		}
	}
}

// TestAutoCreateFromKfake auto-creates mirrors of kfake topics (a Kafka we
// did not write), with a prefix: the source is asked whether its topics
// are mirrors, and kfake's answers (none is) let every topic through.
func TestAutoCreateFromKfake(t *testing.T) {
	src, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(2, "k1", "k2"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	seeds := src.ListenAddrs()
	scl := newClient(t, seeds[0])
	for _, n := range []string{"k1", "k2"} {
		produceN(t, scl, n, 100)
	}
	dst := tandemtest.Start(t)
	dcl := newClient(t, dst.Addr())
	lm := dst.Node.Links()
	cfg := autoCreateLink(seeds[0], "kf.", topicFiltersJSON(`{"name":"k","patternType":"PREFIXED"}`, `{"name":"k2","filterType":"EXCLUDE"}`))
	cfg["metadata.max.age.ms"] = "1000"
	if err := lm.CreateLink(ctxT(t), "k", "", cfg, false, true); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "kf.k1 auto-created", func() bool { return hasMirror(dst, "k", "kf.k1") })
	createTopics(t, scl, 2, "k3")
	produceN(t, scl, "k3", 100)
	waitUntil(t, 10*time.Second, "kf.k3 auto-created", func() bool { return hasMirror(dst, "k", "kf.k3") })
	produceN(t, scl, "k1", 100)
	sameBytes(t, scl, dcl, "k1", "kf.k1")
	sameBytes(t, scl, dcl, "k3", "kf.k3")
	if hasTopic(dst, "kf.k2") {
		t.Error("the excluded k2 was mirrored")
	}
	if ts := taskOf(t, lm, "k", link.TaskAutoCreateMirror); ts.State != link.TaskActive {
		t.Errorf("task %+v", ts)
	}
}

// TestAutoCreateRacingLinkDeletion deletes a link while its task is
// creating mirrors: no mirror of the deleted link is left behind.
func TestAutoCreateRacingLinkDeletion(t *testing.T) {
	src := tandemtest.Start(t)
	dst := tandemtest.Start(t)
	scl := newClient(t, src.Addr())
	names := make([]string, 30)
	for i := range names {
		names[i] = "t" + strconv.Itoa(i)
	}
	createTopics(t, scl, 1, names...)
	lm := dst.Node.Links()
	for i, wait := range []time.Duration{20 * time.Millisecond, 60 * time.Millisecond, 150 * time.Millisecond} {
		l := "race" + strconv.Itoa(i)
		if err := lm.CreateLink(ctxT(t), l, "", autoCreateLink(src.Addr(), l+".", topicFiltersJSON(allTopics)), false, true); err != nil {
			t.Fatal(err)
		}
		time.Sleep(wait)
		if err := lm.DeleteLink(l, true, false); err != nil {
			t.Fatal(err)
		}
		if ms, _ := lm.Mirrors("", ""); len(ms) != 0 {
			t.Fatalf("after deleting %s: %d mirrors listed", l, len(ms))
		}
		for _, tp := range dst.Node.Broker().Topics() {
			if tp.Mirror != nil {
				t.Fatalf("after deleting %s: %s is still a mirror (%+v)", l, tp.Name, tp.Mirror)
			}
		}
	}
}
