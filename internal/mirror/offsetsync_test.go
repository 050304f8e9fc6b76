package mirror_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/tandem-streaming/tandem/internal/link"
	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// Consumer offset sync (issue #11 items 1 and 2) with real clients.

const syncInterval = 1000 * time.Millisecond

// consumeAndCommit runs a group member of group on topic until it has
// received n records, commits what it received and leaves the group. It
// returns the records' offsets per partition, in order.
func consumeAndCommit(t *testing.T, addr, group, topic string, n int) map[int32][]int64 {
	t.Helper()
	cl := newClient(t, addr, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
		kgo.FetchMaxWait(100*time.Millisecond), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer cl.Close()
	got := map[int32][]int64{}
	total := 0
	ctx := ctxT(t)
	for total < n {
		fs := cl.PollRecords(ctx, n-total)
		if err := fs.Err0(); err != nil {
			t.Fatalf("poll %s: %v", group, err)
		}
		var recs []*kgo.Record
		fs.EachRecord(func(r *kgo.Record) {
			got[r.Partition] = append(got[r.Partition], r.Offset)
			recs = append(recs, r)
			total++
		})
		if err := cl.CommitRecords(ctx, recs...); err != nil {
			t.Fatalf("commit %s: %v", group, err)
		}
	}
	return got
}

// committed returns a group's committed offsets on topic.
func committed(t *testing.T, cl *kgo.Client, group, topic string) map[int32]kadm.Offset {
	t.Helper()
	os, err := kadm.NewClient(cl).FetchOffsetsForTopics(ctxT(t), group, topic)
	if err != nil {
		return nil
	}
	out := map[int32]kadm.Offset{}
	for p, o := range os[topic] {
		if o.Err == nil && o.At >= 0 {
			out[p] = o.Offset
		}
	}
	return out
}

// sameOffsets says whether two groups' committed offsets are equal
// (offset, leader epoch and metadata).
func sameOffsets(a, b map[int32]kadm.Offset) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	for p, o := range a {
		q, ok := b[p]
		if !ok || o.At != q.At || o.LeaderEpoch != q.LeaderEpoch || o.Metadata != q.Metadata {
			return false
		}
	}
	return true
}

