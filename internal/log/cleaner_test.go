package log

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/tandem-streaming/tandem/internal/record"
)

// runCompaction handles the transcript commands for compaction
// (testdata/compaction*.txt); it reports false for other commands.
//
//	compact-config policy=compact|compact,delete|delete delete-retention=MS min-ratio=F min-lag=MS max-lag=MS
//	produce [epoch=E] [codec=C] [producer=P pepoch=PE seq=S] [txn] [ts=T] [verbatim]
//	  k1=v1 k2=~ ~=v     one batch per line; ~ is null (tombstone / no key)
//	clean [dedupe=BYTES]
//	crash-in-clean stage=cleaned|swap|deleted|renamed
//	dump               every segment's batches and records
//	kv [isolation=committed]
//	                   what a consumer reading from the log start sees
//	cleanable          the cleaner's view of the dirty section
func (e *logEnv) runCompaction(t *testing.T, d *datadriven.TestData) (string, bool) {
	switch d.Cmd {
	case "compact-config":
		for _, a := range d.CmdArgs {
			v := a.Vals[0]
			num := func() int64 {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					t.Fatalf("%s: bad %s=%q", d.Pos, a.Key, v)
				}
				return n
			}
			switch a.Key {
			case "policy":
				e.cfg.Compact = strings.Contains(v, "compact")
				e.cfg.Delete = strings.Contains(v, "delete")
			case "delete-retention":
				e.cfg.DeleteRetentionMs = num()
			case "min-ratio":
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatalf("%s: bad min-ratio", d.Pos)
				}
				e.cfg.MinCleanableDirtyRatio = f
			case "min-lag":
				e.cfg.MinCompactionLagMs = num()
			case "max-lag":
				e.cfg.MaxCompactionLagMs = num()
			default:
				t.Fatalf("%s: unknown compact-config %s", d.Pos, a.Key)
			}
		}
		if e.l != nil {
			e.l.SetConfig(e.cfg)
		}
		return "ok\n", true
	case "produce":
		// One request per line, as a producer sends them.
		var sb strings.Builder
		for _, b := range e.keyedBatches(t, d) {
			var r AppendResult
			var err error
			if d.HasArg("verbatim") {
				r, err = e.l.AppendVerbatim(b)
			} else {
				r, err = e.l.AppendAsLeader(b, int32(scanInt(t, d, "epoch", 0)))
			}
			switch {
			case err != nil:
				fmt.Fprintf(&sb, "error: %v\n", err)
			case r.Duplicate:
				fmt.Fprintf(&sb, "offsets=%d-%d duplicate\n", r.BaseOffset, r.LastOffset)
			default:
				fmt.Fprintf(&sb, "offsets=%d-%d\n", r.BaseOffset, r.LastOffset)
			}
		}
		return sb.String(), true
	case "clean":
		res, err := e.l.Clean(CleanOptions{DedupeBufferBytes: scanInt(t, d, "dedupe", 0)})
		if err != nil {
			return fmt.Sprintf("error: %v\n", err), true
		}
		return fmtClean(res) + e.state(), true
	case "crash-in-clean":
		stage := scanStr(d, "stage", "")
		e.l.testCleanHook = func(s string) error {
			if s == stage {
				return errSimulatedCrash
			}
			return nil
		}
		_, err := e.l.Clean(CleanOptions{})
		e.crash()
		return fmt.Sprintf("error: %v\n", err), true
	case "cleaner-once":
		// A Cleaner with this one log: does the log qualify (ratio,
		// max.compaction.lag.ms, delete horizon), and what does a pass do?
		c := NewCleaner(0, 0, 0)
		defer c.Close()
		c.Add(e.l)
		l, res, err := c.CleanOnce()
		switch {
		case err != nil:
			return fmt.Sprintf("error: %v\n", err), true
		case l == nil:
			return "nothing to clean\n", true
		}
		return fmtClean(res), true
	case "dump":
		return dumpLog(e.l, d.HasArg("crc")), true
	case "kv":
		iso := ReadUncommitted
		if scanStr(d, "isolation", "uncommitted") == "committed" {
			iso = ReadCommitted
		}
		kv, err := consume(e.l, iso)
		if err != nil {
			return fmt.Sprintf("error: %v\n", err), true
		}
		return kv.String(), true
	case "cleanable":
		l := e.l
		cfg := l.config()
		l.mu.Lock()
		st := l.cleanStatusLocked(cfg, l.now().UnixMilli())
		l.mu.Unlock()
		return fmt.Sprintf("first-dirty=%d first-uncleanable=%d cleanable-end=%d clean-bytes=%d cleanable-bytes=%d ratio=%.2f need-now=%t horizon-due=%t\n",
			st.firstDirty, st.firstUncleanable, st.cleanableEnd, st.cleanBytes, st.cleanableBytes, st.ratio(), st.needNow, st.horizonDue), true
	}
	return "", false
}

