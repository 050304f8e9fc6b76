package log

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// damagedLog writes a log of several segments (records of 40 batches over
// SegmentBytes 1000) with topic id id into dir, closes it cleanly and
// returns the segment base offsets.
func damagedLog(t *testing.T, dir string, id [16]byte) []int64 {
	t.Helper()
	cfg := DefaultConfig()
	cfg.SegmentBytes = 1000
	cfg.IndexIntervalBytes = 100
	s := newSyncer(nil, true)
	l, err := Open(Options{Dir: dir, Config: cfg, Syncer: s, TopicID: id, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		if _, err := l.AppendAsLeader(simpleBatch(3, 1_700_000_000_000+int64(i)), 0); err != nil {
			t.Fatal(err)
		}
	}
	s.runPending()
	var bases []int64
	for _, sg := range l.segments {
		bases = append(bases, sg.base)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if len(bases) < 4 {
		t.Fatalf("want at least 4 segments, got %v", bases)
	}
	return bases
}

func hasProblem(r CheckReport, sev, file, what string) bool {
	for _, p := range r.Problems {
		if p.Severity == sev && (file == "" || p.File == file) && strings.Contains(p.What, what) {
			return true
		}
	}
	return false
}

// TestCheckPartition builds the damage of issue #9 into real partition
// directories: CheckPartition finds each, and opening the log reports or
// logs it.
func TestCheckPartition(t *testing.T) {
	id := [16]byte{9, 9, 9}
	t.Run("healthy", func(t *testing.T) {
		dir := t.TempDir()
		damagedLog(t, dir, id)
		r := CheckPartition(dir, id, false)
		if len(r.Problems) != 0 || r.Batches != 40 || r.LogEndOffset != 120 {
			t.Fatalf("healthy log: %+v", r)
		}
	})
	t.Run("deleted middle segment", func(t *testing.T) {
		dir := t.TempDir()
		bases := damagedLog(t, dir, id)
		mid := bases[1]
		if err := os.Remove(filepath.Join(dir, fileName(mid, logExt))); err != nil {
			t.Fatal(err)
		}
		r := CheckPartition(dir, id, false)
		if r.Errors() != 1 || !hasProblem(r, SeverityError, fileName(bases[2], logExt), "are missing") {
			t.Fatalf("gap not reported as the one error: %+v", r.Problems)
		}
		if r := CheckPartition(dir, id, true); r.Errors() != 0 {
			t.Fatalf("a gap in a compacted log is not an error: %+v", r.Problems)
		}
		// Opening logs the gap (it used to be served silently).
		var logs bytes.Buffer
		l, err := Open(Options{Dir: dir, CleanShutdown: true, TopicID: id, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		_ = l.Close()
		if !strings.Contains(logs.String(), "offset gap between segments") || !strings.Contains(logs.String(), "nextSegment="+strconv.FormatInt(bases[2], 10)) {
			t.Fatalf("gap not logged at open:\n%s", logs.String())
		}
	})
	t.Run("flipped bytes mid-segment", func(t *testing.T) {
		dir := t.TempDir()
		bases := damagedLog(t, dir, id)
		path := filepath.Join(dir, fileName(bases[1], logExt))
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 4 {
			data[len(data)/2+i] ^= 0xff
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r := CheckPartition(dir, id, false)
		if r.Errors() == 0 || !hasProblem(r, SeverityError, fileName(bases[1], logExt), "CRC") {
			t.Fatalf("flipped bytes not reported: %+v", r.Problems)
		}
	})
	t.Run("damaged partition.metadata", func(t *testing.T) {
		dir := t.TempDir()
		damagedLog(t, dir, id)
		if err := os.WriteFile(filepath.Join(dir, partitionMetadata), []byte("version: 0\ntopic_id: @@@@\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := CheckPartition(dir, id, false)
		if r.Errors() != 1 || !hasProblem(r, SeverityError, partitionMetadata, "malformed topic_id") {
			t.Fatalf("damaged partition.metadata not reported: %+v", r.Problems)
		}
		_, err := Open(Options{Dir: dir, CleanShutdown: true, TopicID: id, Logger: quietLogger()})
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), filepath.Join(dir, partitionMetadata)) {
			t.Fatalf("Open = %v, want ErrCorrupt naming the file", err)
		}
	})
	t.Run("overlapping segments", func(t *testing.T) {
		dir := t.TempDir()
		bases := damagedLog(t, dir, id)
		// A copy of segment 1 under a base offset inside segment 2's
		// predecessor's range: two segments claim the same offsets.
		data, err := os.ReadFile(filepath.Join(dir, fileName(bases[1], logExt)))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(dir, fileName(bases[2], logExt))); err != nil {
			t.Fatal(err)
		}
		for _, ext := range []string{indexExt, timeIndexExt} {
			_ = os.Remove(filepath.Join(dir, fileName(bases[2], ext)))
		}
		if err := os.WriteFile(filepath.Join(dir, fileName(bases[1]+1, logExt)), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if r := CheckPartition(dir, id, true); !hasProblem(r, SeverityError, "", "overlapping segments") {
			t.Fatalf("overlap not reported: %+v", r.Problems)
		}
		_, err = Open(Options{Dir: dir, CleanShutdown: true, TopicID: id, Logger: quietLogger()})
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "overlapping segments") {
			t.Fatalf("Open = %v, want ErrCorrupt (overlapping segments)", err)
		}
	})
	t.Run("stale index", func(t *testing.T) {
		dir := t.TempDir()
		bases := damagedLog(t, dir, id)
		path := filepath.Join(dir, fileName(bases[0], indexExt))
		data, err := os.ReadFile(path)
		if err != nil || len(data) < 8 {
			t.Fatalf("index: %v (%d bytes)", err, len(data))
		}
		data[7]++ // position of the first entry
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if r := CheckPartition(dir, id, false); !hasProblem(r, SeverityError, fileName(bases[0], indexExt), "does not point at a batch") {
			t.Fatalf("bad index entry not reported: %+v", r.Problems)
		}
	})
}
