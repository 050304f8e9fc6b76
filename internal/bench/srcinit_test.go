package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// TestRunSourceInitiated runs the comparison on two real Tandem brokers, as
// scripts/bench-source-initiated.sh does with two processes: tiny data, two
// rounds (so both orders run), short latency runs.
func TestRunSourceInitiated(t *testing.T) {
	src, dst := tandemtest.Start(t), tandemtest.Start(t)
	var out bytes.Buffer
	o := SourceInitiatedOptions{
		Source: []string{src.Addr()}, Dest: []string{dst.Addr()},
		SourceURL: "http://" + src.HTTPAddr(), DestURL: "http://" + dst.HTTPAddr(),
		Link: "relay", Prefix: "si", Partitions: 2, RecordSize: 100, TotalBytes: 200_000, Rounds: 2,
		LatencyBytesPerSec: 100_000, LatencyDuration: 1500 * time.Millisecond, LatencyWarmup: 500 * time.Millisecond,
		LinkConfigs: map[string]string{"replica.fetch.wait.max.ms": "50"},
		Out:         &out,
	}
	res, err := RunSourceInitiated(testContext(t), o)
	if err != nil {
		t.Fatalf("RunSourceInitiated: %v\n%s", err, out.String())
	}
	if res.Bytes != 200_000 || res.LogBytes <= 0 || res.LogBytes > 2*res.Bytes {
		t.Fatalf("bytes %d, log bytes %d\n%s", res.Bytes, res.LogBytes, out.String())
	}
	if len(res.Runs) != 4 {
		t.Fatalf("%d runs, want 4\n%s", len(res.Runs), out.String())
	}
	// Alternating order: round 1 outbound first, round 2 source-initiated first.
	if res.Runs[0].Kind != KindOutbound || res.Runs[2].Kind != KindSourceInitiated {
		t.Errorf("order %s, %s, %s, %s", res.Runs[0].Kind, res.Runs[1].Kind, res.Runs[2].Kind, res.Runs[3].Kind)
	}
	for _, r := range res.Runs {
		if r.MBps <= 0 || r.LogMBps <= 0 || r.LatencyP99Ms <= 0 || r.LatencyP50Ms > r.LatencyP99Ms {
			t.Errorf("run %+v", r)
		}
	}
	if res.Ratio.Median <= 0 || res.Ratio.Min > res.Ratio.Median || res.Ratio.Median > res.Ratio.Max {
		t.Errorf("ratio %+v", res.Ratio)
	}
	for _, want := range []string{"source-initiated / outbound", `"ratio_log_mbps"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestSpread(t *testing.T) {
	if s := spread([]float64{3, 1, 2}); s != (Spread{2, 1, 3}) {
		t.Errorf("odd: %+v", s)
	}
	if s := spread([]float64{4, 1, 2, 3}); s != (Spread{2.5, 1, 4}) {
		t.Errorf("even: %+v", s)
	}
	if s := spread(nil); s != (Spread{}) {
		t.Errorf("empty: %+v", s)
	}
}
