package link

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/partition"
	"github.com/tandem-streaming/tandem/internal/record"
)

// logCluster is a storeCluster with real partition logs, for
// truncate-and-restore.
type logCluster struct {
	*storeCluster
	mu   sync.Mutex
	logs map[string]*log.Log
	dir  string
	// crashed: the logs were not closed (a killed process); Open
	// recovers them.
	crashed bool
}

func (c *logCluster) MirrorPartition(topic string, p int32) (*partition.Partition, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := fmt.Sprintf("%s-%d", topic, p)
	l, ok := c.logs[key]
	if !ok {
		var err error
		if l, err = log.Open(log.Options{Dir: c.dir + "/" + key, Config: log.DefaultConfig(), CleanShutdown: !c.crashed}); err != nil {
			return nil, err
		}
		c.logs[key] = l
	}
	return &partition.Partition{Log: l}, nil
}

func (c *logCluster) LogEndOffsets(topic string) (map[int32]int64, error) {
	t, err := c.TopicByName(topic)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for p := int32(0); p < t.Partitions; p++ {
		pt, err := c.MirrorPartition(topic, p)
		if err != nil {
			return nil, err
		}
		out[p] = pt.Log.LogEndOffset()
	}
	return out, nil
}

// reopen closes every log and opens it again (as a restart would).
func (c *logCluster) reopen(t *testing.T) {
	c.mu.Lock()
	for k, l := range c.logs {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		delete(c.logs, k)
	}
	c.mu.Unlock()
}

func (c *logCluster) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.logs {
		_ = l.Close()
	}
}

// restoreFixture: an ordinary topic "t" with three partitions holding
// 10, 6 and 3 records in batches of (4, 3, 3), (2, 4) and (3), and a
// link "l" (unreachable: the restore itself needs no source).
func restoreFixture(t *testing.T) (*logCluster, metadata.Link) {
	c, l := openRestoreFixture(t, t.TempDir(), true)
	t.Cleanup(func() { c.close(); c.Store.Close() })
	return c, l
}

