package log

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/record"
	"github.com/tandem-streaming/tandem/internal/vfs"
)

// Storage-fault tests: a vfs.ErrorFS under the log fails chosen
// operations with ENOSPC, EMFILE or EIO. Each test first records the
// operations an action performs without faults, then replays the same
// history once per recorded operation and errno with that one operation
// failing, and checks the semantics of docs/operations.md (Storage
// faults): the action fails with an error wrapping the errno; nothing
// acknowledged is lost (checked after reopening); after a transient fault
// (ENOSPC, EMFILE) the log is writable again once the condition clears,
// with no restart; after EIO the log is offline, and a restart recovers
// it to its last durable point.

var faultErrnos = []syscall.Errno{syscall.ENOSPC, syscall.EMFILE, syscall.EIO}

// faultEnv is a log over an ErrorFS with a manual syncer.
type faultEnv struct {
	t      *testing.T
	dir    string
	fs     *vfs.ErrorFS
	syncer *Syncer
	cfg    Config
	l      *Log
	acked  []string // values of acknowledged (durable) records, in order
	next   int
}

func newFaultEnv(t *testing.T, cfg Config) *faultEnv {
	e := &faultEnv{t: t, dir: t.TempDir(), fs: vfs.NewErrorFS(nil), syncer: newSyncer(nil, true), cfg: cfg}
	e.open(true)
	t.Cleanup(func() {
		if e.l != nil {
			_ = e.l.Close()
		}
	})
	return e
}

func (e *faultEnv) open(clean bool) {
	e.t.Helper()
	l, err := Open(Options{Dir: e.dir, Config: e.cfg, Syncer: e.syncer, Files: NewFileCacheFS(8, e.fs),
		CleanShutdown: clean, Logger: quietLogger()})
	if err != nil {
		e.t.Fatalf("open: %v", err)
	}
	e.l = l
}

// restart closes the log (whatever state it is in) and reopens it with
// the faults cleared and recovery of the tail, as after a broker restart.
func (e *faultEnv) restart() {
	e.t.Helper()
	e.fs.Clear()
	_ = e.l.Close()
	e.open(false)
}

func (e *faultEnv) batch(value string) record.Batch {
	b := record.NewBuilder()
	b.Append(time.Now().UnixMilli(), []byte("k"), []byte(value))
	return b.Build()
}

// append appends one record in epoch and, when it succeeds, runs the
// sync rounds and records it as acknowledged (acks=all: HW covers it).
func (e *faultEnv) append(epoch int32) (string, error) {
	e.t.Helper()
	v := fmt.Sprintf("v%04d", e.next)
	res, err := e.l.AppendAsLeader(e.batch(v), epoch)
	if err != nil {
		return v, err
	}
	e.next++
	e.syncer.runPending()
	if hw := e.l.HighWatermark(); hw > res.LastOffset {
		e.acked = append(e.acked, v)
	}
	return v, nil
}

// mustAppend appends and requires the record to be acknowledged.
func (e *faultEnv) mustAppend(epoch int32) {
	e.t.Helper()
	if _, err := e.append(epoch); err != nil {
		e.t.Fatalf("append: %v", err)
	}
	if n := len(e.acked); n == 0 || e.acked[n-1] != fmt.Sprintf("v%04d", e.next-1) {
		e.t.Fatalf("append not acknowledged (HW %d, LEO %d)", e.l.HighWatermark(), e.l.LogEndOffset())
	}
}

// values reads every record value below the high watermark.
func (e *faultEnv) values() []string {
	e.t.Helper()
	var out []string
	off := e.l.LogStartOffset()
	for off < e.l.HighWatermark() {
		res, err := e.l.Read(off, 1<<20, ReadUncommitted, true)
		if err != nil {
			e.t.Fatalf("read at %d: %v", off, err)
		}
		if len(res.Records) == 0 {
			break
		}
		it := record.NewIter(res.Records)
		for b, ok := it.Next(); ok; b, ok = it.Next() {
			_ = b.Records(func(r record.Record) error {
				out = append(out, string(r.Value))
				return nil
			})
			off = b.NextOffset()
		}
	}
	return out
}

