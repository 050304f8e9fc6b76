package bench

// `tandem bench mirror`: cluster-link mirroring against a consume→re-produce
// pipeline (what MirrorMaker 2 does) between the same two brokers, in one
// run on one machine (issue #4). docs/benchmarks.md has the figures.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/tandem-streaming/tandem/internal/restapi"
	"github.com/tandem-streaming/tandem/internal/restclient"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// MirrorOptions says what `tandem bench mirror` runs.
type MirrorOptions struct {
	Source     []string // source cluster bootstrap, host:port
	Dest       []string // destination cluster bootstrap, host:port
	DestURL    string   // destination's REST API, http://host:port
	DestPID    int      // destination broker process, for CPU and RSS from /proc; 0 = not measured
	SourcePID  int      // source broker process, for its CPU (informational); 0 = not measured
	Link       string   // cluster link created on the destination
	Prefix     string   // topic name prefix; topics must not exist
	Partitions int      // partitions of the throughput and latency topics
	RecordSize int
	TotalBytes int64 // bytes of values produced for the throughput figures
	// Latency phase: values/s offered to the mirrored source topic, for how
	// long, and how much of the start is left out of the quantiles.
	LatencyBytesPerSec int64
	LatencyDuration    time.Duration
	LatencyWarmup      time.Duration
	// Partitions phase: a source topic of ManyPartitions partitions with
	// RecordsPerPartition records each, mirrored on the same link.
	ManyPartitions      int
	RecordsPerPartition int
	Phases              []string          // of "throughput", "latency", "partitions"
	LinkConfigs         map[string]string // extra link configs (bootstrap.servers is set from Source)
	Out                 io.Writer
	// WAN: see wan.go. With WAN.Target set, Source is the WAN proxy's
	// address, which the source broker advertises.
	WAN WANOptions

	// mirrorPrefix is the link's cluster.link.prefix, when it has one:
	// the latency phase reads the mirror under that name.
	mirrorPrefix string
}

// MirrorResult is what a run measured. MB = 10^6 bytes of record values.
type MirrorResult struct {
	Bytes                      int64      `json:"bytes"`
	MirrorSeconds              float64    `json:"mirror_seconds"`
	MirrorMBps                 float64    `json:"mirror_mbps"`
	MirrorSyncSeconds          float64    `json:"mirror_sync_seconds"`
	MirrorWithSyncMBps         float64    `json:"mirror_with_sync_mbps"`
	PipelineSeconds            float64    `json:"pipeline_seconds"`
	PipelineMBps               float64    `json:"pipeline_mbps"`
	MirrorDestCPUSecPerGB      float64    `json:"mirror_dest_cpu_s_per_gb"`
	PipelineDestCPUSecPerGB    float64    `json:"pipeline_dest_cpu_s_per_gb"`
	PipelineProcCPUSecPerGB    float64    `json:"pipeline_proc_cpu_s_per_gb"`
	PipelineCPUSecPerGB        float64    `json:"pipeline_cpu_s_per_gb"` // dest broker + pipeline process
	MirrorSourceCPUSecPerGB    float64    `json:"mirror_source_cpu_s_per_gb,omitempty"`
	PipelineSourceCPUSecPerGB  float64    `json:"pipeline_source_cpu_s_per_gb,omitempty"`
	LatencyRecords             int64      `json:"latency_records"`
	LatencyOfferedMBps         float64    `json:"latency_offered_mbps"`
	LatencyP50Ms               float64    `json:"latency_p50_ms"`
	LatencyP99Ms               float64    `json:"latency_p99_ms"`
	LatencyP999Ms              float64    `json:"latency_p999_ms"`
	LatencyMaxMs               float64    `json:"latency_max_ms"`
	SendToMirrorP50Ms          float64    `json:"send_to_mirror_p50_ms"`
	SendToMirrorP99Ms          float64    `json:"send_to_mirror_p99_ms"`
	ManyPartitions             int        `json:"many_partitions,omitempty"`
	ManyCatchUpSeconds         float64    `json:"many_catch_up_seconds,omitempty"`
	ManyDestRSSBeforeMB        float64    `json:"many_dest_rss_before_mb,omitempty"`
	ManyDestRSSMB              float64    `json:"many_dest_rss_mb,omitempty"`
	ManyDestHWMMB              float64    `json:"many_dest_rss_peak_mb,omitempty"`
	MirrorCatchUpPollInterval  float64    `json:"catch_up_poll_ms"`
	LatencyConsumerFetchWaitMs float64    `json:"latency_consumer_fetch_wait_ms"`
	WAN                        *WANResult `json:"wan,omitempty"`
}

