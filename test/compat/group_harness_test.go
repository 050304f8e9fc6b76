package compat

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// startGroupBroker starts the broker the consumer-group tests
// (group*_test.go) run against: a Tandem broker from the in-process
// harness, which sets group.initial.rebalance.delay.ms=0 (matching
// groupInitialRebalanceDelay below); Kafka's default
// group.min.session.timeout.ms=6000 admits groupSessionTimeout. The tests
// were developed against franz-go's kfake first and stay broker-agnostic.
var startGroupBroker = func(t *testing.T) string {
	t.Helper()
	return tandemtest.Start(t).Addr()
}

// Group timing. Every wait in the group tests is derived from these.
const (
	// groupSessionTimeout is every member's session timeout: Kafka's
	// default group.min.session.timeout.ms, the shortest a stock broker
	// accepts, so a killed member expires quickly.
	groupSessionTimeout = 6 * time.Second
	// groupHeartbeatInterval is every member's heartbeat interval; it also
	// bounds how soon a member learns that a rebalance started.
	groupHeartbeatInterval = time.Second
	// groupRebalanceTimeout is every member's rebalance timeout
	// (librdkafka: max.poll.interval.ms), the longest a rebalance can
	// wait for a member that does not rejoin.
	groupRebalanceTimeout = 15 * time.Second
	// groupInitialRebalanceDelay is the test broker's
	// group.initial.rebalance.delay.ms: how long it holds the first
	// rebalance of an empty group (Kafka's default is 3s; kfake has none).
	groupInitialRebalanceDelay = 0 * time.Second
	// groupSettle bounds how long a rebalance may take once every member
	// has learnt of it, and how long consuming or committing what was
	// produced may take.
	groupSettle = 20 * time.Second
	// groupPoll is how often the tests poll the broker and the log.
	groupPoll = 100 * time.Millisecond
)

// groupAPIs are the group coordinator's APIs every group test needs: the
// members' and DescribeGroups, which the tests watch the group with.
var groupAPIs = []kmsg.Key{
	kmsg.FindCoordinator, kmsg.JoinGroup, kmsg.SyncGroup, kmsg.Heartbeat, kmsg.LeaveGroup,
	kmsg.OffsetCommit, kmsg.OffsetFetch, kmsg.DescribeGroups,
}

// groupAdminAPIs are what TestGroupDescribe needs as well.
var groupAdminAPIs = []kmsg.Key{kmsg.ListGroups, kmsg.DeleteGroups, kmsg.OffsetDelete}

// requireGroups skips the test when the broker does not advertise every API
// in groupAPIs and extra: Tandem does not serve consumer groups yet.
func requireGroups(ctx context.Context, t *testing.T, addr string, extra ...kmsg.Key) {
	t.Helper()
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, newKgo(t, addr))
	if err != nil {
		t.Fatalf("ApiVersions: %v", err)
	}
	have := make(map[int16]bool)
	for _, k := range resp.ApiKeys {
		have[k.ApiKey] = true
	}
	var missing []string
	for _, k := range append(slices.Clone(groupAPIs), extra...) {
		if !have[k.Int16()] {
			missing = append(missing, k.Name())
		}
	}
	if len(missing) > 0 {
		t.Skipf("broker does not advertise %s: consumer groups are not served yet", strings.Join(missing, ", "))
	}
}

// po names one record of the test topic.
type po struct {
	P int32
	O int64
}

// groupLog records what the members of one group did: the records each
// member processed, in the order the test learnt of them; the commits the
// broker acknowledged to it and the OffsetFetch requests it sent, with the
// member's timestamps; and the partitions it reported owning. All checks
// read it. Members run in their own processes (group_member_test.go) or are
// kcat; what a member reports happened before the report reached the log.
type groupLog struct {
	mu  sync.Mutex
	seq int

	deliveries map[po][]delivery
	// commits[member][partition] are the commits acknowledged to member.
	commits map[string]map[int32][]commitAck
	// fetches[member][partition] are the OffsetFetch requests member sent
	// for partition (allFetches: for every partition).
	fetches    map[string]map[int32][]stamp
	allFetches map[string][]stamp
	// lastCommit is the last acknowledged commit per partition, by anyone.
	lastCommit map[int32]int64
	// reportsCommits: the member reports its acknowledged commits. A
	// member that does not (kcat, which auto-commits) may only lose
	// partitions once everything it processed is committed (the tests
	// quiesce first), so it must cause no re-delivery at all.
	reportsCommits map[string]bool
	// assigned is each member's own view of its assignment, for members
	// that report one.
	assigned map[string]map[int32]bool
	// maxTick[member][partition] is the highest producer tick among the
	// records of partition the member processed.
	maxTick map[string]map[int32]int
	// first[member][partition] is the first offset of partition the
	// member processed.
	first map[string]map[int32]int64
	// failures are errors members reported.
	failures []string
}

