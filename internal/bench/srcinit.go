package bench

// `tandem bench source-initiated`: what a source-initiated link
// (docs/source-initiated-links.md) costs against an ordinary OUTBOUND link
// between the same two brokers, in one run. The destination's fetchers of
// a source-initiated link reach the source through data connections that
// the SOURCE half opens towards the destination and relays byte for byte
// to its own broker, so every fetched byte crosses one more process hop on
// the source side. docs/benchmarks.md has the figures.

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/tandem-streaming/tandem/internal/restapi"
	"github.com/tandem-streaming/tandem/internal/restclient"
	"github.com/tandem-streaming/tandem/internal/wanproxy"
)

// SourceInitiatedOptions says what RunSourceInitiated runs.
type SourceInitiatedOptions struct {
	Source    []string // source cluster bootstrap, host:port
	Dest      []string // destination cluster bootstrap, host:port: the SOURCE half dials it
	SourceURL string   // source's REST API: the SOURCE half is created there
	DestURL   string   // destination's REST API
	SourcePID int      // source broker process, for its CPU; 0 = not measured
	DestPID   int      // destination broker process, for its CPU; 0 = not measured
	Link      string   // base of the link names (<link>-out-<round>, <link>-si-<round>)
	Prefix    string   // topic name prefix; topics must not exist
	// The prepared data: TotalBytes of RecordSize lz4 values in a topic of
	// Partitions partitions, mirrored once per round over each kind of link.
	Partitions int
	RecordSize int
	TotalBytes int64
	Rounds     int
	// Latency, per round and kind of link (0 rate: skipped): values/s
	// offered to a topic mirrored on the round's link, as
	// `tandem bench mirror --phases latency` does.
	LatencyBytesPerSec int64
	LatencyDuration    time.Duration
	LatencyWarmup      time.Duration
	// ActiveTimeout bounds the wait for both halves of a source-initiated
	// pair to report ACTIVE (the SOURCE half dials, the session comes up).
	ActiveTimeout time.Duration
	LinkConfigs   map[string]string // extra configs of both DESTINATION halves
	Out           io.Writer
	// WAN, when WAN.RTTs holds one round-trip time, puts a simulated WAN
	// path (internal/wanproxy) between the two clusters for both kinds of
	// link: the OUTBOUND link's connections go to the source through a
	// proxy on WAN.Target's advertised address (WANListen, which the
	// source advertises on the listener the link uses); the SOURCE half
	// dials the destination through a second proxy on the same path. The
	// SOURCE half then reads its own cluster on LocalListener, a listener
	// that advertises its own address, so that its relay stays local, as
	// do the benchmark's producers (Source is that listener).
	WAN           WANOptions
	WANListen     string
	LocalListener string
}

// The two kinds of link measured.
const (
	KindOutbound        = "outbound"         // DESTINATION/OUTBOUND: the destination dials the source
	KindSourceInitiated = "source-initiated" // DESTINATION/INBOUND + SOURCE/OUTBOUND: the source dials, and relays
)

// SourceInitiatedRun is one mirror of the prepared data over one link.
// MB = 10^6 bytes; LogMBps counts the source log's bytes (the compressed
// batches a mirror copies verbatim), MBps the record values.
type SourceInitiatedRun struct {
	Round             int     `json:"round"`
	Kind              string  `json:"kind"`
	Seconds           float64 `json:"seconds"`
	MBps              float64 `json:"mbps"`
	LogMBps           float64 `json:"log_mbps"`
	DestCPUSecPerGB   float64 `json:"dest_cpu_s_per_gb"`   // per GB of log bytes
	SourceCPUSecPerGB float64 `json:"source_cpu_s_per_gb"` // per GB of log bytes; the relay runs here
	LatencyP50Ms      float64 `json:"latency_p50_ms,omitempty"`
	LatencyP99Ms      float64 `json:"latency_p99_ms,omitempty"`
	LatencyP999Ms     float64 `json:"latency_p999_ms,omitempty"`
	LatencyMBps       float64 `json:"latency_achieved_mbps,omitempty"`
	PathMB            float64 `json:"wan_path_mb,omitempty"` // bytes that crossed the WAN path, both directions
	// With a WAN path: the rate between 10% and 90% of the bytes that
	// crossed it, and the time until 1% had (link, metadata, connections;
	// see trackSteady).
	SteadyLogMBps float64 `json:"wan_steady_log_mbps,omitempty"`
	SetupSeconds  float64 `json:"wan_setup_seconds,omitempty"`
}