// Errors returned by RunMirrorCompare.
var (
	ErrMirrorStall = errors.New("bench: mirror made no progress")
	ErrREST        = errors.New("bench: REST request failed")
)

const (
	catchUpPoll        = 20 * time.Millisecond
	mirrorStallTimeout = 60 * time.Second
	// latencyFetchWait is the mirror consumer's fetch.max.wait.ms: Kafka's
	// consumer default (franz-go's own is 5 s).
	latencyFetchWait = 500 * time.Millisecond
)

func (o *MirrorOptions) phase(name string) bool { return slices.Contains(o.Phases, name) }

func (o *MirrorOptions) validate() error {
	var e optionErrs
	e.check(len(o.Source) > 0 && len(o.Dest) > 0, "need source and destination brokers")
	e.check(o.DestURL != "", "need the destination's REST URL")
	e.check(o.Link != "" && o.Prefix != "", "need a link name and a topic prefix")
	e.check(o.Partitions > 0 && o.RecordSize >= 16, "partitions must be positive and records at least 16 B")
	e.check(o.TotalBytes >= int64(o.RecordSize), "bytes must be at least one record")
	e.check(o.LatencyBytesPerSec > 0 && o.LatencyDuration > o.LatencyWarmup, "latency rate must be positive and duration longer than warm-up")
	e.check(o.ManyPartitions > 0 && o.RecordsPerPartition > 0, "many-partitions and records-per-partition must be positive")
	e.check(!o.phase("wan") || (o.WAN.Target != "" && len(o.WAN.RTTs) > 0), "the wan phase needs --wan-target and --wan-rtts")
	for _, p := range o.Phases {
		e.check(p == "throughput" || p == "latency" || p == "partitions" || p == "wan", "unknown phase %q", p)
	}
	return e.err()
}

// RunMirrorCompare creates the link on the destination and runs the
// phases asked for, printing a summary and one JSON line to o.Out.
func RunMirrorCompare(ctx context.Context, o MirrorOptions) (MirrorResult, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if err := o.validate(); err != nil {
		return MirrorResult{}, err
	}
	res := MirrorResult{MirrorCatchUpPollInterval: ms(catchUpPoll), LatencyConsumerFetchWaitMs: ms(latencyFetchWait)}
	rcl, err := restclient.New(o.DestURL, "tandem-bench", 60*time.Second)
	if err != nil {
		return MirrorResult{}, fmt.Errorf("%w: %w", ErrREST, err)
	}
	rc := &benchREST{rcl}
	if o.WAN.Target != "" {
		stop, err := o.WAN.start(o.Source)
		if err != nil {
			return res, err
		}
		defer stop()
	}
	cfg := map[string]string{}
	for k, v := range o.LinkConfigs {
		cfg[k] = v
	}
	cfg["bootstrap.servers"] = strings.Join(o.Source, ",")
	if err := rc.createLink(ctx, o.Link, cfg); err != nil {
		return res, err
	}
	fmt.Fprintf(o.Out, "tandem bench mirror: link %s on %s from %s\n", o.Link, strings.Join(o.Dest, ","), cfg["bootstrap.servers"])

	sadm, dadm, err := adminPair(o.localSource(), o.Dest, kgo.Dialer(o.WAN.dial))
	if err != nil {
		return res, err
	}
	defer sadm.Close()
	defer dadm.Close()

	if o.phase("throughput") {
		if err := mirrorThroughput(ctx, o, rc, sadm, dadm, &res); err != nil {
			return res, err
		}
	}
	if o.phase("latency") {
		if err := mirrorLatency(ctx, o, rc, sadm, dadm, &res); err != nil {
			return res, err
		}
	}
	if o.phase("partitions") {
		if err := mirrorMany(ctx, o, rc, sadm, dadm, &res); err != nil {
			return res, err
		}
	}
	if o.phase("wan") {
		if err := mirrorWAN(ctx, o, rc, sadm, dadm, &res); err != nil {
			return res, err
		}
	}
	line, _ := json.Marshal(res)
	fmt.Fprintf(o.Out, "%s\n", line)
	return res, nil
}

