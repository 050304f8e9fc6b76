package link

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/metadata"
)

// storeCluster is a Cluster over a metadata store alone: enough for the
// Manager's control plane without a broker (the log end offsets are
// fixed: 10 × (partition+1)).
type storeCluster struct {
	metadata.Store
	writable int // STOPPED persisted (the broker would raise epochs)
	groups   *fakeGroups
	// notDurable is how far each partition's high watermark is behind
	// its log end (records appended, not yet fsynced); after
	// durableAfter reads of the high watermarks (when set) it is not.
	notDurable   int64
	durableAfter int32
	hwReads      atomic.Int32
}

// LinkGroups gives the Manager the fake group coordinator, when set.
func (c *storeCluster) LinkGroups() GroupCoordinator {
	if c.groups == nil {
		return nil
	}
	return c.groups
}

// fakeGroups is a group coordinator in memory: groups with a state and
// committed offsets; an admin commit (generation -1) to a group that is
// not Empty fails with UNKNOWN_MEMBER_ID, as Kafka's does.
type fakeGroups struct {
	mu      sync.Mutex
	loading bool // answer COORDINATOR_LOAD_IN_PROGRESS
	// failCommits answers every commit COORDINATOR_NOT_AVAILABLE.
	failCommits bool
	state       map[string]string
	offsets     map[string]map[string]map[int32]int64 // group → topic → partition
}

func (f *fakeGroups) ListGroups(_ context.Context, req *kmsg.ListGroupsRequest) *kmsg.ListGroupsResponse {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	if f.loading {
		resp.ErrorCode = kerr.CoordinatorLoadInProgress.Code
		return resp
	}
	for g, st := range f.state {
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.GroupState = g, st
		resp.Groups = append(resp.Groups, lg)
	}
	return resp
}

func (f *fakeGroups) OffsetFetch(_ context.Context, req *kmsg.OffsetFetchRequest) *kmsg.OffsetFetchResponse {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	for _, rg := range req.Groups {
		g := kmsg.NewOffsetFetchResponseGroup()
		g.Group = rg.Group
		for topic, ps := range f.offsets[rg.Group] {
			rt := kmsg.NewOffsetFetchResponseGroupTopic()
			rt.Topic = topic
			for p, o := range ps {
				rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
				rp.Partition, rp.Offset, rp.LeaderEpoch = p, o, -1
				rt.Partitions = append(rt.Partitions, rp)
			}
			g.Topics = append(g.Topics, rt)
		}
		resp.Groups = append(resp.Groups, g)
	}
	return resp
}

func (f *fakeGroups) OffsetCommit(_ context.Context, req *kmsg.OffsetCommitRequest) *kmsg.OffsetCommitResponse {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	refuse := f.state[req.Group] != "" && f.state[req.Group] != "Empty"
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			switch {
			case f.failCommits:
				sp.ErrorCode = kerr.CoordinatorNotAvailable.Code
			case refuse:
				sp.ErrorCode = kerr.UnknownMemberID.Code
			default:
				f.offsets[req.Group][rt.Topic][rp.Partition] = rp.Offset
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func (f *fakeGroups) get2(group, topic string, p int32) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.offsets[group][topic][p]
}

func (f *fakeGroups) get(group string, p int32) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.offsets[group]["m"][p]
}

func (c *storeCluster) TopicByName(name string) (metadata.Topic, error) {
	t, ok := c.Topic(name)
	if !ok {
		return t, fmt.Errorf("%w: %s", metadata.ErrUnknownTopic, name)
	}
	return t, nil
}

func (c *storeCluster) CreateMirrorTopic(name string, n int32, configs map[string]string, m metadata.Mirror) (metadata.Topic, error) {
	if err := c.CreateTopic(metadata.Topic{Name: name, Partitions: n, ReplicationFactor: 1, Configs: configs, Mirror: &m}); err != nil {
		return metadata.Topic{}, err
	}
	return c.TopicByName(name)
}

func (c *storeCluster) SetMirrorState(topic string, m metadata.Mirror) error {
	if m.State == metadata.MirrorStopped {
		c.writable++
	}
	return c.SetMirror(topic, &m)
}

