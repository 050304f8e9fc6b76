// Package bench is the benchmark behind `tandem bench`: it produces a fixed
// volume of records to a Kafka-compatible broker with one franz-go client,
// optionally at a fixed offered rate, measures produce throughput and
// latency, and optionally consumes everything back to measure consume
// throughput. The client settings are fixed and identical for every server,
// so runs against Tandem, kfake and Kafka compare side by side
// (scripts/bench-compare.sh).
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Options says what to run. BindFlags defines the matching flags.
type Options struct {
	Brokers     []string
	Topic       string
	Partitions  int           // partitions of the topic when CreateTopic
	RecordSize  int           // bytes of each record's value; records have no key
	TotalBytes  int64         // bytes of values to produce: TotalBytes/RecordSize records
	Acks        string        // "0", "1" or "all"
	Compression string        // none, gzip, snappy, lz4 or zstd
	Linger      time.Duration // producer linger
	Rate        int           // records/s offered; 0 = as fast as possible
	Consume     bool          // also measure consume throughput after producing
	ConsumeOnly bool          // skip producing; consume what the topic holds
	Consumers   int           // consumer clients sharing the partitions (default 1)
	CreateTopic bool          // create Topic (it must not exist); else it must exist
	Out         io.Writer     // summary and JSON line; nil discards
	// Dial, when set, is the producer's dialer (the WAN benchmark maps
	// the source's advertised proxy address back to its own listener).
	Dial func(ctx context.Context, network, host string) (net.Conn, error)
	// ClientOpts are added to every client of the run (admin, producer,
	// consumers): the security benchmark's TLS and SASL settings.
	ClientOpts []kgo.Opt
}

// Result is what a run measured. MB is 10^6 bytes, of record keys plus
// values (the payload, not the wire bytes).
type Result struct {
	ProduceMBps, ProduceRecordsPerSec float64
	// Produce latency, from the Produce() call (with Rate, from the
	// record's scheduled send time) to its ack callback.
	P50, P99, P999 time.Duration
	ConsumeMBps    float64
	ConsumedBytes  int64 // key plus value bytes consumed
	Records        int64 // records produced and acknowledged
	Errors         int64 // records that failed
}

// Errors returned by Run.
var (
	ErrOptions       = errors.New("bench: invalid options")
	ErrProduceFailed = errors.New("bench: records failed")
	ErrConsumeStall  = errors.New("bench: consume made no progress")
)

// consumeStallTimeout bounds how long consuming may go without a record
// before Run gives up (a blackholed server, for one, has nothing to serve).
const consumeStallTimeout = 30 * time.Second

// valuePoolSize is how many distinct values the records cycle through.
const valuePoolSize = 1024

func (o *Options) validate() error {
	var errs []string
	if len(o.Brokers) == 0 {
		errs = append(errs, "no brokers")
	}
	if o.Topic == "" {
		errs = append(errs, "no topic")
	}
	if o.CreateTopic && o.Partitions <= 0 {
		errs = append(errs, fmt.Sprintf("partitions %d must be positive", o.Partitions))
	}
	if o.RecordSize <= 0 {
		errs = append(errs, fmt.Sprintf("record size %d must be positive", o.RecordSize))
	}
	if o.ConsumeOnly && o.CreateTopic {
		errs = append(errs, "consume-only needs an existing topic (--create-topic=false)")
	}
	if !o.ConsumeOnly && o.TotalBytes < int64(o.RecordSize) {
		errs = append(errs, fmt.Sprintf("bytes %d must be at least one record (%d)", o.TotalBytes, o.RecordSize))
	}
	if _, err := acksOf(o.Acks); err != nil {
		errs = append(errs, err.Error())
	}
	if _, err := codecOf(o.Compression); err != nil {
		errs = append(errs, err.Error())
	}
	if o.Linger < 0 {
		errs = append(errs, "negative linger")
	}
	if o.Rate < 0 {
		errs = append(errs, "negative rate")
	}
	if o.Consumers < 0 {
		errs = append(errs, "negative consumers")
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrOptions, strings.Join(errs, "; "))
	}
	return nil
}

func acksOf(s string) (kgo.Acks, error) {
	switch s {
	case "0":
		return kgo.NoAck(), nil
	case "1":
		return kgo.LeaderAck(), nil
	case "all", "-1":
		return kgo.AllISRAcks(), nil
	}
	return kgo.Acks{}, fmt.Errorf("acks %q is not 0, 1 or all", s)
}