// offsetSyncLink creates topic on the source with the partitions and
// records given (produced with scl), and mirrors it over link "dr" with
// offset sync every syncMs for the groups filters selects.
func offsetSyncLink(t *testing.T, src, dst *tandemtest.Broker, scl *kgo.Client, topic string, partitions int32, records int, syncMs, filters string) *link.Manager {
	t.Helper()
	if _, err := kadm.NewClient(scl).CreateTopic(ctxT(t), partitions, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	produceN(t, scl, topic, records)
	lm := dst.Node.Links()
	cfg := map[string]string{"bootstrap.servers": src.Addr(), "replica.fetch.wait.max.ms": "100",
		"consumer.offset.sync.enable": "true", "consumer.offset.sync.ms": syncMs, "consumer.offset.group.filters": filters}
	if err := lm.CreateLink(ctxT(t), "dr", "", cfg, false, true); err != nil {
		t.Fatal(err)
	}
	if err := lm.CreateMirror(ctxT(t), "dr", topic, "", nil, false); err != nil {
		t.Fatal(err)
	}
	return lm
}

// remainingFrom counts the records of topic at and after the offsets at.
func remainingFrom(t *testing.T, cl *kgo.Client, topic string, at map[int32]kadm.Offset) int {
	t.Helper()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctxT(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ends.Each(func(o kadm.ListedOffset) { n += int(o.Offset - at[o.Partition].At) })
	return n
}

// checkResumed consumes n records with consume and checks that every
// partition was read from its offset in at (0 where none was committed)
// without a gap.
func checkResumed(t *testing.T, at map[int32]kadm.Offset, consume func(n int) map[int32][]int64, n int) {
	t.Helper()
	for p, offs := range consume(n) {
		if offs[0] != at[p].At {
			t.Errorf("partition %d resumed at %d, the synced offset is %d", p, offs[0], at[p].At)
		}
		for i := 1; i < len(offs); i++ {
			if offs[i] != offs[i-1]+1 {
				t.Errorf("partition %d skipped from %d to %d", p, offs[i-1], offs[i])
			}
		}
	}
}

func commitAdmin(t *testing.T, cl *kgo.Client, group, topic string, offs map[int32]int64, md string) {
	t.Helper()
	os := kadm.Offsets{}
	for p, o := range offs {
		os.Add(kadm.Offset{Topic: topic, Partition: p, At: o, LeaderEpoch: -1, Metadata: md})
	}
	r, err := kadm.NewClient(cl).CommitOffsets(ctxT(t), group, os)
	if err == nil {
		err = r.Error()
	}
	if err != nil {
		t.Fatalf("commit %s: %v", group, err)
	}
}

// TestConsumerOffsetSync: a franz-go consumer group commits on the source;
// within one sync interval the destination holds the same offsets (leader
// epoch and metadata included); excluded groups are not synced; a group
// active on the destination is not overwritten; a live filter edit takes
// effect at the next sync; after failover the same group resumes on the
// destination exactly at its synced offsets; and the seed's clamp example
// (source 105, destination 100 → 100) holds end to end.
func TestConsumerOffsetSync(t *testing.T) {
	src := tandemtest.Start(t)
	dst := tandemtest.Start(t)
	scl := newClient(t, src.Addr())
	dcl := newClient(t, dst.Addr())
	sadm := kadm.NewClient(scl)
	if _, err := sadm.CreateTopic(ctxT(t), 2, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	if _, err := sadm.CreateTopic(ctxT(t), 1, 1, nil, "clamp"); err != nil {
		t.Fatal(err)
	}
	// Both partitions of orders get records.
	produceN(t, newClient(t, src.Addr(), kgo.RecordPartitioner(kgo.RoundRobinPartitioner())), "orders", 200)
	produceN(t, scl, "clamp", 100)

	lm := dst.Node.Links()
	filters := `{"groupFilters":[{"name":"app-","patternType":"PREFIXED","filterType":"INCLUDE"},` +
		`{"name":"app-excluded","patternType":"LITERAL","filterType":"EXCLUDE"}]}`
	cfg := map[string]string{"bootstrap.servers": src.Addr(), "replica.fetch.wait.max.ms": "100",
		"consumer.offset.sync.enable": "true", "consumer.offset.sync.ms": fmt.Sprint(syncInterval.Milliseconds()),
		"consumer.offset.group.filters": filters}
	if err := lm.CreateLink(ctxT(t), "dr", "", cfg, false, true); err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"orders", "clamp"} {
		if err := lm.CreateMirror(ctxT(t), "dr", topic, "", nil, false); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 30*time.Second, "mirrors caught up", func() bool {
		var n int64
		for _, topic := range []string{"orders", "clamp"} {
			for _, p := range mirrorOf(t, lm, "dr", topic).Partitions {
				n += p.LocalEndOffset
			}
		}
		return n == 300
	})
	// The clamp example: the mirror holds 100 records, the source 105,
	// and a group has consumed all 105 on the source.
	if res, _ := lm.AlterMirrors(ctxT(t), "dr", "pause", []string{"clamp"}, "", false); res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	produceN(t, scl, "clamp", 5)
	consumeAndCommit(t, src.Addr(), "app-clamp", "clamp", 105)

	// Groups on the source.
	consumeAndCommit(t, src.Addr(), "app-1", "orders", 120)
	commitAdmin(t, scl, "app-meta", "orders", map[int32]int64{0: 3, 1: 4}, "meta-data")
	commitAdmin(t, scl, "app-excluded", "orders", map[int32]int64{0: 5}, "")
	commitAdmin(t, scl, "late-1", "orders", map[int32]int64{0: 6}, "")
	commitAdmin(t, scl, "app-active", "orders", map[int32]int64{0: 50, 1: 50}, "")

	// A group active on the destination, with its own offsets.
	act := newClient(t, dst.Addr(), kgo.ConsumerGroup("app-active"), kgo.ConsumeTopics("orders"), kgo.DisableAutoCommit(),
		kgo.FetchMaxWait(100*time.Millisecond))
	waitUntil(t, 30*time.Second, "destination group active", func() bool {
		act.PollRecords(ctxT(t), 1) // joins the group
		d, err := kadm.NewClient(dcl).DescribeGroups(ctxT(t), "app-active")
		return err == nil && d["app-active"].State == "Stable"
	})
	act.CommitOffsetsSync(ctxT(t), map[string]map[int32]kgo.EpochOffset{"orders": {0: {Epoch: -1, Offset: 7}, 1: {Epoch: -1, Offset: 7}}},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, _ *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				t.Errorf("destination commit: %v", err)
			}
		})

	start := time.Now()
	srcApp1 := committed(t, scl, "app-1", "orders")
	took := waitUntil(t, 10*syncInterval, "app-1 synced", func() bool {
		return sameOffsets(srcApp1, committed(t, dcl, "app-1", "orders"))
	})
	t.Logf("app-1 synced after %v (interval %v)", took, syncInterval)
	if took > 2*syncInterval+time.Second {
		t.Errorf("offsets appeared after %v, more than one sync interval (%v) and a margin", took, syncInterval)
	}
	waitUntil(t, 5*syncInterval, "app-meta synced with metadata", func() bool {
		return sameOffsets(committed(t, scl, "app-meta", "orders"), committed(t, dcl, "app-meta", "orders"))
	})
	if got := committed(t, dcl, "app-meta", "orders"); got[0].Metadata != "meta-data" {
		t.Errorf("metadata not copied: %+v", got)
	}
	if got := committed(t, dcl, "app-1", "orders"); got[0].LeaderEpoch < 0 {
		t.Errorf("leader epoch not copied: %+v (source %+v)", got, srcApp1)
	}
	// Clamped to the mirror's end while the mirror does not have 105.
	waitUntil(t, 5*syncInterval, "app-clamp clamped", func() bool {
		o := committed(t, dcl, "app-clamp", "clamp")
		return len(o) == 1 && o[0].At == 100
	})
	// Two more intervals: excluded and unselected groups stay away; the
	// active destination group keeps its own offsets.
	time.Sleep(2*syncInterval - time.Since(start)%syncInterval)
	if got := committed(t, dcl, "app-excluded", "orders"); len(got) != 0 {
		t.Errorf("excluded group synced: %+v", got)
	}
	if got := committed(t, dcl, "late-1", "orders"); len(got) != 0 {
		t.Errorf("unselected group synced: %+v", got)
	}
	if got := committed(t, dcl, "app-active", "orders"); got[0].At != 7 || got[1].At != 7 {
		t.Errorf("active destination group overwritten: %+v", got)
	}
	lags, err := lm.GroupOffsetLags("dr")
	if err != nil {
		t.Fatal(err)
	}
	var sawActive, sawClamp bool
	for _, l := range lags {
		switch {
		case l.Group == "app-active":
			sawActive = l.Status == link.OffsetGroupActive && l.LocalOffset == 7 && l.SourceOffset == 50 && l.Lag == 43
		case l.Group == "app-clamp":
			sawClamp = l.Status == link.OffsetClampedToMirrorEnd && l.SourceOffset == 105 && l.LocalOffset == 100 && l.Lag == 5
		case l.Group == "app-1" && l.Lag != 0:
			t.Errorf("app-1 offset lag: %+v", l)
		}
	}
	if !sawActive || !sawClamp {
		t.Errorf("offset lags: %+v", lags)
	}
	// Link describe (REST, include_tasks) shows them per group.
	body := tandemtest.Get(t, "http://"+dst.HTTPAddr()+"/kafka/v3/clusters/"+dst.Node.ClusterID()+"/links/dr?include_tasks=true")
	for _, want := range []string{`"group_id":"app-active","source_group_id":"app-active","mirror_topic_name":"orders","partition_id":0,"source_offset":50,"destination_offset":7,"offset_lag":43,"status":"GROUP_ACTIVE"`,
		`"group_id":"app-clamp","source_group_id":"app-clamp","mirror_topic_name":"clamp","partition_id":0,"source_offset":105,"destination_offset":100,"offset_lag":5,"status":"CLAMPED_TO_MIRROR_END"`,
		`"group_id":"app-1","source_group_id":"app-1","mirror_topic_name":"orders","partition_id":1,"source_offset":`} {
		if !strings.Contains(strings.ReplaceAll(body, " ", ""), want) {
			t.Errorf("link describe lacks %s:\n%s", want, body)
		}
	}
	// And per group, the most offset lag first: app-active (43 on
	// orders-0, not synced) leads.
	var described struct {
		Lags []struct {
			Group      string `json:"group_id"`
			Lag        int64  `json:"offset_lag"`
			Status     string `json:"status"`
			LastSyncMs int64  `json:"last_sync_ms"`
		} `json:"consumer_group_lags"`
		Synced int `json:"consumer_groups_synced"`
	}
	if err := json.Unmarshal([]byte(body), &described); err != nil {
		t.Fatal(err)
	}
	if l := described.Lags; len(l) == 0 || l[0].Group != "app-active" || l[0].Lag < 43 || l[0].Status != link.OffsetGroupActive ||
		time.Since(time.UnixMilli(l[0].LastSyncMs)) > time.Minute || described.Synced != len(l) {
		t.Errorf("consumer_group_lags: %+v (%d synced)", l, described.Synced)
	}
	// Prometheus: per link, the groups synced and their offset lag.
	groups, total, maxLag := map[string]bool{}, int64(0), int64(0)
	for _, l := range lags {
		groups[l.Group] = true
		if l.Lag > 0 {
			total += l.Lag
			maxLag = max(maxLag, l.Lag)
		}
	}
	if total < 48 || maxLag != 43 {
		t.Errorf("offset lags sum to %d, max %d; want at least 43+5 and 43", total, maxLag)
	}
	scrape := tandemtest.Get(t, "http://"+dst.HTTPAddr()+"/metrics")
	for _, want := range []string{
		fmt.Sprintf(`tandem_link_consumer_offset_sync_groups{link="dr"} %d`, len(groups)),
		fmt.Sprintf(`tandem_link_consumer_offset_lag_total{link="dr"} %d`, total),
		fmt.Sprintf(`tandem_link_consumer_offset_lag_max{link="dr"} %d`, maxLag),
	} {
		if !strings.Contains(scrape, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The console's readiness: the clamp mirror's group would re-read 5.
	if body := tandemtest.Get(t, "http://"+dst.HTTPAddr()+"/console/api/readiness"); !strings.Contains(body, `"consumer_offset_lag":5,"consumer_offsets":"synced, offset lag 5"`) {
		t.Errorf("console readiness lacks the offset lag:\n%s", body)
	}
	info, _ := lm.Link("dr")
	for _, ts := range info.Tasks {
		if ts.Name == link.TaskConsumerOffsetSync && (ts.State != link.TaskActive || ts.Runs == 0) {
			t.Errorf("task %+v", ts)
		}
	}
	act.Close()

	// A live filter edit takes effect at the next sync.
	cfg["consumer.offset.group.filters"] = `{"groupFilters":[{"name":"*","patternType":"LITERAL"},` +
		`{"name":"app-excluded","patternType":"LITERAL","filterType":"EXCLUDE"}]}`
	if err := lm.AlterLinkConfigs("dr", cfg, false); err != nil {
		t.Fatal(err)
	}
	took = waitUntil(t, 10*syncInterval, "late-1 synced after the filter edit", func() bool {
		o := committed(t, dcl, "late-1", "orders")
		return len(o) == 1 && o[0].At == 6
	})
	if took > 2*syncInterval+time.Second {
		t.Errorf("filter edit took effect after %v", took)
	}
	// app-active is empty on the destination now: synced.
	waitUntil(t, 5*syncInterval, "app-active synced once idle", func() bool {
		o := committed(t, dcl, "app-active", "orders")
		return o[0].At == 50 && o[1].At == 50
	})

	// The group consumes 30 more on the source; the destination follows
	// at its next sync, or not yet: either way the group resumes on the
	// destination exactly at the destination's committed offsets.
	consumeAndCommit(t, src.Addr(), "app-1", "orders", 30)
	time.Sleep(syncInterval / 2)
	res, _ := lm.AlterMirrors(ctxT(t), "dr", "failover", []string{"orders"}, "", false)
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	waitUntil(t, 30*time.Second, "orders stopped", func() bool {
		return mirrorOf(t, lm, "dr", "orders").State == metadata.MirrorStopped
	})
	atFailover := committed(t, dcl, "app-1", "orders")
	srcNow := committed(t, scl, "app-1", "orders")
	for p, o := range atFailover {
		if o.At > srcNow[p].At {
			t.Fatalf("destination ahead of the source: %+v vs %+v", atFailover, srcNow)
		}
	}
	// Produce on the destination (writable now) and resume the group there.
	produceN(t, newClient(t, dst.Addr(), kgo.RecordPartitioner(kgo.RoundRobinPartitioner())), "orders", 20)
	checkResumed(t, atFailover, func(n int) map[int32][]int64 { return consumeAndCommit(t, dst.Addr(), "app-1", "orders", n) },
		remainingFrom(t, dcl, "orders", atFailover))

	// The stop clamp: a group committed on the destination at 105 (a
	// manual migration) is clamped to the mirror's end, 100, by failover.
	commitAdmin(t, dcl, "manual", "clamp", map[int32]int64{0: 105}, "")
	res, _ = lm.AlterMirrors(ctxT(t), "dr", "failover", []string{"clamp"}, "", false)
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	waitUntil(t, 30*time.Second, "clamp stopped", func() bool {
		return mirrorOf(t, lm, "dr", "clamp").State == metadata.MirrorStopped
	})
	for _, g := range []string{"manual", "app-clamp"} {
		if o := committed(t, dcl, g, "clamp"); o[0].At != 100 {
			t.Errorf("%s after failover: %+v, want 100", g, o)
		}
	}
	// Stopped mirrors are not synced any more.
	commitAdmin(t, scl, "app-1", "orders", map[int32]int64{0: 1, 1: 1}, "")
	time.Sleep(2 * syncInterval)
	if o := committed(t, dcl, "app-1", "orders"); o[0].At == 1 {
		t.Errorf("offsets of a stopped mirror were synced: %+v", o)
	}
	if !strings.Contains(fmt.Sprint(lags), "app-1") {
		t.Errorf("no lag reported for app-1: %+v", lags)
	}
}

// TestPromoteRunsFinalOffsetSync: promote syncs the offsets committed on
// the source since the last sync before it stops the mirror (a long
// interval: only the promote's final sync can have copied them).
func TestPromoteRunsFinalOffsetSync(t *testing.T) {
	src := tandemtest.Start(t)
	dst := tandemtest.Start(t)
	scl := newClient(t, src.Addr())
	dcl := newClient(t, dst.Addr())
	lm := offsetSyncLink(t, src, dst, scl, "p", 2, 40, "3600000", `{"groupFilters":[{"name":"*","patternType":"LITERAL"}]}`)
	waitUntil(t, 30*time.Second, "caught up", func() bool {
		var n int64
		for _, p := range mirrorOf(t, lm, "dr", "p").Partitions {
			n += p.LocalEndOffset
		}
		return n == 40
	})
	consumeAndCommit(t, src.Addr(), "g", "p", 25)
	// A validate-only promote does not sync: the offsets lag, refused.
	res, _ := lm.AlterMirrors(ctxT(t), "dr", "promote", []string{"p"}, "", true)
	if err := res[0].Err; !errors.Is(err, link.ErrPromoteNotReady) || !strings.Contains(err.Error(), "consumer offsets of p are not synced: g p-") {
		t.Fatalf("validate-only promote with offset lag: %v", err)
	}
	if d := committed(t, dcl, "g", "p"); len(d) != 0 {
		t.Fatalf("validate-only promote synced offsets: %+v", d)
	}
	res, _ = lm.AlterMirrors(ctxT(t), "dr", "promote", []string{"p"}, "", false)
	if res[0].Err != nil || res[0].Info.State != metadata.MirrorStopped {
		t.Fatalf("promote: %v %s", res[0].Err, res[0].Info.State)
	}
	if s, d := committed(t, scl, "g", "p"), committed(t, dcl, "g", "p"); !sameOffsets(s, d) {
		t.Fatalf("after promote: source %+v, destination %+v", s, d)
	}
}

// TestConsumerOffsetSyncFromKfake syncs the groups of franz-go's kfake
// (a Kafka we did not write, which keeps groups), with
// consumer.group.prefix.enable: the group g is synced as k.g on k.t.
// Three brokers spread the groups over coordinators; a source as old as
// Kafka 2.8 has no OffsetFetch v8 (many groups a request), and the
// offsets are fetched a group a request.
func TestConsumerOffsetSyncFromKfake(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []kfake.Opt
	}{
		{"3 brokers", []kfake.Opt{kfake.NumBrokers(3)}},
		{"Kafka 2.8", []kfake.Opt{kfake.NumBrokers(1), kfake.MaxVersions(kversion.V2_8_0())}},
	} {
		t.Run(tc.name, func(t *testing.T) { offsetSyncFromKfake(t, tc.opts...) })
	}
}

func offsetSyncFromKfake(t *testing.T, opts ...kfake.Opt) {
	src, err := kfake.NewCluster(append(opts, kfake.SeedTopics(2, "t"))...)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	seeds := src.ListenAddrs()
	dst := tandemtest.Start(t)
	scl := newClient(t, seeds[0])
	dcl := newClient(t, dst.Addr())
	produceN(t, scl, "t", 50)
	consumeAndCommit(t, seeds[0], "g", "t", 30)
	commitAdmin(t, scl, "skip", "t", map[int32]int64{0: 1}, "")

	lm := dst.Node.Links()
	cfg := map[string]string{"bootstrap.servers": seeds[0], "replica.fetch.wait.max.ms": "100", "cluster.link.prefix": "k.",
		"consumer.offset.sync.enable": "true", "consumer.offset.sync.ms": "1000", "consumer.group.prefix.enable": "true",
		"consumer.offset.group.filters": `{"groupFilters":[{"name":"g","patternType":"LITERAL"}]}`}
	if err := lm.CreateLink(ctxT(t), "k", "", cfg, false, true); err != nil {
		t.Fatal(err)
	}
	if err := lm.CreateMirror(ctxT(t), "k", "t", "", nil, false); err != nil {
		t.Fatal(err)
	}
	want := committed(t, scl, "g", "t")
	waitUntil(t, 30*time.Second, "k.g synced", func() bool {
		got := committed(t, dcl, "k.g", "k.t")
		if len(got) != len(want) || len(got) == 0 {
			return false
		}
		for p, o := range want {
			if got[p].At != o.At || got[p].Metadata != o.Metadata {
				return false
			}
		}
		return true
	})
	if got := committed(t, dcl, "g", "k.t"); len(got) != 0 {
		t.Errorf("synced without the prefix: %+v", got)
	}
	if got := committed(t, dcl, "k.skip", "k.t"); len(got) != 0 {
		t.Errorf("unselected group synced: %+v", got)
	}
}
