package broker_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/node"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// Crash points of a topic deletion (reconciler.deleteTopic), in order,
// and whether the topic is gone after a kill -9 there.
var deleteCrashPoints = []struct {
	point string
	gone  bool
}{
	{"delete:start", false},
	{"delete:renamed-one", false}, // one partition directory renamed
	{"delete:renamed", false},     // all renamed, commit not done
	{"delete:committed", true},
	{"delete:removed", true},
}

const (
	crashDirEnv   = "TANDEM_CRASH_DIR"
	crashPointEnv = "TANDEM_CRASH_AT"
	crashRecords  = 50 // per partition
)

// TestCrashHelperProcess is the broker process TestTopicDeleteCrash kills:
// it creates two topics, produces to both with acks=all, then deletes one
// with the crash hook sending it SIGKILL at the chosen point.
func TestCrashHelperProcess(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("helper process of TestTopicDeleteCrash")
	}
	point := os.Getenv(crashPointEnv)
	n, err := node.Start(map[string]string{
		"listeners": "PLAINTEXT://127.0.0.1:0", "http.listeners": "", "log.dirs": dir,
		"offsets.topic.num.partitions": "2", "group.initial.rebalance.delay.ms": "0",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.KafkaAddr()), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, topic := range []string{"doomed", "kept"} {
		if _, err := n.Broker().CreateTopic(broker.TopicSpec{Name: topic, Partitions: 3, ReplicationFactor: 1}, false); err != nil {
			t.Fatal(err)
		}
		for p := range int32(3) {
			for i := range crashRecords {
				r := &kgo.Record{Topic: topic, Partition: p, Value: fmt.Appendf(nil, "%s-%d-%d", topic, p, i)}
				if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	cl.Close()
	broker.SetCrashHook(func(at string) {
		if at == point {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	})
	if strings.HasPrefix(point, "create-rollback:") {
		// A create whose partition 1 cannot be opened: the rollback runs.
		if err := os.WriteFile(filepath.Join(dir, "failing-1"), []byte("in the way"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := n.Broker().CreateTopic(broker.TopicSpec{Name: "failing", Partitions: 2, ReplicationFactor: 1}, false)
		t.Fatalf("crash point %q was not reached (create: %v)", point, err)
	}
	if _, err := n.Broker().DeleteTopic("doomed"); err != nil {
		t.Fatal(err)
	}
	t.Fatalf("crash point %q was not reached", point)
}

// runCrashHelper runs TestCrashHelperProcess on dir until it kills itself
// at point.
func runCrashHelper(t *testing.T, dir, point string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashPointEnv+"="+point)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper did not die by SIGKILL at %s: %v\n%s", point, err, out)
	}
}

// TestCreateRollbackCrash kills the broker at each step of the rollback
// of a failed create: after the restart the topic is either still in
// metadata (offline while its directory cannot be made, hosted once it
// can) or gone without a directory left, and the broker starts either
// way.
func TestCreateRollbackCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a broker process per crash point")
	}
	for _, cp := range deleteCrashPoints {
		point := strings.Replace(cp.point, "delete:", "create-rollback:", 1)
		t.Run(strings.ReplaceAll(point, ":", "-"), func(t *testing.T) {
			dir := t.TempDir()
			runCrashHelper(t, dir, point)
			b := tandemtest.Start(t, tandemtest.Config("log.dirs", dir), tandemtest.Config("offsets.topic.num.partitions", "2"))
			checkAllRecords(t, b, "kept")
			_, exists := b.Node.Store().Topic("failing")
			if exists == cp.gone {
				t.Fatalf("after a crash at %s: topic exists=%v, want %v", point, exists, !cp.gone)
			}
			if err := os.Remove(filepath.Join(dir, "failing-1")); err != nil {
				t.Fatal(err)
			}
			if exists {
				// Hosted by the reconciler's retry once the file is gone.
				waitFor(t, "failing hosted", func() bool {
					_, err := b.Node.Broker().MirrorPartition("failing", 1)
					return err == nil
				})
				if _, err := b.Node.Broker().DeleteTopic("failing"); err != nil {
					t.Fatal(err)
				}
			}
			if dirs := dirsOf(t, dir, "failing"); len(dirs) != 0 {
				t.Fatalf("left behind: %v", dirs)
			}
		})
	}
}

// consumeTopic reads every record of topic's partitions up to their end
// offsets and returns the values per partition.
func consumeTopic(t *testing.T, b *tandemtest.Broker, topic string, partitions int32) map[int32][]string {
	t.Helper()
	offs := map[string]map[int32]kgo.Offset{topic: {}}
	for p := range partitions {
		offs[topic][p] = kgo.NewOffset().AtStart()
	}
	ends, err := b.Node.Broker().LogEndOffsets(topic)
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	for _, e := range ends {
		total += e
	}
	cl := client(t, b, kgo.ConsumePartitions(offs))
	out := map[int32][]string{}
	ctx := ctxT(t)
	for got := int64(0); got < total; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: read %d of %d records", topic, got, total)
		}
		fs.EachRecord(func(r *kgo.Record) {
			out[r.Partition] = append(out[r.Partition], string(r.Value))
			got++
		})
	}
	return out
}

