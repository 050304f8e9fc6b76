// Package mirror is the data path of mirror topics: it moves records from a
// cluster link's source into the mirror partitions' logs with
// internal/fetcher (MirrorPolicy), for the link manager (internal/link)
// that decides what to mirror, and applies the fetcher's effects (raising
// a mirror partition's leader epoch) on the broker. internal/node builds
// it; it is separate from internal/link so that the control plane does
// not depend on the fetcher.
package mirror

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/fetcher"
	"github.com/tandem-streaming/tandem/internal/link"
	"github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/record"
)

// FetcherPath is the DataPath over internal/fetcher: one Fetcher per link
// (the link's source cluster), one fetched source partition per mirror
// partition.
type FetcherPath struct {
	parts  Partitions
	logger *slog.Logger

	observe func(link string, latency time.Duration, failed bool)
	// clientOpts builds a link's client options (Options.ClientOpts).
	clientOpts func(name string, configs map[string]string) ([]kgo.Opt, error)

	mu       sync.Mutex // guards the maps; never held while calling a Fetcher
	fetchers map[string]*fetcher.Fetcher
	topics   map[string]mirrorRef // mirror topic → where it comes from
}

type mirrorRef struct {
	link   string
	source string
	n      int32
}

// Options configure a FetcherPath.
type Options struct {
	// Logger receives the data path's and its fetchers' logs (discarded
	// when nil).
	Logger *slog.Logger
	// ObserveFetch, when set, is called after every fetch request of
	// every link's fetcher (fetcher.Config.ObserveFetch, tagged with the
	// link name), for a latency histogram. It must not block.
	ObserveFetch func(link string, latency time.Duration, failed bool)
	// ClientOpts builds the franz-go options with which a link's fetchers
	// reach its source: the link manager's (link.Sessions.ClientOpts),
	// through which an INBOUND half's clients dial over the control
	// session its SOURCE half opened. Nil: link.ClientOpts (OUTBOUND
	// halves only).
	ClientOpts func(name string, configs map[string]string) ([]kgo.Opt, error)
}

// Partitions is what the data path needs from the broker: the link
// manager's view of mirror partitions, and the producer-id floor.
type Partitions interface {
	link.Partitions
	// ObserveProducerID tells the broker's producer-id allocator that pid
	// is in use by data it did not allocate, so that it never hands it out
	// (nor anything below it). It must not block: fetcher workers call it.
	ObserveProducerID(pid int64)
}

// NewFetcherPath returns the data path over parts (the broker).
func NewFetcherPath(parts Partitions, opts Options) *FetcherPath {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	clientOpts := opts.ClientOpts
	if clientOpts == nil {
		clientOpts = link.ClientOpts
	}
	return &FetcherPath{parts: parts, logger: logger, observe: opts.ObserveFetch, clientOpts: clientOpts,
		fetchers: map[string]*fetcher.Fetcher{}, topics: map[string]mirrorRef{}}
}

// fetcherConfig maps a link's configs to the fetcher's typed Config. The
// link package owns the definitions (names, defaults, validation; Kafka's
// names and meanings); the fetcher takes values, not names.
func fetcherConfig(l metadata.Link, logger *slog.Logger, clientOpts func(string, map[string]string) ([]kgo.Opt, error)) (fetcher.Config, error) {
	opts, err := clientOpts(l.Name, l.Configs)
	if err != nil {
		return fetcher.Config{}, err
	}
	c := l.Configs
	return fetcher.Config{ClientOpts: opts, Logger: logger, Policy: fetcher.MirrorPolicy{Logger: logger},
		NumFetchers:       int(link.Int(c, "num.replica.fetchers")),
		FetchMaxBytes:     int32(link.Int(c, "replica.fetch.response.max.bytes")),
		PartitionMaxBytes: int32(link.Int(c, "replica.fetch.max.bytes")),
		FetchMinBytes:     int32(link.Int(c, "replica.fetch.min.bytes")),
		FetchMaxWait:      link.Millis(c, "replica.fetch.wait.max.ms"),
		FetchBackoff:      link.Millis(c, "replica.fetch.backoff.ms"),
		RetryBackoff:      link.Millis(c, "retry.backoff.ms"),
		MetadataMaxAge:    link.Millis(c, "metadata.max.age.ms"),
		RequestTimeout:    link.Millis(c, "request.timeout.ms"),
		DisablePipelining: !link.Bool(c, "fetch.pipelining.enable"),
	}, nil
}