// mirrorThroughput produces TotalBytes to a source topic, then times (1) a
// mirror of it catching up and (2) a consume→re-produce copy of it.
func mirrorThroughput(ctx context.Context, o MirrorOptions, rc *benchREST, sadm, dadm *kadm.Client, res *MirrorResult) error {
	topic := o.Prefix + "-tput"
	po := Options{Brokers: o.localSource(), Dial: o.WAN.dial, Topic: topic, Partitions: o.Partitions, RecordSize: o.RecordSize,
		Acks: "all", Compression: "lz4", Linger: 5 * time.Millisecond, Out: o.Out}
	if err := createTopic(ctx, sadm, topic, o.Partitions); err != nil {
		return err
	}
	n := o.TotalBytes / int64(o.RecordSize)
	ps, err := produce(ctx, po, n, o.Partitions)
	if err != nil {
		return err
	}
	if ps.failed > 0 {
		return fmt.Errorf("%w: %d producing to the source, first: %w", ErrProduceFailed, ps.failed, ps.firstErr)
	}
	res.Bytes = ps.acked * int64(o.RecordSize)
	gb := float64(res.Bytes) / 1e9
	fmt.Fprintf(o.Out, "source: %d records (%.1f MB, lz4) produced in %v\n", ps.acked, float64(res.Bytes)/1e6, ps.took.Round(time.Millisecond))
	srcEnds, err := endOffsets(ctx, sadm, topic)
	if err != nil {
		return err
	}

	// (1) Mirror: from the create-mirror request to the mirror's end
	// offsets equal to the source's.
	d0, s0 := procCPU(o.DestPID), procCPU(o.SourcePID)
	start := time.Now()
	if err := rc.createMirror(ctx, o.Link, topic); err != nil {
		return err
	}
	if err := waitCaughtUp(ctx, dadm, topic, srcEnds); err != nil {
		return err
	}
	took := time.Since(start)
	d1, s1 := procCPU(o.DestPID), procCPU(o.SourcePID)
	res.MirrorSeconds = round2(took.Seconds())
	res.MirrorMBps = round2(float64(res.Bytes) / took.Seconds() / 1e6)
	res.MirrorDestCPUSecPerGB = round2((d1 - d0).Seconds() / gb)
	res.MirrorSourceCPUSecPerGB = round2((s1 - s0).Seconds() / gb)
	fmt.Fprintf(o.Out, "mirror: caught up in %v: %.1f MB/s; destination broker CPU %v (%.2f s/GB)\n",
		took.Round(time.Millisecond), res.MirrorMBps, (d1 - d0).Round(time.Millisecond), res.MirrorDestCPUSecPerGB)
	// A mirror appends like a Kafka follower: readable once appended, not
	// fsynced per fetch. Write its data back now, so the pipeline's first
	// acks=all round (a syncfs on Tandem) does not pay for it, and report
	// the mirror's figure with that write-back included as well.
	syncStart := time.Now()
	syscall.Sync()
	syncTook := time.Since(syncStart)
	res.MirrorSyncSeconds = round2(syncTook.Seconds())
	res.MirrorWithSyncMBps = round2(float64(res.Bytes) / (took + syncTook).Seconds() / 1e6)
	fmt.Fprintf(o.Out, "mirror: sync() after catching up took %v: %.1f MB/s including it\n", syncTook.Round(time.Millisecond), res.MirrorWithSyncMBps)

	// (2) Pipeline: consume the same source topic, re-produce to a new
	// destination topic.
	ptopic := o.Prefix + "-pipe"
	if err := createTopic(ctx, dadm, ptopic, o.Partitions); err != nil {
		return err
	}
	d0, s0, p0 := procCPU(o.DestPID), procCPU(o.SourcePID), selfCPU()
	start = time.Now()
	copied, err := pipeline(ctx, o, topic, ptopic, srcEnds)
	if err != nil {
		return err
	}
	took = time.Since(start)
	d1, s1, p1 := procCPU(o.DestPID), procCPU(o.SourcePID), selfCPU()
	if copied != res.Bytes {
		return fmt.Errorf("bench: pipeline copied %d bytes of values, want %d", copied, res.Bytes)
	}
	res.PipelineSeconds = round2(took.Seconds())
	res.PipelineMBps = round2(float64(copied) / took.Seconds() / 1e6)
	res.PipelineDestCPUSecPerGB = round2((d1 - d0).Seconds() / gb)
	res.PipelineProcCPUSecPerGB = round2((p1 - p0).Seconds() / gb)
	res.PipelineCPUSecPerGB = round2((d1 - d0 + p1 - p0).Seconds() / gb)
	res.PipelineSourceCPUSecPerGB = round2((s1 - s0).Seconds() / gb)
	fmt.Fprintf(o.Out, "pipeline: copied in %v: %.1f MB/s; destination broker CPU %v, pipeline process CPU %v (%.2f s/GB together)\n",
		took.Round(time.Millisecond), res.PipelineMBps, (d1 - d0).Round(time.Millisecond), (p1 - p0).Round(time.Millisecond), res.PipelineCPUSecPerGB)
	return nil
}