// SourceInitiatedResult is what a run measured. Ratios are
// source-initiated over outbound: per round, then their median, min and max.
type SourceInitiatedResult struct {
	Bytes     int64                `json:"bytes"`     // record values mirrored per run
	LogBytes  int64                `json:"log_bytes"` // the source log's size of them (lz4 batches)
	Runs      []SourceInitiatedRun `json:"runs"`
	Ratio     Spread               `json:"ratio_log_mbps"`
	SourceCPU Spread               `json:"ratio_source_cpu"`
	DestCPU   Spread               `json:"ratio_dest_cpu"`
	P99Ratio  Spread               `json:"ratio_latency_p99,omitzero"`
	// SteadyRatio: of the WAN path's steady rates (with a WAN path only).
	SteadyRatio Spread `json:"ratio_wan_steady_log_mbps,omitzero"`
}

// Spread is the median, min and max of a figure over the rounds.
type Spread struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

func spread(xs []float64) Spread {
	if len(xs) == 0 {
		return Spread{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Spread{Median: round2(m), Min: round2(s[0]), Max: round2(s[len(s)-1])}
}

func (o *SourceInitiatedOptions) validate() error {
	var e optionErrs
	e.check(len(o.Source) > 0 && len(o.Dest) > 0, "need source and destination brokers")
	e.check(o.SourceURL != "" && o.DestURL != "", "need the source's and the destination's REST URLs")
	e.check(o.Link != "" && o.Prefix != "", "need a link name and a topic prefix")
	e.check(o.Partitions > 0 && o.RecordSize >= 16, "partitions must be positive and records at least 16 B")
	e.check(o.TotalBytes >= int64(o.RecordSize), "bytes must be at least one record")
	e.check(o.Rounds > 0, "rounds must be positive")
	e.check(o.LatencyBytesPerSec == 0 || o.LatencyDuration > o.LatencyWarmup, "latency duration must be longer than its warm-up")
	e.check(len(o.WAN.RTTs) <= 1, "one WAN round-trip time at most")
	e.check(len(o.WAN.RTTs) == 0 || (o.WANListen != "" && o.WAN.Target != "" && len(o.Dest) == 1),
		"a WAN path needs --wan-listen (the address the source advertises), --wan-target (the source's listener behind it) and one --dest")
	return e.err()
}

// RunSourceInitiated produces the prepared data once, then per round
// mirrors it over a new OUTBOUND link and a new source-initiated pair (the
// order alternating, so that neither always runs on the warmer machine),
// printing each run, the comparison and one JSON line to o.Out.
func RunSourceInitiated(ctx context.Context, o SourceInitiatedOptions) (SourceInitiatedResult, error) {
	o.Out = cmp.Or[io.Writer](o.Out, io.Discard)
	o.ActiveTimeout = cmp.Or(o.ActiveTimeout, 60*time.Second)
	var res SourceInitiatedResult
	if err := o.validate(); err != nil {
		return res, err
	}
	rest := func(u string) (*benchREST, error) {
		c, err := restclient.New(u, "tandem-bench", 60*time.Second)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrREST, err)
		}
		return &benchREST{c}, nil
	}
	drc, err := rest(o.DestURL)
	if err != nil {
		return res, err
	}
	src, err := rest(o.SourceURL)
	if err != nil {
		return res, err
	}
	sadm, dadm, err := adminPair(o.Source, o.Dest)
	if err != nil {
		return res, err
	}
	defer sadm.Close()
	defer dadm.Close()

	links := linkTargets{outbound: strings.Join(o.Source, ","), sourceHalf: strings.Join(o.Dest, ",")}
	if len(o.WAN.RTTs) > 0 {
		path := wanproxy.NewPath(wanproxy.Config{Rate: o.WAN.Rate, Window: o.WAN.Window})
		path.SetDelay(o.WAN.RTTs[0] / 2)
		toSource, err := wanproxy.Listen(o.WANListen, o.WAN.Target, path)
		if err != nil {
			return res, err
		}
		defer toSource.Close()
		toDest, err := wanproxy.Listen("127.0.0.1:0", o.Dest[0], path)
		if err != nil {
			return res, err
		}
		defer toDest.Close()
		links = linkTargets{outbound: toSource.Addr(), sourceHalf: toDest.Addr(), path: path}
		fmt.Fprintf(o.Out, "tandem bench source-initiated: WAN path of RTT %v, %.1f MB/s per direction, window %d bytes: outbound links dial %s (→ %s), SOURCE halves dial %s (→ %s)\n",
			o.WAN.RTTs[0], float64(o.WAN.Rate)/1e6, path.Window(), links.outbound, o.WAN.Target, links.sourceHalf, o.Dest[0])
	}

	topic := o.Prefix + "-data"
	if err := createTopic(ctx, sadm, topic, o.Partitions); err != nil {
		return res, err
	}
	po := Options{Brokers: o.Source, Topic: topic, Partitions: o.Partitions, RecordSize: o.RecordSize,
		Acks: "all", Compression: "lz4", Linger: 5 * time.Millisecond, Out: o.Out}
	ps, err := produce(ctx, po, o.TotalBytes/int64(o.RecordSize), o.Partitions)
	if err != nil {
		return res, err
	}
	if ps.failed > 0 {
		return res, fmt.Errorf("%w: %d producing to the source, first: %w", ErrProduceFailed, ps.failed, ps.firstErr)
	}
	res.Bytes = ps.acked * int64(o.RecordSize)
	ends, err := endOffsets(ctx, sadm, topic)
	if err != nil {
		return res, err
	}
	if res.LogBytes, err = logBytes(ctx, sadm, topic); err != nil {
		return res, err
	}
	fmt.Fprintf(o.Out, "tandem bench source-initiated: %d records (%.1f MB of values, %.1f MB of lz4 batches on the source's log), %d partitions, %d round(s)\n",
		ps.acked, float64(res.Bytes)/1e6, float64(res.LogBytes)/1e6, o.Partitions, o.Rounds)

	byRound := map[int]map[string]SourceInitiatedRun{}
	for round := 1; round <= o.Rounds; round++ {
		kinds := []string{KindOutbound, KindSourceInitiated}
		if round%2 == 0 {
			slices.Reverse(kinds)
		}
		byRound[round] = map[string]SourceInitiatedRun{}
		for _, kind := range kinds {
			r, err := siRun(ctx, o, links, drc, src, dadm, sadm, round, kind, topic, ends, res)
			if err != nil {
				return res, fmt.Errorf("bench: round %d, %s link: %w", round, kind, err)
			}
			res.Runs = append(res.Runs, r)
			byRound[round][kind] = r
		}
	}
	var tput, steady, scpu, dcpu, p99 []float64
	div := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	for round := 1; round <= o.Rounds; round++ {
		a, b := byRound[round][KindOutbound], byRound[round][KindSourceInitiated]
		tput = append(tput, div(b.LogMBps, a.LogMBps))
		if len(o.WAN.RTTs) > 0 {
			steady = append(steady, div(b.SteadyLogMBps, a.SteadyLogMBps))
		}
		scpu = append(scpu, div(b.SourceCPUSecPerGB, a.SourceCPUSecPerGB))
		dcpu = append(dcpu, div(b.DestCPUSecPerGB, a.DestCPUSecPerGB))
		if o.LatencyBytesPerSec > 0 {
			p99 = append(p99, div(b.LatencyP99Ms, a.LatencyP99Ms))
		}
	}
	res.Ratio, res.SourceCPU, res.DestCPU, res.P99Ratio = spread(tput), spread(scpu), spread(dcpu), spread(p99)
	res.SteadyRatio = spread(steady)
	fmt.Fprintf(o.Out, "\nsource-initiated / outbound over %d round(s), median (min–max): throughput %.2f (%.2f–%.2f), source broker CPU/GB %.2f (%.2f–%.2f), destination broker CPU/GB %.2f (%.2f–%.2f)",
		o.Rounds, res.Ratio.Median, res.Ratio.Min, res.Ratio.Max, res.SourceCPU.Median, res.SourceCPU.Min, res.SourceCPU.Max,
		res.DestCPU.Median, res.DestCPU.Min, res.DestCPU.Max)
	if len(p99) > 0 {
		fmt.Fprintf(o.Out, ", replication latency p99 %.2f (%.2f–%.2f)", res.P99Ratio.Median, res.P99Ratio.Min, res.P99Ratio.Max)
	}
	if len(steady) > 0 {
		fmt.Fprintf(o.Out, ", steady rate on the WAN path %.2f (%.2f–%.2f)", res.SteadyRatio.Median, res.SteadyRatio.Min, res.SteadyRatio.Max)
	}
	fmt.Fprintln(o.Out)
	line, _ := json.Marshal(res)
	fmt.Fprintf(o.Out, "%s\n", line)
	return res, nil
}