func (d *FetcherPath) fetcherFor(l metadata.Link) (*fetcher.Fetcher, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if f := d.fetchers[l.Name]; f != nil {
		return f, nil
	}
	cfg, err := fetcherConfig(l, d.logger.With("link", l.Name), d.clientOpts)
	if err != nil {
		return nil, err
	}
	if obs, name := d.observe, l.Name; obs != nil {
		cfg.ObserveFetch = func(_ int32, latency time.Duration, failed bool) { obs(name, latency, failed) }
	}
	name := l.Name
	cfg.OnEffect = func(e fetcher.Effect) error { return d.applyEffect(name, e) }
	cfg.Policy = producerIDPolicy{MirrorPolicy: fetcher.MirrorPolicy{Logger: cfg.Logger}, observe: d.parts.ObserveProducerID}
	f, err := fetcher.New(cfg)
	if err != nil {
		return nil, err
	}
	d.fetchers[l.Name] = f
	return f, nil
}

// producerIDPolicy is MirrorPolicy that first reports the largest producer
// id of the batches it is about to append. Mirrored batches keep the source
// cluster's producer ids, and the partition's producer state records them;
// the broker must never give a local producer one of those ids, or that
// producer's first write after promotion or failover would meet the source
// producer's epoch and sequence (OUT_OF_ORDER_SEQUENCE_NUMBER). Reporting
// before appending means the floor is raised before anything with that id
// is in the log, so a drained mirror (promote, failover) is covered before
// it becomes writable. The call is an atomic max in the broker: no I/O, no
// lock, as the Policy contract requires.
type producerIDPolicy struct {
	fetcher.MirrorPolicy
	observe func(pid int64)
}

func (p producerIDPolicy) ProcessPartitionData(t fetcher.Target, d fetcher.PartitionData) (log.AppendResult, error) {
	if pid := maxProducerID(d.Records); pid != record.NoProducerID {
		p.observe(pid)
	}
	return p.MirrorPolicy.ProcessPartitionData(t, d)
}

// maxProducerID returns the largest producer id among the whole batches of
// records (the RecordBatch v2 header field), or NoProducerID. Framing errors
// are left to the append, which refuses them.
func maxProducerID(records []byte) int64 {
	maxPID := record.NoProducerID
	it := record.NewIter(records)
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		if b.HasProducerID() {
			maxPID = max(maxPID, b.ProducerID())
		}
	}
	return maxPID
}

// applyEffect is the fetcher's Config.OnEffect for link: it raises a
// mirror partition's leader epoch to the source's before the fetcher
// appends batches of that epoch (KIP-1279 DLE >= SLE). It runs on the
// fetcher's effect goroutine, never a worker's, so taking the broker's
// admin lock here cannot deadlock with a control call waiting for a
// worker. A mirror topic deleted (or stopped) meanwhile is the fetcher's
// ErrTargetGone: the partition is left alone until it is removed.
func (d *FetcherPath) applyEffect(link string, e fetcher.Effect) error {
	if e.Kind != fetcher.EffectRaiseLeaderEpoch {
		return fmt.Errorf("mirror: unexpected fetcher effect %s", e)
	}
	topic, ok := d.mirrorOf(link, e.Topic)
	if !ok {
		return fmt.Errorf("%w: no mirror of %s on link %s", fetcher.ErrTargetGone, e.Topic, link)
	}
	err := d.parts.RaiseLeaderEpoch(topic, e.Partition, e.LeaderEpoch)
	if errors.Is(err, metadata.ErrUnknownTopic) {
		return fmt.Errorf("%w: %w", fetcher.ErrTargetGone, err)
	}
	return err
}

// mirrorOf names the mirror topic of link's source topic.
func (d *FetcherPath) mirrorOf(link, source string) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for topic, ref := range d.topics {
		if ref.link == link && ref.source == source {
			return topic, true
		}
	}
	return "", false
}

// Start begins or resumes mirroring every partition of topic. fresh is
// set when the mirror was just created: its partitions then start where
// mirror.start.offset.spec says, and from then on at their log end (the
// log start offset a fresh mirror is positioned at is persisted by the
// log, so a restart never re-resolves "latest").
func (d *FetcherPath) Start(l metadata.Link, t metadata.Topic, fresh bool) error {
	f, err := d.fetcherFor(l)
	if err != nil {
		return err
	}
	start := fetcher.StartAtLogEnd
	if fresh {
		if start, err = fetcher.ParseStartSpec(link.Value(l.Configs, "mirror.start.offset.spec")); err != nil {
			return err
		}
	}
	add := map[fetcher.TopicPartition]fetcher.PartitionConfig{}
	var resume []fetcher.TopicPartition
	for p := int32(0); p < t.Partitions; p++ {
		tp := fetcher.TopicPartition{Topic: t.Mirror.SourceTopic, Partition: p}
		if _, known := f.Status(tp); known {
			resume = append(resume, tp)
			continue
		}
		pt, err := d.parts.MirrorPartition(t.Name, p)
		if err != nil {
			return err
		}
		add[tp] = fetcher.PartitionConfig{
			Target:           pt.Log,
			SourceTopicID:    t.Mirror.SourceTopicID,
			Start:            start,
			RaiseLeaderEpoch: true,
		}
	}
	d.mu.Lock()
	d.topics[t.Name] = mirrorRef{link: l.Name, source: t.Mirror.SourceTopic, n: t.Partitions}
	d.mu.Unlock()
	if len(add) > 0 {
		if err := f.AddPartitions(add); err != nil {
			return err
		}
	}
	if len(resume) > 0 {
		return f.Resume(resume...)
	}
	return nil
}