func (c *storeCluster) ClearMirror(topic string) error { return c.SetMirror(topic, nil) }
func (c *storeCluster) SetMirrorConfigs(topic string, configs map[string]string) error {
	return c.SetTopicConfigs(topic, configs)
}
func (c *storeCluster) AddMirrorPartitions(topic string, total int32) error {
	return c.AddPartitions(topic, total)
}
func (c *storeCluster) HighWatermarks(topic string) (map[int32]int64, error) {
	out, err := c.LogEndOffsets(topic)
	if n := c.hwReads.Add(1); c.durableAfter > 0 && n > c.durableAfter {
		return out, err
	}
	for p := range out {
		out[p] -= c.notDurable
	}
	return out, err
}
func (c *storeCluster) LogEndOffsets(topic string) (map[int32]int64, error) {
	t, err := c.TopicByName(topic)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for p := int32(0); p < t.Partitions; p++ {
		out[p] = 10 * int64(p+1)
	}
	return out, nil
}

// modeData records the mode the Manager last put each topic in.
type modeData struct {
	mu   sync.Mutex
	mode map[string]dataPathMode
}

func (d *modeData) set(topic string, m dataPathMode) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.mode[topic] = m
}
func (d *modeData) get(topic string) dataPathMode {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mode[topic]
}
func (d *modeData) Start(_ metadata.Link, t metadata.Topic, _ bool) error {
	d.set(t.Name, dpFetching)
	return nil
}
func (d *modeData) Pause(topic string) { d.set(topic, dpPaused) }
func (d *modeData) Stop(topic string)  { d.set(topic, dpNone) }
func (d *modeData) Status(topic string) []PartitionStatus {
	if d.get(topic) == dpNone {
		return nil
	}
	return []PartitionStatus{{Partition: 0, SourceHighWatermark: 12, LastFetch: time.Now(), LastSourceFetchOffset: 10, LocalEndOffset: 10}}
}
func (d *modeData) StopLink(string) {}
func (d *modeData) Close()          {}

