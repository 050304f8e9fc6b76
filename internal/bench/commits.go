package bench

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// CommitOptions says what RunCommits measures: Committers concurrent
// committers, each a client of its own committing to a group of its own
// (GroupPrefix-i) the offsets of Partitions partitions of Topic, one
// OffsetCommit request after another, each waiting for its response, for
// Duration. They are simple consumers (generation -1, no member ID, as
// Kafka's Admin alterConsumerGroupOffsets and consumers without group
// membership commit), so the coordinator's commit path is measured without
// group membership. Each request commits a higher offset than the last
// (1, 2, 3, ...; Kafka does not check committed offsets against the log).
type CommitOptions struct {
	Brokers     []string
	Topic       string
	Partitions  int // per OffsetCommit request; the topic needs as many
	Committers  int
	GroupPrefix string
	Duration    time.Duration
	CreateTopic bool      // create Topic with Partitions partitions (it must not exist); else it must exist
	Out         io.Writer // summary and JSON line; nil discards
}

// CommitResult is what RunCommits measured. Commits counts partition
// offsets: one request commits Partitions of them.
type CommitResult struct {
	Requests, Commits int64 // acknowledged without error
	Errors            int64 // requests that failed or had a partition error
	Took              time.Duration
	RequestsPerSec    float64
	CommitsPerSec     float64
	// Latency of one OffsetCommit, request to response.
	P50, P99, Max time.Duration
}

// ErrCommitsFailed reports commits that failed.
var ErrCommitsFailed = errors.New("bench: offset commits failed")

func (o *CommitOptions) validate() error {
	var errs optionErrs
	errs.check(len(o.Brokers) > 0, "no brokers")
	errs.check(o.Topic != "", "no topic")
	errs.check(o.Partitions > 0, "partitions %d must be positive", o.Partitions)
	errs.check(o.Committers > 0, "committers %d must be positive", o.Committers)
	errs.check(o.GroupPrefix != "", "no group prefix")
	errs.check(o.Duration > 0, "duration %v must be positive", o.Duration)
	return errs.err()
}

// optionErrs collects what is wrong with a benchmark's options.
type optionErrs []string

func (e *optionErrs) check(ok bool, format string, args ...any) {
	if !ok {
		*e = append(*e, fmt.Sprintf(format, args...))
	}
}

func (e optionErrs) err() error {
	if len(e) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrOptions, strings.Join(e, "; "))
}

// RunCommits measures offset commits per second as o describes, and prints
// a summary and one line of JSON to o.Out. It returns what it measured
// even with an error, when it got that far.
func RunCommits(ctx context.Context, o CommitOptions) (CommitResult, error) {
	if err := o.validate(); err != nil {
		return CommitResult{}, err
	}
	o.Out = cmp.Or[io.Writer](o.Out, io.Discard)
	topicID, err := ensureTopic(ctx, o.Brokers, o.Topic, o.Partitions, o.CreateTopic)
	if err != nil {
		return CommitResult{}, err
	}
	fmt.Fprintf(o.Out, "tandem bench commits: %d committers x %d partitions per OffsetCommit to %s, topic %s, for %v\n",
		o.Committers, o.Partitions, strings.Join(o.Brokers, ","), o.Topic, o.Duration)

	// Each committer gets its client, finds its coordinator and commits
	// once before the clock starts.
	clients := make([]*kgo.Client, o.Committers)
	defer func() {
		for _, cl := range clients {
			if cl != nil {
				cl.Close()
			}
		}
	}()
	for i := range clients {
		cl, err := kgo.NewClient(kgo.SeedBrokers(o.Brokers...))
		if err != nil {
			return CommitResult{}, fmt.Errorf("bench: committer client: %w", err)
		}
		clients[i] = cl
		if err := commitOnce(ctx, cl, commitRequest(o, topicID, i, 0)); err != nil {
			return CommitResult{}, fmt.Errorf("bench: committer %d, first commit: %w", i, err)
		}
	}

	var (
		hist     = new(histogram)
		requests atomic.Int64
		failed   atomic.Int64
		firstErr atomic.Pointer[error]
		wg       sync.WaitGroup
	)
	runCtx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	start := time.Now()
	for i, cl := range clients {
		wg.Go(func() {
			for n := int64(1); runCtx.Err() == nil; n++ {
				req := commitRequest(o, topicID, i, n)
				t0 := time.Now()
				err := commitOnce(runCtx, cl, req)
				if runCtx.Err() != nil && ctx.Err() == nil {
					return // the run ended mid-request: not a failure
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, &err)
					continue
				}
				hist.Record(time.Since(t0))
				requests.Add(1)
			}
		})
	}
	wg.Wait()
	took := time.Since(start)

	res := CommitResult{
		Requests: requests.Load(),
		Errors:   failed.Load(),
		Took:     took,
		P50:      hist.Quantile(0.50),
		P99:      hist.Quantile(0.99),
		Max:      hist.Max(),
	}
	res.Commits = res.Requests * int64(o.Partitions)
	if secs := took.Seconds(); secs > 0 {
		res.RequestsPerSec = float64(res.Requests) / secs
		res.CommitsPerSec = float64(res.Commits) / secs
	}
	fmt.Fprintf(o.Out, "commits: %d requests, %d partition offsets in %v: %.0f commits/s, %.0f requests/s, %d errors\n",
		res.Requests, res.Commits, took.Round(time.Millisecond), res.CommitsPerSec, res.RequestsPerSec, res.Errors)
	fmt.Fprintf(o.Out, "commit latency (request to response): p50 %v  p99 %v  max %v\n",
		roundLatency(res.P50), roundLatency(res.P99), roundLatency(res.Max))
	line, _ := json.Marshal(commitJSON{
		Brokers: o.Brokers, Topic: o.Topic, Committers: o.Committers, Partitions: o.Partitions,
		Requests: res.Requests, Commits: res.Commits, Errors: res.Errors,
		RequestsPerSec: math.Round(res.RequestsPerSec), CommitsPerSec: math.Round(res.CommitsPerSec),
		P50Ms: ms(res.P50), P99Ms: ms(res.P99), MaxMs: ms(res.Max),
	})
	fmt.Fprintf(o.Out, "%s\n", line)

	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("bench: committing: %w", err)
	}
	if res.Errors > 0 {
		return res, fmt.Errorf("%w: %d of %d requests, first: %w", ErrCommitsFailed, res.Errors, res.Errors+res.Requests, *firstErr.Load())
	}
	return res, nil
}

