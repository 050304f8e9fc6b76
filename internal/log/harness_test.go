package log

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/tandem-streaming/tandem/internal/record"
)

// manualClock is an injectable clock for deterministic tests.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Set(ms int64) {
	c.mu.Lock()
	c.t = time.UnixMilli(ms)
	c.mu.Unlock()
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// logEnv drives one log through a transcript.
type logEnv struct {
	t      testing.TB
	dir    string
	clock  *manualClock
	files  *FileCache
	syncer *Syncer
	cfg    Config
	l      *Log
}

func newLogEnv(t testing.TB) *logEnv {
	e := &logEnv{
		t:      t,
		dir:    filepath.Join(t.TempDir(), "topic-0"),
		clock:  &manualClock{t: time.UnixMilli(1_000_000)},
		files:  NewFileCache(16),
		syncer: newSyncer(nil, true),
		cfg:    DefaultConfig(),
	}
	e.cfg.FileDeleteDelayMs = 0
	t.Cleanup(func() {
		if e.l != nil {
			_ = e.l.Close()
		}
	})
	return e
}

func (e *logEnv) open(clean bool) error {
	l, err := Open(Options{
		Dir: e.dir, Topic: "topic", Partition: 0, TopicID: [16]byte{1, 2, 3}, Config: e.cfg,
		CleanShutdown: clean, Files: e.files, Syncer: e.syncer, Now: e.clock.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return err
	}
	e.l = l
	return nil
}

// crash abandons the log without any shutdown work, as a kill -9 would.
// Written bytes stay in the files (they were written with pwrite); tests
// damage them explicitly.
func (e *logEnv) crash() {
	l := e.l
	e.l = nil
	l.mu.Lock()
	l.closed = true
	segs := l.segments
	l.mu.Unlock()
	for _, s := range segs {
		s.closeFiles()
	}
	e.syncer.runPending() // drains rounds queued for the dead log (no-ops)
}

func scanInt(t testing.TB, d *datadriven.TestData, key string, def int64) int64 {
	arg, ok := d.Arg(key)
	if !ok {
		return def
	}
	v, err := strconv.ParseInt(arg.Vals[0], 10, 64)
	if err != nil {
		t.Fatalf("%s: bad %s: %v", d.Pos, key, err)
	}
	return v
}

func scanStr(d *datadriven.TestData, key, def string) string {
	if arg, ok := d.Arg(key); ok && len(arg.Vals) > 0 {
		return arg.Vals[0]
	}
	return def
}

func parseRange(t testing.TB, s string) (int64, int64) {
	a, b, ok := strings.Cut(s, "-")
	lo, err1 := strconv.ParseInt(a, 10, 64)
	hi := lo
	var err2 error
	if ok {
		hi, err2 = strconv.ParseInt(b, 10, 64)
	}
	if err1 != nil || err2 != nil {
		t.Fatalf("bad range %q", s)
	}
	return lo, hi
}

// batchSpec builds a batch from key=value arguments shared by append-leader
// and append-verbatim lines.
type batchSpec struct {
	records   int
	ts        int64
	valueSize int
	codec     record.Codec
	pid       int64
	pepoch    int16
	seq       int32
	txn       bool
	control   string // "", "commit", "abort"
	coord     int32
	base      int64
	lastDelta int32
	epoch     int32
}

func (s batchSpec) build() record.Batch {
	if s.control != "" {
		b := record.NewControlBatch(s.pid, s.pepoch, s.control == "commit", s.coord, s.ts)
		b.SetBaseOffset(s.base)
		b.SetPartitionLeaderEpoch(s.epoch)
		return b
	}
	bld := record.NewBuilder()
	bld.Compression = s.codec
	bld.BaseOffset = s.base
	bld.PartitionLeaderEpoch = s.epoch
	if s.pid >= 0 {
		bld.ProducerID, bld.ProducerEpoch, bld.BaseSequence = s.pid, s.pepoch, s.seq
	}
	bld.Transactional = s.txn
	bld.LastOffsetDelta = s.lastDelta
	for i := 0; i < s.records; i++ {
		v := bytes.Repeat([]byte{'a' + byte(i%26)}, s.valueSize)
		if s.lastDelta > 0 && s.records > 1 {
			// Spread records over the delta range (a compacted batch).
			bld.AppendAt(int32(int64(i)*int64(s.lastDelta)/int64(s.records-1)), s.ts+int64(i), []byte(fmt.Sprintf("k%d", i)), v)
		} else {
			bld.Append(s.ts+int64(i), []byte(fmt.Sprintf("k%d", i)), v)
		}
	}
	return bld.Build()
}

func parseSpec(t testing.TB, args []datadriven.CmdArg, def batchSpec) batchSpec {
	s := def
	for _, a := range args {
		val := ""
		if len(a.Vals) > 0 {
			val = a.Vals[0]
		}
		num := func() int64 {
			v, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				t.Fatalf("bad %s=%q", a.Key, val)
			}
			return v
		}
		switch a.Key {
		case "records":
			s.records = int(num())
		case "ts":
			s.ts = num()
		case "value-size":
			s.valueSize = int(num())
		case "codec":
			c, ok := record.ParseCodec(val)
			if !ok {
				t.Fatalf("bad codec %q", val)
			}
			s.codec = c
		case "producer":
			s.pid = num()
		case "pepoch":
			s.pepoch = int16(num())
		case "seq":
			s.seq = int32(num())
		case "txn":
			s.txn = true
		case "commit", "abort":
			s.control = a.Key
		case "coord-epoch":
			s.coord = int32(num())
		case "epoch":
			s.epoch = int32(num())
		case "offsets":
			lo, hi := parseRange(t, val)
			s.base, s.lastDelta = lo, int32(hi-lo)
			if s.records == 0 {
				s.records = int(hi - lo + 1)
			}
		}
	}
	if s.control == "" && s.records == 0 {
		s.records = 1
	}
	return s
}

