package broker_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/record"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
	"github.com/tandem-streaming/tandem/internal/vfs"
)

// Broker-level storage faults (docs/operations.md, Storage faults): a
// vfs.ErrorFS under the broker's storage fails the writes of one
// partition; clients see a retriable KAFKA_STORAGE_ERROR there, every
// other partition keeps serving, nothing acknowledged is lost, and the
// partition recovers by itself (ENOSPC) or is offline visibly (EIO:
// /readyz DOWN, metric) until a restart.

// rawProduce sends one acks=all Produce request for value to topic/p
// and returns the partition's error as the broker answered it (no client
// retries in between).
func rawProduce(t *testing.T, cl *kgo.Client, topic string, p int32, value string) error {
	t.Helper()
	bld := record.NewBuilder()
	bld.Append(time.Now().UnixMilli(), nil, []byte(value))
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = p, bld.Build()
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	return kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode)
}

// produceOne produces value to topic/partition and returns the error.
func produceOne(t *testing.T, cl *kgo.Client, topic string, p int32, value string) error {
	t.Helper()
	return cl.ProduceSync(ctxT(t), &kgo.Record{Topic: topic, Partition: p, Value: []byte(value)}).FirstErr()
}

// consumeAll reads topic/partition from the start up to its end.
func consumeAll(t *testing.T, b *tandemtest.Broker, topic string, p int32, want int) []string {
	t.Helper()
	cl := client(t, b, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().AtStart()}}))
	var out []string
	ctx := ctxT(t)
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %v, want %d records: %v", out, want, err)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
	}
	return out
}

// readyz returns /readyz's status code and body.
func readyz(t *testing.T, b *tandemtest.Broker) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + b.HTTPAddr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func metricsText(t *testing.T, b *tandemtest.Broker) string {
	t.Helper()
	resp, err := http.Get("http://" + b.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// faultClient is a producer that gives up after one retry, so a fault
// that lasts shows as an error instead of a retry loop.
func faultClient(t *testing.T, b *tandemtest.Broker) *kgo.Client {
	// Not idempotent: an idempotent franz-go producer may not fail a batch
	// whose outcome it cannot know, and retries it until its timeout.
	return client(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DisableIdempotentWrite(),
		kgo.RecordRetries(1), kgo.RecordDeliveryTimeout(5*time.Second),
		kgo.RetryBackoffFn(func(int) time.Duration { return 10 * time.Millisecond }))
}

// startFaultBroker starts a broker over an ErrorFS with topic "faults"
// (two partitions) and three acknowledged records in faults-0.
func startFaultBroker(t *testing.T) (*vfs.ErrorFS, *tandemtest.Broker, *kgo.Client, []string) {
	fs := vfs.NewErrorFS(nil)
	b := tandemtest.StartFS(t, fs)
	cl := faultClient(t, b)
	createTopic(t, cl, "faults", 2, nil)
	var acked []string
	for i := range 3 {
		v := fmt.Sprintf("before-%d", i)
		if err := produceOne(t, cl, "faults", 0, v); err != nil {
			t.Fatal(err)
		}
		acked = append(acked, v)
	}
	return fs, b, cl, acked
}

func TestProduceSurvivesENOSPC(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EMFILE} {
		t.Run(errno.Error(), func(t *testing.T) {
			fs, b, cl, acked := startFaultBroker(t)
			createTopic(t, cl, "other", 1, nil)

			// Writes to faults-0 fail (its segment, indexes and files).
			var rule vfs.Rule
			if errno == syscall.ENOSPC {
				rule = vfs.Rule{Ops: vfs.OpWrite, Path: "faults-0" + string(filepath.Separator), Err: errno}
			} else {
				rule = vfs.Rule{Ops: vfs.OpOpen | vfs.OpWrite, Path: "faults-0" + string(filepath.Separator), Err: errno}
			}
			id := fs.Inject(rule)
			err := rawProduce(t, cl, "faults", 0, "during")
			if !errors.Is(err, kerr.KafkaStorageError) || !kerr.IsRetriable(err) {
				t.Fatalf("produce during %v: %v, want retriable KAFKA_STORAGE_ERROR", errno, err)
			}
			// Everything else is served meanwhile.
			if err := produceOne(t, cl, "faults", 1, "p1"); err != nil {
				t.Fatalf("other partition during the fault: %v", err)
			}
			if err := produceOne(t, cl, "other", 0, "o"); err != nil {
				t.Fatalf("other topic during the fault: %v", err)
			}
			if code, body := readyz(t, b); code != http.StatusOK {
				t.Fatalf("/readyz during a transient fault: %d %s", code, body)
			}

			// The condition clears: the next produce succeeds, no restart.
			fs.Drop(id)
			if err := produceOne(t, cl, "faults", 0, "after"); err != nil {
				t.Fatalf("produce after %v cleared: %v", errno, err)
			}
			acked = append(acked, "after")
			if got := consumeAll(t, b, "faults", 0, len(acked)); !slices.Equal(got, acked) {
				t.Fatalf("faults-0 holds %v, acknowledged %v", got, acked)
			}
		})
	}
}

func TestEIOTakesPartitionOfflineVisibly(t *testing.T) {
	fs, b, cl, acked := startFaultBroker(t)
	if code, _ := readyz(t, b); code != http.StatusOK {
		t.Fatalf("/readyz before the fault: %d", code)
	}

	fs.Inject(vfs.Rule{Ops: vfs.OpWrite, Path: "faults-0" + string(filepath.Separator), Err: syscall.EIO})
	if err := rawProduce(t, cl, "faults", 0, "during"); !errors.Is(err, kerr.KafkaStorageError) {
		t.Fatalf("produce on EIO: %v, want KAFKA_STORAGE_ERROR", err)
	}
	fs.Clear()
	// Offline until a restart, even though the device "works" again.
	if err := rawProduce(t, cl, "faults", 0, "still"); !errors.Is(err, kerr.KafkaStorageError) {
		t.Fatalf("produce to the offline partition: %v, want KAFKA_STORAGE_ERROR", err)
	}
	if err := produceOne(t, cl, "faults", 1, "p1"); err != nil {
		t.Fatalf("the other partition: %v", err)
	}
	code, body := readyz(t, b)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "faults-0") || !strings.Contains(body, "input/output error") {
		t.Fatalf("/readyz with an offline partition: %d %s", code, body)
	}
	m := metricsText(t, b)
	if !strings.Contains(m, "tandem_partitions_offline 1") || !strings.Contains(m, `tandem_partition_offline{partition="0",topic="faults"} 1`) {
		t.Fatalf("offline metrics missing:\n%s", grepLines(m, "offline"))
	}

	// The documented action: restart. Recovery reopens the log from its
	// last durable point.
	b.Restart()
	cl = faultClient(t, b)
	if code, body := readyz(t, b); code != http.StatusOK {
		t.Fatalf("/readyz after restart: %d %s", code, body)
	}
	if err := produceOne(t, cl, "faults", 0, "after"); err != nil {
		t.Fatalf("produce after restart: %v", err)
	}
	acked = append(acked, "after")
	if got := consumeAll(t, b, "faults", 0, len(acked)); !slices.Equal(got, acked) {
		t.Fatalf("faults-0 holds %v, acknowledged %v", got, acked)
	}
}