type commitJSON struct {
	Brokers        []string `json:"brokers"`
	Topic          string   `json:"topic"`
	Committers     int      `json:"committers"`
	Partitions     int      `json:"partitions"`
	Requests       int64    `json:"requests"`
	Commits        int64    `json:"commits"`
	Errors         int64    `json:"errors"`
	RequestsPerSec float64  `json:"requests_per_sec"`
	CommitsPerSec  float64  `json:"commits_per_sec"`
	P50Ms          float64  `json:"p50_ms"`
	P99Ms          float64  `json:"p99_ms"`
	MaxMs          float64  `json:"max_ms"`
}

// commitRequest is committer i's n-th OffsetCommit: offset n for each of
// the partitions, as a simple consumer. The topic is named both ways:
// OffsetCommit v10+ names it by ID (KIP-848), earlier versions by name; the
// client picks the version.
func commitRequest(o CommitOptions, topicID kadm.TopicID, i int, n int64) *kmsg.OffsetCommitRequest {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group = fmt.Sprintf("%s-%d", o.GroupPrefix, i)
	req.Generation = -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = o.Topic
	rt.TopicID = topicID
	for p := range int32(o.Partitions) {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition = p
		rp.Offset = n
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// commitOnce sends one OffsetCommit to the group's coordinator (the client
// finds it) and returns the first error, request-level or per partition.
func commitOnce(ctx context.Context, cl *kgo.Client, req *kmsg.OffsetCommitRequest) error {
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	want := 0
	for _, t := range req.Topics {
		want += len(t.Partitions)
	}
	got := 0
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("%s partition %d: %w", t.Topic, p.Partition, err)
			}
			got++
		}
	}
	if got != want {
		return fmt.Errorf("bench: OffsetCommit answered %d of %d partitions", got, want)
	}
	return nil
}