// pipeline copies topic from the source to ptopic on the destination, as
// MirrorMaker 2 does: a franz-go consumer (defaults: 50 MB per fetch, 1 MB
// per partition) feeding a franz-go producer with the bench's producer
// settings (lz4, acks=all, idempotent, linger 5 ms), record by record,
// partition for partition. It returns the value bytes acknowledged.
func pipeline(ctx context.Context, o MirrorOptions, topic, ptopic string, ends map[int32]int64) (int64, error) {
	po := Options{Brokers: o.Dest, Topic: ptopic, Acks: "all", Compression: "lz4", Linger: 5 * time.Millisecond}
	prod, err := kgo.NewClient(producerOpts(po)...)
	if err != nil {
		return 0, err
	}
	defer prod.Close()
	offsets := map[int32]kgo.Offset{}
	target := map[int32]int64{}
	for p, end := range ends {
		if end > 0 {
			offsets[p], target[p] = kgo.NewOffset().AtStart(), end
		}
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(o.Source...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	if err != nil {
		return 0, err
	}
	defer cons.Close()

	var acked, failed atomic.Int64
	var firstErr atomic.Pointer[error]
	promise := func(r *kgo.Record, err error) {
		if err != nil {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, &err)
			return
		}
		acked.Add(int64(len(r.Value)))
	}
	for len(target) > 0 {
		pollCtx, cancel := context.WithTimeout(ctx, consumeStallTimeout)
		fs := cons.PollFetches(pollCtx)
		stalled := pollCtx.Err() != nil && ctx.Err() == nil
		cancel()
		if err := ctx.Err(); err != nil {
			return acked.Load(), err
		}
		if stalled {
			return acked.Load(), fmt.Errorf("%w: pipeline consumer, %d partitions short", ErrConsumeStall, len(target))
		}
		for _, fe := range fs.Errors() {
			return acked.Load(), fmt.Errorf("bench: pipeline consuming %s-%d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			prod.Produce(ctx, &kgo.Record{Topic: ptopic, Partition: r.Partition, Key: r.Key, Value: r.Value,
				Headers: r.Headers, Timestamp: r.Timestamp}, promise)
			if end, ok := target[r.Partition]; ok && r.Offset+1 >= end {
				delete(target, r.Partition)
			}
		})
	}
	if err := prod.Flush(ctx); err != nil {
		return acked.Load(), err
	}
	if e := firstErr.Load(); e != nil {
		return acked.Load(), fmt.Errorf("%w: pipeline, %d records, first: %w", ErrProduceFailed, failed.Load(), *e)
	}
	return acked.Load(), nil
}