func describeBatch(b record.Batch) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "offsets=%d-%d epoch=%d records=%d", b.BaseOffset(), b.LastOffset(), b.PartitionLeaderEpoch(), b.NumRecords())
	if b.Compression() != record.None {
		fmt.Fprintf(&sb, " codec=%s", b.Compression())
	}
	if b.HasProducerID() {
		fmt.Fprintf(&sb, " pid=%d/%d seq=%d", b.ProducerID(), b.ProducerEpoch(), b.BaseSequence())
	}
	if b.IsTransactional() {
		sb.WriteString(" txn")
	}
	if b.IsControl() {
		m, err := b.ControlMarker()
		if err != nil {
			fmt.Fprintf(&sb, " control=%v", err)
		} else {
			fmt.Fprintf(&sb, " control=%s", m.Type)
		}
	}
	if b.TimestampType() == record.LogAppendTime {
		fmt.Fprintf(&sb, " log-append-time=%d", b.MaxTimestamp())
	}
	if err := b.VerifyCRC(); err != nil {
		fmt.Fprintf(&sb, " BAD-CRC")
	}
	return sb.String()
}

func (e *logEnv) state() string {
	l := e.l
	var sb strings.Builder
	st := l.Stats()
	fmt.Fprintf(&sb, "start=%d end=%d hw=%d lso=%d size=%d\n", st.LogStartOffset, st.LogEndOffset, st.HighWatermark, st.LastStableOffset, st.Size)
	l.mu.RLock()
	for _, s := range l.segments {
		fmt.Fprintf(&sb, "segment %d: size=%d index=%d timeindex=%d txnindex=%d\n", s.base, s.size, s.indexEntries, s.timeEntries, s.txnEntries)
	}
	l.mu.RUnlock()
	if ep := l.EpochEntries(); len(ep) > 0 {
		fmt.Fprintf(&sb, "epochs:")
		for _, x := range ep {
			fmt.Fprintf(&sb, " %d@%d", x[0], x[1])
		}
		sb.WriteString("\n")
	}
	for _, p := range l.Producers() {
		fmt.Fprintf(&sb, "producer %d: epoch=%d last-seq=%d coord-epoch=%d txn-start=%d\n", p.ProducerID, p.ProducerEpoch, p.LastSequence, p.CoordinatorEpoch, p.TxnStartOffset)
	}
	return sb.String()
}