// checkAcked requires the log to hold exactly the acknowledged records,
// optionally followed by the values in maybe (written but not
// acknowledged: recovery may keep them).
func (e *faultEnv) checkAcked(when string, maybe ...string) {
	e.t.Helper()
	got := e.values()
	if len(got) < len(e.acked) || !slices.Equal(got[:len(e.acked)], e.acked) {
		e.t.Fatalf("%s: log holds %v, acknowledged %v", when, got, e.acked)
	}
	if rest := got[len(e.acked):]; len(rest) > 0 && !slices.Equal(rest, maybe[:min(len(maybe), len(rest))]) {
		e.t.Fatalf("%s: log holds %v past the acknowledged %v (allowed: %v)", when, rest, e.acked, maybe)
	}
}

// faultConfig rolls a segment every two records and indexes every batch.
func faultConfig() Config {
	cfg := DefaultConfig()
	b := record.NewBuilder()
	b.Append(time.Now().UnixMilli(), []byte("k"), []byte("v0000"))
	cfg.SegmentBytes = int64(2*len(b.Build()) + 1)
	cfg.IndexIntervalBytes = 1
	return cfg
}

// history is the state every case starts from: two full segments, one
// acknowledged record each in epoch 0... then the probe rolls.
func (e *faultEnv) history() {
	e.t.Helper()
	for range 4 {
		e.mustAppend(0)
	}
}

// mutating are the recorded operations a fault can hit, with the ordinal
// of each among the operations of its kind (for Rule.Nth).
type faultPoint struct {
	op   vfs.Op
	path string
	nth  int
}

func faultPoints(recs []vfs.Record) []faultPoint {
	seen := map[vfs.Op]int{}
	var out []faultPoint
	for _, r := range recs {
		seen[r.Op]++
		if r.Op&vfs.OpMutating != 0 {
			out = append(out, faultPoint{op: r.Op, path: filepath.Base(r.Path), nth: seen[r.Op]})
		}
	}
	return out
}

// request builds one produce request of n single-record batches, with
// the values it carries.
func (e *faultEnv) request(n int) ([]byte, []string) {
	var buf []byte
	var vs []string
	for k := range n {
		v := fmt.Sprintf("v%04d", e.next+k)
		buf = append(buf, e.batch(v)...)
		vs = append(vs, v)
	}
	return buf, vs
}

// TestAppendFaults fails, one at a time, every open, write, sync, rename,
// remove and truncate of an append, with each errno. Two appends are
// probed: a one-batch request that rolls a segment, takes a producer
// snapshot and starts a new leader epoch (so it also rewrites
// leader-epoch-checkpoint); and a three-batch request whose first batch
// completes a segment (written, indexed), whose second rolls and whose
// third is indexed in the new segment, so a fault late in the request
// must undo what its first part wrote to the previous segment.
func TestAppendFaults(t *testing.T) {
	probes := []struct {
		name    string
		history int
		batches int
	}{
		{"roll", 4, 1},
		{"spanning", 3, 3},
	}
	for _, pr := range probes {
		t.Run(pr.name, func(t *testing.T) {
			probe := newFaultEnv(t, faultConfig())
			for range pr.history {
				probe.mustAppend(0)
			}
			req, _ := probe.request(pr.batches)
			probe.fs.Trace(true)
			if _, err := probe.l.AppendAsLeader(req, 1); err != nil {
				t.Fatal(err)
			}
			probe.fs.Trace(false)
			points := faultPoints(probe.fs.Records())
			kinds := vfs.Op(0)
			for _, p := range points {
				kinds |= p.op
			}
			for _, want := range []vfs.Op{vfs.OpOpen, vfs.OpWrite, vfs.OpRename, vfs.OpSync} {
				if kinds&want == 0 {
					t.Fatalf("the probe append did no %v; recorded %v", want, points)
				}
			}
			for _, p := range points {
				for _, errno := range faultErrnos {
					t.Run(fmt.Sprintf("%v#%d_%s_%s", p.op, p.nth, p.path, errno2s(errno)), func(t *testing.T) {
						e := newFaultEnv(t, faultConfig())
						for range pr.history {
							e.mustAppend(0)
						}
						checkAppendFault(t, e, p, errno, pr.batches)
					})
				}
			}
		})
	}
}

