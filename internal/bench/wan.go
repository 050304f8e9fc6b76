package bench

// The "wan" phase of `tandem bench mirror` (issue #8, point 7): mirroring
// and the consume→re-produce pipeline across a simulated WAN path
// (internal/wanproxy) at several round-trip times, and replication latency
// across it. scripts/bench-wan.sh runs it; docs/benchmarks.md has the
// figures.
//
// Set-up: the source broker listens on WANOptions.Target and advertises
// the proxy's address (MirrorOptions.Source) with advertised.listeners,
// so the link, bootstrap and leader connections alike, and the pipeline's
// consumer cross the path. The benchmark's own producers and admin client
// stand beside the source: their dialer maps the advertised address back
// to Target, so producing never crosses the path.

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/tandem-streaming/tandem/internal/wanproxy"
)

// WANOptions configure the simulated path.
type WANOptions struct {
	Target string          // the source broker's own listener; the proxy forwards to it
	Rate   int64           // bytes/s per direction (0: no cap)
	Window int             // per-connection window (0: wanproxy.DefaultWindow)
	RTTs   []time.Duration // round-trip times of the throughput runs
	// LatencyRTT is the round-trip time of the latency run (0: none).
	LatencyRTT time.Duration
	// LatencyCompare, when positive, runs the latency phase that many
	// rounds with Kafka's fetch (fetch.pipelining.enable=false) and with
	// LinkFetch (true), alternating which goes first, each on a new link,
	// instead of once with the link configs given.
	LatencyCompare int

	listen string
	proxy  *wanproxy.Proxy
}

// WANPoint is one round-trip time's throughput figures.
type WANPoint struct {
	RTTMs              float64 `json:"rtt_ms"`
	MirrorMBps         float64 `json:"mirror_mbps"`
	MirrorPathMBps     float64 `json:"mirror_path_mbps"` // bytes that crossed the path (compressed batches + protocol)
	PipelineMBps       float64 `json:"pipeline_mbps"`
	PipelinePathMBps   float64 `json:"pipeline_path_mbps"`
	MirrorVsPipeline   float64 `json:"mirror_vs_pipeline"`
	MirrorVsNoDelay    float64 `json:"mirror_vs_no_delay,omitempty"`
	PipelineVsNoDelay  float64 `json:"pipeline_vs_no_delay,omitempty"`
	MirrorSteadyMBps   float64 `json:"mirror_steady_mbps"`   // between 10% and 90% of the bytes
	PipelineSteadyMBps float64 `json:"pipeline_steady_mbps"` // between 10% and 90% of the bytes
	SteadyVsPipeline   float64 `json:"steady_mirror_vs_pipeline"`
	SteadyVsNoDelay    float64 `json:"steady_mirror_vs_no_delay,omitempty"`
	// Until 1% of the bytes had crossed the path: link, metadata,
	// connections.
	MirrorSetupSeconds   float64 `json:"mirror_setup_seconds"`
	PipelineSetupSeconds float64 `json:"pipeline_setup_seconds"`
	MirrorSeconds        float64 `json:"mirror_seconds"`
	PipelineSeconds      float64 `json:"pipeline_seconds"`
	MirrorPathBytes      int64   `json:"mirror_path_bytes"`
	PipelinePathBytes    int64   `json:"pipeline_path_bytes"`
	ProxyMaxBufferedMB   float64 `json:"proxy_max_buffered_mb"`
}

// WANResult is the wan phase's outcome.
type WANResult struct {
	RateMBps     float64    `json:"rate_mbps"`
	WindowBytes  int        `json:"window_bytes"`
	Points       []WANPoint `json:"points"`
	LatencyRTTMs float64    `json:"latency_rtt_ms,omitempty"`
	// LatencyRuns are the runs of LatencyCompare, in the order run.
	LatencyRuns []WANLatencyRun `json:"latency_runs,omitempty"`
}

// WANLatencyRun is one latency run of WANOptions.LatencyCompare.
type WANLatencyRun struct {
	Round     int     `json:"round"`
	Pipelined bool    `json:"pipelined"`
	Records   int64   `json:"records"`
	MBps      float64 `json:"mbps"`
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
	P999Ms    float64 `json:"p999_ms"`
	MaxMs     float64 `json:"max_ms"`
}

// start runs the proxy on listen (the address the source advertises).
func (w *WANOptions) start(source []string) (func(), error) {
	if len(source) != 1 {
		return nil, fmt.Errorf("%w: the wan phase needs exactly one --source (the proxy's address)", ErrOptions)
	}
	w.listen = source[0]
	p, err := wanproxy.Listen(w.listen, w.Target, wanproxy.NewPath(wanproxy.Config{Rate: w.Rate, Window: w.Window}))
	if err != nil {
		return nil, err
	}
	w.proxy = p
	return func() { p.Close() }, nil
}

// dial is the dialer of the clients beside the source: the proxy's
// address is mapped to the source's own listener.
func (w *WANOptions) dial(ctx context.Context, network, host string) (net.Conn, error) {
	if w.listen != "" && host == w.listen {
		host = w.Target
	}
	var d net.Dialer
	return d.DialContext(ctx, network, host)
}