func (e *logEnv) files_() string {
	ents, err := os.ReadDir(e.dir)
	if err != nil {
		return err.Error()
	}
	var lines []string
	for _, d := range ents {
		fi, _ := d.Info()
		lines = append(lines, fmt.Sprintf("%s %d", d.Name(), fi.Size()))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

func fmtResult(r AppendResult, err error) string {
	if err != nil {
		return fmt.Sprintf("error: %v\n", err)
	}
	s := fmt.Sprintf("offsets=%d-%d start=%d batches=%d records=%d", r.BaseOffset, r.LastOffset, r.LogStartOffset, r.Batches, r.Records)
	if r.LogAppendTime >= 0 {
		s += fmt.Sprintf(" log-append-time=%d", r.LogAppendTime)
	}
	if r.Duplicate {
		s += " duplicate"
	}
	return s + "\n"
}

func (e *logEnv) activePath(d *datadriven.TestData, ext string) string {
	base := scanInt(e.t, d, "segment", -1)
	if base < 0 {
		ents, _ := os.ReadDir(e.dir)
		for _, x := range ents {
			if off, ok := parseOffsetName(x.Name(), logExt); ok && off > base {
				base = off
			}
		}
	}
	return filepath.Join(e.dir, fileName(base, ext))
}

func (e *logEnv) run(t *testing.T, d *datadriven.TestData) string {
	if out, ok := e.runCompaction(t, d); ok { // cleaner_test.go
		return out
	}
	switch d.Cmd {
	case "config":
		for _, a := range d.CmdArgs {
			v, _ := strconv.ParseInt(a.Vals[0], 10, 64)
			switch a.Key {
			case "segment-bytes":
				e.cfg.SegmentBytes = v
			case "segment-ms":
				e.cfg.SegmentMs = v
			case "index-interval":
				e.cfg.IndexIntervalBytes = int32(v)
			case "retention-ms":
				e.cfg.RetentionMs = v
			case "retention-bytes":
				e.cfg.RetentionBytes = v
			case "max-message-bytes":
				e.cfg.MaxMessageBytes = int32(v)
			case "log-append-time":
				e.cfg.LogAppendTime = v != 0
			case "ts-before":
				e.cfg.TimestampBeforeMaxMs = v
			case "ts-after":
				e.cfg.TimestampAfterMaxMs = v
			case "delete-delay":
				e.cfg.FileDeleteDelayMs = v
			case "producer-expiration":
				e.cfg.ProducerIDExpirationMs = v
			default:
				t.Fatalf("unknown config %s", a.Key)
			}
		}
		if e.l != nil {
			e.l.SetConfig(e.cfg)
		}
		return "ok\n"
	case "open", "reopen":
		clean := scanStr(d, "clean", "true") == "true"
		if d.Cmd == "reopen" && e.l != nil {
			if clean {
				if err := e.l.Close(); err != nil {
					return fmt.Sprintf("close error: %v\n", err)
				}
				e.l = nil
			} else {
				e.crash()
			}
		}
		if err := e.open(clean); err != nil {
			return fmt.Sprintf("error: %v\n", err)
		}
		return e.state()
	case "close":
		err := e.l.Close()
		e.l = nil
		if err != nil {
			return fmt.Sprintf("error: %v\n", err)
		}
		return "ok\n"
	case "time":
		if d.HasArg("set") {
			e.clock.Set(scanInt(t, d, "set", 0))
		}
		if d.HasArg("advance") {
			e.clock.Advance(time.Duration(scanInt(t, d, "advance", 0)) * time.Millisecond)
		}
		return fmt.Sprintf("now=%d\n", e.clock.Now().UnixMilli())
	case "append-leader":
		def := batchSpec{pid: -1, ts: e.clock.Now().UnixMilli(), valueSize: 10}
		spec := parseSpec(t, d.CmdArgs, def)
		var buf []byte
		n := int(scanInt(t, d, "batches", 1))
		for i := 0; i < n; i++ {
			s := spec
			s.epoch = -1
			s.seq = spec.seq + int32(i*spec.records)
			if d.HasArg("client-control") {
				s.control = "commit"
			}
			buf = append(buf, s.build()...)
		}
		if g := scanInt(t, d, "garbage", 0); g > 0 {
			buf = append(buf, make([]byte, g)...)
		}
		if d.HasArg("corrupt") {
			buf[len(buf)-1] ^= 0xff
		}
		r, err := e.l.AppendAsLeader(buf, int32(scanInt(t, d, "epoch", 0)))
		return fmtResult(r, err)
	case "append-control":
		s := parseSpec(t, d.CmdArgs, batchSpec{pid: -1})
		r, err := e.l.AppendControl(s.pid, s.pepoch, s.control == "commit", s.coord, s.epoch)
		return fmtResult(r, err)
	case "append-verbatim":
		var buf []byte
		for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			var args []datadriven.CmdArg
			for _, f := range strings.Fields(line) {
				k, v, _ := strings.Cut(f, "=")
				args = append(args, datadriven.CmdArg{Key: k, Vals: []string{v}})
			}
			s := parseSpec(t, args, batchSpec{pid: -1, ts: e.clock.Now().UnixMilli(), valueSize: 10})
			buf = append(buf, s.build()...)
		}
		if p := scanInt(t, d, "partial", 0); p > 0 {
			extra := batchSpec{pid: -1, records: 1, base: 1 << 40, ts: 1}.build()
			buf = append(buf, extra[:p]...)
		}
		r, err := e.l.AppendVerbatim(buf)
		out := fmtResult(r, err)
		if err == nil {
			out = strings.TrimSuffix(out, "\n") + fmt.Sprintf(" bytes=%d/%d\n", r.Bytes, len(buf))
		}
		return out
	case "sync":
		e.syncer.runPending()
		return fmt.Sprintf("hw=%d lso=%d\n", e.l.HighWatermark(), e.l.LastStableOffset())
	case "read":
		iso := ReadUncommitted
		if scanStr(d, "isolation", "uncommitted") == "committed" {
			iso = ReadCommitted
		}
		res, err := e.l.Read(scanInt(t, d, "offset", 0), int32(scanInt(t, d, "max-bytes", 1<<20)), iso, scanStr(d, "min-one", "true") == "true")
		var sb strings.Builder
		if err != nil {
			fmt.Fprintf(&sb, "error: %v\n", err)
			return sb.String()
		}
		it := record.NewIter(res.Records)
		for b, ok := it.Next(); ok; b, ok = it.Next() {
			sb.WriteString(describeBatch(b) + "\n")
		}
		if it.Err() != nil || len(it.Rest()) > 0 {
			fmt.Fprintf(&sb, "BAD FRAMING: %v rest=%d\n", it.Err(), len(it.Rest()))
		}
		fmt.Fprintf(&sb, "hw=%d lso=%d start=%d", res.HighWatermark, res.LastStableOffset, res.LogStartOffset)
		if iso == ReadCommitted {
			fmt.Fprintf(&sb, " aborted=%v", res.AbortedTransactions)
		}
		return sb.String() + "\n"
	case "state":
		return e.state()
	case "files":
		return e.files_()
	case "crash":
		e.crash()
		if n := scanInt(t, d, "truncate-tail", 0); n > 0 {
			p := e.activePath(d, logExt)
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(p, max(fi.Size()-n, 0)); err != nil {
				t.Fatal(err)
			}
		}
		if d.HasArg("corrupt-byte") {
			p := e.activePath(d, logExt)
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			pos := scanInt(t, d, "corrupt-byte", 0)
			data[pos] ^= 0x5a
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if g := scanInt(t, d, "append-garbage", 0); g > 0 {
			f, err := os.OpenFile(e.activePath(d, logExt), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = f.Write(bytes.Repeat([]byte{0xab}, int(g)))
			_ = f.Close()
		}
		return "ok\n"
	case "rm":
		pattern := scanStr(d, "glob", "")
		matches, _ := filepath.Glob(filepath.Join(e.dir, pattern))
		for _, m := range matches {
			_ = os.Remove(m)
		}
		return fmt.Sprintf("removed %d\n", len(matches))
	case "write-file":
		name := scanStr(d, "name", "")
		if err := os.WriteFile(filepath.Join(e.dir, name), []byte(d.Input), 0o644); err != nil {
			t.Fatal(err)
		}
		return "ok\n"
	case "truncate-to":
		if err := e.l.TruncateTo(scanInt(t, d, "offset", 0)); err != nil {
			return fmt.Sprintf("error: %v\n", err)
		}
		return e.state()
	case "truncate-fully":
		if err := e.l.TruncateFullyAndStartAt(scanInt(t, d, "offset", 0)); err != nil {
			return fmt.Sprintf("error: %v\n", err)
		}
		return e.state()
	case "retention":
		if d.HasArg("now") {
			e.clock.Set(scanInt(t, d, "now", 0))
		}
		n, err := e.l.EnforceRetention()
		if err != nil {
			return fmt.Sprintf("error: %v\n", err)
		}
		return fmt.Sprintf("deleted=%d\n", n) + e.state()
	case "delete-records":
		start, err := e.l.DeleteRecordsBefore(scanInt(t, d, "offset", 0))
		if err != nil {
			return fmt.Sprintf("error: %v\n", err)
		}
		return fmt.Sprintf("log-start-offset=%d\n", start) + e.state()
	case "list-offsets":
		off, ts, ep, ok := e.l.OffsetForTimestamp(scanInt(t, d, "ts", 0))
		if !ok {
			return "not found\n"
		}
		return fmt.Sprintf("offset=%d timestamp=%d epoch=%d\n", off, ts, ep)
	case "max-timestamp":
		ts, off, ep := e.l.MaxTimestamp()
		return fmt.Sprintf("timestamp=%d offset=%d epoch=%d\n", ts, off, ep)
	case "end-offset-for-epoch":
		ep, off := e.l.EndOffsetForEpoch(int32(scanInt(t, d, "epoch", 0)))
		return fmt.Sprintf("epoch=%d end-offset=%d\n", ep, off)
	case "epoch-for-offset":
		return fmt.Sprintf("epoch=%d\n", e.l.EpochForOffset(scanInt(t, d, "offset", 0)))
	case "wait-hw":
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if err := e.l.WaitHighWatermark(ctx, scanInt(t, d, "offset", 0)); err != nil {
			return fmt.Sprintf("error: %v\n", err)
		}
		return "ok\n"
	case "cat":
		data, err := os.ReadFile(filepath.Join(e.dir, scanStr(d, "name", "")))
		if err != nil {
			return fmt.Sprintf("error: %v\n", err)
		}
		return string(data)
	}
	t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
	return ""
}

func TestTranscripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		e := newLogEnv(t)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return e.run(t, d)
		})
	})
}
