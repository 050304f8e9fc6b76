package bench

// `tandem bench offset-sync`: one cluster link's consumer offset sync
// (issue #11) with many groups, in this process: a source Tandem whose
// groups commit offsets on the mirrored topics, a destination Tandem whose
// link copies them, and a counting proxy in front of the source (which
// advertises the proxy) so the load a sync round puts on the source is
// counted request by request. docs/benchmarks.md has the figures.

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/node"
)

// OffsetSyncOptions says what RunOffsetSync measures: Groups groups on
// the source, each with committed offsets on every partition of Topics
// mirrored topics of Partitions partitions; Rounds sync rounds after the
// first (which copies everything), and before each of them the first
// Changed of the groups (a fraction, rotating) commit new offsets.
type OffsetSyncOptions struct {
	Groups     int
	Topics     int
	Partitions int     // per topic
	Rounds     int     // measured after the first round
	Changed    float64 // fraction of the groups that commit between rounds
	// Dir holds the two brokers' data (a temporary directory in it,
	// removed at the end); empty: the system's temporary directory.
	Dir string
	// CPUProfile, when set, is where a CPU profile of the first measured
	// round (the one after the round that copies every offset) is
	// written.
	CPUProfile string
	Out        io.Writer // summary and JSON line; nil discards
}

// OffsetSyncRound is what one sync round cost.
type OffsetSyncRound struct {
	Seconds    float64     `json:"seconds"`
	CPUSeconds float64     `json:"cpu_seconds"` // the whole process: both brokers and the link
	Changed    int         `json:"groups_changed"`
	Source     proxyCounts `json:"source"`
}

// OffsetSyncResult is what RunOffsetSync measured.
type OffsetSyncResult struct {
	Groups     int               `json:"groups"`
	Topics     int               `json:"topics"`
	Partitions int               `json:"partitions"`
	Offsets    int               `json:"offsets"` // groups × topics × partitions
	First      OffsetSyncRound   `json:"first_round"`
	Rounds     []OffsetSyncRound `json:"rounds"`
	// Median of Rounds.
	MedianSeconds    float64 `json:"median_seconds"`
	MedianCPUSeconds float64 `json:"median_cpu_seconds"`
}

// ErrOffsetSync reports a round that did not copy what it should have.
var ErrOffsetSync = errors.New("bench: offset sync did not copy the offsets")

const (
	offsetSyncLink  = "bench"
	offsetSyncGroup = "bench-group-"
	// recordsPerPartition on the source: committed offsets stay below it
	// (offsets past a mirror's end are clamped, not copied).
	recordsPerPartition = 1000
)

func (o *OffsetSyncOptions) validate() error {
	o.Out = cmp.Or[io.Writer](o.Out, io.Discard)
	var e optionErrs
	e.check(o.Groups > 0 && o.Topics > 0 && o.Partitions > 0, "groups, topics and partitions must be positive")
	e.check(o.Rounds >= 0 && o.Rounds < recordsPerPartition/2, "rounds must be 0 to %d", recordsPerPartition/2-1)
	e.check(o.Changed >= 0 && o.Changed <= 1, "changed %v must be a fraction, 0 to 1", o.Changed)
	return e.err()
}

// offsetSyncEnv is the two brokers and what the benchmark set up.
type offsetSyncEnv struct {
	o        OffsetSyncOptions
	proxy    *countingProxy
	src, dst *node.Node
	scl, dcl *kgo.Client // to the source (through the proxy) and destination
	topics   []string
	// want is each group's offset, the same on every partition.
	want    []int64
	profile io.Writer // CPU profile of the next measured round
}

// RunOffsetSync measures sync rounds as o describes and prints a summary
// and one line of JSON to o.Out.
func RunOffsetSync(ctx context.Context, o OffsetSyncOptions) (OffsetSyncResult, error) {
	if err := o.validate(); err != nil {
		return OffsetSyncResult{}, err
	}
	dir, err := os.MkdirTemp(o.Dir, "tandem-bench-offset-sync-")
	if err != nil {
		return OffsetSyncResult{}, err
	}
	defer os.RemoveAll(dir)
	e := &offsetSyncEnv{o: o}
	defer e.close()
	if err := e.start(dir); err != nil {
		return OffsetSyncResult{}, err
	}
	res := OffsetSyncResult{Groups: o.Groups, Topics: o.Topics, Partitions: o.Partitions, Offsets: o.Groups * o.Topics * o.Partitions}
	fmt.Fprintf(o.Out, "tandem bench offset-sync: %d groups x %d topics x %d partitions (%d offsets), %d rounds after the first, %.0f%% of the groups commit between rounds\n",
		o.Groups, o.Topics, o.Partitions, res.Offsets, o.Rounds, 100*o.Changed)
	if err := e.setup(ctx); err != nil {
		return res, err
	}
	res.First, err = e.round(ctx, o.Groups)
	if err != nil {
		return res, fmt.Errorf("first round: %w", err)
	}
	fmt.Fprintf(o.Out, "first round (every offset copied): %s\n", res.First)
	changed := int(o.Changed * float64(o.Groups))
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return res, err
		}
		defer f.Close()
		e.profile = f
	}
	for r := range o.Rounds {
		if err := e.commitNext(ctx, r*changed, changed); err != nil {
			return res, err
		}
		rd, err := e.round(ctx, changed)
		if err != nil {
			return res, fmt.Errorf("round %d: %w", r+1, err)
		}
		res.Rounds = append(res.Rounds, rd)
		fmt.Fprintf(o.Out, "round %d (%d groups changed): %s\n", r+1, changed, rd)
	}
	if len(res.Rounds) > 0 {
		var secs, cpu []float64
		for _, r := range res.Rounds {
			secs, cpu = append(secs, r.Seconds), append(cpu, r.CPUSeconds)
		}
		slices.Sort(secs)
		slices.Sort(cpu)
		res.MedianSeconds, res.MedianCPUSeconds = secs[len(secs)/2], cpu[len(cpu)/2]
		fmt.Fprintf(o.Out, "median round: %.3f s, %.3f s CPU\n", res.MedianSeconds, res.MedianCPUSeconds)
	}
	line, _ := json.Marshal(res)
	fmt.Fprintf(o.Out, "%s\n", line)
	return res, nil
}

