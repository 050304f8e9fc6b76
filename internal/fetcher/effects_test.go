package fetcher_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	. "github.com/tandem-streaming/tandem/internal/fetcher"
)

// Effects, targets removed under the fetcher, and told leaders, against
// kfake, through the exported API only.

// kfakeTopic starts a kfake source holding topic, with a client to it.
func kfakeTopic(t *testing.T, topic string, partitions int32, opts ...kfake.Opt) (*kfake.Cluster, []string, *kgo.Client) {
	t.Helper()
	c := newKfake(t, opts...)
	seeds := c.ListenAddrs()
	cl := newClient(t, seeds)
	createTopic(t, cl, topic, partitions, nil)
	return c, seeds, cl
}

// recordingSource is a KafkaSource that records what the Fetcher asks of
// it: metadata requests, the addresses of told leaders (AddressedSource)
// and, per partition, how many fetch requests named it.
type recordingSource struct {
	*KafkaSource
	mu       sync.Mutex
	metadata int
	addrs    map[int32]string
	fetched  map[TopicPartition]int
}

func newRecordingSource(t *testing.T, opts []kgo.Opt) *recordingSource {
	t.Helper()
	ks, err := NewKafkaSource(opts, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ks.Close)
	return &recordingSource{KafkaSource: ks, addrs: map[int32]string{}, fetched: map[TopicPartition]int{}}
}

func (s *recordingSource) Metadata(ctx context.Context, topics []string) (*ClusterMetadata, error) {
	s.mu.Lock()
	s.metadata++
	s.mu.Unlock()
	return s.KafkaSource.Metadata(ctx, topics)
}

func (s *recordingSource) Leader(broker int32, fetcherID int) LeaderEndpoint {
	return &recordingLeader{LeaderEndpoint: s.KafkaSource.Leader(broker, fetcherID), s: s}
}

// LeaderAt records the address; KafkaSource resolves the id itself.
func (s *recordingSource) LeaderAt(broker int32, addr string, fetcherID int) LeaderEndpoint {
	s.mu.Lock()
	s.addrs[broker] = addr
	s.mu.Unlock()
	return s.Leader(broker, fetcherID)
}

func (s *recordingSource) fetches(tp TopicPartition) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetched[tp]
}

type recordingLeader struct {
	LeaderEndpoint
	s *recordingSource
}

func (l *recordingLeader) Fetch(ctx context.Context, req *FetchRequest) (*FetchResponse, error) {
	l.s.mu.Lock()
	for _, p := range req.Partitions {
		l.s.fetched[p.TopicPartition]++
	}
	l.s.mu.Unlock()
	return l.LeaderEndpoint.Fetch(ctx, req)
}