func fmtClean(r CleanResult) string {
	s := fmt.Sprintf("dirty=[%d,%d) end=%d groups=%d segments=%d->%d records=%d-%d batches-removed=%d",
		r.FirstDirtyOffset, r.FirstUncleanableOffset, r.EndOffset, r.Groups, r.SegmentsBefore, r.SegmentsAfter,
		r.RecordsRead, r.RecordsRemoved, r.BatchesRemoved)
	if r.KeylessRemoved > 0 {
		s += fmt.Sprintf(" keyless=%d", r.KeylessRemoved)
	}
	if r.MapFull {
		s += " map-full"
	}
	return s + "\n"
}

// keyedBatches builds one batch per input line of key=value tokens.
func (e *logEnv) keyedBatches(t *testing.T, d *datadriven.TestData) []record.Batch {
	codec := record.None
	if c := scanStr(d, "codec", "none"); c != "none" {
		var ok bool
		if codec, ok = record.ParseCodec(c); !ok {
			t.Fatalf("%s: bad codec %q", d.Pos, c)
		}
	}
	pid := scanInt(t, d, "producer", -1)
	seq := int32(scanInt(t, d, "seq", 0))
	ts := scanInt(t, d, "ts", e.clock.Now().UnixMilli())
	base := scanInt(t, d, "base", 0)
	var out []record.Batch
	for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
		b := record.NewBuilder()
		b.Compression = codec
		b.BaseOffset = base
		if pid >= 0 {
			b.ProducerID, b.ProducerEpoch, b.BaseSequence = pid, int16(scanInt(t, d, "pepoch", 0)), seq
			b.Transactional = d.HasArg("txn")
		}
		for i, tok := range strings.Fields(line) {
			k, v, ok := strings.Cut(tok, "=")
			if !ok {
				t.Fatalf("%s: bad record %q", d.Pos, tok)
			}
			b.Append(ts+int64(i), nullable(k), nullable(v))
		}
		batch := b.Build()
		seq += int32(b.Len())
		base = batch.NextOffset()
		out = append(out, batch)
	}
	return out
}

func nullable(s string) []byte {
	if s == "~" {
		return nil
	}
	return []byte(s)
}

func show(b []byte) string {
	if b == nil {
		return "~"
	}
	return string(b)
}

// dumpLog prints every batch of every segment with its records.
func dumpLog(l *Log, crc bool) string {
	var sb strings.Builder
	l.mu.RLock()
	segs := append([]*segment(nil), l.segments...)
	sizes := make([]int64, len(segs))
	for i, s := range segs {
		sizes[i] = s.size
	}
	l.mu.RUnlock()
	for i, s := range segs {
		fmt.Fprintf(&sb, "segment %d: size=%d\n", s.base, sizes[i])
		data := make([]byte, sizes[i])
		if err := readAt(s.log, data, 0); err != nil {
			fmt.Fprintf(&sb, "  read error: %v\n", err)
			continue
		}
		it := record.NewIter(data)
		for b, ok := it.Next(); ok; b, ok = it.Next() {
			if crc {
				fmt.Fprintf(&sb, "  crc=%08x %s\n", b.CRC(), describeCompacted(b))
			} else {
				fmt.Fprintf(&sb, "  %s\n", describeCompacted(b))
			}
		}
		if it.Err() != nil || len(it.Rest()) > 0 {
			fmt.Fprintf(&sb, "  BAD FRAMING: %v rest=%d\n", it.Err(), len(it.Rest()))
		}
	}
	return sb.String()
}

