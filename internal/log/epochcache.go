package log

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/tandem-streaming/tandem/internal/vfs"
)

// epochEntry maps a leader epoch to the first offset written in it.
type epochEntry struct {
	Epoch       int32
	StartOffset int64
}

// epochCache is Kafka's LeaderEpochFileCache: "LeaderEpoch => Offset of
// the first message in each epoch", strictly increasing in both fields.
// It is owned by the Log and guarded by Log.mu.
type epochCache struct {
	entries []epochEntry
}

func (c *epochCache) latest() (epochEntry, bool) {
	if len(c.entries) == 0 {
		return epochEntry{}, false
	}
	return c.entries[len(c.entries)-1], true
}

// assign records that epoch starts at startOffset. Like Kafka's assign it
// is a no-op unless the epoch is new or starts earlier than recorded, and
// it first drops entries that would break monotonicity (same or higher
// epoch, or start offset at or beyond the new one). Negative epochs are
// ignored (batches from pre-KIP-101 producers carry -1).
func (c *epochCache) assign(epoch int32, startOffset int64) (changed bool, removed []epochEntry) {
	if epoch < 0 || startOffset < 0 {
		return false, nil
	}
	if l, ok := c.latest(); ok && l.Epoch == epoch && startOffset >= l.StartOffset {
		return false, nil
	}
	i := len(c.entries)
	for i > 0 && (c.entries[i-1].Epoch >= epoch || c.entries[i-1].StartOffset >= startOffset) {
		i--
	}
	removed = append(removed, c.entries[i:]...)
	c.entries = append(c.entries[:i], epochEntry{epoch, startOffset})
	return true, removed
}

// truncateFromEnd removes entries starting at or after end
// (LeaderEpochFileCache.truncateFromEnd).
func (c *epochCache) truncateFromEnd(end int64) bool {
	i := len(c.entries)
	for i > 0 && c.entries[i-1].StartOffset >= end {
		i--
	}
	changed := i != len(c.entries)
	c.entries = c.entries[:i]
	return changed
}

// truncateFromStart drops entries wholly before start and moves the last of
// them up to start (LeaderEpochFileCache.truncateFromStart).
func (c *epochCache) truncateFromStart(start int64) bool {
	i := 0
	for i < len(c.entries) && c.entries[i].StartOffset <= start {
		i++
	}
	if i == 0 {
		return false
	}
	last := c.entries[i-1]
	if i == 1 && last.StartOffset == start {
		return false
	}
	last.StartOffset = start
	c.entries = append([]epochEntry{last}, c.entries[i:]...)
	return true
}

// endOffsetFor answers OffsetForLeaderEpoch (LeaderEpochFileCache.endOffsetFor):
// the latest epoch maps to the log end offset; an older one to the start
// offset of the next higher epoch, reporting the largest known epoch <= the
// requested one; an unknown future epoch or an empty cache is UNDEFINED
// (-1, -1).
func (c *epochCache) endOffsetFor(epoch int32, leo int64) (int32, int64) {
	if epoch < 0 {
		return -1, -1
	}
	l, ok := c.latest()
	if !ok {
		return -1, -1
	}
	if l.Epoch == epoch {
		return epoch, leo
	}
	// First entry with Epoch > epoch.
	hi := -1
	for i, e := range c.entries {
		if e.Epoch > epoch {
			hi = i
			break
		}
	}
	if hi < 0 {
		return -1, -1
	}
	if hi == 0 {
		return epoch, c.entries[0].StartOffset
	}
	return c.entries[hi-1].Epoch, c.entries[hi].StartOffset
}

// epochForOffset returns the epoch of the entry with the largest start
// offset <= offset, or -1.
func (c *epochCache) epochForOffset(offset int64) int32 {
	for i := len(c.entries) - 1; i >= 0; i-- {
		if c.entries[i].StartOffset <= offset {
			return c.entries[i].Epoch
		}
	}
	return -1
}

func (c *epochCache) clone() []epochEntry { return append([]epochEntry(nil), c.entries...) }

// encodeEpochCheckpoint renders Kafka's LeaderEpochCheckpointFile text
// format: version line (0), entry count, then "epoch startOffset" lines.
func encodeEpochCheckpoint(entries []epochEntry) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "0\n%d\n", len(entries))
	for _, e := range entries {
		fmt.Fprintf(&b, "%d %d\n", e.Epoch, e.StartOffset)
	}
	return b.Bytes()
}

// decodeEpochCheckpoint parses the checkpoint, rejecting anything malformed.
// Entries are applied through assign by the caller (as Kafka does), which
// drops non-monotonic ones.
func decodeEpochCheckpoint(data []byte) ([]epochEntry, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		return strings.TrimSpace(sc.Text()), true
	}
	v, ok := line()
	if !ok || v != "0" {
		return nil, fmt.Errorf("leader-epoch-checkpoint: unsupported version %q", v)
	}
	cs, ok := line()
	n, err := strconv.Atoi(cs)
	if !ok || err != nil || n < 0 {
		return nil, fmt.Errorf("leader-epoch-checkpoint: bad entry count %q", cs)
	}
	out := make([]epochEntry, 0, min(n, 1024))
	for i := 0; i < n; i++ {
		l, ok := line()
		if !ok {
			return nil, fmt.Errorf("leader-epoch-checkpoint: %d entries, expected %d", i, n)
		}
		f := strings.Fields(l)
		if len(f) != 2 {
			return nil, fmt.Errorf("leader-epoch-checkpoint: malformed line %q", l)
		}
		ep, err1 := strconv.ParseInt(f[0], 10, 32)
		off, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil || ep < 0 || off < 0 {
			return nil, fmt.Errorf("leader-epoch-checkpoint: malformed line %q", l)
		}
		out = append(out, epochEntry{int32(ep), off})
	}
	if l, ok := line(); ok && l != "" {
		return nil, fmt.Errorf("leader-epoch-checkpoint: trailing data %q", l)
	}
	return out, nil
}

func readEpochCheckpoint(fs vfs.FS, path string) ([]epochEntry, bool, error) {
	data, err := vfs.ReadFile(fs, path)
	if os.IsNotExist(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	e, err := decodeEpochCheckpoint(data)
	return e, true, err
}