func checkAllRecords(t *testing.T, b *tandemtest.Broker, topic string) {
	t.Helper()
	got := consumeTopic(t, b, topic, 3)
	for p := range int32(3) {
		var want []string
		for i := range crashRecords {
			want = append(want, fmt.Sprintf("%s-%d-%d", topic, p, i))
		}
		if !slices.Equal(got[p], want) {
			t.Errorf("%s-%d: acknowledged records lost or changed: got %d records %v, want %d", topic, p, len(got[p]), got[p], len(want))
		}
	}
}

// dirsOf lists the entries of dir that belong to topic (live, -delete
// and -stray directories).
func dirsOf(t *testing.T, dir, topic string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), topic+"-") {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestTopicDeleteCrash kills a broker process with SIGKILL at each step of
// a topic deletion and restarts it on the same directory: the topic is
// then either whole (every acknowledged record) or gone without a trace,
// the other topic keeps every acknowledged record, and the name can be
// created again (issue #9: an orphan directory used to block it forever).
func TestTopicDeleteCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a broker process per crash point")
	}
	for _, cp := range deleteCrashPoints {
		t.Run(strings.ReplaceAll(cp.point, ":", "-"), func(t *testing.T) {
			dir := t.TempDir()
			runCrashHelper(t, dir, cp.point)

			b := tandemtest.Start(t, tandemtest.Config("log.dirs", dir), tandemtest.Config("offsets.topic.num.partitions", "2"))
			checkAllRecords(t, b, "kept")
			_, exists := b.Node.Store().Topic("doomed")
			if exists == cp.gone {
				t.Fatalf("after a crash at %s: topic exists=%v, want %v", cp.point, exists, !cp.gone)
			}
			dirs := dirsOf(t, dir, "doomed")
			if cp.gone {
				if len(dirs) != 0 {
					t.Fatalf("deleted topic left directories: %v", dirs)
				}
			} else {
				if !slices.Equal(dirs, []string{"doomed-0", "doomed-1", "doomed-2"}) {
					t.Fatalf("surviving topic's directories: %v", dirs)
				}
				checkAllRecords(t, b, "doomed")
				if _, err := b.Node.Broker().DeleteTopic("doomed"); err != nil {
					t.Fatal(err)
				}
				if dirs := dirsOf(t, dir, "doomed"); len(dirs) != 0 {
					t.Fatalf("deletion left directories: %v", dirs)
				}
			}
			// The name is free: created again, it starts empty.
			cl := client(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
			createTopic(t, cl, "doomed", 3, nil)
			if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: "doomed", Partition: 1, Value: []byte("new")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			got := consumeTopic(t, b, "doomed", 3)
			if len(got[0])+len(got[2]) != 0 || !slices.Equal(got[1], []string{"new"}) {
				t.Fatalf("re-created topic holds %v, want only the new record", got)
			}
			b.Restart()
			checkAllRecords(t, b, "kept")
		})
	}
}

// TestOrphanNeverBlocksAName: a partition directory of an earlier
// incarnation of a name (another topic id, as a crash during an old
// delete left it) is moved aside and kept when the name is created; a
// create that fails leaves nothing behind and does not block the name.
func TestOrphanNeverBlocksAName(t *testing.T) {
	b := tandemtest.Start(t)
	cl := client(t, b)
	orphan := filepath.Join(b.Dir, "reborn-0")
	if err := os.MkdirAll(orphan, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := log.WritePartitionMetadata(orphan, [16]byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	createTopic(t, cl, "reborn", 2, nil)
	dirs := dirsOf(t, b.Dir, "reborn")
	if len(dirs) != 3 || dirs[0] != "reborn-0" || !strings.HasSuffix(dirs[1], log.StrayDirSuffix) || dirs[2] != "reborn-1" {
		t.Fatalf("directories after create over an orphan: %v, want reborn-0, reborn-1 and a -stray", dirs)
	}

	// A damaged directory under a new topic's name cannot be its data:
	// moved aside too.
	if err := os.MkdirAll(filepath.Join(b.Dir, "mangled-0"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.Dir, "mangled-0", "partition.metadata"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	createTopic(t, cl, "mangled", 1, nil)
	if dirs := dirsOf(t, b.Dir, "mangled"); len(dirs) != 2 || !strings.HasSuffix(dirs[1], log.StrayDirSuffix) {
		t.Fatalf("directories after create over a damaged orphan: %v", dirs)
	}

	// A create whose partition 1 cannot be opened (a file where its
	// directory goes) fails and removes partition 0's directory.
	if err := os.WriteFile(filepath.Join(b.Dir, "broken-1"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		resp, err := kadm.NewClient(cl).CreateTopic(ctxT(t), 2, 1, nil, "broken")
		if err == nil && resp.Err == nil {
			t.Fatal("create over a blocking file succeeded")
		}
		if _, ok := b.Node.Store().Topic("broken"); ok {
			t.Fatal("failed create left the topic in metadata")
		}
		if dirs := dirsOf(t, b.Dir, "broken"); !slices.Equal(dirs, []string{"broken-1"}) {
			t.Fatalf("failed create left %v behind", dirs)
		}
	}
	if err := os.Remove(filepath.Join(b.Dir, "broken-1")); err != nil {
		t.Fatal(err)
	}
	createTopic(t, cl, "broken", 2, nil)
	b.Restart()
	if _, err := b.Node.Broker().MirrorPartition("broken", 1); err != nil {
		t.Fatal(err)
	}
}
