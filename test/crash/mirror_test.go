package crash

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// restCall sends a JSON request to a broker's HTTP API and fails the test
// on an unexpected status.
func restCall(t *testing.T, method, url string, body any, want int) []byte {
	t.Helper()
	status, out := restDo(t, method, url, body)
	if status != want {
		t.Fatalf("%s %s: %d %s", method, url, status, out)
	}
	return out
}

// sameAsSource waits (at most wait) until the mirror topic on dcl has the
// source's end offsets, then checks each partition byte for byte: the
// same batches at the same offsets. It returns the source's end offsets;
// what names the moment in failures.
func sameAsSource(ctx context.Context, t *testing.T, scl, dcl *kgo.Client, topic string, wait time.Duration, what string) kadm.ListedOffsets {
	t.Helper()
	sadm, dadm := kadm.NewClient(scl), kadm.NewClient(dcl)
	ends, err := sadm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(wait); ; time.Sleep(100 * time.Millisecond) {
		dends, err := dadm.ListEndOffsets(ctx, topic)
		caught := err == nil
		ends.Each(func(o kadm.ListedOffset) {
			if d, ok := dends.Lookup(topic, o.Partition); !ok || d.Offset != o.Offset {
				caught = false
			}
		})
		if caught {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: mirror did not catch up in %v: source %v mirror %v (%v)", what, wait, ends, dends, err)
		}
	}
	smd, err := sadm.ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	dmd, err := dadm.ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		s := batchesOf(ctx, t, scl, topic, smd[topic].ID, o.Partition, o.Offset)
		d := batchesOf(ctx, t, dcl, topic, dmd[topic].ID, o.Partition, o.Offset)
		if !bytes.Equal(s, d) {
			t.Errorf("%s: partition %d: mirror (%d bytes) is not the source (%d bytes) byte for byte", what, o.Partition, len(d), len(s))
		}
	})
	return ends
}

// batchesOf fetches every record batch of a partition below end, raw.
func batchesOf(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, topicID [16]byte, p int32, end int64) []byte {
	t.Helper()
	var out []byte
	for off := int64(0); off < end; {
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes, req.SessionEpoch = -1, 100, 1, 4<<20, -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = topic, topicID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LastFetchedEpoch = p, off, 4<<20, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("fetch %s-%d at %d: %v", topic, p, off, err)
		}
		sp := resp.Topics[0].Partitions[0]
		if sp.ErrorCode != 0 {
			t.Fatalf("fetch %s-%d at %d: %v", topic, p, off, kerr.ErrorForCode(sp.ErrorCode))
		}
		b, moved := sp.RecordBatches, false
		for len(b) >= 61 {
			n := 12 + int(uint32(b[8])<<24|uint32(b[9])<<16|uint32(b[10])<<8|uint32(b[11]))
			if n > len(b) {
				break
			}
			var base int64
			for i := 0; i < 8; i++ {
				base = base<<8 | int64(b[i])
			}
			lod := int64(int32(uint32(b[23])<<24 | uint32(b[24])<<16 | uint32(b[25])<<8 | uint32(b[26])))
			out = append(out, b[:n]...)
			off, moved, b = base+lod+1, true, b[n:]
		}
		if !moved {
			t.Fatalf("fetch %s-%d at %d: no progress", topic, p, off)
		}
	}
	return out
}