type delivery struct {
	Seq    int
	Member string
	Value  string
}

type commitAck struct {
	TS     int64 // Unix ns, taken by the member after the acknowledgement
	Offset int64
}

// stamp is when something happened: Seq orders it among what the test
// learnt, TS is the member's clock (Unix ns, before the request was sent).
type stamp struct {
	Seq int
	TS  int64
}

func newGroupLog() *groupLog {
	return &groupLog{
		deliveries:     make(map[po][]delivery),
		commits:        make(map[string]map[int32][]commitAck),
		fetches:        make(map[string]map[int32][]stamp),
		allFetches:     make(map[string][]stamp),
		lastCommit:     make(map[int32]int64),
		reportsCommits: make(map[string]bool),
		assigned:       make(map[string]map[int32]bool),
		maxTick:        make(map[string]map[int32]int),
		first:          make(map[string]map[int32]int64),
	}
}

func (l *groupLog) addMember(name string, reportsCommits bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reportsCommits[name] = reportsCommits
}

// deliver records that member processed the record at p/o.
func (l *groupLog) deliver(member string, p int32, o int64, value string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	k := po{p, o}
	l.deliveries[k] = append(l.deliveries[k], delivery{l.seq, member, value})
	if tick, ok := valueTick(value); ok {
		m := l.maxTick[member]
		if m == nil {
			m = make(map[int32]int)
			l.maxTick[member] = m
		}
		m[p] = max(m[p], tick)
	}
	f := l.first[member]
	if f == nil {
		f = make(map[int32]int64)
		l.first[member] = f
	}
	if _, ok := f[p]; !ok {
		f[p] = o
	}
}

// commit records commits the broker acknowledged to member, at ts:
// partition to the next offset to consume.
func (l *groupLog) commit(member string, offsets map[int32]int64, ts int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	m := l.commits[member]
	if m == nil {
		m = make(map[int32][]commitAck)
		l.commits[member] = m
	}
	for p, o := range offsets {
		m[p] = append(m[p], commitAck{ts, o})
		l.lastCommit[p] = o
	}
}

// fetched records that member sent an OffsetFetch for partitions (or all)
// at ts.
func (l *groupLog) fetched(member string, partitions []int32, all bool, ts int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	st := stamp{l.seq, ts}
	if all {
		l.allFetches[member] = append(l.allFetches[member], st)
		return
	}
	m := l.fetches[member]
	if m == nil {
		m = make(map[int32][]stamp)
		l.fetches[member] = m
	}
	for _, p := range partitions {
		m[p] = append(m[p], st)
	}
}

// lastFetch returns the time of member's last OffsetFetch covering p among
// those keep accepts, or false if there is none.
func (l *groupLog) lastFetch(member string, p int32, keep func(stamp) bool) (int64, bool) {
	var ts int64
	found := false
	for _, sts := range [][]stamp{l.fetches[member][p], l.allFetches[member]} {
		for _, st := range sts {
			if keep(st) && (!found || st.TS > ts) {
				ts, found = st.TS, true
			}
		}
	}
	return ts, found
}

// fetchedBefore selects the stamps before log position seq.
func fetchedBefore(seq int) func(stamp) bool { return func(st stamp) bool { return st.Seq < seq } }

// stampedBefore selects the stamps before time ts.
func stampedBefore(ts int64) func(stamp) bool { return func(st stamp) bool { return st.TS < ts } }

// assign records member's own view of its assignment. add and remove
// apply in that order; with replace the view is add alone.
func (l *groupLog) assign(member string, add, remove []int32, replace bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur := l.assigned[member]
	if cur == nil || replace {
		cur = make(map[int32]bool)
		l.assigned[member] = cur
	}
	for _, p := range add {
		cur[p] = true
	}
	for _, p := range remove {
		delete(cur, p)
	}
}

func (l *groupLog) fail(member, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures = append(l.failures, member+": "+msg)
}

