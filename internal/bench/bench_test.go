package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kfake"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func startKfake(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// lastJSON returns the last line of out, which Run writes as JSON.
func lastJSON(t *testing.T, out string) jsonLine {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var j jsonLine
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &j); err != nil {
		t.Fatalf("last output line is not JSON: %v\n%s", err, out)
	}
	return j
}

// checkSane checks what every successful run must satisfy.
func checkSane(t *testing.T, o Options, res Result, out string) {
	t.Helper()
	want := o.TotalBytes / int64(o.RecordSize)
	if res.Records != want || res.Errors != 0 {
		t.Errorf("records %d errors %d, want %d and 0", res.Records, res.Errors, want)
	}
	if !(0 < res.P50 && res.P50 <= res.P99 && res.P99 <= res.P999) {
		t.Errorf("latencies not ordered: p50 %v p99 %v p99.9 %v", res.P50, res.P99, res.P999)
	}
	if res.P999 > time.Minute {
		t.Errorf("p99.9 %v is longer than the whole test may take", res.P999)
	}
	if res.ProduceMBps <= 0 || res.ProduceRecordsPerSec <= 0 {
		t.Errorf("produce %v MB/s, %v records/s, want > 0", res.ProduceMBps, res.ProduceRecordsPerSec)
	}
	// MB/s and records/s describe the same run.
	if got, want := res.ProduceMBps*1e6, res.ProduceRecordsPerSec*float64(o.RecordSize); got < want*0.999 || got > want*1.001 {
		t.Errorf("produce MB/s %v disagrees with records/s %v x %d B", res.ProduceMBps, res.ProduceRecordsPerSec, o.RecordSize)
	}
	if o.Consume && res.ConsumeMBps <= 0 {
		t.Errorf("consume %v MB/s, want > 0", res.ConsumeMBps)
	}
	if !o.Consume && res.ConsumeMBps != 0 {
		t.Errorf("consume %v MB/s without --consume", res.ConsumeMBps)
	}
	j := lastJSON(t, out)
	if j.Records != res.Records || j.Errors != res.Errors || j.RecordsPlanned != want || j.Acks != o.Acks || j.Compression != o.Compression {
		t.Errorf("JSON line %+v disagrees with result %+v", j, res)
	}
	if (j.ConsumeMBps != nil) != o.Consume || (o.Consume && *j.ConsumeMBps <= 0) {
		t.Errorf("JSON consume_mbps %v with consume %v", j.ConsumeMBps, o.Consume)
	}
	if !strings.Contains(out, "produce latency") {
		t.Errorf("no human-readable summary:\n%s", out)
	}
}

func TestRun(t *testing.T) {
	cases := []struct {
		name string
		o    Options
	}{
		{"acks-all-lz4-consume", Options{Partitions: 4, RecordSize: 100, TotalBytes: 300_000, Acks: "all", Compression: "lz4", Linger: time.Millisecond, Consume: true}},
		{"acks-1-zstd", Options{Partitions: 3, RecordSize: 1000, TotalBytes: 1_000_000, Acks: "1", Compression: "zstd"}},
		{"acks-0-none", Options{Partitions: 2, RecordSize: 10, TotalBytes: 10_000, Acks: "0", Compression: "none"}},
		{"one-partition-gzip-consume", Options{Partitions: 1, RecordSize: 4096, TotalBytes: 1 << 20, Acks: "all", Compression: "gzip", Consume: true}},
		{"snappy-odd-sizes", Options{Partitions: 5, RecordSize: 333, TotalBytes: 100_000, Acks: "all", Compression: "snappy", Linger: 2 * time.Millisecond}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.Brokers = []string{startKfake(t)}
			o.Topic = "bench-" + strconv.Itoa(rand.IntN(1e6))
			o.CreateTopic = true
			var out bytes.Buffer
			o.Out = &out
			res, err := Run(testContext(t), o)
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, out.String())
			}
			t.Logf("output:\n%s", out.String())
			checkSane(t, o, res, out.String())
		})
	}
}