// mirrorLatency offers LatencyBytesPerSec to a mirrored source topic and
// measures, per record, the time from its acknowledgement by the source to
// a consumer of the mirror reading it. Values carry the record's index and
// its send time; every time is taken in this process, on one clock.
func mirrorLatency(ctx context.Context, o MirrorOptions, rc *benchREST, sadm, dadm *kadm.Client, res *MirrorResult) error {
	topic := o.Prefix + "-lat"
	if err := createTopic(ctx, sadm, topic, o.Partitions); err != nil {
		return err
	}
	if err := rc.createMirror(ctx, o.Link, topic); err != nil {
		return err
	}
	empty := map[int32]int64{}
	for p := range int32(o.Partitions) {
		empty[p] = 0
	}
	mtopic := o.mirrorPrefix + topic
	if err := waitCaughtUp(ctx, dadm, mtopic, empty); err != nil {
		return err
	}
	rate := float64(o.LatencyBytesPerSec) / float64(o.RecordSize) // records/s
	n := int64(rate * o.LatencyDuration.Seconds())
	warm := int64(rate * o.LatencyWarmup.Seconds())
	acks := make([]atomic.Int64, n) // unix nanos of the source's ack
	reads := make([]int64, n)       // unix nanos of the read from the mirror
	sends := make([]int64, n)

	offsets := map[int32]kgo.Offset{}
	for p := range int32(o.Partitions) {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(o.Dest...), kgo.FetchMaxWait(latencyFetchWait),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{mtopic: offsets}))
	if err != nil {
		return err
	}
	defer cons.Close()
	consErr := make(chan error, 1)
	go func() {
		var seen int64
		last := time.Now()
		for seen < n {
			pollCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
			fs := cons.PollFetches(pollCtx)
			cancel()
			now := time.Now().UnixNano()
			if ctx.Err() != nil {
				consErr <- ctx.Err()
				return
			}
			for _, fe := range fs.Errors() {
				if !errors.Is(fe.Err, context.DeadlineExceeded) {
					consErr <- fmt.Errorf("bench: consuming the mirror: %w", fe.Err)
					return
				}
			}
			fs.EachRecord(func(r *kgo.Record) {
				if i := int64(binary.BigEndian.Uint64(r.Value)); i >= 0 && i < n && reads[i] == 0 {
					reads[i] = now
					seen++
					last = time.Now()
				}
			})
			if time.Since(last) > mirrorStallTimeout {
				consErr <- fmt.Errorf("%w: %d of %d records read from the mirror", ErrMirrorStall, seen, n)
				return
			}
		}
		consErr <- nil
	}()

	po := Options{Brokers: o.localSource(), Dial: o.WAN.dial, Topic: topic, Acks: "all", Compression: "lz4", Linger: 5 * time.Millisecond}
	prod, err := kgo.NewClient(producerOpts(po)...)
	if err != nil {
		return err
	}
	defer prod.Close()
	var failed atomic.Int64
	promise := func(r *kgo.Record, err error) {
		if err != nil {
			failed.Add(1)
			return
		}
		acks[binary.BigEndian.Uint64(r.Value)].Store(time.Now().UnixNano())
	}
	pool := values(o.RecordSize)
	fmt.Fprintf(o.Out, "latency: %d records at %.0f records/s (%.1f MB/s) to mirrored %s, first %v left out\n",
		n, rate, float64(o.LatencyBytesPerSec)/1e6, topic, o.LatencyWarmup)
	start := time.Now()
	perNano := rate / 1e9
	ticker := time.NewTicker(time.Millisecond)
	defer ticker.Stop()
	for sent := int64(0); sent < n; {
		due := min(n, int64(float64(time.Since(start))*perNano)+1)
		for ; sent < due; sent++ {
			v := make([]byte, o.RecordSize)
			copy(v, pool[sent%valuePoolSize])
			now := time.Now().UnixNano()
			binary.BigEndian.PutUint64(v, uint64(sent))
			binary.BigEndian.PutUint64(v[8:], uint64(now))
			sends[sent] = now
			prod.Produce(ctx, &kgo.Record{Partition: int32(sent % int64(o.Partitions)), Value: v}, promise)
		}
		if sent == n {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
	if err := prod.Flush(ctx); err != nil {
		return err
	}
	offered := time.Since(start)
	if f := failed.Load(); f > 0 {
		return fmt.Errorf("%w: %d producing to the source", ErrProduceFailed, f)
	}
	if err := <-consErr; err != nil {
		return err
	}
	h, e2e := new(histogram), new(histogram)
	for i := warm; i < n; i++ {
		// A consumer may see a record before the producer's callback has
		// run (the source's high watermark moves before its answer is
		// read): that is no latency at all, not a negative one.
		h.Record(time.Duration(max(0, reads[i]-acks[i].Load())))
		e2e.Record(time.Duration(reads[i] - sends[i]))
	}
	res.LatencyRecords = n - warm
	res.LatencyOfferedMBps = round2(float64(n*int64(o.RecordSize)) / offered.Seconds() / 1e6)
	res.LatencyP50Ms, res.LatencyP99Ms, res.LatencyP999Ms, res.LatencyMaxMs = ms(h.Quantile(0.5)), ms(h.Quantile(0.99)), ms(h.Quantile(0.999)), ms(h.Max())
	res.SendToMirrorP50Ms, res.SendToMirrorP99Ms = ms(e2e.Quantile(0.5)), ms(e2e.Quantile(0.99))
	fmt.Fprintf(o.Out, "latency (source ack to readable on the mirror), %d records at %.1f MB/s achieved: p50 %.2f ms  p99 %.2f ms  p99.9 %.2f ms  max %.2f ms; send to mirror p50 %.2f ms p99 %.2f ms\n",
		res.LatencyRecords, res.LatencyOfferedMBps, res.LatencyP50Ms, res.LatencyP99Ms, res.LatencyP999Ms, res.LatencyMaxMs, res.SendToMirrorP50Ms, res.SendToMirrorP99Ms)
	return nil
}

// mirrorMany mirrors a topic of ManyPartitions partitions on the same link
// and reads the destination's RSS once the mirror has caught up.
func mirrorMany(ctx context.Context, o MirrorOptions, rc *benchREST, sadm, dadm *kadm.Client, res *MirrorResult) error {
	topic := o.Prefix + "-many"
	if err := createTopic(ctx, sadm, topic, o.ManyPartitions); err != nil {
		return err
	}
	po := Options{Brokers: o.localSource(), Dial: o.WAN.dial, Topic: topic, Partitions: o.ManyPartitions, RecordSize: o.RecordSize,
		Acks: "all", Compression: "lz4", Linger: 5 * time.Millisecond}
	ps, err := produce(ctx, po, int64(o.ManyPartitions*o.RecordsPerPartition), o.ManyPartitions)
	if err != nil {
		return err
	}
	if ps.failed > 0 {
		return fmt.Errorf("%w: %d producing to %s", ErrProduceFailed, ps.failed, topic)
	}
	ends, err := endOffsets(ctx, sadm, topic)
	if err != nil {
		return err
	}
	rss0, _ := procRSS(o.DestPID)
	start := time.Now()
	if err := rc.createMirror(ctx, o.Link, topic); err != nil {
		return err
	}
	if err := waitCaughtUp(ctx, dadm, topic, ends); err != nil {
		return err
	}
	res.ManyPartitions = o.ManyPartitions
	res.ManyCatchUpSeconds = round2(time.Since(start).Seconds())
	rss, hwm := procRSS(o.DestPID)
	res.ManyDestRSSBeforeMB, res.ManyDestRSSMB, res.ManyDestHWMMB = round2(rss0/1e6), round2(rss/1e6), round2(hwm/1e6)
	fmt.Fprintf(o.Out, "partitions: %d partitions x %d records mirrored in %.2f s; destination RSS %.1f MB (before the mirror %.1f MB, peak %.1f MB)\n",
		o.ManyPartitions, o.RecordsPerPartition, res.ManyCatchUpSeconds, res.ManyDestRSSMB, res.ManyDestRSSBeforeMB, res.ManyDestHWMMB)
	return nil
}

// adminPair is an admin client of the source (with sourceOpts) and one of
// the destination.
func adminPair(source, dest []string, sourceOpts ...kgo.Opt) (sadm, dadm *kadm.Client, err error) {
	scl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(source...)}, sourceOpts...)...)
	if err != nil {
		return nil, nil, err
	}
	dcl, err := kgo.NewClient(kgo.SeedBrokers(dest...))
	if err != nil {
		scl.Close()
		return nil, nil, err
	}
	return kadm.NewClient(scl), kadm.NewClient(dcl), nil
}