// clientView returns member's own view of its assignment, and whether it
// reports one.
func (l *groupLog) clientView(member string) ([]int32, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur, ok := l.assigned[member]
	return slices.Sorted(maps.Keys(cur)), ok
}

// consumedSince reports whether member processed a record of p produced
// after producer tick.
func (l *groupLog) consumedSince(member string, p int32, tick int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.maxTick[member][p] > tick
}

// missing returns how many of the records in want nobody processed yet.
func (l *groupLog) missing(want map[po]string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for k := range want {
		if len(l.deliveries[k]) == 0 {
			n++
		}
	}
	return n
}

func (l *groupLog) firstOffsets(member string) map[int32]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.first[member])
}

func (l *groupLog) lastCommits() map[int32]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.lastCommit)
}

func (l *groupLog) failed() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.failures)
}

// check returns every violation of the group's delivery guarantees, given
// the records the producer got acknowledged (acked), with at most maxDiffs
// of each kind:
//
//   - every acknowledged record was processed, with its value;
//   - nothing else was processed;
//   - a record processed again by member B was processed before by a
//     member A that had not committed past it: its offset is at or after
//     every commit acknowledged to A for the partition before B's last
//     OffsetFetch for the partition (what B resumed from). Comparing with
//     commits acknowledged later would blame the broker for a client that
//     commits after losing the partition (kafka-go's Reader can: a message
//     of one generation is committed in the next, after the new owner
//     fetched). Members that do not report commits must cause no
//     re-delivery at all (see reportsCommits).
func (l *groupLog) check(acked map[po]string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	const maxDiffs = 10
	var diffs []string
	kinds := make(map[string]int)
	fail := func(kind, format string, args ...any) {
		kinds[kind]++
		if kinds[kind] <= maxDiffs {
			diffs = append(diffs, fmt.Sprintf(format, args...))
		}
	}
	keys := slices.SortedFunc(maps.Keys(acked), comparePO)
	for _, k := range keys {
		if len(l.deliveries[k]) == 0 {
			fail("lost", "partition %d offset %d (%s): acknowledged by the broker, never consumed", k.P, k.O, acked[k])
		}
	}
	keys = slices.SortedFunc(maps.Keys(l.deliveries), comparePO)
	for _, k := range keys {
		ds := l.deliveries[k]
		want, ok := acked[k]
		if !ok {
			fail("unknown", "partition %d offset %d: consumed %q by %s, but no record was acknowledged there", k.P, k.O, ds[0].Value, ds[0].Member)
		}
		for i, d := range ds {
			if ok && d.Value != want {
				fail("value", "partition %d offset %d: %s consumed value %q, want %q", k.P, k.O, d.Member, d.Value, want)
			}
			if i == 0 {
				continue
			}
			prev := ds[i-1]
			if !l.reportsCommits[prev.Member] {
				fail("dup", "partition %d offset %d: consumed again by %s after %s, which does not report commits and was only stopped once its records were committed", k.P, k.O, d.Member, prev.Member)
				continue
			}
			fetchTS, fetched := l.lastFetch(d.Member, k.P, fetchedBefore(d.Seq))
			if !fetched {
				fail("nofetch", "partition %d offset %d: consumed again by %s, which sent no OffsetFetch for the partition before", k.P, k.O, d.Member)
				continue
			}
			var committed int64 = -1
			for _, c := range l.commits[prev.Member][k.P] {
				if c.TS < fetchTS {
					committed = max(committed, c.Offset)
				}
			}
			if k.O < committed {
				fail("dup", "partition %d offset %d: consumed again by %s although %s, which consumed it before, had committed offset %d for the partition before %s fetched its offsets", k.P, k.O, d.Member, prev.Member, committed, d.Member)
			}
		}
	}
	for kind, n := range kinds {
		if n > maxDiffs {
			diffs = append(diffs, fmt.Sprintf("%d further %q violations omitted", n-maxDiffs, kind))
		}
	}
	return diffs
}

// lateCommits counts commits acknowledged to a member for a partition
// after another member had fetched the partition's offsets since the
// member's own last fetch of it: commits by a member that had lost the
// partition. Kafka accepts them (the classic protocol checks the
// generation, not ownership); the tests report them as client behaviour.
func (l *groupLog) lateCommits() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for m, byP := range l.commits {
		for p, cs := range byP {
			for _, c := range cs {
				own, _ := l.lastFetch(m, p, stampedBefore(c.TS))
				for other := range l.reportsCommits {
					if other == m {
						continue
					}
					if ts, ok := l.lastFetch(other, p, stampedBefore(c.TS)); ok && ts > own {
						n++
						break
					}
				}
			}
		}
	}
	return n
}