// openRestoreFixture opens the fixture kept in dir, creating it when
// create is set.
func openRestoreFixture(t *testing.T, dir string, create bool) (*logCluster, metadata.Link) {
	store, err := metadata.OpenBolt(dir+"/meta", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &logCluster{storeCluster: &storeCluster{Store: store}, logs: map[string]*log.Log{}, dir: dir + "/logs"}
	if !create {
		l, _ := store.Link("l")
		return c, l
	}
	cfg := map[string]string{"bootstrap.servers": "127.0.0.1:1", "topic.config.sync.ms": "3600000",
		"availability.check.ms": "3600000", "request.timeout.ms": "200"}
	if err := store.CreateLink(metadata.Link{Name: "l", Configs: cfg}); err != nil {
		t.Fatal(err)
	}
	l, _ := store.Link("l")
	if err := store.CreateTopic(metadata.Topic{Name: "t", Partitions: 3, ReplicationFactor: 1, LeaderEpochs: []int32{0, 0, 0}}); err != nil {
		t.Fatal(err)
	}
	for p, sizes := range [][]int{{4, 3, 3}, {2, 4}, {3}} {
		pt, err := c.MirrorPartition("t", int32(p))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range sizes {
			b := record.NewBuilder()
			for i := range n {
				b.Append(1_700_000_000_000, nil, fmt.Appendf(nil, "p%d-%d", p, i))
			}
			if _, err := pt.Log.AppendAsLeader(b.Build(), 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	return c, l
}

func leos(t *testing.T, c *logCluster) [3]int64 {
	var out [3]int64
	for p := range out {
		pt, err := c.MirrorPartition("t", int32(p))
		if err != nil {
			t.Fatal(err)
		}
		out[p] = pt.Log.LogEndOffset()
	}
	return out
}

// TestRestorePlanValidateOnly: the dry run reports offset_truncated_to and
// messages_truncated per partition (a target inside a batch truncates to
// its base; a target past the end truncates nothing) and changes nothing.
func TestRestorePlanValidateOnly(t *testing.T) {
	c, _ := restoreFixture(t)
	m, err := NewManager(c.Store, c, &modeData{mode: map[string]dataPathMode{}}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	plan, err := m.restoreLocal(context.Background(), "l", "t", "t", map[int32]int64{0: 7, 1: 3, 2: 5}, false, true)
	if err != nil {
		t.Fatal(err)
	}
	want := []metadata.MirrorRestorePartition{
		{Partition: 0, Target: 7, TruncatedTo: 7, LogEndOffset: 10, Records: 3, FirstOffset: 7, LastOffset: 9},
		{Partition: 1, Target: 3, TruncatedTo: 2, LogEndOffset: 6, Records: 4, FirstOffset: 2, LastOffset: 5},
		{Partition: 2, Target: 5, TruncatedTo: 3, LogEndOffset: 3, Records: 0, FirstOffset: -1, LastOffset: -1},
	}
	if fmt.Sprint(plan) != fmt.Sprint(want) {
		t.Fatalf("plan\n %v\nwant\n %v", plan, want)
	}
	if got := leos(t, c); got != [3]int64{10, 6, 3} {
		t.Fatalf("validate_only changed the logs: %v", got)
	}
	if tp, _ := c.TopicByName("t"); tp.Mirror != nil {
		t.Fatalf("validate_only made the topic a mirror: %+v", tp.Mirror)
	}
	if _, err := m.restoreLocal(context.Background(), "l", "__consumer_offsets", "__consumer_offsets", map[int32]int64{0: 0}, false, true); !errors.Is(err, ErrRestore) {
		t.Errorf("restore of an internal topic: %v, want ErrRestore", err)
	}
	// Bad targets are refused, naming the topic.
	for _, bad := range []map[int32]int64{{0: 1, 1: 1}, {0: 1, 1: 1, 3: 1}, {0: 1, 1: -1, 2: 0}} {
		if _, err := m.restoreLocal(context.Background(), "l", "t", "t", bad, false, true); !errors.Is(err, ErrRestore) || !strings.Contains(err.Error(), "'t'") {
			t.Errorf("targets %v: %v, want ErrRestore naming the topic", bad, err)
		}
	}
}

// TestRestoreTruncatesAndMirrors: the topic is truncated to the plan, every
// truncated range is named in a log line, and the topic ends an ACTIVE
// mirror of the link (PAUSED for the reverse-and-pause variant) handed to
// the data path, which resumes from the log end offset: the truncation
// point. A repeated request answers with the first one's plan.
func TestRestoreTruncatesAndMirrors(t *testing.T) {
	for _, paused := range []bool{false, true} {
		t.Run(fmt.Sprint("paused=", paused), func(t *testing.T) {
			c, l := restoreFixture(t)
			var logs bytes.Buffer
			var logMu sync.Mutex
			logger := slog.New(slog.NewTextHandler(lockedWriter{&logs, &logMu}, nil))
			d := &modeData{mode: map[string]dataPathMode{}}
			m, err := NewManager(c.Store, c, d, logger)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			targets := map[int32]int64{0: 7, 1: 3, 2: 5}
			plan, err := m.restoreLocal(context.Background(), "l", "t", "t", targets, paused, false)
			if err != nil {
				t.Fatal(err)
			}
			if got := leos(t, c); got != [3]int64{7, 2, 3} {
				t.Fatalf("log end offsets after restore: %v", got)
			}
			tp, _ := c.TopicByName("t")
			want, mode := MirrorActive, dpFetching
			if paused {
				want, mode = MirrorPaused, dpPaused
			}
			if tp.Mirror == nil || tp.Mirror.State != want || tp.Mirror.Link != "l" || tp.Mirror.LinkID != l.ID || tp.Mirror.SourceTopic != "t" {
				t.Fatalf("mirror after restore: %+v", tp.Mirror)
			}
			if !tp.ReadOnly() {
				t.Fatal("the restored topic is writable")
			}
			if fmt.Sprint(tp.Mirror.Restore) != fmt.Sprint(plan) {
				t.Fatalf("persisted plan %v, returned %v", tp.Mirror.Restore, plan)
			}
			if got := d.get("t"); got != mode {
				t.Fatalf("data path mode %v, want %v", got, mode)
			}
			logMu.Lock()
			out := logs.String()
			logMu.Unlock()
			for _, line := range []string{
				"partition=0 from_offset=7 to_offset=10 first_offset=7 last_offset=9 messages_truncated=3",
				"partition=1 from_offset=2 to_offset=6 first_offset=2 last_offset=5 messages_truncated=4",
			} {
				if !strings.Contains(out, line) {
					t.Errorf("no log line names %q:\n%s", line, out)
				}
			}
			if strings.Contains(out, "partition=2 from_offset") {
				t.Errorf("a partition with nothing truncated is logged as truncated:\n%s", out)
			}
			again, err := m.restoreLocal(context.Background(), "l", "t", "t", targets, paused, false)
			if err != nil || fmt.Sprint(again) != fmt.Sprint(plan) {
				t.Fatalf("repeated restore: %v, %v", again, err)
			}
			if _, err := m.restoreLocal(context.Background(), "l", "t", "t", map[int32]int64{0: 1, 1: 1, 2: 1}, paused, false); !errors.Is(err, ErrMirrorState) {
				t.Fatalf("restore of a mirror with other targets: %v, want ErrMirrorState", err)
			}
		})
	}
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// TestRestoreCrashMidway: a crash before each partition's truncation
// leaves the topic PENDING_RESTORE, each partition either untouched or
// truncated; the next start redoes the truncation from the persisted plan
// (which still reports what the first attempt found) and completes.
func TestRestoreCrashMidway(t *testing.T) {
	for crashAt := int32(0); crashAt < 3; crashAt++ {
		t.Run(fmt.Sprint("before partition ", crashAt), func(t *testing.T) {
			c, _ := restoreFixture(t)
			d := &modeData{mode: map[string]dataPathMode{}}
			m1, err := NewManager(c.Store, c, d, testLogger())
			if err != nil {
				t.Fatal(err)
			}
			m1.testCrashRestore = func(_ string, p int32) bool { return p == crashAt }
			targets := map[int32]int64{0: 7, 1: 3, 2: 1}
			plan, err := m1.restoreLocal(context.Background(), "l", "t", "t", targets, false, false)
			if !errors.Is(err, errTestCrash) {
				t.Fatalf("restore: %v, want the simulated crash", err)
			}
			m1.Close()
			tp, _ := c.TopicByName("t")
			if tp.Mirror == nil || tp.Mirror.State != metadata.MirrorPendingRestore || !tp.ReadOnly() {
				t.Fatalf("after the crash: %+v", tp.Mirror)
			}
			before, after := [3]int64{10, 6, 3}, [3]int64{7, 2, 0} // 1 is inside partition 2's batch
			got := leos(t, c)
			for p := range got {
				want := before[p]
				if int32(p) < crashAt {
					want = after[p]
				}
				if got[p] != want {
					t.Fatalf("partition %d ends at %d after the crash, want %d", p, got[p], want)
				}
			}
			c.reopen(t)
			m2, err := NewManager(c.Store, c, d, testLogger())
			if err != nil {
				t.Fatal(err)
			}
			defer m2.Close()
			if got := leos(t, c); got != after {
				t.Fatalf("after recovery: %v, want %v", got, after)
			}
			tp, _ = c.TopicByName("t")
			if tp.Mirror.State != MirrorActive || fmt.Sprint(tp.Mirror.Restore) != fmt.Sprint(plan) {
				t.Fatalf("after recovery: %+v, plan %v", tp.Mirror, plan)
			}
			if d.get("t") != dpFetching {
				t.Fatal("the restored mirror is not fetching")
			}
		})
	}
}

// TestRestoreKill9: a broker process killed (SIGKILL) in the middle of a
// truncate-and-restore, before each partition in turn, leaves every
// partition either untouched or truncated, never torn; log recovery and
// the next start complete the restore, and the kept records are the old
// ones byte for byte.
func TestRestoreKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes")
	}
	for crashAt := int32(0); crashAt < 3; crashAt++ {
		t.Run(fmt.Sprint("before partition ", crashAt), func(t *testing.T) {
			dir := t.TempDir()
			c, _ := openRestoreFixture(t, dir, true)
			var before [3][]byte
			for p := range before {
				before[p] = readAll(t, c, int32(p))
			}
			c.close()
			c.Store.Close()

			cmd := exec.Command(os.Args[0], "-test.run=^TestRestoreKill9Child$", "-test.v")
			cmd.Env = append(os.Environ(), "TANDEM_RESTORE_KILL9_DIR="+dir, fmt.Sprintf("TANDEM_RESTORE_KILL9_AT=%d", crashAt))
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("child: %v, want killed by SIGKILL\n%s", err, out)
			}

			c, _ = openRestoreFixture(t, dir, false)
			c.crashed = true
			defer func() { c.close(); c.Store.Close() }()
			tp, _ := c.TopicByName("t")
			if tp.Mirror == nil || tp.Mirror.State != metadata.MirrorPendingRestore {
				t.Fatalf("after the kill: %+v", tp.Mirror)
			}
			old, after := [3]int64{10, 6, 3}, [3]int64{7, 2, 0}
			got := leos(t, c)
			for p := range got {
				if got[p] != old[p] && got[p] != after[p] {
					t.Fatalf("partition %d ends at %d after the kill: neither %d nor %d", p, got[p], old[p], after[p])
				}
				if int32(p) < crashAt && got[p] != after[p] {
					t.Fatalf("partition %d, truncated before the kill, ends at %d", p, got[p])
				}
			}
			m, err := NewManager(c.Store, c, &modeData{mode: map[string]dataPathMode{}}, testLogger())
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if got := leos(t, c); got != after {
				t.Fatalf("after recovery: %v, want %v", got, after)
			}
			if tp, _ := c.TopicByName("t"); tp.Mirror.State != MirrorActive {
				t.Fatalf("after recovery: %s", tp.Mirror.State)
			}
			for p := range before {
				kept := readAll(t, c, int32(p))
				if !bytes.HasPrefix(before[p], kept) || len(kept) == 0 && after[p] > 0 {
					pt, _ := c.MirrorPartition("t", int32(p))
					t.Fatalf("partition %d: the kept records (%d bytes, HW %d, LEO %d) are not the old ones' prefix (%d bytes)", p, len(kept), pt.Log.HighWatermark(), pt.Log.LogEndOffset(), len(before[p]))
				}
			}
		})
	}
}

// TestRestoreKill9Child is TestRestoreKill9's child process: it runs the
// restore and kills itself before partition TANDEM_RESTORE_KILL9_AT.
func TestRestoreKill9Child(t *testing.T) {
	dir := os.Getenv("TANDEM_RESTORE_KILL9_DIR")
	if dir == "" {
		t.Skip("the child of TestRestoreKill9")
	}
	at, _ := strconv.Atoi(os.Getenv("TANDEM_RESTORE_KILL9_AT"))
	c, _ := openRestoreFixture(t, dir, false)
	m, err := NewManager(c.Store, c, &modeData{mode: map[string]dataPathMode{}}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	m.testCrashRestore = func(_ string, p int32) bool {
		if p == int32(at) {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is delivered
		}
		return false
	}
	_, err = m.restoreLocal(context.Background(), "l", "t", "t", map[int32]int64{0: 7, 1: 3, 2: 1}, false, false)
	t.Fatalf("restore returned (%v): the child was to be killed", err)
}

// readAll reads partition p of "t" up to its log end offset.
func readAll(t *testing.T, c *logCluster, p int32) []byte {
	pt, err := c.MirrorPartition("t", p)
	if err != nil {
		t.Fatal(err)
	}
	// The high watermark is the durable end: wait for the syncer.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pt.Log.WaitHighWatermark(ctx, pt.Log.LogEndOffset()); err != nil {
		t.Fatal(err)
	}
	var out []byte
	for off := pt.Log.LogStartOffset(); off < pt.Log.HighWatermark(); {
		r, err := pt.Log.Read(off, 1<<20, log.ReadUncommitted, true)
		if err != nil || len(r.Records) == 0 {
			t.Fatalf("read %d at %d: %v", p, off, err)
		}
		out = append(out, r.Records...)
		it := record.NewIter(r.Records)
		for b, ok := it.Next(); ok; b, ok = it.Next() {
			off = b.NextOffset()
		}
	}
	return out
}

// TestRestoreLinkDeletedMidway: deleting the link (with force) while a
// restore is PENDING_RESTORE finishes the truncation before the topic is
// detached and writable again: never some partitions truncated and
// others not.
func TestRestoreLinkDeletedMidway(t *testing.T) {
	c, _ := restoreFixture(t)
	m, err := NewManager(c.Store, c, &modeData{mode: map[string]dataPathMode{}}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.testCrashRestore = func(_ string, p int32) bool { return p == 1 }
	if _, err := m.restoreLocal(context.Background(), "l", "t", "t", map[int32]int64{0: 7, 1: 3, 2: 1}, false, false); !errors.Is(err, errTestCrash) {
		t.Fatalf("restore: %v, want the simulated crash", err)
	}
	m.testCrashRestore = nil
	if err := m.DeleteLink("l", true, false); err != nil {
		t.Fatal(err)
	}
	if got := leos(t, c); got != [3]int64{7, 2, 0} {
		t.Fatalf("after the link's deletion: %v", got)
	}
	if tp, _ := c.TopicByName("t"); tp.Mirror != nil || tp.ReadOnly() {
		t.Fatalf("after the link's deletion: %+v", tp.Mirror)
	}
}

// TestRestoreClampsGroups: a local group committed past the truncation
// point is lowered to it (it would otherwise skip the records the mirror
// fetches there); one below it, and an active group, are left alone.
func TestRestoreClampsGroups(t *testing.T) {
	c, _ := restoreFixture(t)
	c.groups = &fakeGroups{state: map[string]string{"g": "Empty", "busy": "Stable"},
		offsets: map[string]map[string]map[int32]int64{
			"g":    {"t": {0: 9, 1: 1, 2: 3}},
			"busy": {"t": {0: 9}},
		}}
	m, err := NewManager(c.Store, c, &modeData{mode: map[string]dataPathMode{}}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.restoreLocal(context.Background(), "l", "t", "t", map[int32]int64{0: 7, 1: 3, 2: 1}, false, false); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[int32]int64{0: 7, 1: 1, 2: 0} {
		if got := c.groups.get2("g", "t", p); got != want {
			t.Errorf("g on partition %d at %d, want %d", p, got, want)
		}
	}
	if got := c.groups.get2("busy", "t", 0); got != 9 {
		t.Errorf("the active group was moved to %d", got)
	}
}