func codecOf(s string) (kgo.CompressionCodec, error) {
	switch s {
	case "none", "":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("compression %q is not none, gzip, snappy, lz4 or zstd", s)
}

// producerOpts are the producer settings, the same for every server:
//
//   - ProducerLinger(o.Linger) and RequiredAcks(o.Acks) as asked;
//   - ProducerBatchCompression(o.Compression), with franz-go's own codecs;
//   - idempotence only with acks=all (franz-go's default, which requires
//     acks=all); with acks 0 or 1 it is disabled and up to 5 produce
//     requests may be in flight per broker, what idempotence allows, so
//     the acks settings differ only in what the broker must wait for;
//   - MaxBufferedRecords(1M) and MaxBufferedBytes(256 MiB): large enough
//     that the client's buffer, not the broker, limits only runs that
//     outpace the broker, where Produce then blocks;
//   - ProducerBatchMaxBytes left at 1,000,012 (Kafka's max.message.bytes);
//   - records go round-robin over the partitions (record i to partition
//     i mod P), deterministically, with no key.
func producerOpts(o Options) []kgo.Opt {
	acks, _ := acksOf(o.Acks)
	codec, _ := codecOf(o.Compression)
	opts := []kgo.Opt{
		kgo.SeedBrokers(o.Brokers...),
		kgo.DefaultProduceTopic(o.Topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(o.Linger),
		kgo.RequiredAcks(acks),
		kgo.ProducerBatchCompression(codec),
		kgo.MaxBufferedRecords(1 << 20),
		kgo.MaxBufferedBytes(256 << 20),
	}
	if o.Acks != "all" && o.Acks != "-1" {
		opts = append(opts, kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(5))
	}
	if o.Dial != nil {
		opts = append(opts, kgo.Dialer(o.Dial))
	}
	return append(opts, o.ClientOpts...)
}

// values returns valuePoolSize distinct values of size bytes each: words
// drawn by a seeded generator, so every codec has something to do (text
// compresses a few times over) but nothing collapses to a few bytes.
func values(size int) [][]byte {
	words := strings.Fields("the a broker record batch offset leader epoch segment log partition " +
		"replica fetch produce consumer group commit transaction marker index time " +
		"stream tandem kafka cluster link mirror topic key value header 0 1 2 3 4 5 6 7 8 9")
	r := rand.New(rand.NewPCG(1, 2))
	pool := make([][]byte, valuePoolSize)
	for i := range pool {
		b := make([]byte, 0, size+16)
		for len(b) < size {
			b = append(b, words[r.IntN(len(words))]...)
			b = append(b, ' ')
		}
		pool[i] = b[:size]
	}
	return pool
}

// Run runs the benchmark o describes and prints a human-readable summary
// followed by one line of JSON to o.Out. It returns what it measured even
// with an error, when it got that far.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if err := o.validate(); err != nil {
		return Result{}, err
	}
	admCl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(o.Brokers...)}, o.ClientOpts...)...)
	if err != nil {
		return Result{}, fmt.Errorf("bench: admin client: %w", err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)

	partitions, err := preparePartitions(ctx, adm, o)
	if err != nil {
		return Result{}, err
	}
	if o.ConsumeOnly {
		return runConsumeOnly(ctx, o, adm, partitions)
	}
	n := o.TotalBytes / int64(o.RecordSize)
	fmt.Fprintf(o.Out, "tandem bench: %d records x %d B = %.1f MB to %s, topic %s (%d partitions), acks=%s compression=%s linger=%v rate=%s\n",
		n, o.RecordSize, float64(n*int64(o.RecordSize))/1e6, strings.Join(o.Brokers, ","), o.Topic, partitions,
		o.Acks, o.Compression, o.Linger, rateString(o.Rate))

	var res Result
	ps, err := produce(ctx, o, n, partitions)
	res.Records, res.Errors = ps.acked, ps.failed
	if err != nil {
		return res, err
	}
	hist, produceTime := ps.hist, ps.took
	res.P50, res.P99, res.P999 = hist.Quantile(0.50), hist.Quantile(0.99), hist.Quantile(0.999)
	if secs := produceTime.Seconds(); secs > 0 {
		res.ProduceMBps = float64(res.Records*int64(o.RecordSize)) / secs / 1e6
		res.ProduceRecordsPerSec = float64(res.Records) / secs
	}
	fmt.Fprintf(o.Out, "produce: %d records in %v: %.1f MB/s, %.0f records/s, %d errors\n",
		res.Records, produceTime.Round(time.Millisecond), res.ProduceMBps, res.ProduceRecordsPerSec, res.Errors)
	fmt.Fprintf(o.Out, "produce latency (%s to ack): p50 %v  p99 %v  p99.9 %v  max %v\n",
		latencyFrom(o.Rate), roundLatency(res.P50), roundLatency(res.P99), roundLatency(res.P999), roundLatency(hist.Max()))

	var consumeErr error
	if o.Consume && res.Records > 0 {
		var consumed int64
		var took time.Duration
		consumed, took, consumeErr = consume(ctx, o, adm, partitions)
		res.ConsumedBytes = consumed
		if consumeErr == nil && took > 0 {
			res.ConsumeMBps = float64(consumed) / took.Seconds() / 1e6
			fmt.Fprintf(o.Out, "consume: %.1f MB in %v: %.1f MB/s\n", float64(consumed)/1e6, took.Round(time.Millisecond), res.ConsumeMBps)
		}
	}

	line, _ := json.Marshal(jsonResult(o, n, partitions, res, hist.Max()))
	fmt.Fprintf(o.Out, "%s\n", line)

	switch {
	case res.Errors > 0:
		return res, fmt.Errorf("%w: %d of %d, first: %w", ErrProduceFailed, res.Errors, n, ps.firstErr)
	case consumeErr != nil:
		return res, consumeErr
	}
	return res, nil
}

