package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tandem-streaming/tandem/internal/record"
	"github.com/tandem-streaming/tandem/internal/vfs"
)

// Deep validation of a partition directory, for `tandem check` (Kafka's
// kafka-dump-log --verify-index-only / --deep-iteration, over a whole
// partition): it reads every file and changes nothing, so it can run on a
// copy or on a stopped broker's directory.

// Severity of a Problem.
const (
	SeverityError   = "error"   // data that is lost, or that must not be served as it is
	SeverityWarning = "warning" // a state the next open repairs, or one to look at
)

// Problem is one finding of CheckPartition.
type Problem struct {
	Severity string `json:"severity"`
	File     string `json:"file"`               // base name inside the partition directory
	Position int64  `json:"position,omitempty"` // byte position in File, when it applies
	What     string `json:"what"`
}

// CheckReport is what CheckPartition found in one partition directory.
type CheckReport struct {
	Dir            string    `json:"dir"`
	TopicID        string    `json:"topic_id,omitempty"` // from partition.metadata, hex
	Segments       int       `json:"segments"`
	Batches        int64     `json:"batches"`
	Bytes          int64     `json:"bytes"`
	LogStartOffset int64     `json:"log_start_offset"`
	LogEndOffset   int64     `json:"log_end_offset"`
	Problems       []Problem `json:"problems,omitempty"`
}

// Errors counts the problems of SeverityError.
func (r *CheckReport) Errors() int {
	n := 0
	for _, p := range r.Problems {
		if p.Severity == SeverityError {
			n++
		}
	}
	return n
}

func (r *CheckReport) add(sev, file string, pos int64, format string, args ...any) {
	r.Problems = append(r.Problems, Problem{Severity: sev, File: file, Position: pos, What: fmt.Sprintf(format, args...)})
}

// CheckPartition deep-validates the partition directory dir: its
// partition.metadata (and, when wantID is not zero, that it names
// wantID), every batch of every segment (framing, CRC-32C, offsets
// increasing, relative offsets in range), the offset and time indexes
// against the batches, offset continuity between segments (a gap is an
// error unless compact: compaction makes gaps), the checkpoints and
// producer snapshots, and leftovers of interrupted operations. A torn
// tail of the last segment is a warning (recovery cuts it at the next
// open); damage anywhere else is an error.
func CheckPartition(dir string, wantID [16]byte, compact bool) CheckReport {
	r := CheckReport{Dir: dir}
	id, ok, err := ReadPartitionMetadata(dir)
	switch {
	case err != nil:
		r.add(SeverityError, partitionMetadata, 0, "%v", err)
	case !ok:
		r.add(SeverityWarning, partitionMetadata, 0, "missing (written again with the topic id from metadata at the next open)")
	default:
		r.TopicID = fmt.Sprintf("%x", id)
		if wantID != ([16]byte{}) && id != wantID {
			r.add(SeverityError, partitionMetadata, 0, "names topic id %x but metadata has %x: the directory belongs to another incarnation of the topic (moved aside at the next start)", id, wantID)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		r.add(SeverityError, ".", 0, "%v", err)
		return r
	}
	var bases []int64
	files := map[string]int64{}
	for _, e := range entries {
		name := e.Name()
		fi, err := e.Info()
		if err != nil || e.IsDir() {
			continue
		}
		files[name] = fi.Size()
		switch {
		case strings.HasSuffix(name, damagedSuffix):
			r.add(SeverityWarning, name, 0, "bytes recovery cut from a segment damaged in place (kept for inspection; not served)")
		case strings.HasSuffix(name, deletedSuffix), strings.HasSuffix(name, cleanedSuffix),
			strings.HasSuffix(name, swapSuffix), strings.HasSuffix(name, tmpSuffix):
			r.add(SeverityWarning, name, 0, "leftover of an interrupted operation (completed or removed at the next open)")
		}
		if off, ok := parseOffsetName(name, logExt); ok {
			bases = append(bases, off)
		}
	}
	slices.Sort(bases)
	r.Segments = len(bases)

	ckpt, ckptErr := decodeOffsetsFile(filepath.Join(dir, offsetsCheckpoint))
	if ckptErr != nil && !errors.Is(ckptErr, os.ErrNotExist) {
		r.add(SeverityWarning, offsetsCheckpoint, 0, "unreadable (%v): the log start offset falls back to the first segment", ckptErr)
	}
	if _, _, err := readEpochCheckpoint(vfs.Default, filepath.Join(dir, epochCheckpointName)); err != nil {
		r.add(SeverityWarning, epochCheckpointName, 0, "unreadable (%v): rebuilt from the batches at the next open", err)
	}
	for name := range files {
		if off, ok := parseOffsetName(name, snapshotExt); ok {
			if _, err := readSnapshot(vfs.Default, filepath.Join(dir, name)); err != nil {
				r.add(SeverityWarning, name, 0, "unreadable producer snapshot at offset %d (%v): skipped at the next open", off, err)
			}
		}
	}

	prevEnd := int64(-1)
	for i, base := range bases {
		last := i == len(bases)-1
		end := r.checkSegment(dir, base, last, files)
		if i == 0 {
			r.LogStartOffset = base
		}
		if prevEnd >= 0 {
			name := fileName(base, logExt)
			switch {
			case prevEnd > base:
				r.add(SeverityError, name, 0, "starts at offset %d but the previous segment holds offsets up to %d (overlapping segments)", base, prevEnd-1)
			case prevEnd < base && !compact:
				r.add(SeverityError, name, 0, "offsets %d to %d are missing between this segment and the previous one (a deleted or lost segment?)", prevEnd, base-1)
			}
		}
		prevEnd = end
		r.LogEndOffset = end
	}
	if ckptErr == nil && len(bases) > 0 {
		if ckpt.LogStartOffset > r.LogStartOffset {
			r.LogStartOffset = ckpt.LogStartOffset
		}
		if ckpt.LogStartOffset > r.LogEndOffset {
			r.add(SeverityWarning, offsetsCheckpoint, 0, "log start offset %d is beyond the log end offset %d (clamped at the next open)", ckpt.LogStartOffset, r.LogEndOffset)
		}
	}
	return r
}

func decodeOffsetsFile(path string) (offsetsCheckpointData, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return offsetsCheckpointData{}, err
	}
	return decodeOffsetsCheckpoint(data)
}

