// Package crash kills a real `tandem serve` process with SIGKILL while an
// acks=all producer writes to it, restarts it, and checks that every
// acknowledged record survived exactly once at its acknowledged offset.
package crash

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// buildTandem compiles the binary once for the test.
func buildTandem(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tandem")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/tandem-streaming/tandem/cmd/tandem")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

type proc struct {
	cmd *exec.Cmd
	log *tandemtest.Logs // readable while the process runs
}

func startBroker(t *testing.T, bin, dir string, port int, extra ...string) *proc {
	t.Helper()
	p := launchBroker(t, bin, dir, port, extra...)
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return p
		}
		if time.Now().After(deadline) {
			_ = p.cmd.Process.Kill()
			t.Fatalf("broker did not start: %v\n%s", err, p.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// launchBroker starts `tandem serve` on dir and port without waiting for
// it.
func launchBroker(t *testing.T, bin, dir string, port int, extra ...string) *proc {
	t.Helper()
	var out tandemtest.Logs
	args := []string{"serve",
		"--listeners=PLAINTEXT://127.0.0.1:" + strconv.Itoa(port),
		"--http.listeners=",
		"--log.dirs=" + dir,
		"--log.segment.bytes=1048576", // small segments: crashes also hit rolls
	}
	cmd := exec.Command(bin, append(args, extra...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return &proc{cmd: cmd, log: &out}
}

func (p *proc) kill9(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
}

func (p *proc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("graceful stop: %v\n%s", err, p.log.String())
		}
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Errorf("graceful stop timed out\n%s", p.log.String())
	}
}

type ack struct {
	partition int32
	offset    int64
}

func TestKill9AcknowledgedRecordsSurvive(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test builds and runs the binary")
	}
	const (
		topic      = "crash"
		partitions = 4
		rounds     = 4
	)
	bin := buildTandem(t)
	dir := t.TempDir()
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p := startBroker(t, bin, dir, port)

	adm, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kadm.NewClient(adm).CreateTopic(context.Background(), partitions, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	adm.Close()

	var (
		mu    sync.Mutex
		acked = map[string]ack{} // value -> where the broker said it is
		seq   int
	)
	for round := 0; round < rounds; round++ {
		cl, err := kgo.NewClient(
			kgo.SeedBrokers(addr),
			kgo.DefaultProduceTopic(topic),
			kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.ProducerLinger(0),
			kgo.RecordRetries(1<<30),
			kgo.RetryTimeout(time.Minute),
		)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				mu.Lock()
				seq++
				v := fmt.Sprintf("r%d-%08d", round, seq)
				mu.Unlock()
				cl.Produce(ctx, &kgo.Record{Value: []byte(v)}, func(r *kgo.Record, err error) {
					if err != nil {
						return // not acknowledged: may or may not be there
					}
					mu.Lock()
					acked[string(r.Value)] = ack{r.Partition, r.Offset}
					mu.Unlock()
				})
			}
		}()
		time.Sleep(time.Duration(300+rand.IntN(700)) * time.Millisecond)
		p.kill9(t)
		cancel()
		wg.Wait()
		cl.Close()
		p = startBroker(t, bin, dir, port)
	}
	defer p.stop(t)

	mu.Lock()
	defer mu.Unlock()
	if len(acked) < 100 {
		t.Fatalf("only %d records acknowledged; the test did not exercise anything", len(acked))
	}

	// Read everything back.
	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	adm2 := kadm.NewClient(cons)
	ends, err := adm2.ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { want[o.Partition] = o.Offset })
	seen := map[string][]ack{}
	got := map[int32]int64{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for done := false; !done; {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consuming: %v (got %v of %v)", err, got, want)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			seen[string(r.Value)] = append(seen[string(r.Value)], ack{r.Partition, r.Offset})
			got[r.Partition] = r.Offset + 1
		})
		done = true
		for p, end := range want {
			if got[p] < end {
				done = false
			}
		}
	}
	for v, a := range acked {
		at := seen[v]
		switch {
		case len(at) == 0:
			t.Errorf("acknowledged record %s (partition %d offset %d) is missing", v, a.partition, a.offset)
		case len(at) > 1:
			t.Errorf("acknowledged record %s appears %d times: %v", v, len(at), at)
		case at[0] != a:
			t.Errorf("acknowledged record %s at %v, acknowledged at %v", v, at[0], a)
		}
	}
	t.Logf("%d records acknowledged across %d kill -9 rounds; all present exactly once at their offsets", len(acked), rounds)
}