func rateString(rate int) string {
	if rate == 0 {
		return "max"
	}
	return fmt.Sprintf("%d/s", rate)
}

func latencyFrom(rate int) string {
	if rate == 0 {
		return "Produce call"
	}
	return "scheduled send"
}

func roundLatency(d time.Duration) time.Duration {
	switch {
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= 100*time.Microsecond:
		return d.Round(time.Microsecond)
	}
	return d
}

// preparePartitions creates the topic when asked and returns its number of
// partitions.
func preparePartitions(ctx context.Context, adm *kadm.Client, o Options) (int, error) {
	if o.CreateTopic {
		// Replication factor 1: the comparisons run single-node servers.
		resp, err := adm.CreateTopic(ctx, int32(o.Partitions), 1, nil, o.Topic)
		if err == nil {
			err = resp.Err
		}
		if errors.Is(err, kerr.TopicAlreadyExists) {
			return 0, fmt.Errorf("bench: topic %s already exists; pick another --topic or pass --create-topic=false: %w", o.Topic, err)
		}
		if err != nil {
			return 0, fmt.Errorf("bench: creating topic %s: %w", o.Topic, err)
		}
		return o.Partitions, nil
	}
	topics, err := adm.ListTopics(ctx, o.Topic)
	if err != nil {
		return 0, fmt.Errorf("bench: metadata: %w", err)
	}
	d, ok := topics[o.Topic]
	if !ok || d.Err != nil {
		return 0, fmt.Errorf("bench: topic %s: %w", o.Topic, errors.Join(d.Err, kerr.UnknownTopicOrPartition))
	}
	if len(d.Partitions) == 0 {
		return 0, fmt.Errorf("bench: topic %s has no partitions", o.Topic)
	}
	return len(d.Partitions), nil
}

// produceStats is what producing measured.
type produceStats struct {
	hist          *histogram
	took          time.Duration // first Produce call to the last ack
	acked, failed int64
	firstErr      error // of the first record that failed
}