// TestRunRate checks the pacing: at a fixed offered rate the run takes as
// long as the schedule says and never goes faster than the rate.
func TestRunRate(t *testing.T) {
	const rate, records = 4000, 1000
	o := Options{
		Brokers: []string{startKfake(t)}, Topic: "bench-rate", Partitions: 4, CreateTopic: true,
		RecordSize: 100, TotalBytes: 100 * records, Acks: "all", Compression: "none", Rate: rate,
	}
	var out bytes.Buffer
	o.Out = &out
	start := time.Now()
	res, err := Run(testContext(t), o)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	checkSane(t, o, res, out.String())
	schedule := time.Duration(records-1) * time.Second / rate
	if took := time.Since(start); took < schedule {
		t.Errorf("run took %v, less than its schedule %v", took, schedule)
	}
	if max := float64(rate) * records / (records - 1); res.ProduceRecordsPerSec > max {
		t.Errorf("produced %v records/s, faster than the offered %d/s", res.ProduceRecordsPerSec, rate)
	}
}

func TestRunErrors(t *testing.T) {
	ctx := testContext(t)
	base := Options{Brokers: []string{"127.0.0.1:1"}, Topic: "t", Partitions: 1, RecordSize: 10, TotalBytes: 100, Acks: "all", Compression: "none", CreateTopic: true}
	for name, mutate := range map[string]func(*Options){
		"no brokers":  func(o *Options) { o.Brokers = nil },
		"no topic":    func(o *Options) { o.Topic = "" },
		"partitions":  func(o *Options) { o.Partitions = 0 },
		"record size": func(o *Options) { o.RecordSize = 0 },
		"bytes":       func(o *Options) { o.TotalBytes = 5 },
		"acks":        func(o *Options) { o.Acks = "2" },
		"compression": func(o *Options) { o.Compression = "brotli" },
		"linger":      func(o *Options) { o.Linger = -1 },
		"rate":        func(o *Options) { o.Rate = -1 },
	} {
		o := base
		mutate(&o)
		if _, err := Run(ctx, o); !errors.Is(err, ErrOptions) {
			t.Errorf("%s: %v, want %v", name, err, ErrOptions)
		}
	}

	// An existing topic is refused with --create-topic; without it, an
	// existing topic is used and a missing one is an error.
	addr := startKfake(t)
	o := base
	o.Brokers = []string{addr}
	if _, err := Run(ctx, o); err != nil {
		t.Fatalf("first run: %v", err)
	}
	if _, err := Run(ctx, o); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second run with --create-topic: %v, want topic-exists error", err)
	}
	o.CreateTopic = false
	if res, err := Run(ctx, o); err != nil || res.Records != 10 {
		t.Errorf("run on the existing topic: %v records, %v", res.Records, err)
	}
	o.Topic = "missing"
	if _, err := Run(ctx, o); err == nil {
		t.Errorf("run on a missing topic without --create-topic succeeded")
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serveKfake runs ServeKfake until the test ends and waits until it accepts
// connections.
func serveKfake(t *testing.T, dataDir string, blackhole, syncWrites bool) string {
	t.Helper()
	addr := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeKfake(ctx, addr, dataDir, blackhole, syncWrites) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ServeKfake: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("ServeKfake did not stop")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr
		}
		select {
		case err := <-done:
			t.Fatalf("ServeKfake: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("kfake not listening on %s: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServeKfake(t *testing.T) {
	ctx := testContext(t)
	run := func(t *testing.T, addr string, consume bool) {
		t.Helper()
		o := Options{Brokers: []string{addr}, Topic: "serve", Partitions: 2, CreateTopic: true,
			RecordSize: 200, TotalBytes: 200_000, Acks: "all", Compression: "lz4", Consume: consume}
		var out bytes.Buffer
		o.Out = &out
		res, err := Run(ctx, o)
		if err != nil {
			t.Fatalf("Run: %v\n%s", err, out.String())
		}
		checkSane(t, o, res, out.String())
	}
	t.Run("memory", func(t *testing.T) { run(t, serveKfake(t, "", false, false), true) })
	t.Run("disk-sync", func(t *testing.T) {
		dir := t.TempDir()
		run(t, serveKfake(t, dir, false, true), true)
		if entries, err := os.ReadDir(dir); err != nil || len(entries) == 0 {
			t.Errorf("data dir %s empty after a run (%v)", dir, err)
		}
	})
	t.Run("blackhole", func(t *testing.T) { run(t, serveKfake(t, "", true, false), false) })

	for name, args := range map[string]struct {
		addr, dir       string
		blackhole, sync bool
	}{
		"bad address":        {"nohostport", "", false, false},
		"sync without dir":   {"127.0.0.1:0", "", false, true},
		"blackhole with dir": {"127.0.0.1:0", t.TempDir(), true, false},
	} {
		if err := ServeKfake(ctx, args.addr, args.dir, args.blackhole, args.sync); !errors.Is(err, ErrKfakeOptions) {
			t.Errorf("%s: %v, want %v", name, err, ErrKfakeOptions)
		}
	}
}

func TestBindFlags(t *testing.T) {
	fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
	o := BindFlags(fs)
	if o.Partitions != 16 || o.RecordSize != 1024 || o.Acks != "all" || !o.CreateTopic || o.TotalBytes != 1<<30 {
		t.Errorf("defaults: %+v", *o)
	}
	err := fs.Parse([]string{
		"--brokers=a:1,b:2", "--topic=x", "--partitions=3", "--record-size=100", "--bytes=2MiB",
		"--acks=1", "--compression=zstd", "--linger=0s", "--rate=100000", "--consume", "--create-topic=false",
		"--consumers=2", "--consume-only",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Options{
		Brokers: []string{"a:1", "b:2"}, Topic: "x", Partitions: 3, RecordSize: 100, TotalBytes: 2 << 20,
		Acks: "1", Compression: "zstd", Linger: 0, Rate: 100000, Consume: true, CreateTopic: false,
		Consumers: 2, ConsumeOnly: true,
	}
	if !reflect.DeepEqual(*o, want) {
		t.Errorf("parsed %+v, want %+v", *o, want)
	}

	for in, want := range map[string]int64{"123": 123, "1KB": 1000, "1KiB": 1024, "3 MB": 3e6, "2GiB": 2 << 30, "7B": 7} {
		var b byteSize
		if err := b.Set(in); err != nil || int64(b) != want {
			t.Errorf("byteSize %q = %d, %v; want %d", in, b, err, want)
		}
	}
	for _, in := range []string{"", "x", "-1", "1XB", "9999999999TiB"} {
		var b byteSize
		if err := b.Set(in); err == nil {
			t.Errorf("byteSize %q accepted as %d", in, b)
		}
	}
}

// TestConsumeOnly: data produced by one run is read back by a
// consume-only run with the partitions dealt to several clients, every
// byte once.
func TestConsumeOnly(t *testing.T) {
	addr := startKfake(t)
	o := Options{Brokers: []string{addr}, Topic: "co", Partitions: 5, RecordSize: 100, TotalBytes: 100 * 1000,
		Acks: "all", Compression: "none", Linger: time.Millisecond, CreateTopic: true}
	if _, err := Run(testContext(t), o); err != nil {
		t.Fatal(err)
	}
	for _, consumers := range []int{1, 3, 8} {
		var out bytes.Buffer
		c := Options{Brokers: []string{addr}, Topic: "co", RecordSize: 100, Acks: "all", Compression: "none",
			ConsumeOnly: true, Consumers: consumers, Out: &out}
		res, err := Run(testContext(t), c)
		if err != nil {
			t.Fatalf("%d consumers: %v", consumers, err)
		}
		if res.ConsumedBytes != o.TotalBytes || res.ConsumeMBps <= 0 {
			t.Fatalf("%d consumers read %d bytes at %v MB/s, want %d", consumers, res.ConsumedBytes, res.ConsumeMBps, o.TotalBytes)
		}
		if j := lastJSON(t, out.String()); j.ConsumeMBps == nil || *j.ConsumeMBps != round2(res.ConsumeMBps) {
			t.Fatalf("JSON line %+v", j)
		}
	}
	bad := Options{Brokers: []string{addr}, Topic: "co", RecordSize: 100, Acks: "all", Compression: "none",
		ConsumeOnly: true, CreateTopic: true}
	if _, err := Run(testContext(t), bad); !errors.Is(err, ErrOptions) {
		t.Fatalf("consume-only with create-topic: %v", err)
	}
}