func describeCompacted(b record.Batch) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d-%d", b.BaseOffset(), b.LastOffset())
	if b.Compression() != record.None {
		fmt.Fprintf(&sb, " %s", b.Compression())
	}
	if b.HasProducerID() {
		fmt.Fprintf(&sb, " pid=%d/%d seq=%d", b.ProducerID(), b.ProducerEpoch(), b.BaseSequence())
	}
	if b.IsTransactional() {
		sb.WriteString(" txn")
	}
	if b.HasDeleteHorizon() {
		fmt.Fprintf(&sb, " horizon=%d", b.BaseTimestamp())
	}
	if err := b.ValidateHeader(); err != nil {
		fmt.Fprintf(&sb, " INVALID(%v)", err)
	}
	if b.NumRecords() == 0 {
		sb.WriteString(" empty")
		return sb.String()
	}
	if b.IsControl() {
		m, err := b.ControlMarker()
		if err != nil {
			fmt.Fprintf(&sb, " control=%v", err)
		} else {
			fmt.Fprintf(&sb, " %s", m.Type)
		}
		return sb.String()
	}
	sb.WriteString(":")
	err := b.Records(func(r record.Record) error {
		fmt.Fprintf(&sb, " %d:%s=%s", r.Offset(b), show(r.Key), show(r.Value))
		return nil
	})
	if err != nil {
		fmt.Fprintf(&sb, " RECORDS ERROR %v", err)
	}
	return sb.String()
}

// consumedRecord is one record a consumer saw.
type consumedRecord struct {
	offset int64
	value  []byte // nil: tombstone
}

// consumedKV is what a consumer reading the whole log ends up with: the
// last record per key (tombstones included, so their retention is
// visible), plus the number of records and batches read.
type consumedKV struct {
	latest  map[string]consumedRecord
	records int
}

func (kv consumedKV) String() string {
	keys := make([]string, 0, len(kv.latest))
	for k := range kv.latest {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		r := kv.latest[k]
		fmt.Fprintf(&sb, "%s=%s@%d ", k, show(r.value), r.offset)
	}
	if len(keys) == 0 {
		sb.WriteString("(no keys)")
	}
	return strings.TrimSpace(sb.String()) + fmt.Sprintf("\n(%d records)\n", kv.records)
}

