package crash

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
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

// crashServerEnv selects the server TestKill9GroupCommitsSurvive kills:
// unset, `tandem serve`; "kfake", `tandem bench kfake` with a data directory
// and fsync on every write (franz-go's kfake, which persists group state),
// to check the test itself while Tandem does not serve groups.
const crashServerEnv = "TANDEM_CRASH_SERVER"

// groupCrashAPIs are what a group consumer that commits needs.
var groupCrashAPIs = []kmsg.Key{
	kmsg.FindCoordinator, kmsg.JoinGroup, kmsg.SyncGroup, kmsg.Heartbeat,
	kmsg.LeaveGroup, kmsg.OffsetCommit, kmsg.OffsetFetch,
}

// startCrashServer starts the server crashServerEnv names on dir and port.
func startCrashServer(t *testing.T, bin, dir string, port int) *proc {
	t.Helper()
	if os.Getenv(crashServerEnv) != "kfake" {
		return startBroker(t, bin, dir, port)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	var out tandemtest.Logs
	cmd := exec.Command(bin, "bench", "kfake", "--addr="+addr, "--data-dir="+dir, "--sync-writes")
	cmd.Stdout, cmd.Stderr = &out, &out // one writer: exec serializes writes
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Ready once it answers ApiVersions.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		_, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
		if err == nil {
			return &proc{cmd: cmd, log: &out}
		}
		if ctx.Err() != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("kfake did not start: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// commitTracker knows what the group's committed offsets may be: per
// partition the last commit acknowledged, and a commit sent whose answer
// never came (the broker died first), which may or may not have been
// applied.
type commitTracker struct {
	mu       sync.Mutex
	acked    map[int32]int64
	inflight map[int32]int64
	n        int // commits acknowledged
}

func (c *commitTracker) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *commitTracker) send(p int32, o int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight[p] = o
}

// done records the outcome of a commit: acknowledged, refused (an error
// code: not applied), or unknown (no answer).
func (c *commitTracker) done(p int32, o int64, ok, unknown bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if unknown {
		return
	}
	delete(c.inflight, p)
	if ok {
		c.acked[p] = o
		c.n++
	}
}

// check compares the committed offsets fetched after a restart with what
// they may be, and then takes them as the truth.
func (c *commitTracker) check(t *testing.T, round int, got map[int32]int64) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range slices.Sorted(maps.Keys(merged(got, c.acked, c.inflight))) {
		g, gok := got[p]
		a, aok := c.acked[p]
		i, iok := c.inflight[p]
		switch {
		case gok && aok && g == a:
		case gok && iok && g == i:
		case !gok && !aok && !iok:
		default:
			t.Errorf("after restart %d: partition %d committed %s; the last acknowledged commit was %s, unanswered %s",
				round, p, show(g, gok), show(a, aok), show(i, iok))
		}
	}
	c.acked = maps.Clone(got)
	clear(c.inflight)
}

func merged(ms ...map[int32]int64) map[int32]bool {
	all := make(map[int32]bool)
	for _, m := range ms {
		for k := range m {
			all[k] = true
		}
	}
	return all
}

func show(o int64, ok bool) string {
	if !ok {
		return "none"
	}
	return strconv.FormatInt(o, 10)
}

// TestKill9GroupCommitsSurvive runs a franz-go group consumer that commits
// the offset of every record it processes, synchronously, kills the broker
// with SIGKILL while it does, restarts it, and checks, for several rounds,
// that the group's committed offsets are exactly the last commits the
// broker acknowledged (or a commit it received but could not answer), and
// that the next consumer resumes there.
func TestKill9GroupCommitsSurvive(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test builds and runs the binary")
	}
	const (
		topic        = "crash-group"
		group        = "crash-group"
		partitions   = 4
		perPartition = 20000
		rounds       = 4
	)
	bin := buildTandem(t)
	dir := t.TempDir()
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p := startCrashServer(t, bin, dir, port)
	defer func() { p.stop(t) }()

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	admCl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(admCl)
	if missing := missingAPIs(ctx, t, adm, groupCrashAPIs); len(missing) > 0 {
		admCl.Close()
		t.Skipf("the broker does not advertise %s: consumer groups are not served yet", strings.Join(missing, ", "))
	}
	if _, err := adm.CreateTopic(ctx, partitions, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i := range partitions * perPartition {
		recs = append(recs, &kgo.Record{Partition: int32(i % partitions), Value: []byte(strconv.Itoa(i))})
	}
	if err := admCl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	admCl.Close()

	tr := &commitTracker{acked: map[int32]int64{}, inflight: map[int32]int64{}}
	for round := 0; round <= rounds; round++ {
		got := fetchCommitted(ctx, t, addr, group, topic)
		tr.check(t, round, got)
		if round == rounds {
			break
		}
		first := consumeAndCommit(ctx, t, addr, topic, group, tr, func() {
			time.Sleep(time.Duration(300+rand.IntN(700)) * time.Millisecond)
			p.kill9(t)
		})
		for part, o := range first {
			if want := got[part]; o != want {
				t.Errorf("round %d: the consumer started partition %d at offset %d, want %d, the committed offset", round, part, o, want)
			}
		}
		p = startCrashServer(t, bin, dir, port)
	}
	if n := tr.count(); n < 100 {
		t.Fatalf("only %d commits acknowledged; the test did not exercise anything", n)
	}
	if t.Failed() {
		return
	}
	t.Logf("%d commits acknowledged across %d kill -9 rounds; committed offsets were the last acknowledged each time", tr.n, rounds)
}

// consumeAndCommit runs a group consumer that commits each record it
// processes until kill (run concurrently) returns, and returns the first
// offset it consumed of each partition.
func consumeAndCommit(ctx context.Context, t *testing.T, addr, topic, group string, tr *commitTracker, kill func()) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Short, so a member the broker remembers from before the
		// crash expires quickly.
		kgo.SessionTimeout(6*time.Second),
		kgo.RebalanceTimeout(10*time.Second),
		kgo.FetchMaxPartitionBytes(16<<10),
	)
	if err != nil {
		t.Fatal(err)
	}
	before := tr.count()
	cctx, stop := context.WithCancel(ctx)
	first := make(map[int32]int64)
	var consumed sync.WaitGroup
	commit := func(r *kgo.Record) {
		next := r.Offset + 1
		tr.send(r.Partition, next)
		cl.CommitOffsetsSync(cctx, map[string]map[int32]kgo.EpochOffset{topic: {r.Partition: {Epoch: r.LeaderEpoch, Offset: next}}},
			func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
				if err != nil {
					tr.done(r.Partition, next, false, true)
					return
				}
				code := int16(-1)
				for _, rt := range resp.Topics {
					for _, rp := range rt.Partitions {
						if rp.Partition == r.Partition {
							code = rp.ErrorCode
						}
					}
				}
				// No answer for the partition: unknown.
				tr.done(r.Partition, next, code == 0, code == -1)
			})
	}
	consumed.Go(func() {
		for cctx.Err() == nil {
			fs := cl.PollFetches(cctx)
			// Process the partitions round-robin, so every partition
			// has commits in flight when the broker dies.
			var byPart [][]*kgo.Record
			fs.EachPartition(func(ftp kgo.FetchTopicPartition) {
				if len(ftp.Records) > 0 {
					byPart = append(byPart, ftp.Records)
				}
			})
			for len(byPart) > 0 && cctx.Err() == nil {
				rest := byPart[:0]
				for _, rs := range byPart {
					r := rs[0]
					if _, ok := first[r.Partition]; !ok {
						first[r.Partition] = r.Offset
					}
					commit(r)
					if len(rs) > 1 {
						rest = append(rest, rs[1:])
					}
				}
				byPart = rest
			}
		}
	})
	// Wait for the group to be joined and committing before the kill.
	deadline := time.Now().Add(30 * time.Second)
	for tr.count() == before {
		if time.Now().After(deadline) {
			stop()
			consumed.Wait()
			cl.Close()
			t.Fatalf("the group consumer committed nothing within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	kill()
	stop()
	consumed.Wait()
	// The broker is gone: leave without waiting for it.
	gone, cancelGone := context.WithCancel(context.Background())
	cancelGone()
	_ = cl.LeaveGroupContext(gone)
	cl.Close()
	t.Logf("%d commits acknowledged, then SIGKILL", tr.count()-before)
	return first
}

// fetchCommitted returns the group's committed offsets, retrying while the
// broker is starting (coordinator not available, offsets loading).
func fetchCommitted(ctx context.Context, t *testing.T, addr, group, topic string) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resps, err := adm.FetchOffsets(ctx, group)
		if err == nil {
			err = resps.Error()
		}
		if errors.Is(err, kerr.GroupIDNotFound) {
			// kfake's answer for a group it does not know (Kafka
			// answers with no offsets).
			return map[int32]int64{}
		}
		if err == nil {
			got := make(map[int32]int64)
			resps.Each(func(r kadm.OffsetResponse) {
				if r.Topic == topic {
					got[r.Partition] = r.At
				}
			})
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("OffsetFetch: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// missingAPIs returns the keys the broker does not advertise.
func missingAPIs(ctx context.Context, t *testing.T, adm *kadm.Client, keys []kmsg.Key) []string {
	t.Helper()
	vs, err := adm.ApiVersions(ctx)
	if err != nil {
		t.Fatalf("ApiVersions: %v", err)
	}
	var missing []string
	for _, k := range keys {
		vs.Each(func(v kadm.BrokerApiVersions) {
			if _, ok := v.KeyMaxVersion(k.Int16()); !ok || v.Err != nil {
				missing = append(missing, k.Name())
			}
		})
	}
	return missing
}