func (r OffsetSyncRound) String() string {
	var apis []string
	for _, k := range slices.Sorted(maps.Keys(r.Source.ByAPI)) {
		apis = append(apis, fmt.Sprintf("%s %d", k, r.Source.ByAPI[k]))
	}
	return fmt.Sprintf("%.3f s, %.3f s CPU; source: %d requests (%s), %s sent, %s received",
		r.Seconds, r.CPUSeconds, r.Source.Requests, strings.Join(apis, ", "), mib(r.Source.BytesSent), mib(r.Source.BytesReceived))
}

func mib(n int64) string { return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20)) }

// start starts the proxy, the source (advertising the proxy) and the
// destination.
func (e *offsetSyncEnv) start(dir string) error {
	var err error
	if e.proxy, err = newCountingProxy(); err != nil {
		return err
	}
	props := func(sub string) map[string]string {
		return map[string]string{
			"listeners": "PLAINTEXT://127.0.0.1:0", "http.listeners": "", "log.dirs": dir + "/" + sub,
			"group.initial.rebalance.delay.ms": "0",
		}
	}
	logger := slog.New(slog.DiscardHandler)
	sp := props("source")
	sp["advertised.listeners"] = "PLAINTEXT://" + e.proxy.addr()
	if e.src, err = node.Start(sp, logger); err != nil {
		return fmt.Errorf("bench: source broker: %w", err)
	}
	e.proxy.setTarget(e.src.KafkaAddr())
	if e.dst, err = node.Start(props("destination"), logger); err != nil {
		return fmt.Errorf("bench: destination broker: %w", err)
	}
	if e.scl, err = kgo.NewClient(kgo.SeedBrokers(e.proxy.addr()), kgo.ProducerLinger(5*time.Millisecond)); err != nil {
		return err
	}
	e.dcl, err = kgo.NewClient(kgo.SeedBrokers(e.dst.KafkaAddr()))
	return err
}