// TestRestartMidTransition crashes the Manager before each effect of every
// transition, starts a new Manager on the same metadata and checks that
// the mirror settles where the transition (or, crashed before its state
// was persisted, its starting state) leads: the persisted state, the data
// path's mode derived from it, and for a stop the final offsets.
func TestRestartMidTransition(t *testing.T) {
	type scenario struct {
		from metadata.MirrorState
		op   string // PendingOp of a PENDING_STOPPED start
		ev   mirrorEvent
		// settled is where the mirror ends once the transition completes
		// (a drain included); the source is unreachable, so a promote
		// stays PENDING_STOPPED.
		settled metadata.MirrorState
	}
	scenarios := []scenario{
		{from: MirrorActive, ev: evPause, settled: MirrorPaused},
		{from: MirrorPaused, ev: evResume, settled: MirrorActive},
		{from: MirrorActive, ev: evFailover, settled: MirrorStopped},
		{from: MirrorPaused, ev: evFailover, settled: MirrorStopped},
		{from: MirrorFailed, ev: evFailover, settled: MirrorStopped},
		{from: MirrorActive, ev: evPromote, settled: MirrorPendingStopped},
		{from: MirrorPendingStopped, op: opFailover, ev: evDrained, settled: MirrorStopped},
		{from: MirrorPendingStopped, op: opPromote, ev: evFailover, settled: MirrorStopped},
		{from: MirrorActive, ev: evFail, settled: MirrorFailed},
		{from: MirrorPaused, ev: evFail, settled: MirrorFailed},
	}
	for _, sc := range scenarios {
		step, err := mirrorTransition(metadata.Mirror{State: sc.from, PendingOp: sc.op, PreviousState: MirrorActive}, sc.ev)
		if err != nil {
			t.Fatal(err)
		}
		for crashAt := 0; crashAt <= len(step.Effects); crashAt++ {
			name := fmt.Sprintf("%s_%s_%s_crash%d", sc.from, sc.op, sc.ev, crashAt)
			t.Run(name, func(t *testing.T) {
				store, l := unreachableLink(t)
				// Groups committed past the mirror's ends (10, 20): the
				// stop clamps the empty one, and leaves the active one.
				groups := &fakeGroups{state: map[string]string{"g": "Empty", "busy": "Stable"},
					offsets: map[string]map[string]map[int32]int64{
						"g":    {"m": {0: 15, 1: 5}},
						"busy": {"m": {0: 15, 1: 25}},
					}}
				c := &storeCluster{Store: store, groups: groups}
				if _, err := c.CreateMirrorTopic("m", 2, nil, metadata.Mirror{Link: "l", LinkID: l.ID, SourceTopic: "s",
					State: sc.from, PendingOp: sc.op, PreviousState: MirrorActive}); err != nil {
					t.Fatal(err)
				}
				// A PENDING_STOPPED mirror would complete its stop on
				// start; crash the first Manager's recovery so that the
				// event under test meets it still pending.
				d1 := &modeData{mode: map[string]dataPathMode{}}
				crashRecovery := sc.from == MirrorPendingStopped
				m1 := &Manager{store: store, cluster: c, data: d1, logger: testLogger(), now: time.Now, links: map[string]*runtime{}, groups: groups}
				m1.ends.init()
				m1.testCrashBefore = func(_ string, ev mirrorEvent, _ mirrorEffect) bool { return crashRecovery && ev == evRecover }
				if err := m1.startLink(l); err != nil {
					t.Fatal(err)
				}
				crashRecovery = false
				n := 0
				m1.testCrashBefore = func(_ string, ev mirrorEvent, _ mirrorEffect) bool {
					if ev != sc.ev {
						return false
					}
					n++
					return n > crashAt
				}
				_, err = m1.transition(context.Background(), m1.runtimeOf("l"), "m", sc.ev, transitionArgs{reason: "UNKNOWN"})
				if crashAt < len(step.Effects) && !errors.Is(err, errTestCrash) {
					t.Fatalf("transition: %v, want the simulated crash", err)
				}
				m1.Close()

				d2 := &modeData{mode: map[string]dataPathMode{}}
				m2, err := NewManager(store, c, d2, testLogger())
				if err != nil {
					t.Fatal(err)
				}
				defer m2.Close()
				got, _ := c.TopicByName("m")
				persistedAt := -1
				for i, e := range step.Effects {
					if e == effPersist {
						persistedAt = i
					}
				}
				want := sc.settled
				if crashAt <= persistedAt {
					// Crashed before the new state was written: the
					// mirror recovers in its old state (a pending stop
					// still completes).
					want = sc.from
					if sc.from == MirrorPendingStopped {
						want = MirrorStopped
						if sc.op == opPromote {
							want = MirrorPendingStopped
						}
					}
				}
				if got.Mirror.State != want {
					t.Fatalf("settled in %s, want %s (%+v)", got.Mirror.State, want, got.Mirror)
				}
				wantMode := dataPathWant(want, linkOK)
				if m := d2.get("m"); m != wantMode {
					t.Fatalf("data path mode %d, want %d", m, wantMode)
				}
				if want == MirrorStopped {
					if len(got.Mirror.StopOffsets) != 2 || got.Mirror.StopOffsets[1].LogEndOffset != 20 {
						t.Fatalf("stop offsets %+v", got.Mirror.StopOffsets)
					}
					// Consumer offsets clamped to the final ends before
					// STOPPED was persisted, whatever the crash.
					if g0, g1 := groups.get("g", 0), groups.get("g", 1); g0 != 10 || g1 != 5 {
						t.Fatalf("group g at %d, %d after the stop; want 10 (clamped), 5", g0, g1)
					}
					if b0, b1 := groups.get("busy", 0), groups.get("busy", 1); b0 != 15 || b1 != 25 {
						t.Fatalf("active group busy changed to %d, %d", b0, b1)
					}
				} else if g0 := groups.get("g", 0); g0 != 15 {
					t.Fatalf("group g clamped to %d while the mirror is %s", g0, want)
				}
				if want == MirrorPendingStopped {
					if got.Mirror.PendingOp == "" {
						t.Fatalf("pending without its operation: %+v", got.Mirror)
					}
					// Why it is still pending is shown (Confluent's
					// mirror_state_transition_errors).
					mi, err := m2.Mirror("l", "m")
					if err != nil || mi.State != MirrorPendingStopped || len(mi.TransitionErrors) == 0 ||
						mi.TransitionErrors[0].Code != "TIMEOUT_ERROR" {
						t.Fatalf("pending promote described as %+v, %v", mi, err)
					}
				}
			})
		}
	}
}

// unreachableLink opens a metadata store (closed when the test ends) with
// link "l", whose source cannot be reached and whose periodic tasks do not
// run during a test.
func unreachableLink(t *testing.T) (metadata.Store, metadata.Link) {
	t.Helper()
	store, err := metadata.OpenBolt(t.TempDir(), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cfg := map[string]string{"bootstrap.servers": "127.0.0.1:1", "topic.config.sync.ms": "3600000",
		"availability.check.ms": "3600000", "request.timeout.ms": "200"}
	if err := store.CreateLink(metadata.Link{Name: "l", Configs: cfg}); err != nil {
		t.Fatal(err)
	}
	l, _ := store.Link("l")
	return store, l
}

func testLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