func comparePO(a, b po) int {
	if a.P != b.P {
		return int(a.P - b.P)
	}
	return int(a.O - b.O)
}

// duplicates returns how many records were processed more than once.
func (l *groupLog) duplicates() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, ds := range l.deliveries {
		n += len(ds) - 1
	}
	return n
}

// The producer.

// groupValue is the value of the record produced to partition p at tick.
func groupValue(tick int, p int32) string { return fmt.Sprintf("t%06d-p%02d", tick, p) }

// valueTick returns the producer tick a groupValue names.
func valueTick(v string) (int, bool) {
	var tick, p int
	if _, err := fmt.Sscanf(v, "t%06d-p%02d", &tick, &p); err != nil {
		return 0, false
	}
	return tick, true
}

// groupProducer produces one record to every partition of a topic per tick,
// with franz-go, and remembers where the broker acknowledged each. Pause and
// resume take effect between ticks.
type groupProducer struct {
	cl         *kgo.Client
	topic      string
	partitions int32

	tickMu sync.Mutex // held while a tick produces
	mu     sync.Mutex
	tick   int
	paused bool
	acked  map[po]string
	err    error

	stop chan struct{}
	done chan struct{}
}

// startGroupProducer produces one tick synchronously, so every partition
// holds a record, then keeps producing one tick per interval until stopped
// (with interval 0, only when produceTick is called).
func startGroupProducer(ctx context.Context, t *testing.T, addr, topic string, partitions int32, interval time.Duration) *groupProducer {
	t.Helper()
	gp := &groupProducer{
		cl:         newKgo(t, addr, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0)),
		topic:      topic,
		partitions: partitions,
		acked:      make(map[po]string),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	if err := gp.produceTick(ctx); err != nil {
		t.Fatalf("producing: %v", err)
	}
	if interval <= 0 {
		close(gp.done)
		return gp
	}
	go func() {
		defer close(gp.done)
		tk := time.NewTicker(interval)
		defer tk.Stop()
		for {
			select {
			case <-gp.stop:
				return
			case <-ctx.Done():
				return
			case <-tk.C:
			}
			if err := gp.produceTick(ctx); err != nil {
				gp.mu.Lock()
				gp.err = err
				gp.mu.Unlock()
				return
			}
		}
	}()
	t.Cleanup(func() { gp.Stop() })
	return gp
}

func (gp *groupProducer) produceTick(ctx context.Context) error {
	gp.tickMu.Lock()
	defer gp.tickMu.Unlock()
	gp.mu.Lock()
	if gp.paused {
		gp.mu.Unlock()
		return nil
	}
	tick := gp.tick + 1
	gp.mu.Unlock()
	recs := make([]*kgo.Record, gp.partitions)
	for p := range gp.partitions {
		recs[p] = &kgo.Record{Partition: p, Value: []byte(groupValue(tick, p))}
	}
	res := gp.cl.ProduceSync(ctx, recs...)
	gp.mu.Lock()
	defer gp.mu.Unlock()
	for _, r := range res {
		if r.Err == nil {
			gp.acked[po{r.Record.Partition, r.Record.Offset}] = string(r.Record.Value)
		}
	}
	gp.tick = tick
	return res.FirstErr()
}

// Pause stops producing after the tick in progress.
func (gp *groupProducer) Pause() { gp.setPaused(true) }

// Resume produces again from the next tick; it returns the last tick
// produced before.
func (gp *groupProducer) Resume() int { return gp.setPaused(false) }

func (gp *groupProducer) setPaused(paused bool) int {
	gp.tickMu.Lock()
	defer gp.tickMu.Unlock()
	gp.mu.Lock()
	defer gp.mu.Unlock()
	gp.paused = paused
	return gp.tick
}

// Tick returns the last tick produced.
func (gp *groupProducer) Tick() int {
	gp.mu.Lock()
	defer gp.mu.Unlock()
	return gp.tick
}

// Stop stops producing (idempotent) and returns the first error.
func (gp *groupProducer) Stop() error {
	select {
	case <-gp.stop:
	default:
		close(gp.stop)
	}
	<-gp.done
	gp.mu.Lock()
	defer gp.mu.Unlock()
	return gp.err
}