// siRun creates the round's link of that kind (prefix <name>.), times its
// mirror of topic catching up to ends, deletes the copy, and runs the
// latency phase on the same link.
// linkTargets are the bootstrap servers of the OUTBOUND links (the source,
// or the WAN proxy in front of it) and of the SOURCE halves (the
// destination, or the proxy in front of it).
type linkTargets struct {
	outbound, sourceHalf string
	path                 *wanproxy.Path // nil without a WAN path
}

func siRun(ctx context.Context, o SourceInitiatedOptions, links linkTargets, drc, src *benchREST, dadm, sadm *kadm.Client,
	round int, kind, topic string, ends map[int32]int64, res SourceInitiatedResult) (SourceInitiatedRun, error) {
	short := map[string]string{KindOutbound: "out", KindSourceInitiated: "si"}[kind]
	name := fmt.Sprintf("%s-%s-%d", o.Link, short, round)
	run := SourceInitiatedRun{Round: round, Kind: kind}
	// Checks every second (both kinds alike), so that a pair is seen
	// paired soon after its SOURCE half dials (waitActive).
	cfg := map[string]string{"cluster.link.prefix": name + ".", "availability.check.ms": "1000"}
	for k, v := range o.LinkConfigs {
		cfg[k] = v
	}
	if kind == KindOutbound {
		cfg["bootstrap.servers"] = links.outbound
		if err := drc.createLink(ctx, name, cfg); err != nil {
			return run, err
		}
	} else {
		cfg["link.mode"], cfg["connection.mode"] = "DESTINATION", "INBOUND"
		if err := drc.createLink(ctx, name, cfg); err != nil {
			return run, err
		}
		half := map[string]string{"link.mode": "SOURCE", "connection.mode": "OUTBOUND", "bootstrap.servers": links.sourceHalf,
			"availability.check.ms": "1000", "reconnect.backoff.max.ms": "1000"}
		if o.LocalListener != "" {
			half["local.listener.name"] = o.LocalListener
		}
		if err := src.createLink(ctx, name, half); err != nil {
			return run, err
		}
		if err := waitActive(ctx, o.ActiveTimeout, name, drc, src); err != nil {
			return run, err
		}
	}
	fmt.Fprintf(o.Out, "\n== round %d: %s link %s\n", round, kind, name)
	mirror := name + "." + topic
	gb := float64(res.LogBytes) / 1e9
	var p0 int64
	if links.path != nil {
		p0 = links.path.Delivered() + links.path.DeliveredUp()
	}
	var steady func() (float64, time.Duration)
	if links.path != nil {
		steady = trackSteadyOf(func() int64 { return links.path.Delivered() + links.path.DeliveredUp() })
	}
	d0, s0 := procCPU(o.DestPID), procCPU(o.SourcePID)
	start := time.Now()
	if err := drc.createMirror(ctx, name, topic); err != nil {
		return run, err
	}
	if err := waitCaughtUp(ctx, dadm, mirror, ends); err != nil {
		return run, err
	}
	took := time.Since(start)
	d1, s1 := procCPU(o.DestPID), procCPU(o.SourcePID)
	run.Seconds = round2(took.Seconds())
	run.MBps = round2(float64(res.Bytes) / took.Seconds() / 1e6)
	run.LogMBps = round2(float64(res.LogBytes) / took.Seconds() / 1e6)
	if links.path != nil {
		// Both directions: an OUTBOUND link's fetch answers come back
		// towards the proxy's client, a SOURCE half's go out from it.
		run.PathMB = round2(float64(links.path.Delivered()+links.path.DeliveredUp()-p0) / 1e6)
		rate, setup := steady()
		run.SteadyLogMBps, run.SetupSeconds = round2(rate*float64(res.LogBytes)/1e6), round2(setup.Seconds())
	}
	run.DestCPUSecPerGB = round2((d1 - d0).Seconds() / gb)
	run.SourceCPUSecPerGB = round2((s1 - s0).Seconds() / gb)
	fmt.Fprintf(o.Out, "%s: caught up in %v: %.1f MB/s of lz4 batches (%.1f MB/s of values); CPU per GB of batches: destination broker %.2f s, source broker %.2f s\n",
		kind, took.Round(time.Millisecond), run.LogMBps, run.MBps, run.DestCPUSecPerGB, run.SourceCPUSecPerGB)
	if links.path != nil {
		fmt.Fprintf(o.Out, "%s: %.1f MB crossed the WAN path (both directions); steady (10%%–90%%) %.1f MB/s of lz4 batches, set-up (to 1%%) %.2f s\n",
			kind, run.PathMB, run.SteadyLogMBps, run.SetupSeconds)
	}
	// Free the copy, so that every run writes into recently freed pages
	// (see wan.go) and the disk holds one copy at a time.
	if resp, err := dadm.DeleteTopics(ctx, mirror); err != nil || resp.Error() != nil {
		fmt.Fprintf(o.Out, "deleting %s: %v\n", mirror, errors.Join(err, resp.Error()))
	}

	if o.LatencyBytesPerSec > 0 {
		lo := MirrorOptions{Source: o.Source, Dest: o.Dest, Link: name, Prefix: o.Prefix + "-" + short + fmt.Sprint(round),
			Partitions: o.Partitions, RecordSize: o.RecordSize, LatencyBytesPerSec: o.LatencyBytesPerSec,
			LatencyDuration: o.LatencyDuration, LatencyWarmup: o.LatencyWarmup, Out: o.Out, mirrorPrefix: name + "."}
		var mr MirrorResult
		if err := mirrorLatency(ctx, lo, drc, sadm, dadm, &mr); err != nil {
			return run, err
		}
		run.LatencyP50Ms, run.LatencyP99Ms, run.LatencyP999Ms, run.LatencyMBps = mr.LatencyP50Ms, mr.LatencyP99Ms, mr.LatencyP999Ms, mr.LatencyOfferedMBps
	}
	return run, nil
}