func createTopic(ctx context.Context, adm *kadm.Client, topic string, partitions int) error {
	resp, err := adm.CreateTopic(ctx, int32(partitions), 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("bench: creating topic %s: %w", topic, err)
	}
	return nil
}

func endOffsets(ctx context.Context, adm *kadm.Client, topic string) (map[int32]int64, error) {
	lo, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = lo.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("bench: end offsets of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	lo.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out, nil
}

// waitCaughtUp polls the destination's end offsets of topic until every
// partition's equals want's. Errors (the mirror topic not created yet) are
// retried until no progress was seen for mirrorStallTimeout.
func waitCaughtUp(ctx context.Context, dadm *kadm.Client, topic string, want map[int32]int64) error {
	var best int64 = -1
	last := time.Now()
	for {
		lo, err := dadm.ListEndOffsets(ctx, topic)
		if err == nil && lo.Error() == nil {
			var sum int64
			done := len(want) > 0
			for p, w := range want {
				got, ok := lo.Lookup(topic, p)
				if !ok || got.Offset != w {
					done = false
				}
				if ok {
					sum += got.Offset + 1
				}
			}
			if done {
				return nil
			}
			if sum > best {
				best, last = sum, time.Now()
			}
		}
		if time.Since(last) > mirrorStallTimeout {
			return fmt.Errorf("%w for %v on %s (last error: %v)", ErrMirrorStall, mirrorStallTimeout, topic, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(catchUpPoll):
		}
	}
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// procCPU is the user+system CPU time of process pid from
// /proc/<pid>/stat (fields 14 and 15, proc(5)); 0 when pid is 0 or
// unreadable.
func procCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; fields after it start
	// after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64) // field 14, utime
	s, _ := strconv.ParseInt(f[12], 10, 64) // field 15, stime
	return time.Duration(u+s) * time.Second / clockTicks
}

// procRSS is VmRSS and VmHWM of process pid, in bytes.
func procRSS(pid int) (rss, hwm float64) {
	if pid <= 0 {
		return 0, 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		switch k {
		case "VmRSS":
			rss = kb * 1024
		case "VmHWM":
			hwm = kb * 1024
		}
	}
	return rss, hwm
}

// selfCPU is this process's user+system CPU time (getrusage(RUSAGE_SELF)).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchREST is the little of the destination's REST v3 API the benchmark
// needs (cluster-linking.md §5): the same requests `tandem link create` and
// `tandem mirror create` send.
type benchREST struct{ *restclient.Client }

func (c *benchREST) inCluster(ctx context.Context, method, path string, q url.Values, body any) error {
	if err := c.InCluster(ctx, method, path, q, body, nil); err != nil {
		return fmt.Errorf("%w: %s %s: %w", ErrREST, method, path, err)
	}
	return nil
}

func (c *benchREST) createLink(ctx context.Context, name string, cfg map[string]string) error {
	body := restapi.CreateLinkRequest{Configs: restapi.ConfigValues(cfg)}
	return c.inCluster(ctx, http.MethodPost, "/links", url.Values{"link_name": {name}, "validate_link": {"true"}}, body)
}

func (c *benchREST) createMirror(ctx context.Context, link, topic string) error {
	body := restapi.CreateMirrorRequest{SourceTopicName: topic}
	return c.inCluster(ctx, http.MethodPost, "/links/"+url.PathEscape(link)+"/mirrors", nil, body)
}

// ByteSizeFlag is a pflag.Value for a byte count with an optional unit
// (B, KB, MB, GB, KiB, MiB, GiB...), as --bytes takes.
func ByteSizeFlag(p *int64) pflag.Value { return (*byteSize)(p) }