// ensureTopic creates topic with partitions, or checks that it exists with
// at least that many (preparePartitions), and returns its ID.
func ensureTopic(ctx context.Context, brokers []string, topic string, partitions int, create bool) (kadm.TopicID, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return kadm.TopicID{}, fmt.Errorf("bench: admin client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	n, err := preparePartitions(ctx, adm, Options{Topic: topic, Partitions: partitions, CreateTopic: create})
	if err != nil {
		return kadm.TopicID{}, err
	}
	if n < partitions {
		return kadm.TopicID{}, fmt.Errorf("bench: topic %s has %d partitions, fewer than %d", topic, n, partitions)
	}
	topics, err := adm.ListTopics(ctx, topic)
	if err == nil {
		err = topics[topic].Err
	}
	if err != nil {
		return kadm.TopicID{}, fmt.Errorf("bench: metadata: %w", err)
	}
	return topics[topic].ID, nil
}

// StabilizeOptions says what RunGroupStabilize measures: Rounds times, a
// fresh group (GroupPrefix-round) of Members franz-go consumers, started
// together, subscribing to Topic.
type StabilizeOptions struct {
	Brokers    []string
	Topic      string
	Partitions int    // partitions of Topic; at least Members
	Members    int    // 3 if 0
	Rounds     int    // 1 if 0
	Balancer   string // cooperative-sticky (default), sticky, range or roundrobin
	// HeartbeatInterval is the members' heartbeat interval; 0 keeps
	// franz-go's default (3s). A member learns of a rebalance it did not
	// start at its next heartbeat, so when the members do not all land in
	// the first rebalance (a broker without an initial rebalance delay)
	// it bounds what is measured.
	HeartbeatInterval time.Duration
	GroupPrefix       string
	CreateTopic       bool          // create Topic with Partitions partitions (it must not exist); else it must exist
	Timeout           time.Duration // per round; 60s if 0
	Out               io.Writer     // summary and JSON line; nil discards
}

// StabilizeResult is what RunGroupStabilize measured: per round, the time
// from the first JoinGroup any member sent to the moment every member had
// partitions assigned, all partitions assigned once.
type StabilizeResult struct {
	Rounds        []time.Duration
	Min, P50, Max time.Duration
}

// ErrNotStable reports a group that did not stabilize in time.
var ErrNotStable = errors.New("bench: group did not stabilize")

func (o *StabilizeOptions) defaults() error {
	o.Members = cmp.Or(o.Members, 3)
	o.Rounds = cmp.Or(o.Rounds, 1)
	o.Balancer = cmp.Or(o.Balancer, "cooperative-sticky")
	o.Timeout = cmp.Or(o.Timeout, time.Minute)
	o.Out = cmp.Or[io.Writer](o.Out, io.Discard)
	var errs optionErrs
	errs.check(len(o.Brokers) > 0, "no brokers")
	errs.check(o.Topic != "", "no topic")
	errs.check(o.GroupPrefix != "", "no group prefix")
	errs.check(o.Members > 0 && o.Rounds > 0 && o.Timeout > 0, "members, rounds and timeout must be positive")
	errs.check(o.Partitions >= o.Members, "partitions %d must be at least members %d", o.Partitions, o.Members)
	_, err := balancerOf(o.Balancer)
	errs.check(err == nil, "%v", err)
	return errs.err()
}

func balancerOf(name string) (kgo.GroupBalancer, error) {
	switch name {
	case "cooperative-sticky":
		return kgo.CooperativeStickyBalancer(), nil
	case "sticky":
		return kgo.StickyBalancer(), nil
	case "range":
		return kgo.RangeBalancer(), nil
	case "roundrobin":
		return kgo.RoundRobinBalancer(), nil
	}
	return nil, fmt.Errorf("balancer %q is not cooperative-sticky, sticky, range or roundrobin", name)
}

// RunGroupStabilize measures how long a group takes to stabilize, as o
// describes, and prints a summary and one line of JSON to o.Out. The
// broker's group.initial.rebalance.delay.ms (Kafka: 3s) is part of what it
// measures.
func RunGroupStabilize(ctx context.Context, o StabilizeOptions) (StabilizeResult, error) {
	if err := o.defaults(); err != nil {
		return StabilizeResult{}, err
	}
	if _, err := ensureTopic(ctx, o.Brokers, o.Topic, o.Partitions, o.CreateTopic); err != nil {
		return StabilizeResult{}, err
	}
	fmt.Fprintf(o.Out, "tandem bench group-stabilize: %d members (%s) on %s (%d partitions), %d rounds, %s\n",
		o.Members, o.Balancer, o.Topic, o.Partitions, o.Rounds, strings.Join(o.Brokers, ","))
	var res StabilizeResult
	for round := range o.Rounds {
		d, err := stabilizeOnce(ctx, o, fmt.Sprintf("%s-%d", o.GroupPrefix, round))
		if err != nil {
			return res, fmt.Errorf("round %d: %w", round, err)
		}
		res.Rounds = append(res.Rounds, d)
		fmt.Fprintf(o.Out, "  round %d: stable in %v\n", round, roundLatency(d))
	}
	sorted := slices.Sorted(slices.Values(res.Rounds))
	res.Min, res.Max = sorted[0], sorted[len(sorted)-1]
	res.P50 = sorted[(len(sorted)-1)/2]
	fmt.Fprintf(o.Out, "group stabilize (first JoinGroup to all %d members assigned): min %v  p50 %v  max %v\n",
		o.Members, roundLatency(res.Min), roundLatency(res.P50), roundLatency(res.Max))
	line, _ := json.Marshal(struct {
		Brokers    []string  `json:"brokers"`
		Topic      string    `json:"topic"`
		Partitions int       `json:"partitions"`
		Members    int       `json:"members"`
		Balancer   string    `json:"balancer"`
		RoundsMs   []float64 `json:"rounds_ms"`
		MinMs      float64   `json:"min_ms"`
		P50Ms      float64   `json:"p50_ms"`
		MaxMs      float64   `json:"max_ms"`
	}{o.Brokers, o.Topic, o.Partitions, o.Members, o.Balancer, msAll(res.Rounds), ms(res.Min), ms(res.P50), ms(res.Max)})
	fmt.Fprintf(o.Out, "%s\n", line)
	return res, nil
}

func msAll(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = ms(d)
	}
	return out
}