// produce writes n records and measures them.
//
// With o.Rate > 0 the records are paced by a ticker: each tick sends every
// record whose scheduled time (start + i/rate) has passed. Latency is taken
// from that scheduled time, not from the actual call, so a server that
// stalls the client is charged for the records that queue up behind the
// stall (coordinated omission). With o.Rate == 0 records are sent as fast as
// the client accepts them and latency runs from the Produce call.
func produce(ctx context.Context, o Options, n int64, partitions int) (produceStats, error) {
	cl, err := kgo.NewClient(producerOpts(o)...)
	if err != nil {
		return produceStats{}, fmt.Errorf("bench: producer client: %w", err)
	}
	defer cl.Close()

	var (
		hist     = new(histogram)
		acked    atomic.Int64
		failed   atomic.Int64
		firstErr atomic.Pointer[error]
	)
	// The record's Timestamp carries its scheduled send time, so one
	// callback serves every record without a closure per record.
	promise := func(r *kgo.Record, err error) {
		if err != nil {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, &err)
			return
		}
		hist.Record(time.Since(r.Timestamp))
		acked.Add(1)
	}
	pool := values(o.RecordSize)
	send := func(i int64, scheduled time.Time) {
		cl.Produce(ctx, &kgo.Record{
			Partition: int32(i % int64(partitions)),
			Value:     pool[i%valuePoolSize],
			Timestamp: scheduled,
		}, promise)
	}

	stopProgress := progress(o.Out, &acked, n)
	defer stopProgress()

	start := time.Now()
	if o.Rate == 0 {
		for i := int64(0); i < n && ctx.Err() == nil; i++ {
			send(i, time.Now())
		}
	} else {
		tick := max(time.Millisecond, time.Second/time.Duration(o.Rate))
		ticker := time.NewTicker(tick)
		defer ticker.Stop()
		perNano := float64(o.Rate) / 1e9
		for sent := int64(0); sent < n; {
			due := min(n, int64(float64(time.Since(start))*perNano)+1)
			for ; sent < due; sent++ {
				send(sent, start.Add(time.Duration(float64(sent)/perNano)))
			}
			if sent == n {
				break
			}
			select {
			case <-ctx.Done():
				sent = n
			case <-ticker.C:
			}
		}
	}
	flushErr := cl.Flush(ctx)
	ps := produceStats{hist: hist, took: time.Since(start), acked: acked.Load(), failed: failed.Load()}
	if e := firstErr.Load(); e != nil {
		ps.firstErr = *e
	}
	if flushErr != nil {
		return ps, fmt.Errorf("bench: flushing: %w", flushErr)
	}
	if err := ctx.Err(); err != nil {
		return ps, fmt.Errorf("bench: producing: %w", err)
	}
	return ps, nil
}

// progress prints a progress line every 5 seconds until stopped.
func progress(out io.Writer, done *atomic.Int64, total int64) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				fmt.Fprintf(out, "  ... %d / %d records acknowledged\n", done.Load(), total)
			}
		}
	})
	return func() { close(quit); wg.Wait() }
}

// consume reads every partition from its start until it reaches the end
// offsets the topic had after producing, and returns the key plus value
// bytes read and the time it took, client start-up included. It uses
// franz-go's consumer defaults (read_uncommitted, 50 MB per fetch, 1 MB per
// partition), the same for every server. With o.Consumers > 1 the
// partitions are dealt round-robin to that many clients (one connection
// and fetch pipeline each, as the members of a consumer group have), and
// the figure is their total over the time until the last one finishes.
func consume(ctx context.Context, o Options, adm *kadm.Client, partitions int) (int64, time.Duration, error) {
	ends, err := adm.ListEndOffsets(ctx, o.Topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return 0, 0, fmt.Errorf("bench: listing end offsets: %w", err)
	}
	consumers := max(o.Consumers, 1)
	targets := make([]map[int32]int64, consumers)
	for i := range targets {
		targets[i] = map[int32]int64{}
	}
	any := false
	for p := range int32(partitions) {
		if lo, ok := ends.Lookup(o.Topic, p); ok && lo.Offset > 0 {
			targets[int(p)%consumers][p] = lo.Offset
			any = true
		}
	}
	if !any {
		return 0, 0, nil
	}

	start := time.Now()
	var (
		wg    sync.WaitGroup
		total atomic.Int64
		errs  = make([]error, consumers)
	)
	for i, target := range targets {
		if len(target) == 0 {
			continue
		}
		wg.Go(func() {
			n, err := consumePartitions(ctx, o, target)
			total.Add(n)
			errs[i] = err
		})
	}
	wg.Wait()
	return total.Load(), time.Since(start), errors.Join(errs...)
}

