package fetcher

import (
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Config configures a Fetcher. Zero fields take Kafka's defaults for the
// broker configs of the same names (the replica fetcher's; a cluster link
// sets them from its link configs).
type Config struct {
	// ClientOpts configure the franz-go clients that reach the source
	// cluster: seed brokers, TLS, SASL — the link's client configs. The
	// Fetcher creates NumFetchers clients from them and closes them on
	// Close. Ignored when Source is set.
	ClientOpts []kgo.Opt
	// Source replaces the franz-go source (tests, replica followers). The
	// caller keeps ownership: Close does not close it.
	Source Source

	// NumFetchers is the number of fetchers per source broker (Kafka
	// num.replica.fetchers; default 1 — cluster links default it to 8,
	// see internal/link's num.replica.fetchers). A partition's fetcher is Kafka's
	// getFetcherId: abs(31*topic.hashCode() + partition) % NumFetchers.
	// Each fetcher has its own connection to each broker.
	NumFetchers int
	// FetchMaxBytes is replica.fetch.response.max.bytes (10 MiB): the
	// limit of each response, and the ceiling of the adaptive partition
	// size (sizing.go).
	FetchMaxBytes int32
	// PartitionMaxBytes is replica.fetch.max.bytes (1 MiB): the floor of
	// the adaptive partition size. A partition starts at its share of
	// FetchMaxBytes (never below this), doubles while its answers come
	// back cut with more data behind them, and halves back towards this
	// once it is caught up (sizing.go).
	PartitionMaxBytes int32
	// FetchMinBytes is replica.fetch.min.bytes (1).
	FetchMinBytes int32
	// FetchMaxWait is replica.fetch.wait.max.ms (500 ms).
	FetchMaxWait time.Duration
	// FetchBackoff is replica.fetch.backoff.ms (1 s): how long a
	// partition waits after an error before it is retried.
	FetchBackoff time.Duration
	// RetryBackoff and RetryBackoffMax are retry.backoff.ms (100 ms) and
	// retry.backoff.max.ms (1 s): the exponential back-off of metadata
	// refreshes that fail or leave partitions without a leader, and the
	// minimum spacing of refreshes.
	RetryBackoff    time.Duration
	RetryBackoffMax time.Duration
	// MetadataMaxAge is metadata.max.age.ms (5 min): source metadata is
	// refreshed at least this often, and at once when a fetch reports a
	// leadership error.
	MetadataMaxAge time.Duration
	// RequestTimeout is request.timeout.ms (30 s), added to FetchMaxWait
	// for fetches.
	RequestTimeout time.Duration

	// DisablePipelining keeps Kafka's one fetch in flight per fetcher
	// even when the leader is a Tandem broker offering LinkFetch
	// (pipeline.go; the link config fetch.pipelining.enable=false).
	DisablePipelining bool

	// Logger receives component logs; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// ObserveFetch, when set, is called after every fetch request with
	// the source broker, the latency and whether it failed (a histogram
	// hook). It must not block.
	ObserveFetch func(broker int32, latency time.Duration, failed bool)

	// Policy decides where partitions start, what happens to fetched data
	// and how OFFSET_OUT_OF_RANGE is recovered; MirrorPolicy (with Logger)
	// when nil.
	Policy Policy
	// OnEffect applies an Effect the engine needs from the Fetcher's owner
	// (raising a mirror partition's leader epoch). It is called on a
	// goroutine of the Fetcher's own, never a worker's, with no Fetcher
	// lock held, one effect at a time; its return value is the
	// acknowledgement (nil: done), delivered to the partition's worker as
	// a command. It must not call Fetcher methods that wait for workers
	// (AddPartitions, RemovePartitions, Pause, Resume, SetLeaders, Close).
	// Required when a partition sets RaiseLeaderEpoch.
	OnEffect func(Effect) error
}

// Kafka's defaults.
const (
	DefaultFetchMaxBytes     = 10 << 20
	DefaultPartitionMaxBytes = 1 << 20
	DefaultFetchMinBytes     = 1
	DefaultFetchMaxWait      = 500 * time.Millisecond
	DefaultFetchBackoff      = time.Second
	DefaultRetryBackoff      = 100 * time.Millisecond
	DefaultRetryBackoffMax   = time.Second
	DefaultMetadataMaxAge    = 5 * time.Minute
	DefaultRequestTimeout    = 30 * time.Second
)

func (c Config) normalize() Config {
	if c.NumFetchers <= 0 {
		c.NumFetchers = 1
	}
	if c.FetchMaxBytes <= 0 {
		c.FetchMaxBytes = DefaultFetchMaxBytes
	}
	if c.PartitionMaxBytes <= 0 {
		c.PartitionMaxBytes = DefaultPartitionMaxBytes
	}
	if c.FetchMinBytes <= 0 {
		c.FetchMinBytes = DefaultFetchMinBytes
	}
	if c.FetchMaxWait <= 0 {
		c.FetchMaxWait = DefaultFetchMaxWait
	}
	if c.FetchBackoff <= 0 {
		c.FetchBackoff = DefaultFetchBackoff
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = DefaultRetryBackoff
	}
	if c.RetryBackoffMax <= 0 {
		c.RetryBackoffMax = DefaultRetryBackoffMax
	}
	if c.RetryBackoffMax < c.RetryBackoff {
		c.RetryBackoffMax = c.RetryBackoff
	}
	if c.MetadataMaxAge <= 0 {
		c.MetadataMaxAge = DefaultMetadataMaxAge
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) engineConfig() engineConfig {
	return engineConfig{
		maxWait: c.FetchMaxWait, minBytes: c.FetchMinBytes, maxBytes: c.FetchMaxBytes,
		partitionMaxBytes: c.PartitionMaxBytes, backoff: c.FetchBackoff,
	}
}