// logBytes is the size of topic's partitions on the brokers' logs
// (DescribeLogDirs): the record batches as stored, compressed.
func logBytes(ctx context.Context, adm *kadm.Client, topic string) (int64, error) {
	all, err := adm.DescribeAllLogDirs(ctx, kadm.TopicsSet{topic: nil})
	if err != nil {
		return 0, fmt.Errorf("bench: log size of %s: %w", topic, err)
	}
	var n int64
	for _, ds := range all {
		if err := ds.Error(); err != nil {
			return 0, fmt.Errorf("bench: log size of %s: %w", topic, err)
		}
		n += ds.Size()
	}
	if n <= 0 {
		return 0, fmt.Errorf("bench: log size of %s: the brokers report none", topic)
	}
	return n, nil
}

// waitActive polls both halves of a source-initiated pair until each
// reports link_state ACTIVE and its peer ACTIVE (remote_link_state): the
// SOURCE half has dialed, the destination has accepted its session and
// paired over it.
func waitActive(ctx context.Context, timeout time.Duration, name string, drc, src *benchREST) error {
	deadline := time.Now().Add(timeout)
	var d, s restapi.Link
	for {
		d, s = restapi.Link{}, restapi.Link{}
		errD := drc.InCluster(ctx, http.MethodGet, "/links/"+url.PathEscape(name), nil, nil, &d)
		errS := src.InCluster(ctx, http.MethodGet, "/links/"+url.PathEscape(name), nil, nil, &s)
		// A half is ACTIVE from its creation until its checks fail; its
		// peer's state is known only once the destination has asked for it
		// over the session (LinkPeer at each availability check).
		if errD == nil && errS == nil && d.LinkState == "ACTIVE" && s.LinkState == "ACTIVE" &&
			d.RemoteLinkState != nil && *d.RemoteLinkState == "ACTIVE" && s.RemoteLinkState != nil && *s.RemoteLinkState == "ACTIVE" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: link %s not ACTIVE on both sides after %v: destination %q %s (%v), source %q %s (%v)",
				ErrMirrorStall, name, timeout, d.LinkState, d.LinkError, errD, s.LinkState, s.LinkError, errS)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