// TestEffectsRunOffWorkers: the owner's effect handler blocks (a slow
// metadata commit). The partition that needs the raised epoch appends
// nothing meanwhile, while another partition on the same worker keeps
// mirroring and control calls return — the handler runs on no worker and
// holds no Fetcher lock. Once it returns, the held batches are appended.
func TestEffectsRunOffWorkers(t *testing.T) {
	t.Parallel()
	topic := "gated"
	_, seeds, cl := kfakeTopic(t, topic, 2, kfake.NumBrokers(1)) // one broker: both partitions on one worker
	p0, p1 := TopicPartition{topic, 0}, TopicPartition{topic, 1}
	for i := 0; i < 5; i++ {
		produce(t, cl, rec(topic, 0, "", fmt.Sprintf("a%d", i)), rec(topic, 1, "", fmt.Sprintf("b%d", i)))
	}

	keeper := newEpochKeeper()
	entered := make(chan Effect, 16)
	release := make(chan struct{})
	cfg := testConfig(seeds)
	cfg.OnEffect = func(e Effect) error {
		entered <- e
		<-release
		return keeper.apply(e)
	}
	ts := newTargets(t)
	f := startFetcher(t, cfg)
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock) // before Close (cleanups run last-in first-out)

	if err := f.AddPartitions(map[TopicPartition]PartitionConfig{
		p0: {Target: ts.open(p0, true), Start: StartEarliest, RaiseLeaderEpoch: true},
		p1: {Target: ts.open(p1, true), Start: StartEarliest},
	}); err != nil {
		t.Fatal(err)
	}
	var e Effect
	select {
	case e = <-entered:
	case <-time.After(20 * time.Second):
		t.Fatal("no effect delivered")
	}
	if e.TopicPartition != p0 || e.Kind != EffectRaiseLeaderEpoch || e.LeaderEpoch < 0 {
		t.Fatalf("effect %+v", e)
	}

	waitCaughtUp(t, cl, f, ts, p1)
	produce(t, cl, rec(topic, 1, "", "more"))
	waitCaughtUp(t, cl, f, ts, p1)
	for _, op := range []func(...TopicPartition) error{f.Pause, f.Resume} {
		if err := op(p1); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := f.Status(p0); st.AwaitingLeaderEpoch != e.LeaderEpoch || st.LocalLogEndOffset != 0 || st.State != StateFetching {
		t.Fatalf("%s while its effect is applied: %+v", p0, st)
	}
	if end := ts.get(p0).LogEndOffset(); end != 0 {
		t.Fatalf("%s: %d offsets appended before the leader epoch was raised", p0, end)
	}

	unblock()
	waitCaughtUp(t, cl, f, ts, p0, p1)
	st, _ := f.Status(p0)
	if k := keeper.epoch(p0); k < st.CurrentLeaderEpoch || st.AwaitingLeaderEpoch != -1 {
		t.Fatalf("%s: advertised epoch %d, source epoch %d, awaiting %d", p0, k, st.CurrentLeaderEpoch, st.AwaitingLeaderEpoch)
	}
	for _, tp := range []TopicPartition{p0, p1} {
		checkMirror(t, cl, tp, ts.get(tp))
	}
}

// TestTargetGoneUnderFetcher: a mirror partition's log is closed while
// the fetcher mirrors it (the local topic was deleted and its partitions
// unhosted without a word to the fetcher). The partition goes quiet —
// StateTargetGone, no error, no more fetches — while its neighbour keeps
// mirroring, and it can be removed.
func TestTargetGoneUnderFetcher(t *testing.T) {
	t.Parallel()
	topic := "doomed"
	_, seeds, cl := kfakeTopic(t, topic, 2, kfake.NumBrokers(1))
	p0, p1 := TopicPartition{topic, 0}, TopicPartition{topic, 1}
	produceBoth := func(tag string) {
		for i := 0; i < 5; i++ {
			produce(t, cl, rec(topic, 0, "", fmt.Sprintf("%s-a%d", tag, i)), rec(topic, 1, "", fmt.Sprintf("%s-b%d", tag, i)))
		}
	}
	produceBoth("before")
	cfg := testConfig(seeds)
	src := newRecordingSource(t, cfg.ClientOpts)
	cfg.Source = src
	ts := newTargets(t)
	f := startFetcher(t, cfg)
	addAll(t, f, ts, StartEarliest, p0, p1)
	waitCaughtUp(t, cl, f, ts, p0, p1)

	if err := ts.get(p0).Close(); err != nil {
		t.Fatal(err)
	}
	produceBoth("after")
	waitFor(t, 20*time.Second, func() (bool, string) {
		st, _ := f.Status(p0)
		return st.State == StateTargetGone, fmt.Sprintf("%s: %s %v", p0, st.State, st.LastError)
	})
	fetched := src.fetches(p0)
	produceBoth("later")
	waitCaughtUp(t, cl, f, ts, p1) // rounds ran since
	st, _ := f.Status(p0)
	if st.State != StateTargetGone || st.LastError != nil || !st.ErrorSince.IsZero() {
		t.Fatalf("%s after its target closed: %s, error %v", p0, st.State, st.LastError)
	}
	if n := src.fetches(p0); n != fetched {
		t.Fatalf("%s: fetched %d more times after its target was gone", p0, n-fetched)
	}
	if err := f.RemovePartitions(p0); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Status(p0); ok {
		t.Fatal("removed partition still reported")
	}
	checkMirror(t, cl, p1, ts.get(p1))
}