// consume reads the log from its start up to the isolation bound with
// Read, as a Kafka consumer does: offsets must increase (gaps are
// skipped), CRCs must hold, and with read_committed the batches of aborted
// transactions are dropped using the returned aborted-transaction list and
// the ABORT markers (Fetcher's abortedProducerIds logic).
func consume(l *Log, iso Isolation) (consumedKV, error) {
	kv := consumedKV{latest: map[string]consumedRecord{}}
	off := l.LogStartOffset()
	prev := int64(-1)
	var pending []AbortedTxn
	aborting := map[int64]bool{}
	seen := map[AbortedTxn]bool{}
	for {
		res, err := l.Read(off, 1<<20, iso, true)
		if err != nil {
			return kv, err
		}
		if len(res.Records) == 0 {
			return kv, nil
		}
		for _, a := range res.AbortedTransactions {
			if !seen[a] {
				seen[a] = true
				pending = append(pending, a)
			}
		}
		sort.Slice(pending, func(i, j int) bool { return pending[i].FirstOffset < pending[j].FirstOffset })
		it := record.NewIter(res.Records)
		for b, ok := it.Next(); ok; b, ok = it.Next() {
			if err := b.ValidateHeader(); err != nil {
				return kv, err
			}
			if b.LastOffset() <= prev {
				return kv, fmt.Errorf("batch %d-%d after offset %d", b.BaseOffset(), b.LastOffset(), prev)
			}
			for len(pending) > 0 && pending[0].FirstOffset <= b.LastOffset() {
				aborting[pending[0].ProducerID] = true
				pending = pending[1:]
			}
			skip := false
			if b.IsControl() {
				if m, err := b.ControlMarker(); err == nil && m.Type == record.ControlAbort {
					delete(aborting, b.ProducerID())
				}
				skip = true
			} else if iso == ReadCommitted && b.IsTransactional() && aborting[b.ProducerID()] {
				skip = true
			}
			recPrev := prev
			err := b.Records(func(r record.Record) error {
				o := r.Offset(b)
				if o <= recPrev || o > b.LastOffset() {
					return fmt.Errorf("record offset %d after %d in batch %d-%d", o, recPrev, b.BaseOffset(), b.LastOffset())
				}
				recPrev = o
				if skip {
					return nil
				}
				kv.records++
				if r.Key != nil {
					kv.latest[string(r.Key)] = consumedRecord{offset: o, value: append([]byte(nil), r.Value...)}
					if r.Value == nil {
						kv.latest[string(r.Key)] = consumedRecord{offset: o}
					}
				}
				return nil
			})
			if err != nil {
				return kv, err
			}
			prev = b.LastOffset()
			off = b.NextOffset()
		}
	}
}

func TestOffsetMap(t *testing.T) {
	m := newOffsetMap(24 * 1000)
	if c := m.capacity(); c < 800 || c > 900 {
		t.Fatalf("capacity %d for 1000 slots", c)
	}
	for i := 0; i < m.capacity(); i++ {
		m.put([]byte(fmt.Sprintf("key-%d", i)), int64(i))
		m.put([]byte(fmt.Sprintf("key-%d", i)), int64(i*2))
	}
	if m.size() != m.capacity() {
		t.Fatalf("size %d, want %d", m.size(), m.capacity())
	}
	for i := 0; i < m.capacity(); i++ {
		if got := m.get([]byte(fmt.Sprintf("key-%d", i))); got != int64(i*2) {
			t.Fatalf("key-%d: got %d", i, got)
		}
	}
	if got := m.get([]byte("absent")); got != -1 {
		t.Fatalf("absent key: %d", got)
	}
	m.put([]byte{}, 7) // an empty key is a key
	if m.get([]byte{}) != 7 {
		t.Fatal("empty key")
	}
	m.reset()
	if m.size() != 0 || m.get([]byte("key-1")) != -1 || m.latestOffset != -1 {
		t.Fatal("reset")
	}
	for _, n := range []int{2, 3, 4, 100, 1 << 20} {
		p := prevPrime(n)
		if !isPrime(p) || p > n {
			t.Fatalf("prevPrime(%d) = %d", n, p)
		}
	}
}

func TestConfigNormalizeCompaction(t *testing.T) {
	c := Config{}.normalize()
	if !c.Delete || c.Compact {
		t.Fatalf("zero config: compact=%t delete=%t, want delete only", c.Compact, c.Delete)
	}
	if c.MaxCompactionLagMs != math.MaxInt64 || c.MinCleanableDirtyRatio != 0 || c.DeleteRetentionMs != 0 {
		t.Fatalf("zero config: %+v", c)
	}
	c = Config{Compact: true, MinCleanableDirtyRatio: 3, DeleteRetentionMs: -1, MinCompactionLagMs: -5}.normalize()
	if c.Delete || c.MinCleanableDirtyRatio != 1 || c.DeleteRetentionMs != 86_400_000 || c.MinCompactionLagMs != 0 {
		t.Fatalf("compact config: %+v", c)
	}
	if d := DefaultConfig(); !d.Delete || d.Compact || d.DeleteRetentionMs != 86_400_000 || d.MinCleanableDirtyRatio != 0.5 {
		t.Fatalf("defaults: %+v", d)
	}
}