func (d *FetcherPath) lookup(topic string) (*fetcher.Fetcher, []fetcher.TopicPartition) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ref, ok := d.topics[topic]
	if !ok {
		return nil, nil
	}
	tps := make([]fetcher.TopicPartition, ref.n)
	for p := range tps {
		tps[p] = fetcher.TopicPartition{Topic: ref.source, Partition: int32(p)}
	}
	return d.fetchers[ref.link], tps
}

// Pause stops fetching topic's partitions; when it returns nothing more is
// appended.
func (d *FetcherPath) Pause(topic string) {
	if f, tps := d.lookup(topic); f != nil {
		if err := f.Pause(tps...); err != nil && !errors.Is(err, fetcher.ErrUnknownPart) {
			d.logger.Warn("pausing mirror", "topic", topic, "err", err)
		}
	}
}

// Stop stops and forgets topic's partitions; when it returns, their logs
// are no longer touched.
func (d *FetcherPath) Stop(topic string) {
	f, tps := d.lookup(topic)
	d.mu.Lock()
	delete(d.topics, topic)
	d.mu.Unlock()
	if f != nil {
		if err := f.RemovePartitions(tps...); err != nil && !errors.Is(err, fetcher.ErrUnknownPart) {
			d.logger.Warn("stopping mirror", "topic", topic, "err", err)
		}
	}
}

// Status reports topic's partitions.
func (d *FetcherPath) Status(topic string) []link.PartitionStatus {
	f, tps := d.lookup(topic)
	if f == nil {
		return nil
	}
	out := make([]link.PartitionStatus, 0, len(tps))
	for _, tp := range tps {
		s, ok := f.Status(tp)
		if !ok {
			continue
		}
		ps := link.PartitionStatus{Partition: tp.Partition, LastSourceFetchOffset: -1, SourceHighWatermark: s.SourceHighWatermark,
			LocalEndOffset: s.LocalLogEndOffset, LastFetch: s.LastFetchTime, Err: s.LastError,
			ErrorSince: s.ErrorSince, Failed: s.State == fetcher.StateFailed, ErrorCode: errorCode(s.LastError)}
		if !s.LastFetchTime.IsZero() {
			ps.LastSourceFetchOffset = s.FetchOffset
		}
		out = append(out, ps)
	}
	return out
}

// FetchStats returns the cumulative counters of each link's fetcher, by
// link name (links whose fetcher was not created yet are absent), for
// metrics.
func (d *FetcherPath) FetchStats() map[string]fetcher.Stats {
	d.mu.Lock()
	fs := maps.Clone(d.fetchers) // Stats takes the fetcher's lock: not under d.mu
	d.mu.Unlock()
	out := make(map[string]fetcher.Stats, len(fs))
	for name, f := range fs {
		out[name] = f.Stats()
	}
	return out
}

// StopLink stops every mirror of link and closes the link's fetcher (its
// workers and source connections); the next Start of one of its mirrors
// builds a new fetcher from the link's configs then.
func (d *FetcherPath) StopLink(link string) {
	d.mu.Lock()
	f := d.fetchers[link]
	delete(d.fetchers, link)
	for topic, ref := range d.topics {
		if ref.link == link {
			delete(d.topics, topic)
		}
	}
	d.mu.Unlock()
	if f != nil {
		_ = f.Close() // not under d.mu: Close waits for the fetcher's effect goroutine
	}
}

// Close stops every fetcher.
func (d *FetcherPath) Close() {
	d.mu.Lock()
	fs := d.fetchers
	d.fetchers = map[string]*fetcher.Fetcher{}
	d.topics = map[string]mirrorRef{}
	d.mu.Unlock()
	for _, f := range fs {
		_ = f.Close()
	}
}

// The link manager's contract.
var _ link.DataPath = (*FetcherPath)(nil)

// errorCode maps a fetch error to Confluent's mirror_topic_error values
// (cluster-linking.md §2.3).
func errorCode(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, fetcher.ErrSourceTopicIDChanged):
		return "SOURCE_TOPIC_ID_CHANGED"
	case errors.Is(err, fetcher.ErrSourceTopicNotFound):
		return "SOURCE_TOPIC_MAY_BE_DELETED"
	case errors.Is(err, fetcher.ErrNonMonotonicSourceEpoch):
		return "NON_MONOTONIC_SOURCE_EPOCH"
	case errors.Is(err, fetcher.ErrUnsupportedMessageFormat):
		return "UNSUPPORTED_MESSAGE_FORMAT"
	case errors.Is(err, fetcher.ErrUnexpectedAppend):
		return "ILLEGAL_STATE"
	}
	return "UNKNOWN"
}