func checkAppendFault(t *testing.T, e *faultEnv, p faultPoint, errno syscall.Errno, batches int) {
	id := e.fs.Inject(vfs.Rule{Ops: p.op, Nth: p.nth, Times: 1, Err: errno, Partial: true})
	req, vs := e.request(batches)
	res, err := e.l.AppendAsLeader(req, 1)
	if e.fs.Fired(id) != 1 {
		t.Fatalf("the fault did not fire (the append did other operations than the probe)")
	}
	e.fs.Drop(id)
	if err != nil && !errors.Is(err, errno) {
		t.Fatalf("append failed with %v, which does not wrap %v", err, errno)
	}
	failed := e.l.Failed()
	switch {
	case err == nil:
		// A best-effort step failed (producer snapshot, epoch
		// checkpoint): the append went through.
		if failed != nil {
			t.Fatalf("append succeeded but the log failed: %v", failed)
		}
		e.next += batches
		e.syncer.runPending()
		if e.l.HighWatermark() <= res.LastOffset {
			t.Fatalf("not acknowledged: HW %d", e.l.HighWatermark())
		}
		e.acked = append(e.acked, vs...)
	case errno == syscall.EIO:
		if !errors.Is(failed, ErrLogFailed) {
			t.Fatalf("EIO: log not offline (Failed %v)", failed)
		}
		if _, err := e.l.AppendAsLeader(e.batch("after"), 1); !errors.Is(err, ErrLogFailed) {
			t.Fatalf("offline log accepted an append: %v", err)
		}
	default:
		if failed != nil {
			t.Fatalf("%v took the log offline: %v", errno, failed)
		}
		if leo := e.l.LogEndOffset(); leo != int64(len(e.acked)) {
			t.Fatalf("failed append moved the log end offset to %d", leo)
		}
		e.checkAcked("after the failed append")
		// The condition has cleared: the retry (same request) goes
		// through without a restart.
		if _, err := e.l.AppendAsLeader(req, 1); err != nil {
			t.Fatalf("retry after %v cleared: %v", errno, err)
		}
		e.syncer.runPending()
		e.acked = append(e.acked, vs...)
		e.next += batches
		if e.l.HighWatermark() != e.l.LogEndOffset() {
			t.Fatalf("retry not made durable: HW %d LEO %d", e.l.HighWatermark(), e.l.LogEndOffset())
		}
	}
	e.checkAcked("before restart")
	if failed == nil {
		e.mustAppend(1)
	}
	e.restart()
	e.checkAcked("after restart", vs...)
	e.acked = e.values() // an unacknowledged request may have been kept whole
	e.mustAppend(1)
	e.checkAcked("appending after restart")
}