// consumePartitions reads the partitions of target from their start to
// their end offsets with one client.
func consumePartitions(ctx context.Context, o Options, target map[int32]int64) (int64, error) {
	offsets := make(map[int32]kgo.Offset, len(target))
	for p := range target {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(o.Brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{o.Topic: offsets}),
	}, o.ClientOpts...)...)
	if err != nil {
		return 0, fmt.Errorf("bench: consumer client: %w", err)
	}
	defer cl.Close()

	var bytes int64
	for len(target) > 0 {
		pollCtx, cancel := context.WithTimeout(ctx, consumeStallTimeout)
		fs := cl.PollFetches(pollCtx)
		stalled := pollCtx.Err() != nil && ctx.Err() == nil
		cancel()
		if err := ctx.Err(); err != nil {
			return bytes, fmt.Errorf("bench: consuming: %w", err)
		}
		if stalled {
			return bytes, fmt.Errorf("%w for %v; %d partitions short of their end offsets", ErrConsumeStall, consumeStallTimeout, len(target))
		}
		for _, fe := range fs.Errors() {
			if !errors.Is(fe.Err, context.DeadlineExceeded) {
				return bytes, fmt.Errorf("bench: consuming partition %d: %w", fe.Partition, fe.Err)
			}
		}
		fs.EachRecord(func(r *kgo.Record) {
			bytes += int64(len(r.Key) + len(r.Value))
			if end, ok := target[r.Partition]; ok && r.Offset+1 >= end {
				delete(target, r.Partition)
			}
		})
	}
	return bytes, nil
}

// runConsumeOnly consumes everything the topic holds, so consume can be
// measured again (page cache warm) without producing first.
func runConsumeOnly(ctx context.Context, o Options, adm *kadm.Client, partitions int) (Result, error) {
	var res Result
	consumed, took, err := consume(ctx, o, adm, partitions)
	res.ConsumedBytes = consumed
	if err != nil {
		return res, err
	}
	if took > 0 {
		res.ConsumeMBps = float64(consumed) / took.Seconds() / 1e6
	}
	fmt.Fprintf(o.Out, "consume: %.1f MB in %v: %.1f MB/s\n", float64(consumed)/1e6, took.Round(time.Millisecond), res.ConsumeMBps)
	line, _ := json.Marshal(jsonResult(o, 0, partitions, res, 0))
	fmt.Fprintf(o.Out, "%s\n", line)
	return res, nil
}

// jsonLine is the machine-readable result line.
type jsonLine struct {
	Brokers              []string `json:"brokers"`
	Topic                string   `json:"topic"`
	Partitions           int      `json:"partitions"`
	RecordSize           int      `json:"record_size"`
	RecordsPlanned       int64    `json:"records_planned"`
	Acks                 string   `json:"acks"`
	Compression          string   `json:"compression"`
	LingerMs             float64  `json:"linger_ms"`
	Rate                 int      `json:"rate"`
	Records              int64    `json:"records"`
	Errors               int64    `json:"errors"`
	ProduceMBps          float64  `json:"produce_mbps"`
	ProduceRecordsPerSec float64  `json:"produce_records_per_sec"`
	P50Ms                float64  `json:"p50_ms"`
	P99Ms                float64  `json:"p99_ms"`
	P999Ms               float64  `json:"p999_ms"`
	MaxMs                float64  `json:"max_ms"`
	ConsumeMBps          *float64 `json:"consume_mbps,omitempty"` // absent without --consume
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

func round2(f float64) float64 { return math.Round(f*100) / 100 }

func jsonResult(o Options, planned int64, partitions int, r Result, maxLatency time.Duration) jsonLine {
	j := jsonLine{
		Brokers:              o.Brokers,
		Topic:                o.Topic,
		Partitions:           partitions,
		RecordSize:           o.RecordSize,
		RecordsPlanned:       planned,
		Acks:                 o.Acks,
		Compression:          o.Compression,
		LingerMs:             ms(o.Linger),
		Rate:                 o.Rate,
		Records:              r.Records,
		Errors:               r.Errors,
		ProduceMBps:          round2(r.ProduceMBps),
		ProduceRecordsPerSec: math.Round(r.ProduceRecordsPerSec),
		P50Ms:                ms(r.P50),
		P99Ms:                ms(r.P99),
		P999Ms:               ms(r.P999),
		MaxMs:                ms(maxLatency),
	}
	if o.Consume || o.ConsumeOnly {
		v := round2(r.ConsumeMBps)
		j.ConsumeMBps = &v
	}
	return j
}