// joinHook records when a client first writes a JoinGroup request.
type joinHook struct{ first *atomic.Int64 }

func (h joinHook) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, timeToWrite time.Duration, err error) {
	if key != kmsg.JoinGroup.Int16() || err != nil {
		return
	}
	// The hook runs after the write: its start is now minus its length.
	at := time.Now().Add(-timeToWrite).UnixNano()
	for {
		cur := h.first.Load()
		if cur != 0 && cur <= at {
			return
		}
		if h.first.CompareAndSwap(cur, at) {
			return
		}
	}
}

// stabilizeOnce starts o.Members members of group together and returns the
// time from the first JoinGroup to every member holding partitions, all
// partitions assigned exactly once.
func stabilizeOnce(ctx context.Context, o StabilizeOptions, group string) (time.Duration, error) {
	bal, _ := balancerOf(o.Balancer)
	var (
		firstJoin atomic.Int64
		mu        sync.Mutex
		owned     = make([]map[int32]bool, o.Members)
		stableAt  time.Time
		stable    = make(chan struct{})
	)
	// check runs with mu held, after any member's assignment changed.
	check := func() {
		if !stableAt.IsZero() {
			return
		}
		seen := make(map[int32]bool)
		for _, m := range owned {
			if len(m) == 0 {
				return
			}
			for p := range m {
				if seen[p] {
					return
				}
				seen[p] = true
			}
		}
		if len(seen) == o.Partitions {
			stableAt = time.Now()
			close(stable)
		}
	}
	update := func(i int, add bool, m map[string][]int32) {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range m[o.Topic] {
			if add {
				owned[i][p] = true
			} else {
				delete(owned[i], p)
			}
		}
		check()
	}

	rctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	clients := make([]*kgo.Client, o.Members)
	var polling sync.WaitGroup
	defer func() {
		cancel()
		polling.Wait()
		var closing sync.WaitGroup
		for _, cl := range clients {
			if cl != nil {
				closing.Go(cl.Close)
			}
		}
		closing.Wait()
	}()
	for i := range clients {
		owned[i] = make(map[int32]bool)
		opts := []kgo.Opt{
			kgo.SeedBrokers(o.Brokers...),
			kgo.ClientID(fmt.Sprintf("%s-m%d", group, i)),
			kgo.ConsumerGroup(group),
			kgo.ConsumeTopics(o.Topic),
			kgo.Balancers(bal),
			kgo.WithHooks(joinHook{&firstJoin}),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { update(i, true, m) }),
			kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { update(i, false, m) }),
			kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { update(i, false, m) }),
		}
		if o.HeartbeatInterval > 0 {
			opts = append(opts, kgo.HeartbeatInterval(o.HeartbeatInterval))
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return 0, fmt.Errorf("bench: member client: %w", err)
		}
		clients[i] = cl
	}
	for _, cl := range clients {
		polling.Go(func() {
			for rctx.Err() == nil {
				cl.PollFetches(rctx)
			}
		})
	}
	select {
	case <-stable:
	case <-rctx.Done():
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("%w within %v", ErrNotStable, o.Timeout)
	}
	mu.Lock()
	defer mu.Unlock()
	first := firstJoin.Load()
	if first == 0 {
		return 0, fmt.Errorf("%w: no JoinGroup seen", ErrNotStable)
	}
	return stableAt.Sub(time.Unix(0, first)), nil
}