// TestDamagedPartitionOfflineAtStart: a partition whose log cannot be
// opened at start (here its partition.metadata names another topic) is
// offline with a clear error while the broker starts and the rest
// serves; once the damage is repaired, the reconciler's retry brings it
// online without a restart.
func TestDamagedPartitionOfflineAtStart(t *testing.T) {
	b := tandemtest.Start(t)
	cl := faultClient(t, b)
	createTopic(t, cl, "dmg", 2, nil)
	for p := range int32(2) {
		if err := produceOne(t, cl, "dmg", p, "v"); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
	dir := filepath.Join(b.Dir, "dmg-1")
	id, ok, err := log.ReadPartitionMetadata(dir)
	if err != nil || !ok {
		t.Fatalf("partition.metadata: %v %v", ok, err)
	}
	b.RestartAfter(func() {
		if err := log.WritePartitionMetadata(dir, [16]byte{0xde, 0xad}); err != nil {
			t.Fatal(err)
		}
	})
	cl = faultClient(t, b)
	if err := produceOne(t, cl, "dmg", 0, "w"); err != nil {
		t.Fatalf("healthy partition after start: %v", err)
	}
	if err := rawProduce(t, cl, "dmg", 1, "w"); !errors.Is(err, kerr.KafkaStorageError) {
		t.Fatalf("damaged partition: %v, want KAFKA_STORAGE_ERROR", err)
	}
	code, body := readyz(t, b)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "dmg-1") || !strings.Contains(body, "inconsistent topic id") {
		t.Fatalf("/readyz with a damaged partition: %d %s", code, body)
	}

	if err := log.WritePartitionMetadata(dir, id); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for b.Node.StorageHealth() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("repaired partition still offline: %v", b.Node.StorageHealth())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := produceOne(t, cl, "dmg", 1, "w"); err != nil {
		t.Fatalf("repaired partition: %v", err)
	}
	if got := consumeAll(t, b, "dmg", 1, 2); !slices.Equal(got, []string{"v", "w"}) {
		t.Fatalf("dmg-1 holds %v", got)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