func (o *MirrorOptions) localSource() []string {
	if o.WAN.Target != "" {
		return []string{o.WAN.Target}
	}
	return o.Source
}

// mirrorWAN produces TotalBytes to a source topic beside the source, then
// per round-trip time mirrors it on a new link (prefixed mirror names, so
// each RTT gets its own mirror) and copies it with the pipeline, both
// across the path; then runs the latency phase at LatencyRTT.
func mirrorWAN(ctx context.Context, o MirrorOptions, rc *benchREST, sadm, dadm *kadm.Client, res *MirrorResult) error {
	path := o.WAN.proxy.Path()
	wr := &WANResult{RateMBps: round2(float64(o.WAN.Rate) / 1e6), WindowBytes: path.Window()}
	res.WAN = wr
	topic := o.Prefix + "-wan"
	po := Options{Brokers: o.localSource(), Dial: o.WAN.dial, Topic: topic, Partitions: o.Partitions, RecordSize: o.RecordSize,
		Acks: "all", Compression: "lz4", Linger: 5 * time.Millisecond, Out: o.Out}
	if err := createTopic(ctx, sadm, topic, o.Partitions); err != nil {
		return err
	}
	ps, err := produce(ctx, po, o.TotalBytes/int64(o.RecordSize), o.Partitions)
	if err != nil {
		return err
	}
	if ps.failed > 0 {
		return fmt.Errorf("%w: %d producing to the source, first: %w", ErrProduceFailed, ps.failed, ps.firstErr)
	}
	bytes := ps.acked * int64(o.RecordSize)
	res.Bytes = bytes
	ends, err := endOffsets(ctx, sadm, topic)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "wan: %d records (%.1f MB, lz4) in %s, %d partitions; path %.1f MB/s per direction, window %d bytes per connection\n",
		ps.acked, float64(bytes)/1e6, topic, o.Partitions, float64(o.WAN.Rate)/1e6, path.Window())
	var base *WANPoint
	for _, rtt := range o.WAN.RTTs {
		path.SetDelay(rtt / 2)
		pt := WANPoint{RTTMs: ms(rtt)}
		name := "wan" + strconv.FormatInt(rtt.Milliseconds(), 10)
		cfg := map[string]string{"bootstrap.servers": o.Source[0], "cluster.link.prefix": name + "."}
		for k, v := range o.LinkConfigs {
			cfg[k] = v
		}
		if err := rc.createLink(ctx, name, cfg); err != nil {
			return err
		}
		path.ResetMaxBuffered()
		b0 := path.Delivered()
		start := time.Now()
		steady := trackSteady(path)
		if err := rc.createMirror(ctx, name, topic); err != nil {
			return err
		}
		if err := waitCaughtUp(ctx, dadm, name+"."+topic, ends); err != nil {
			return err
		}
		took := time.Since(start)
		rate, setup := steady()
		pt.MirrorSteadyMBps = round2(rate * float64(bytes) / 1e6)
		pt.MirrorSetupSeconds = round2(setup.Seconds())
		pt.MirrorPathBytes = path.Delivered() - b0
		pt.MirrorSeconds = round2(took.Seconds())
		pt.MirrorMBps = round2(float64(bytes) / took.Seconds() / 1e6)
		pt.MirrorPathMBps = round2(float64(pt.MirrorPathBytes) / took.Seconds() / 1e6)
		syscall.Sync()

		ptopic := o.Prefix + "-pipe-" + name
		if err := createTopic(ctx, dadm, ptopic, o.Partitions); err != nil {
			return err
		}
		b0 = path.Delivered()
		start = time.Now()
		steady = trackSteady(path)
		copied, err := pipeline(ctx, o, topic, ptopic, ends)
		if err != nil {
			return err
		}
		took = time.Since(start)
		rate, setup = steady()
		pt.PipelineSteadyMBps = round2(rate * float64(bytes) / 1e6)
		pt.PipelineSetupSeconds = round2(setup.Seconds())
		pt.SteadyVsPipeline = round2(pt.MirrorSteadyMBps / pt.PipelineSteadyMBps)
		if copied != bytes {
			return fmt.Errorf("bench: pipeline copied %d bytes of values, want %d", copied, bytes)
		}
		syscall.Sync()
		pt.PipelinePathBytes = path.Delivered() - b0
		pt.PipelineSeconds = round2(took.Seconds())
		pt.PipelineMBps = round2(float64(bytes) / took.Seconds() / 1e6)
		pt.PipelinePathMBps = round2(float64(pt.PipelinePathBytes) / took.Seconds() / 1e6)
		pt.MirrorVsPipeline = round2(pt.MirrorMBps / pt.PipelineMBps)
		pt.ProxyMaxBufferedMB = round2(float64(path.MaxBuffered()) / 1e6)
		if base == nil && rtt == 0 {
			base = &pt
		}
		if base != nil {
			pt.SteadyVsNoDelay = round2(pt.MirrorSteadyMBps / base.MirrorSteadyMBps)
			pt.MirrorVsNoDelay = round2(pt.MirrorMBps / base.MirrorMBps)
			pt.PipelineVsNoDelay = round2(pt.PipelineMBps / base.PipelineMBps)
		}
		wr.Points = append(wr.Points, pt)
		// Free the copies' pages, so that every RTT's copies write into
		// recently freed page-cache pages (see scripts/bench-mirror.sh,
		// warm_pages) instead of the later ones paying first-touch faults.
		resp, err := dadm.DeleteTopics(ctx, name+"."+topic, ptopic)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			fmt.Fprintf(o.Out, "wan: deleting %s and %s: %v\n", name+"."+topic, ptopic, err)
		}
		fmt.Fprintf(o.Out, "wan: RTT %v: mirror %.1f MB/s (%.1f MB/s on the path, %.2f× no delay), pipeline %.1f MB/s (%.1f on the path): mirror/pipeline %.2f; "+
			"steady (10%%–90%%): mirror %.1f MB/s (%.2f× no delay), pipeline %.1f MB/s: %.2f; set-up (to 1%% of the bytes) mirror %.2f s, pipeline %.2f s\n",
			rtt, pt.MirrorMBps, pt.MirrorPathMBps, pt.MirrorVsNoDelay, pt.PipelineMBps, pt.PipelinePathMBps, pt.MirrorVsPipeline,
			pt.MirrorSteadyMBps, pt.SteadyVsNoDelay, pt.PipelineSteadyMBps, pt.SteadyVsPipeline, pt.MirrorSetupSeconds, pt.PipelineSetupSeconds)
	}
	if o.WAN.LatencyRTT > 0 {
		path.SetDelay(o.WAN.LatencyRTT / 2)
		wr.LatencyRTTMs = ms(o.WAN.LatencyRTT)
		run := func(name string, extra map[string]string, into *MirrorResult) error {
			lo := o
			lo.Link = name
			lo.Prefix = o.Prefix + "-" + name
			cfg := map[string]string{"bootstrap.servers": o.Source[0]}
			for k, v := range o.LinkConfigs {
				cfg[k] = v
			}
			for k, v := range extra {
				cfg[k] = v
			}
			if err := rc.createLink(ctx, lo.Link, cfg); err != nil {
				return err
			}
			fmt.Fprintf(o.Out, "wan: latency at RTT %v on link %s %v\n", o.WAN.LatencyRTT, name, extra)
			return mirrorLatency(ctx, lo, rc, sadm, dadm, into)
		}
		if o.WAN.LatencyCompare <= 0 {
			return run("wanlat", nil, res)
		}
		for round := range o.WAN.LatencyCompare {
			for i := range 2 {
				pipelined := (round+i)%2 == 1 // alternate which goes first
				var r MirrorResult
				name := fmt.Sprintf("wanlat-%d-%s", round, map[bool]string{false: "fetch", true: "linkfetch"}[pipelined])
				if err := run(name, map[string]string{"fetch.pipelining.enable": strconv.FormatBool(pipelined)}, &r); err != nil {
					return err
				}
				wr.LatencyRuns = append(wr.LatencyRuns, WANLatencyRun{Round: round, Pipelined: pipelined, Records: r.LatencyRecords,
					MBps: r.LatencyOfferedMBps, P50Ms: r.LatencyP50Ms, P99Ms: r.LatencyP99Ms, P999Ms: r.LatencyP999Ms, MaxMs: r.LatencyMaxMs})
			}
		}
	}
	return nil
}