func (e *offsetSyncEnv) close() {
	for _, cl := range []*kgo.Client{e.scl, e.dcl} {
		if cl != nil {
			cl.Close()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, n := range []*node.Node{e.dst, e.src} {
		if n != nil {
			_ = n.Shutdown(ctx)
		}
	}
	if e.proxy != nil {
		_ = e.proxy.close()
	}
}

// setup creates and fills the source topics, commits every group's
// offsets, creates the link and its mirrors, waits for them to catch up
// and pauses them (a paused mirror's offsets are still synced; its data
// path sends the source nothing, so the proxy counts the sync alone).
func (e *offsetSyncEnv) setup(ctx context.Context) error {
	o := e.o
	sadm := kadm.NewClient(e.scl)
	for i := range o.Topics {
		e.topics = append(e.topics, fmt.Sprintf("bench-offsets-%d", i))
	}
	if _, err := sadm.CreateTopics(ctx, int32(o.Partitions), 1, nil, e.topics...); err != nil {
		return fmt.Errorf("bench: creating source topics: %w", err)
	}
	start := time.Now()
	var recs []*kgo.Record
	for _, t := range e.topics {
		for p := range int32(o.Partitions) {
			for range recordsPerPartition {
				recs = append(recs, &kgo.Record{Topic: t, Partition: p, Value: []byte("x")})
			}
		}
	}
	if err := produceManual(ctx, e.proxy.addr(), recs); err != nil {
		return err
	}
	e.want = make([]int64, o.Groups)
	for g := range e.want {
		e.want[g] = 1 + int64(g%(recordsPerPartition/2))
	}
	all := make([]int, o.Groups)
	for g := range all {
		all[g] = g
	}
	if err := e.commit(ctx, all); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "source filled and %d groups committed in %v\n", o.Groups, time.Since(start).Round(time.Millisecond))

	lm := e.dst.Links()
	cfg := map[string]string{
		"bootstrap.servers":           e.proxy.addr(),
		"consumer.offset.sync.enable": "true",
		// The benchmark runs the rounds itself; the other tasks wait
		// an hour so that they send the source nothing meanwhile.
		"consumer.offset.sync.ms":       "3600000",
		"consumer.offset.group.filters": `{"groupFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}]}`,
		"topic.config.sync.ms":          "3600000",
		"availability.check.ms":         "3600000",
		"request.timeout.ms":            "120000",
	}
	if err := lm.CreateLink(ctx, offsetSyncLink, "", cfg, false, true); err != nil {
		return fmt.Errorf("bench: creating the link: %w", err)
	}
	for _, t := range e.topics {
		if err := lm.CreateMirror(ctx, offsetSyncLink, t, "", nil, false); err != nil {
			return fmt.Errorf("bench: creating mirror %s: %w", t, err)
		}
	}
	for _, t := range e.topics {
		for {
			hws, err := e.dst.Broker().HighWatermarks(t)
			if err != nil {
				return err
			}
			caught := len(hws) == o.Partitions
			for _, hw := range hws {
				caught = caught && hw == recordsPerPartition
			}
			if caught {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	res, err := lm.AlterMirrors(ctx, offsetSyncLink, "pause", e.topics, "", false)
	if err != nil {
		return err
	}
	for _, r := range res {
		if r.Err != nil {
			return fmt.Errorf("bench: pausing %s: %w", r.Topic, r.Err)
		}
	}
	return nil
}

// produceManual produces recs to their partitions through addr.
func produceManual(ctx context.Context, addr string, recs []*kgo.Record) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("bench: producing to the source: %w", err)
	}
	return nil
}

// commitNext has n groups from first on (wrapping around) commit their
// next offset on the source.
func (e *offsetSyncEnv) commitNext(ctx context.Context, first, n int) error {
	groups := make([]int, 0, n)
	for i := range n {
		g := (first + i) % e.o.Groups
		e.want[g]++
		groups = append(groups, g)
	}
	return e.commit(ctx, groups)
}

// commit has the groups commit their current offsets on the source, 16
// requests at a time.
func (e *offsetSyncEnv) commit(ctx context.Context, groups []int) error {
	const workers = 16
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     = make(chan int)
	)
	for range workers {
		wg.Go(func() {
			for g := range next {
				if err := commitOnce(ctx, e.scl, e.commitRequest(g)); err != nil {
					mu.Lock()
					firstErr = cmp.Or(firstErr, fmt.Errorf("bench: committing group %d: %w", g, err))
					mu.Unlock()
				}
			}
		})
	}
	for _, g := range groups {
		next <- g
	}
	close(next)
	wg.Wait()
	return firstErr
}

func (e *offsetSyncEnv) commitRequest(g int) *kmsg.OffsetCommitRequest {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group = fmt.Sprintf("%s%05d", offsetSyncGroup, g)
	req.Generation = -1
	for _, t := range e.topics {
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = t
		for p := range int32(e.o.Partitions) {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset = p, e.want[g]
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// round runs one sync round and checks a sample of groups on the
// destination.
func (e *offsetSyncEnv) round(ctx context.Context, changed int) (OffsetSyncRound, error) {
	if e.profile != nil && changed < e.o.Groups {
		if err := pprof.StartCPUProfile(e.profile); err == nil {
			defer pprof.StopCPUProfile()
		}
		e.profile = nil
	}
	before, cpu0, t0 := e.proxy.snapshot(), selfCPU(), time.Now()
	err := e.dst.Links().SyncConsumerOffsets(ctx, offsetSyncLink)
	rd := OffsetSyncRound{Seconds: time.Since(t0).Seconds(), CPUSeconds: (selfCPU() - cpu0).Seconds(), Changed: changed,
		Source: e.proxy.snapshot().since(before)}
	if err != nil {
		return rd, err
	}
	return rd, e.check(ctx)
}

// check compares up to 50 groups, spread over all, on the destination.
func (e *offsetSyncEnv) check(ctx context.Context) error {
	adm := kadm.NewClient(e.dcl)
	step := max(1, e.o.Groups/50)
	for g := 0; g < e.o.Groups; g += step {
		name := fmt.Sprintf("%s%05d", offsetSyncGroup, g)
		offs, err := adm.FetchOffsets(ctx, name)
		if err != nil {
			return fmt.Errorf("bench: fetching %s on the destination: %w", name, err)
		}
		for _, t := range e.topics {
			for p := range int32(e.o.Partitions) {
				if r, ok := offs.Lookup(t, p); !ok || r.At != e.want[g] {
					return fmt.Errorf("%w: %s %s-%d at %d on the destination (found %v), want %d", ErrOffsetSync, name, t, p, r.At, ok, e.want[g])
				}
			}
		}
	}
	return nil
}
