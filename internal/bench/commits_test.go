package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestRunCommits(t *testing.T) {
	addr := startKfake(t)
	var out bytes.Buffer
	o := CommitOptions{
		Brokers:     []string{addr},
		Topic:       "bench-commits",
		Partitions:  4,
		Committers:  3,
		GroupPrefix: "bench-commits",
		Duration:    300 * time.Millisecond,
		CreateTopic: true,
		Out:         &out,
	}
	res, err := RunCommits(testContext(t), o)
	if err != nil {
		t.Fatalf("RunCommits: %v\n%s", err, out.String())
	}
	t.Logf("output:\n%s", out.String())
	if res.Requests == 0 || res.Errors != 0 || res.Commits != res.Requests*int64(o.Partitions) {
		t.Errorf("requests %d, commits %d, errors %d; want some, %d per request, none", res.Requests, res.Commits, res.Errors, o.Partitions)
	}
	if res.RequestsPerSec <= 0 || res.CommitsPerSec != res.RequestsPerSec*float64(o.Partitions) {
		t.Errorf("%v requests/s, %v commits/s: want positive, %d commits per request", res.RequestsPerSec, res.CommitsPerSec, o.Partitions)
	}
	if !(0 < res.P50 && res.P50 <= res.P99 && res.P99 <= res.Max && res.Max < 10*time.Second) {
		t.Errorf("latencies p50 %v p99 %v max %v not ordered or implausible", res.P50, res.P99, res.Max)
	}
	if res.Took < o.Duration {
		t.Errorf("ran %v, shorter than %v", res.Took, o.Duration)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var j commitJSON
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &j); err != nil {
		t.Fatalf("last line is not JSON: %v", err)
	}
	if j.Requests != res.Requests || j.Commits != res.Commits || j.Committers != o.Committers || j.Partitions != o.Partitions {
		t.Errorf("JSON %+v disagrees with result %+v", j, res)
	}

	// Every committer's group holds its last commit: the offsets really
	// were committed.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var total int64
	for i := range o.Committers {
		group := fmt.Sprintf("%s-%d", o.GroupPrefix, i)
		offs, err := adm.FetchOffsets(testContext(t), group)
		if err != nil {
			t.Fatalf("FetchOffsets %s: %v", group, err)
		}
		var last int64 = -1
		for p := range int32(o.Partitions) {
			r, ok := offs.Lookup(o.Topic, p)
			if !ok || (last >= 0 && r.At != last) {
				t.Errorf("%s partition %d: committed %d (found %v), want the same offset on every partition", group, p, r.At, ok)
			}
			last = r.At
		}
		total += last // committer i's n-th request commits offset n
	}
	// A request still in flight when the run ended may have been
	// committed without being counted: at most one per committer.
	if total < res.Requests || total > res.Requests+int64(o.Committers) {
		t.Errorf("committed offsets add up to %d requests, result says %d (+ up to %d in flight)", total, res.Requests, o.Committers)
	}
}

func TestRunCommitsOptions(t *testing.T) {
	_, err := RunCommits(testContext(t), CommitOptions{Brokers: []string{"127.0.0.1:1"}, Topic: "x", GroupPrefix: "g", Duration: time.Second})
	if !errors.Is(err, ErrOptions) {
		t.Errorf("zero partitions and committers: %v, want %v", err, ErrOptions)
	}
	_, err = RunGroupStabilize(testContext(t), StabilizeOptions{Brokers: []string{"127.0.0.1:1"}, Topic: "x", GroupPrefix: "g", Partitions: 2})
	if !errors.Is(err, ErrOptions) {
		t.Errorf("fewer partitions than members: %v, want %v", err, ErrOptions)
	}
}

func TestRunGroupStabilize(t *testing.T) {
	for _, balancer := range []string{"cooperative-sticky", "range"} {
		t.Run(balancer, func(t *testing.T) {
			var out bytes.Buffer
			o := StabilizeOptions{
				Brokers:           []string{startKfake(t)},
				Topic:             "bench-stabilize",
				Partitions:        6,
				Rounds:            2,
				Balancer:          balancer,
				HeartbeatInterval: 500 * time.Millisecond,
				GroupPrefix:       "bench-stabilize",
				CreateTopic:       true,
				Timeout:           30 * time.Second,
				Out:               &out,
			}
			res, err := RunGroupStabilize(testContext(t), o)
			if err != nil {
				t.Fatalf("RunGroupStabilize: %v\n%s", err, out.String())
			}
			t.Logf("output:\n%s", out.String())
			if len(res.Rounds) != o.Rounds {
				t.Fatalf("%d rounds measured, want %d", len(res.Rounds), o.Rounds)
			}
			if !(0 < res.Min && res.Min <= res.P50 && res.P50 <= res.Max && res.Max < o.Timeout) {
				t.Errorf("min %v p50 %v max %v not ordered or out of range", res.Min, res.P50, res.Max)
			}
		})
	}
}