// TestSyncFaults fails each operation of the sync round that makes a
// rolled append durable. Failing to open a file for lack of descriptors
// defers the round (nothing was synced, the pages are still dirty): the
// acknowledgement waits and comes once the condition clears. A failed
// fsync, whatever its errno, takes the log offline (fsyncgate): the
// record is never acknowledged, and a restart recovers what is on disk.
func TestSyncFaults(t *testing.T) {
	probe := newFaultEnv(t, faultConfig())
	probe.history()
	if _, err := probe.l.AppendAsLeader(probe.batch("probe"), 0); err != nil {
		t.Fatal(err)
	}
	probe.fs.Trace(true)
	probe.syncer.runPending()
	probe.fs.Trace(false)
	recs := probe.fs.Records()
	points := faultPoints(recs)
	if len(points) == 0 {
		t.Fatal("the sync round did nothing")
	}
	// The round publishes the high watermark, then rewrites
	// log-offsets-checkpoint (a roll became durable): a fault there fails
	// only that rewrite, retried by a later round.
	ckptFrom := len(points)
	for i, p := range points {
		if strings.HasPrefix(p.path, offsetsCheckpoint) {
			ckptFrom = i
			break
		}
	}
	for i, p := range points {
		for _, errno := range faultErrnos {
			t.Run(fmt.Sprintf("%v#%d_%s_%s", p.op, p.nth, p.path, errno2s(errno)), func(t *testing.T) {
				e := newFaultEnv(t, faultConfig())
				e.history()
				res, err := e.l.AppendAsLeader(e.batch("probe"), 0)
				if err != nil {
					t.Fatal(err)
				}
				id := e.fs.Inject(vfs.Rule{Ops: p.op, Nth: p.nth, Times: 1, Err: errno})
				e.syncer.runPending()
				if e.fs.Fired(id) != 1 {
					t.Fatalf("the fault did not fire")
				}
				e.fs.Drop(id)
				if i >= ckptFrom {
					if e.l.HighWatermark() <= res.LastOffset || e.l.Failed() != nil {
						t.Fatalf("checkpoint fault: HW %d, Failed %v", e.l.HighWatermark(), e.l.Failed())
					}
					e.acked = append(e.acked, "probe")
					e.mustAppend(0)
					e.restart()
					e.checkAcked("after restart")
					return
				}
				if e.l.HighWatermark() > res.LastOffset {
					t.Fatalf("acknowledged although the sync round failed")
				}
				deferred := p.op == vfs.OpOpen && isTransient(errno)
				if deferred {
					if f := e.l.Failed(); f != nil {
						t.Fatalf("descriptor shortage at open took the log offline: %v", f)
					}
					// The retry runs after syncRetryDelay; poll (bounded).
					deadline := time.Now().Add(5 * time.Second)
					for e.l.HighWatermark() <= res.LastOffset {
						if time.Now().After(deadline) {
							t.Fatal("deferred sync round never completed")
						}
						time.Sleep(5 * time.Millisecond)
						e.syncer.runPending()
					}
					e.acked = append(e.acked, "probe")
					e.checkAcked("after the deferred round")
				} else {
					if !errors.Is(e.l.Failed(), ErrLogFailed) || !errors.Is(e.l.Failed(), errno) {
						t.Fatalf("failed fsync: log Failed %v, want ErrLogFailed wrapping %v", e.l.Failed(), errno)
					}
					if _, err := e.l.AppendAsLeader(e.batch("x"), 0); !errors.Is(err, ErrLogFailed) {
						t.Fatalf("offline log accepted an append: %v", err)
					}
				}
				e.restart()
				e.checkAcked("after restart", "probe")
				e.acked = e.values()
				e.mustAppend(0)
			})
		}
	}
}