// TestMirrorSurvivesFaults mirrors a topic between two `tandem serve`
// processes while a producer writes to the source, and meanwhile: kills
// the destination with SIGKILL and restarts it, pauses and resumes the
// mirror and then the whole link, and kills (SIGKILL) and restarts the
// source. Afterwards the mirror must
// catch up and be byte for byte the source: no duplicates, no gaps.
func TestMirrorSurvivesFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const topic, partitions = "events", 3
	bin := buildTandem(t)
	srcDir, dstDir := t.TempDir(), t.TempDir()
	srcPort, dstPort, httpPort := freePort(t), freePort(t), freePort(t)
	srcAddr := "127.0.0.1:" + strconv.Itoa(srcPort)
	dstHTTP := "--http.listeners=http://127.0.0.1:" + strconv.Itoa(httpPort)
	src := startBroker(t, bin, srcDir, srcPort)
	dst := startBroker(t, bin, dstDir, dstPort, dstHTTP)
	defer func() { src.stop(t); dst.stop(t) }()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	scl, err := kgo.NewClient(kgo.SeedBrokers(srcAddr), kgo.DefaultProduceTopic(topic),
		kgo.ProducerBatchCompression(kgo.Lz4Compression()), kgo.RecordRetries(1<<20), kgo.RetryTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer scl.Close()
	if _, err := kadm.NewClient(scl).CreateTopic(ctx, partitions, 1, nil, topic); err != nil {
		t.Fatal(err)
	}

	// A producer that keeps writing, through the source's restart too.
	var produced atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			scl.Produce(ctx, &kgo.Record{Key: []byte(strconv.Itoa(i % 97)), Value: []byte(strings.Repeat("x", 100) + strconv.Itoa(i))},
				func(_ *kgo.Record, err error) {
					if err == nil {
						produced.Add(1)
					}
				})
			if i%200 == 0 {
				time.Sleep(2 * time.Millisecond)
			}
		}
	}()

	base := "http://127.0.0.1:" + strconv.Itoa(httpPort) + "/kafka/v3/clusters/"
	var clusters struct {
		Data []struct {
			ClusterID string `json:"cluster_id"`
		} `json:"data"`
	}
	// The HTTP listener starts after the Kafka one startBroker waits for
	// (after log recovery and the links: seconds on a loaded machine).
	waitHTTP := func() {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if resp, err := http.Get(strings.TrimSuffix(base, "/")); err == nil {
				resp.Body.Close()
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("destination HTTP API not up")
			}
		}
	}
	waitHTTP()
	if err := json.Unmarshal(restCall(t, "GET", strings.TrimSuffix(base, "/"), nil, 200), &clusters); err != nil {
		t.Fatal(err)
	}
	cid := clusters.Data[0].ClusterID
	restCall(t, "POST", base+cid+"/links?link_name=dr", map[string]any{
		"configs": []map[string]string{{"name": "bootstrap.servers", "value": srcAddr}, {"name": "replica.fetch.wait.max.ms", "value": "100"}},
	}, 204)
	restCall(t, "POST", base+cid+"/links/dr/mirrors", map[string]any{"source_topic_name": topic}, 204)

	time.Sleep(700 * time.Millisecond)
	dst.kill9(t)
	dst = startBroker(t, bin, dstDir, dstPort, dstHTTP)
	waitHTTP()
	time.Sleep(500 * time.Millisecond)
	restCall(t, "POST", base+cid+"/links/dr/mirrors:pause", map[string]any{"mirror_topic_names": []string{topic}}, 200)
	time.Sleep(300 * time.Millisecond)
	restCall(t, "POST", base+cid+"/links/dr/mirrors:resume", map[string]any{"mirror_topic_names": []string{topic}}, 200)
	time.Sleep(300 * time.Millisecond)
	// Pause the whole link (cluster.link.paused), then resume it.
	restCall(t, "PUT", base+cid+"/links/dr/configs/cluster.link.paused", map[string]any{"value": "true"}, 204)
	time.Sleep(300 * time.Millisecond)
	restCall(t, "PUT", base+cid+"/links/dr/configs/cluster.link.paused", map[string]any{"value": "false"}, 204)
	time.Sleep(300 * time.Millisecond)
	src.kill9(t)
	time.Sleep(300 * time.Millisecond)
	src = startBroker(t, bin, srcDir, srcPort)
	time.Sleep(700 * time.Millisecond)
	dst.kill9(t)
	dst = startBroker(t, bin, dstDir, dstPort, dstHTTP)
	close(stop)
	wg.Wait()
	if err := scl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if produced.Load() < 1000 {
		t.Fatalf("only %d records produced: the test exercised nothing", produced.Load())
	}

	// Wait for the mirror to catch up, then compare every partition.
	dcl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:" + strconv.Itoa(dstPort)))
	if err != nil {
		t.Fatal(err)
	}
	defer dcl.Close()
	ends := sameAsSource(ctx, t, scl, dcl, topic, 60*time.Second, "after the faults")
	var total int64
	ends.Each(func(o kadm.ListedOffset) {
		total += o.Offset
	})
	t.Logf("%s",
		fmt.Sprintf("%d records over %d partitions mirrored through two destination SIGKILLs, mirror and link pause/resume, and a source SIGKILL; byte-identical", total, partitions))
}
