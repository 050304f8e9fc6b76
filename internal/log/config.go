package log

import (
	"log/slog"
	"math"
	"time"

	"github.com/tandem-streaming/tandem/internal/vfs"
)

// Config is the per-topic storage configuration (Kafka topic configs of the
// same names). Fields <= 0 where Kafka forbids that fall back to Kafka's
// defaults (see normalize); RetentionMs and RetentionBytes are taken as is
// (-1 means unlimited; 0 is legal in Kafka and deletes everything eligible).
type Config struct {
	SegmentBytes         int64 // segment.bytes (default 1 GiB, capped at MaxInt32: index positions are int32)
	SegmentMs            int64 // segment.ms (default 7 days)
	IndexIntervalBytes   int32 // index.interval.bytes (default 4096)
	RetentionMs          int64 // retention.ms, -1 infinite
	RetentionBytes       int64 // retention.bytes, -1 infinite
	FileDeleteDelayMs    int64 // file.delete.delay.ms (0 deletes at once)
	MaxMessageBytes      int32 // max.message.bytes, compared with a batch's full size (default 1048588)
	LogAppendTime        bool  // message.timestamp.type=LogAppendTime
	TimestampBeforeMaxMs int64 // message.timestamp.before.max.ms (<= 0: unlimited)
	TimestampAfterMaxMs  int64 // message.timestamp.after.max.ms (<= 0: unlimited)
	// ProducerIDExpirationMs is the broker's producer.id.expiration.ms
	// (default 1 day): idle producers without an open transaction are
	// forgotten by EnforceRetention.
	ProducerIDExpirationMs int64

	// cleanup.policy: Compact enables log compaction (Clean, Cleaner),
	// Delete time and size retention (EnforceRetention). Both may be set
	// ("compact,delete"). With neither set, normalize sets Delete, Kafka's
	// default policy, so a zero Config keeps deleting.
	Compact bool
	Delete  bool
	// DeleteRetentionMs is delete.retention.ms (default 1 day): how long a
	// tombstone or a removable transaction marker survives after the
	// cleaner first saw it (KIP-534 delete horizon). Negative: default.
	DeleteRetentionMs int64
	// MinCleanableDirtyRatio is min.cleanable.dirty.ratio (default 0.5):
	// the Cleaner picks a log only when dirty bytes / (clean + dirty
	// bytes) exceed it. Clamped to [0, 1]; negative: default.
	MinCleanableDirtyRatio float64
	// MinCompactionLagMs is min.compaction.lag.ms (default 0): a segment
	// whose largest timestamp is younger than this is not compacted.
	MinCompactionLagMs int64
	// MaxCompactionLagMs is max.compaction.lag.ms (default MaxInt64;
	// <= 0: default): a dirty segment whose first batch is older than this
	// is compacted whatever the dirty ratio (KIP-354), and the active
	// segment of a compacted log rolls at min(segment.ms, this).
	MaxCompactionLagMs int64
}

// DefaultConfig returns Kafka's defaults with infinite size retention and
// 7-day time retention.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:           1 << 30,
		SegmentMs:              7 * 24 * 3600 * 1000,
		IndexIntervalBytes:     4096,
		RetentionMs:            7 * 24 * 3600 * 1000,
		RetentionBytes:         -1,
		FileDeleteDelayMs:      60_000,
		MaxMessageBytes:        1048588,
		TimestampBeforeMaxMs:   math.MaxInt64,
		TimestampAfterMaxMs:    math.MaxInt64,
		ProducerIDExpirationMs: 86_400_000,
		Delete:                 true,
		DeleteRetentionMs:      86_400_000,
		MinCleanableDirtyRatio: 0.5,
		MaxCompactionLagMs:     math.MaxInt64,
	}
}