// TestCheckpointFaults: a failed rewrite of log-offsets-checkpoint fails
// the operation that needed it (DeleteRecords) and nothing else; a failed
// leader-epoch-checkpoint rewrite removes the stale file (recovery then
// rebuilds the cache from the batches) and is retried after the next
// sync round.
func TestCheckpointFaults(t *testing.T) {
	for _, errno := range faultErrnos {
		t.Run(errno2s(errno), func(t *testing.T) {
			e := newFaultEnv(t, faultConfig())
			e.history()
			id := e.fs.Inject(vfs.Rule{Ops: vfs.OpWrite, Path: offsetsCheckpoint, Err: errno})
			if _, err := e.l.DeleteRecordsBefore(2); !errors.Is(err, errno) {
				t.Fatalf("DeleteRecords: %v, want %v", err, errno)
			}
			e.fs.Drop(id)
			if f := e.l.Failed(); f != nil {
				t.Fatalf("checkpoint failure took the log offline: %v", f)
			}
			e.acked = e.acked[2:]
			e.checkAcked("after DeleteRecords")
			if _, err := e.l.DeleteRecordsBefore(2); err != nil {
				t.Fatalf("DeleteRecords after the fault cleared: %v", err)
			}

			ckpt := filepath.Join(e.dir, epochCheckpointName)
			id = e.fs.Inject(vfs.Rule{Ops: vfs.OpRename, Path: epochCheckpointName, Err: errno})
			e.mustAppend(3)
			if _, err := os.Stat(ckpt); !os.IsNotExist(err) {
				t.Fatalf("stale leader-epoch-checkpoint kept after a failed rewrite: %v", err)
			}
			e.fs.Drop(id)
			e.mustAppend(3) // the next round rewrites it
			data, err := os.ReadFile(ckpt)
			if err != nil || !strings.Contains(string(data), "\n3 ") {
				t.Fatalf("leader-epoch-checkpoint not rewritten: %q, %v", data, err)
			}
			e.restart()
			e.checkAcked("after restart")
			if ep, _ := e.l.LatestEpoch(); ep != 3 {
				t.Fatalf("latest epoch after restart %d, want 3", ep)
			}
		})
	}
}

// TestRetentionDeleteFaults: a segment file whose removal fails stays
// scheduled and is removed by a later retention pass; the log is never
// failed by it.
func TestRetentionDeleteFaults(t *testing.T) {
	for _, op := range []vfs.Op{vfs.OpRename, vfs.OpRemove} {
		for _, errno := range faultErrnos {
			t.Run(fmt.Sprintf("%v_%s", op, errno2s(errno)), func(t *testing.T) {
				cfg := faultConfig()
				cfg.FileDeleteDelayMs = 0
				e := newFaultEnv(t, cfg)
				e.history()
				id := e.fs.Inject(vfs.Rule{Ops: op, Path: fileName(0, logExt), Err: errno})
				if _, err := e.l.DeleteRecordsBefore(2); err != nil {
					t.Fatalf("DeleteRecords: %v", err)
				}
				if f := e.l.Failed(); f != nil {
					t.Fatalf("log failed: %v", f)
				}
				e.fs.Drop(id)
				if _, err := e.l.EnforceRetention(); err != nil {
					t.Fatal(err)
				}
				ents, _ := os.ReadDir(e.dir)
				for _, de := range ents {
					if strings.HasPrefix(de.Name(), fileName(0, logExt)) {
						t.Fatalf("%s still there after the fault cleared", de.Name())
					}
				}
				e.acked = e.acked[2:]
				e.checkAcked("after retention")
				e.mustAppend(0)
			})
		}
	}
}

// TestTruncateFaults: a truncation (follower or mirror) that fails takes
// the log offline whatever the errno (its files would be half cut), and a
// restart recovers a consistent log holding the acknowledged prefix.
func TestTruncateFaults(t *testing.T) {
	for _, errno := range faultErrnos {
		t.Run(errno2s(errno), func(t *testing.T) {
			e := newFaultEnv(t, faultConfig())
			e.history()
			id := e.fs.Inject(vfs.Rule{Ops: vfs.OpTruncate, Path: logExt, Err: errno})
			if err := e.l.TruncateTo(3); !errors.Is(err, errno) {
				t.Fatalf("TruncateTo: %v, want %v", err, errno)
			}
			e.fs.Drop(id)
			if !errors.Is(e.l.Failed(), ErrLogFailed) {
				t.Fatalf("failed truncation left the log online")
			}
			e.restart()
			got := e.values()
			if len(got) < 3 || !slices.Equal(got[:3], e.acked[:3]) {
				t.Fatalf("after restart: %v, want a prefix of %v with at least 3", got, e.acked)
			}
		})
	}
}