func TestGroupSegments(t *testing.T) {
	seg := func(base, next, size int64) cleanSeg { return cleanSeg{base: base, next: next, size: size} }
	groups := groupSegments([]cleanSeg{
		seg(0, 10, 400), seg(10, 20, 400), seg(20, 30, 300), seg(30, 40, 0), seg(40, 50, 900),
		seg(50, 60, 10), seg(60, math.MaxInt32+100, 10), seg(math.MaxInt32+100, math.MaxInt32+200, 10),
	}, 1000)
	var got []string
	for _, g := range groups {
		var bases []string
		for _, s := range g {
			bases = append(bases, strconv.FormatInt(s.base, 10))
		}
		got = append(got, strings.Join(bases, ","))
	}
	want := "0,10 | 20,30 | 40,50 | 60 | 2147483747"
	if s := strings.Join(got, " | "); s != want {
		t.Fatalf("groups %s, want %s", s, want)
	}
}

func TestKeylessRecordRejected(t *testing.T) {
	for _, codec := range []record.Codec{record.None, record.Zstd} {
		cfg := DefaultConfig()
		cfg.Compact, cfg.Delete = true, false
		l, err := Open(Options{Dir: t.TempDir(), Config: cfg, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		b := record.NewBuilder()
		b.Compression = codec
		b.Append(1, []byte("k"), []byte("v"))
		b.Append(1, nil, []byte("v"))
		_, err = l.AppendAsLeader(b.Build(), 0)
		if !errors.Is(err, ErrMissingKey) || !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("%s: keyless record on a compacted topic: %v", codec, err)
		}
		// Control batches from the coordinator have keys; they pass.
		if _, err := l.AppendControl(1, 0, true, 0, 0); err != nil {
			t.Errorf("%s: control batch: %v", codec, err)
		}
		l.SetConfig(DefaultConfig())
		b = record.NewBuilder()
		b.Compression = codec
		b.Append(1, nil, []byte("v"))
		if _, err := l.AppendAsLeader(b.Build(), 0); err != nil {
			t.Errorf("%s: keyless record on a delete topic: %v", codec, err)
		}
		_ = l.Close()
	}
}

// TestCleanAbortedByTruncation: a truncation while a pass runs abandons the
// pass without leaving .cleaned or .swap files, and a later pass works.
func TestCleanAbortedByTruncation(t *testing.T) {
	e := newLogEnv(t)
	e.cfg.Compact, e.cfg.Delete = true, false
	e.cfg.SegmentBytes = 200
	if err := e.open(true); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		b := record.NewBuilder()
		b.Append(1, []byte(fmt.Sprintf("k%d", i%3)), []byte("value"))
		if _, err := e.l.AppendAsLeader(b.Build(), 0); err != nil {
			t.Fatal(err)
		}
	}
	e.syncer.runPending()
	e.l.testCleanHook = func(stage string) error {
		if stage == "cleaned" {
			e.l.testCleanHook = nil
			if err := e.l.TruncateTo(15); err != nil {
				t.Fatal(err)
			}
		}
		return nil
	}
	if _, err := e.l.Clean(CleanOptions{}); !errors.Is(err, ErrCleaningAborted) {
		t.Fatalf("clean during truncation: %v", err)
	}
	ents, _ := os.ReadDir(e.dir)
	for _, d := range ents {
		if strings.HasSuffix(d.Name(), cleanedSuffix) || strings.HasSuffix(d.Name(), swapSuffix) {
			t.Errorf("leftover %s", d.Name())
		}
	}
	kv, err := consume(e.l, ReadUncommitted)
	if err != nil || kv.records != 15 {
		t.Fatalf("after aborted clean: %d records, %v", kv.records, err)
	}
	if _, err := e.l.Clean(CleanOptions{}); err != nil {
		t.Fatal(err)
	}
	kv, err = consume(e.l, ReadUncommitted)
	if err != nil || len(kv.latest) != 3 {
		t.Fatalf("after clean: %v, %v", kv, err)
	}
}