func (c Config) normalize() Config {
	d := DefaultConfig()
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = d.SegmentBytes
	}
	if c.SegmentBytes > math.MaxInt32 {
		c.SegmentBytes = math.MaxInt32
	}
	if c.SegmentMs <= 0 {
		c.SegmentMs = d.SegmentMs
	}
	if c.IndexIntervalBytes <= 0 {
		c.IndexIntervalBytes = d.IndexIntervalBytes
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = d.MaxMessageBytes
	}
	if c.TimestampBeforeMaxMs <= 0 {
		c.TimestampBeforeMaxMs = math.MaxInt64
	}
	if c.TimestampAfterMaxMs <= 0 {
		c.TimestampAfterMaxMs = math.MaxInt64
	}
	if c.ProducerIDExpirationMs <= 0 {
		c.ProducerIDExpirationMs = d.ProducerIDExpirationMs
	}
	if c.FileDeleteDelayMs < 0 {
		c.FileDeleteDelayMs = 0
	}
	if !c.Compact && !c.Delete {
		c.Delete = true
	}
	if c.DeleteRetentionMs < 0 {
		c.DeleteRetentionMs = d.DeleteRetentionMs
	}
	switch {
	case c.MinCleanableDirtyRatio < 0 || math.IsNaN(c.MinCleanableDirtyRatio):
		c.MinCleanableDirtyRatio = d.MinCleanableDirtyRatio
	case c.MinCleanableDirtyRatio > 1:
		c.MinCleanableDirtyRatio = 1
	}
	if c.MinCompactionLagMs < 0 {
		c.MinCompactionLagMs = 0
	}
	if c.MaxCompactionLagMs <= 0 {
		c.MaxCompactionLagMs = d.MaxCompactionLagMs
	}
	return c
}

// Options configures Open.
type Options struct {
	Dir       string // partition directory, created if missing
	Topic     string
	Partition int32
	TopicID   [16]byte // written to partition.metadata when non-zero
	Config    Config
	// CleanShutdown says whether the previous run shut down cleanly (the
	// caller keeps the marker file). When false, Open validates every
	// segment at or above the recovery point batch by batch.
	CleanShutdown bool
	Files         *FileCache       // shared descriptor cache; a private one is made when nil
	Syncer        *Syncer          // shared group-commit syncer; a private one is made when nil
	Now           func() time.Time // injectable clock; time.Now when nil
	Logger        *slog.Logger     // slog.Default() when nil
	// FS is the file system under the log (tests inject faults with
	// vfs.ErrorFS); the FileCache's when nil, else vfs.Default. Segment
	// files are opened through the FileCache, so Files (when given) must
	// be on the same FS.
	FS vfs.FS
}

// Isolation is the fetch isolation level (Kafka IsolationLevel ids).
type Isolation int8

// Isolation levels.
const (
	ReadUncommitted Isolation = 0
	ReadCommitted   Isolation = 1
)

func (i Isolation) String() string {
	if i == ReadCommitted {
		return "read_committed"
	}
	return "read_uncommitted"
}

// AppendResult describes a successful append.
type AppendResult struct {
	BaseOffset, LastOffset int64 // -1, -1 for an empty input
	// LogAppendTime is the broker timestamp stamped on the batches for
	// LogAppendTime topics, -1 otherwise. For a duplicate on such a topic
	// it is the original batch's timestamp (UnifiedLog.append).
	LogAppendTime  int64
	LogStartOffset int64
	// Duplicate is set when an idempotent retry matched one of the
	// producer's last five batches: nothing was appended and the offsets
	// are those of the original append.
	Duplicate bool
	Batches   int
	Records   int
	Bytes     int
}

// ReadResult is the answer to a fetch.
type ReadResult struct {
	// Records holds whole batches, freshly allocated (the caller owns it).
	Records []byte
	// Slice, from ReadSlice only, holds the whole batches as a range of a
	// segment file instead of Records. The caller must Release it.
	Slice            *FileSlice
	HighWatermark    int64
	LastStableOffset int64
	LogStartOffset   int64
	// AbortedTransactions overlapping the returned offsets (ReadCommitted
	// only), in marker order.
	AbortedTransactions []AbortedTxn
}

// AbortedTxn is a FetchResponse aborted transaction.
type AbortedTxn struct {
	ProducerID, FirstOffset int64
}

// Stats is a point-in-time view for metrics and DescribeLogDirs.
type Stats struct {
	Size             int64 // bytes across segments
	Segments         int
	LogStartOffset   int64
	LogEndOffset     int64
	HighWatermark    int64
	LastStableOffset int64
	Producers        int // producer ids with state
	OngoingTxns      int
}