// TestEMFILEOpenRetriesAfterEviction: an open that fails for lack of
// descriptors is retried once the cache's idle descriptors are closed.
func TestEMFILEOpenRetriesAfterEviction(t *testing.T) {
	e := newFaultEnv(t, faultConfig())
	e.history()
	id := e.fs.Inject(vfs.Rule{Ops: vfs.OpOpen, Path: logExt, Times: 1, Err: syscall.EMFILE})
	e.mustAppend(0) // rolls: creating the segment hits EMFILE once
	if e.fs.Fired(id) != 1 {
		t.Fatal("the fault did not fire")
	}
	e.checkAcked("after the retried open")
}

func errno2s(e syscall.Errno) string {
	switch e {
	case syscall.ENOSPC:
		return "ENOSPC"
	case syscall.EMFILE:
		return "EMFILE"
	case syscall.EIO:
		return "EIO"
	}
	return e.Error()
}

// TestNewLogSyncsWithFirstAppend: opening a new log queues no sync round
// (creating many partitions must not queue fsyncs ahead of other logs'
// acknowledgements); its creation becomes durable with its first append,
// whose round also fsyncs the directory and its parent.
func TestNewLogSyncsWithFirstAppend(t *testing.T) {
	fs := vfs.NewErrorFS(nil)
	s := newSyncer(nil, true)
	dir := filepath.Join(t.TempDir(), "t-0")
	l, err := Open(Options{Dir: dir, TopicID: [16]byte{1}, Syncer: s, Files: NewFileCacheFS(8, fs), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if n := s.runPending(); n != 0 {
		t.Fatalf("opening a new log ran %d sync rounds", n)
	}
	fs.Trace(true)
	b := record.NewBuilder()
	b.Append(time.Now().UnixMilli(), nil, []byte("v"))
	if _, err := l.AppendAsLeader(b.Build(), 0); err != nil {
		t.Fatal(err)
	}
	s.runPending()
	fs.Trace(false)
	synced := map[string]bool{}
	for _, r := range fs.Records() {
		if r.Op == vfs.OpSync {
			synced[r.Path] = true
		}
	}
	for _, p := range []string{filepath.Join(dir, partitionMetadata), dir, filepath.Dir(dir), filepath.Join(dir, fileName(0, logExt))} {
		if !synced[p] {
			t.Errorf("first append's round did not fsync %s (synced %v)", p, synced)
		}
	}
	if l.HighWatermark() != 1 {
		t.Fatalf("HW %d", l.HighWatermark())
	}
}

// TestSyncfsFaultFallsBackPerFile: with the syncfs strategy, a failing
// syncfs(2) is retried file by file (so an error is charged only to the
// logs whose own files fail): here they sync, the record is acknowledged
// and the log stays online; a failing fdatasync of the log's segment
// then takes that log offline.
func TestSyncfsFaultFallsBackPerFile(t *testing.T) {
	dir := t.TempDir()
	fs := vfs.NewErrorFS(nil)
	s, err := StartSyncer(SyncerOptions{SyncfsDir: dir, FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err := Open(Options{Dir: filepath.Join(dir, "t-0"), Syncer: s, Files: NewFileCacheFS(8, fs), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	appendWait := func() error {
		b := record.NewBuilder()
		b.Append(time.Now().UnixMilli(), nil, []byte("v"))
		res, err := l.AppendAsLeader(b.Build(), 0)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return l.WaitHighWatermark(ctx, res.LastOffset+1)
	}
	id := fs.Inject(vfs.Rule{Ops: vfs.OpSync, Path: dir, Times: 1, Err: syscall.EIO})
	if err := appendWait(); err != nil {
		t.Fatalf("syncfs failure with healthy files: %v", err)
	}
	if fs.Fired(id) != 1 || l.Failed() != nil {
		t.Fatalf("fired %d, Failed %v", fs.Fired(id), l.Failed())
	}
	fs.Inject(vfs.Rule{Ops: vfs.OpSync, Err: syscall.EIO}) // syncfs and every fdatasync
	if err := appendWait(); !errors.Is(err, ErrLogFailed) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("failing fdatasync: %v, want ErrLogFailed wrapping EIO", err)
	}
}