// trackSteady samples the bytes the path has delivered towards the
// destination every 10 ms until the returned function is called; that
// returns the fraction of the copy moved per second between 10% and 90%
// of the bytes it moved across the path: the copy's rate once set-up
// (link, metadata, connections, each costing round trips) is behind it.
// 0 when it could not be measured.
func trackSteady(path *wanproxy.Path) func() (rate float64, setup time.Duration) {
	return trackSteadyOf(path.Delivered)
}

// trackSteadyOf is trackSteady of any count of bytes moved, e.g. of both
// directions of the path.
func trackSteadyOf(delivered func() int64) func() (rate float64, setup time.Duration) {
	type sample struct {
		t time.Time
		n int64
	}
	stop, done := make(chan struct{}), make(chan []sample)
	go func() {
		base := delivered()
		s := []sample{{time.Now(), 0}}
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				done <- append(s, sample{time.Now(), delivered() - base})
				return
			case <-tick.C:
				s = append(s, sample{time.Now(), delivered() - base})
			}
		}
	}()
	return func() (float64, time.Duration) {
		close(stop)
		s := <-done
		total := s[len(s)-1].n
		var t1, t10, t90 time.Time
		for _, x := range s {
			if t1.IsZero() && x.n*100 >= total {
				t1 = x.t
			}
			if t10.IsZero() && x.n*10 >= total {
				t10 = x.t
			}
			if t90.IsZero() && x.n*10 >= total*9 {
				t90 = x.t
			}
		}
		if total == 0 || !t90.After(t10) {
			return 0, 0
		}
		return 0.8 / t90.Sub(t10).Seconds(), t1.Sub(s[0].t)
	}
}
