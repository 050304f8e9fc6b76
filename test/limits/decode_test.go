// Package limits sends the hostile requests of issue #9 to a real Tandem
// broker over TCP and checks that each costs little CPU and memory, that
// its connection is closed, and that a well-behaved client keeps being
// served meanwhile.
package limits

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// requestHeader appends a request header v1 (v2 when flexible: an empty
// tagged-field section) with a null client id.
func requestHeader(b []byte, key, version int16, flexible bool) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, 1)
	b = append(b, 0xff, 0xff)
	if flexible {
		b = append(b, 0)
	}
	return b
}

func sized(b []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

// tagBomb is a flexible request whose body is prefix then a tagged-field
// count of 2^32-1 and nothing more.
func tagBomb(key, version int16, prefix ...byte) []byte {
	b := requestHeader(nil, key, version, true)
	b = append(b, prefix...)
	return sized(append(b, 0xff, 0xff, 0xff, 0xff, 0x0f))
}

// fetchBomb is a Fetch v4 frame of exactly size bytes (with its size
// prefix) naming one unknown topic and as many 16-byte partitions as fit.
// Every field is well formed, so only its decoded size is wrong with it.
func fetchBomb(size int) []byte {
	b := make([]byte, 0, size)
	b = binary.BigEndian.AppendUint32(b, 0) // size, set below
	b = requestHeader(b, 1, 4, false)
	b = binary.BigEndian.AppendUint32(b, 0xffffffff) // replica id -1
	b = binary.BigEndian.AppendUint32(b, 0)          // max wait
	b = binary.BigEndian.AppendUint32(b, 1)          // min bytes
	b = binary.BigEndian.AppendUint32(b, 1<<20)      // max bytes
	b = append(b, 0)                                 // isolation level
	b = binary.BigEndian.AppendUint32(b, 1)          // one topic
	b = binary.BigEndian.AppendUint16(b, 7)
	b = append(b, "unknown"...)
	n := (size - len(b) - 4) / 16
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	for i := 0; i < n; i++ {
		b = binary.BigEndian.AppendUint32(b, uint32(i)) // partition
		b = binary.BigEndian.AppendUint64(b, 0)         // fetch offset
		b = binary.BigEndian.AppendUint32(b, 1<<20)     // partition max bytes
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// sendAndExpectClose writes frame on a new connection and waits for the
// broker to close it.
func sendAndExpectClose(addr string, frame []byte) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write(frame); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	var one [1]byte
	n, err := c.Read(one[:])
	if n > 0 || err == nil {
		return fmt.Errorf("broker answered (%d bytes) instead of closing", n)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errors.New("broker neither answered nor closed the connection within 20s")
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		return fmt.Errorf("read: %w", err)
	}
	return nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// producer produces to topic until stopped, recording the slowest
// acknowledgement and how many records were acknowledged.
type producer struct {
	acked   atomic.Int64
	slowest atomic.Int64 // nanoseconds
	failed  atomic.Int64
	stop    chan struct{}
	done    chan struct{}
}

func startProducer(t *testing.T, addr, topic string) *producer {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	p := &producer{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		defer cl.Close()
		for {
			select {
			case <-p.stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			start := time.Now()
			err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("ok")}).FirstErr()
			cancel()
			if err != nil {
				p.failed.Add(1)
				continue
			}
			if d := int64(time.Since(start)); d > p.slowest.Load() {
				p.slowest.Store(d)
			}
			p.acked.Add(1)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return p
}

// waitAcked waits until the producer has more than n acknowledgements.
func (p *producer) waitAcked(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for p.acked.Load() <= n {
		if time.Now().After(deadline) {
			t.Fatalf("producer stuck at %d acks (%d failures)", p.acked.Load(), p.failed.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHostileRequests is issue #9's hostile inputs against a broker with
// default limits, while a producer keeps producing.
func TestHostileRequests(t *testing.T) {
	b := tandemtest.Start(t)
	addr := b.Addr()
	p := startProducer(t, addr, "steady")
	p.waitAcked(t, 0)

	t.Run("tag count bombs", func(t *testing.T) {
		// 64 of the 22-byte ApiVersions v3 frame (each ~70 s of CPU
		// with kmsg v1.15.0) and 64 Metadata v12 ones, all at once.
		apiVersions := tagBomb(18, 3, 1, 1)
		if len(apiVersions) != 22 {
			t.Fatalf("frame is %d bytes", len(apiVersions))
		}
		metadata := tagBomb(3, 12, 0, 0, 0)
		acked := p.acked.Load()
		cpu, wall := cpuTime(), time.Now()
		var wg sync.WaitGroup
		for i := 0; i < 64; i++ {
			for _, f := range [][]byte{apiVersions, metadata} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := sendAndExpectClose(addr, f); err != nil {
						t.Error(err)
					}
				}()
			}
		}
		wg.Wait()
		used, took := cpuTime()-cpu, time.Since(wall)
		t.Logf("128 tag bombs: %v CPU, %v wall", used, took)
		if used > 10*time.Second || took > 10*time.Second {
			t.Errorf("128 tag bombs took %v of CPU, %v wall", used, took)
		}
		p.waitAcked(t, acked)
	})

	t.Run("fetch naming millions of partitions", func(t *testing.T) {
		// 100 MiB, socket.request.max.bytes' default: ~6.5M partitions,
		// which kmsg would decode into ~470 MB of structs (RSS past
		// 4 GiB with the handler's work). The budget refuses it
		// after the frame is read and before anything is decoded.
		frame := fetchBomb(100 << 20)
		acked := p.acked.Load()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		if err := sendAndExpectClose(addr, frame); err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		runtime.ReadMemStats(&after)
		allocated := int64(after.TotalAlloc - before.TotalAlloc)
		t.Logf("100 MiB fetch: refused in %v; %d MiB allocated in the process, heap peak ~%d MiB",
			took, allocated>>20, after.HeapSys>>20)
		// The broker reads the frame (100 MiB); decoding would add
		// ~470 MB. Everything else (the producer, the refused scan)
		// is small.
		if allocated > 160<<20 {
			t.Errorf("%d MiB allocated while refusing the request", allocated>>20)
		}
		if took > 15*time.Second {
			t.Errorf("refusing took %v", took)
		}
		p.waitAcked(t, acked)
	})

	close(p.stop)
	<-p.done
	if d := time.Duration(p.slowest.Load()); d > 5*time.Second {
		t.Errorf("slowest produce took %v while hostile requests were refused", d)
	}
	t.Logf("producer: %d acknowledged, %d failed, slowest %v", p.acked.Load(), p.failed.Load(), time.Duration(p.slowest.Load()))

	// Fetch still works: read back what was produced.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("steady"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	want, got := p.acked.Load(), int64(0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for got < want {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", got, want, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("fetch: %v", err) })
		got += int64(fs.NumRecords())
	}
}