// checkSegment validates one segment and its indexes and returns its end
// offset (the offset after its last intact batch; base when empty).
func (r *CheckReport) checkSegment(dir string, base int64, last bool, files map[string]int64) int64 {
	name := fileName(base, logExt)
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		r.add(SeverityError, name, 0, "%v", err)
		return base
	}
	defer f.Close()
	size := files[name]
	r.Bytes += size
	next := base
	type batchAt struct{ last int64 }
	starts := map[int64]batchAt{} // batch position -> last offset
	sc := newScanner(f, 0, size)
	for sc.next() {
		h := sc.hdr
		b, lod := h.BaseOffset(), int64(h.LastOffsetDelta())
		switch {
		case b < next:
			r.add(SeverityError, name, sc.batchPos, "batch with base offset %d follows offsets up to %d (offsets go backwards)", b, next-1)
		case lod < 0 || b+lod-base > math.MaxInt32:
			r.add(SeverityError, name, sc.batchPos, "batch at offset %d has an invalid lastOffsetDelta %d", b, lod)
		}
		if err := sc.verifyCRC(); err != nil {
			if errors.Is(err, record.ErrCorrupt) {
				r.add(SeverityError, name, sc.batchPos, "batch with offsets %d-%d: %v", b, b+lod, err)
			} else {
				r.add(SeverityError, name, sc.batchPos, "reading batch: %v", err)
			}
		}
		r.Batches++
		starts[sc.batchPos] = batchAt{last: b + lod}
		if b+lod+1 > next {
			next = b + lod + 1
		}
	}
	if sc.stop != scanEOF {
		sev, what := SeverityError, "the segment is damaged here; what follows cannot be read"
		if last {
			sev, what = SeverityWarning, "a torn tail, as a crash leaves it; recovery cuts it at the next open"
		}
		r.add(sev, name, sc.pos, "%v: %s", sc.stopErr, what)
	}

	// Offset index: entries increase, point at batch starts, and name
	// that batch's last offset.
	idx := fileName(base, indexExt)
	if n, ok := files[idx]; ok {
		data, err := os.ReadFile(filepath.Join(dir, idx))
		switch {
		case err != nil:
			r.add(SeverityError, idx, 0, "%v", err)
		case n%offsetEntrySize != 0:
			r.add(SeverityWarning, idx, 0, "size %d is not a multiple of %d (rebuilt at the next open)", n, offsetEntrySize)
		default:
			prevRel, prevPos := int64(-1), int64(-1)
			for i := 0; i+offsetEntrySize <= len(data); i += offsetEntrySize {
				rel := int64(int32(binary.BigEndian.Uint32(data[i:])))
				pos := int64(int32(binary.BigEndian.Uint32(data[i+4:])))
				b, isStart := starts[pos]
				switch {
				case rel <= prevRel || pos <= prevPos:
					r.add(SeverityError, idx, int64(i), "entry (offset %d, position %d) does not increase; delete the file to have it rebuilt", base+rel, pos)
				case !isStart:
					r.add(SeverityError, idx, int64(i), "entry (offset %d, position %d) does not point at a batch; delete the file to have it rebuilt", base+rel, pos)
				case b.last != base+rel:
					r.add(SeverityError, idx, int64(i), "entry names offset %d but the batch at position %d ends at offset %d; delete the file to have it rebuilt", base+rel, pos, b.last)
				default:
					prevRel, prevPos = rel, pos
					continue
				}
				break
			}
		}
	}
	tidx := fileName(base, timeIndexExt)
	if n, ok := files[tidx]; ok {
		data, err := os.ReadFile(filepath.Join(dir, tidx))
		switch {
		case err != nil:
			r.add(SeverityError, tidx, 0, "%v", err)
		case n%timeEntrySize != 0:
			r.add(SeverityWarning, tidx, 0, "size %d is not a multiple of %d (rebuilt at the next open)", n, timeEntrySize)
		default:
			prevTS, prevRel := int64(math.MinInt64), int64(-1)
			for i := 0; i+timeEntrySize <= len(data); i += timeEntrySize {
				ts := int64(binary.BigEndian.Uint64(data[i:]))
				rel := int64(int32(binary.BigEndian.Uint32(data[i+8:])))
				if ts <= prevTS || rel < prevRel || rel < 0 || base+rel >= max(next, base+1) {
					r.add(SeverityError, tidx, int64(i), "entry (timestamp %d, offset %d) is out of order or beyond the segment; delete the file to have it rebuilt", ts, base+rel)
					break
				}
				prevTS, prevRel = ts, rel
			}
		}
	}
	return next
}