// Acked returns every record acknowledged so far and, per partition, the
// offset after the last one (the end offset).
func (gp *groupProducer) Acked() (map[po]string, map[int32]int64) {
	gp.mu.Lock()
	defer gp.mu.Unlock()
	ends := make(map[int32]int64)
	for k := range gp.acked {
		ends[k.P] = max(ends[k.P], k.O+1)
	}
	return maps.Clone(gp.acked), ends
}

// Waiting on the group.

// poll calls cond every groupPoll until it returns "" (done) or bound
// passes, and fails the test with cond's last answer then.
func poll(ctx context.Context, t *testing.T, what string, bound time.Duration, cond func() string) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(bound)
	var why string
	for {
		if why = cond(); why == "" {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %s", what, bound, why)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v: %s", what, ctx.Err(), why)
		case <-time.After(groupPoll):
		}
	}
}

// describeGroup describes one group.
func describeGroup(ctx context.Context, adm *kadm.Client, group string) (kadm.DescribedGroup, error) {
	ds, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return kadm.DescribedGroup{}, err
	}
	d, ok := ds[group]
	if !ok {
		return kadm.DescribedGroup{}, fmt.Errorf("DescribeGroups: no answer for %s", group)
	}
	if d.Err != nil {
		return d, fmt.Errorf("DescribeGroups %s: %w", group, d.Err)
	}
	return d, nil
}

// memberPartitions returns the partitions of topic a described member is
// assigned, sorted.
func memberPartitions(m kadm.DescribedGroupMember, topic string) []int32 {
	c, ok := m.Assigned.AsConsumer()
	if !ok {
		return nil
	}
	var ps []int32
	for _, tp := range c.Topics {
		if tp.Topic == topic {
			ps = append(ps, tp.Partitions...)
		}
	}
	slices.Sort(ps)
	return ps
}

// stableAssignment checks a described group: state Stable, exactly the
// members named (by client ID), each assigned per partitions of topic, all
// partitions assigned exactly once, and every member that reports its own
// view of its assignment agreeing. It returns the owner of each partition,
// or why the group is not there yet.
func stableAssignment(d kadm.DescribedGroup, log *groupLog, topic string, partitions int32, names []string, per int) (map[int32]string, string) {
	if d.State != "Stable" {
		return nil, fmt.Sprintf("state %s", d.State)
	}
	var ids []string
	for _, m := range d.Members {
		ids = append(ids, m.ClientID)
	}
	sort.Strings(ids)
	want := slices.Sorted(slices.Values(names))
	if !slices.Equal(ids, want) {
		return nil, fmt.Sprintf("members %v, want %v", ids, want)
	}
	owners := make(map[int32]string)
	for _, m := range d.Members {
		ps := memberPartitions(m, topic)
		if len(ps) != per {
			return nil, fmt.Sprintf("%s assigned %v, want %d partitions", m.ClientID, ps, per)
		}
		for _, p := range ps {
			if o, dup := owners[p]; dup {
				return nil, fmt.Sprintf("partition %d assigned to both %s and %s", p, o, m.ClientID)
			}
			owners[p] = m.ClientID
		}
		if view, ok := log.clientView(m.ClientID); ok && !slices.Equal(view, ps) {
			return nil, fmt.Sprintf("%s says it owns %v, the broker says %v", m.ClientID, view, ps)
		}
	}
	if len(owners) != int(partitions) {
		return nil, fmt.Sprintf("%d of %d partitions assigned", len(owners), partitions)
	}
	return owners, ""
}

// groupEnv is what a group test runs against.
type groupEnv struct {
	addr, topic, group string
	partitions         int32
	adm                *kadm.Client
	log                *groupLog
	// kfake: the broker is franz-go's kfake (cluster ID "kfake"), whose
	// known deviations from Kafka the tests tolerate, and only there.
	kfake bool
}

// waitAssigned waits until the group is stable with exactly the named
// members, each owning per partitions, and returns each partition's owner.
func (e *groupEnv) waitAssigned(ctx context.Context, t *testing.T, what string, names []string, per int, bound time.Duration) map[int32]string {
	t.Helper()
	var owners map[int32]string
	took := poll(ctx, t, what+": group stable", bound, func() string {
		d, err := describeGroup(ctx, e.adm, e.group)
		if err != nil {
			return err.Error()
		}
		var why string
		owners, why = stableAssignment(d, e.log, e.topic, e.partitions, names, per)
		return why
	})
	t.Logf("%s: stable after %v: %v", what, took.Round(time.Millisecond), owners)
	return owners
}