// TestToldLeaders: partitions placed on leaders the owner gives (as a
// replica follower is told them) rather than discovered. A wrong leader
// is kept (the partition waits with the source's NOT_LEADER error; no
// metadata is requested to second-guess it) until the owner tells the
// right one, and a leader moved on the source is followed when told.
func TestToldLeaders(t *testing.T) {
	t.Parallel()
	topic := "told"
	c, seeds, cl := kfakeTopic(t, topic, 2)
	adm := kadm.NewClient(cl)
	p0, p1 := TopicPartition{topic, 0}, TopicPartition{topic, 1}
	for i := 0; i < 10; i++ {
		produce(t, cl, rec(topic, 0, "", fmt.Sprintf("a%d", i)), rec(topic, 1, "", fmt.Sprintf("b%d", i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addrs := map[int32]string{}
	brokers, err := adm.ListBrokers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range brokers {
		addrs[b.NodeID] = net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
	}
	md, err := adm.ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	topicID := [16]byte(md[topic].ID) // told partitions learn no id from metadata
	leaderOf := func(p int32) Leader {
		t.Helper()
		md, err := adm.ListTopics(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		pd := md[topic].Partitions[p]
		return Leader{ID: pd.Leader, Addr: addrs[pd.Leader], Epoch: pd.LeaderEpoch}
	}

	cfg := testConfig(seeds)
	src := newRecordingSource(t, cfg.ClientOpts)
	cfg.Source = src
	ts := newTargets(t)
	f := startFetcher(t, cfg)
	right0, right1 := leaderOf(0), leaderOf(1)
	wrong := right0
	wrong.ID = (right0.ID + 1) % 3
	wrong.Addr = addrs[wrong.ID]
	if err := f.AddPartitions(map[TopicPartition]PartitionConfig{
		p0: {Target: ts.open(p0, true), Start: StartEarliest, Leader: &wrong, SourceTopicID: topicID},
		p1: {Target: ts.open(p1, true), Start: StartEarliest, Leader: &right1, SourceTopicID: topicID},
	}); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, cl, f, ts, p1)
	waitFor(t, 20*time.Second, func() (bool, string) {
		st, _ := f.Status(p0)
		return st.Leader == wrong.ID && errors.Is(st.LastError, kerr.NotLeaderForPartition),
			fmt.Sprintf("%s: leader %d, %s %v", p0, st.Leader, st.State, st.LastError)
	})
	if err := f.SetLeaders(map[TopicPartition]Leader{p0: right0}); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, cl, f, ts, p0, p1)

	// The source moves p0's leader; the owner tells the fetcher.
	next := (right0.ID + 2) % 3
	if err := c.MoveTopicPartition(topic, 0, next); err != nil {
		t.Fatal(err)
	}
	var moved Leader
	waitFor(t, 10*time.Second, func() (bool, string) {
		moved = leaderOf(0)
		return moved.ID == next && moved.Epoch > right0.Epoch, fmt.Sprintf("source leader after the move: %+v (was %+v)", moved, right0)
	})
	produce(t, newClient(t, seeds), rec(topic, 0, "", "after-move"))
	if err := f.SetLeaders(map[TopicPartition]Leader{p0: moved}); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, cl, f, ts, p0, p1)
	if st, _ := f.Status(p0); st.Leader != moved.ID || st.CurrentLeaderEpoch != moved.Epoch {
		t.Fatalf("%s: leader %d epoch %d, told %+v", p0, st.Leader, st.CurrentLeaderEpoch, moved)
	}
	// A stale leader (a lower epoch) is ignored.
	if err := f.SetLeaders(map[TopicPartition]Leader{p0: wrong}); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.Status(p0); st.Leader != moved.ID {
		t.Fatalf("%s: a stale told leader moved it to %d", p0, st.Leader)
	}
	if err := f.SetLeaders(map[TopicPartition]Leader{{topic, 9}: right0}); !errors.Is(err, ErrUnknownPart) {
		t.Fatalf("SetLeaders of an unknown partition: %v", err)
	}

	src.mu.Lock()
	defer src.mu.Unlock()
	if src.metadata != 0 {
		t.Errorf("%d metadata requests for told partitions", src.metadata)
	}
	for _, id := range []int32{wrong.ID, right0.ID, right1.ID, moved.ID} {
		if src.addrs[id] != addrs[id] {
			t.Errorf("broker %d reached at %q, told %q", id, src.addrs[id], addrs[id])
		}
	}
	for _, tp := range []TopicPartition{p0, p1} {
		checkMirror(t, cl, tp, ts.get(tp))
	}
}