// waitOwnersConsume waits until every partition's owner has processed a
// record of it produced after tick: the assignment is the one in force.
func (e *groupEnv) waitOwnersConsume(ctx context.Context, t *testing.T, what string, owners map[int32]string, tick int) {
	t.Helper()
	poll(ctx, t, what+": owners consume", groupSettle, func() string {
		var behind []string
		for p := range e.partitions {
			if !e.log.consumedSince(owners[p], p, tick) {
				behind = append(behind, fmt.Sprintf("%d (%s)", p, owners[p]))
			}
		}
		if len(behind) > 0 {
			return fmt.Sprintf("no record produced after tick %d consumed by the owner of partitions %s", tick, strings.Join(behind, ", "))
		}
		return ""
	})
}

// waitGone waits until no member with client ID name is in the group.
func (e *groupEnv) waitGone(ctx context.Context, t *testing.T, what, name string, bound time.Duration) time.Duration {
	t.Helper()
	return poll(ctx, t, what, bound, func() string {
		d, err := describeGroup(ctx, e.adm, e.group)
		if err != nil {
			return err.Error()
		}
		for _, m := range d.Members {
			if m.ClientID == name {
				return fmt.Sprintf("%s still a member (state %s)", name, d.State)
			}
		}
		return ""
	})
}

// waitConsumed waits until every record in acked was processed by someone.
func (e *groupEnv) waitConsumed(ctx context.Context, t *testing.T, acked map[po]string) {
	t.Helper()
	poll(ctx, t, "consume everything produced", groupSettle, func() string {
		if n := e.log.missing(acked); n > 0 {
			return fmt.Sprintf("%d of %d records not consumed", n, len(acked))
		}
		return ""
	})
}

// fetchCommitted returns the group's committed offsets for the topic.
func (e *groupEnv) fetchCommitted(ctx context.Context) (map[int32]int64, error) {
	resps, err := e.adm.FetchOffsets(ctx, e.group)
	if err == nil {
		err = resps.Error()
	}
	if e.kfake && errors.Is(err, kerr.GroupIDNotFound) {
		// kfake answers OffsetFetch for a group it does not know with
		// GROUP_ID_NOT_FOUND; Kafka answers with no offsets
		// (OffsetMetadataManager.fetchAllOffsets).
		return map[int32]int64{}, nil
	}
	if err != nil {
		return nil, err
	}
	got := make(map[int32]int64)
	resps.Each(func(r kadm.OffsetResponse) {
		if r.Topic == e.topic {
			got[r.Partition] = r.At
		}
	})
	return got, nil
}

// waitCommitted waits until the group's committed offsets are ends.
func (e *groupEnv) waitCommitted(ctx context.Context, t *testing.T, ends map[int32]int64) {
	t.Helper()
	poll(ctx, t, "commit everything consumed", groupSettle, func() string {
		got, err := e.fetchCommitted(ctx)
		if err != nil {
			return err.Error()
		}
		if !maps.Equal(got, ends) {
			return fmt.Sprintf("committed %v, want %v", got, ends)
		}
		return ""
	})
}

// waitEmpty waits until the group is Empty.
func (e *groupEnv) waitEmpty(ctx context.Context, t *testing.T) {
	t.Helper()
	poll(ctx, t, "group empty", groupSettle, func() string {
		d, err := describeGroup(ctx, e.adm, e.group)
		if err != nil {
			return err.Error()
		}
		if d.State != "Empty" || len(d.Members) != 0 {
			return fmt.Sprintf("state %s with %d members", d.State, len(d.Members))
		}
		return ""
	})
}

// reportLog fails the test with every violation in the log and every error
// a member reported.
func (e *groupEnv) reportLog(t *testing.T, acked map[po]string) {
	t.Helper()
	for _, f := range e.log.failed() {
		t.Errorf("member error: %s", f)
	}
	for _, d := range e.log.check(acked) {
		t.Error(d)
	}
}

var errMemberExit = errors.New("member exited")

// isKfake reports whether the broker is franz-go's kfake, by its cluster ID.
func isKfake(ctx context.Context, t *testing.T, adm *kadm.Client) bool {
	t.Helper()
	md, err := adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatalf("Metadata: %v", err)
	}
	return md.Cluster == "kfake"
}
