package crash

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// produceAll writes n records to each partition of topic with acks=all
// and returns what was acknowledged, per partition.
func produceAll(t *testing.T, addr, topic string, partitions int32, n int) map[int32][]string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := map[int32][]string{}
	for p := range partitions {
		for i := range n {
			v := fmt.Sprintf("%s-%d-%d", topic, p, i)
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			out[p] = append(out[p], v)
		}
	}
	return out
}

// readAll reads each partition of topic up to its end offset.
func readAll(t *testing.T, addr, topic string, partitions int32) map[int32][]string {
	t.Helper()
	offs := map[int32]kgo.Offset{}
	for p := range partitions {
		offs[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offs}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	out := map[int32][]string{}
	for n := int64(0); n < total; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: read %d of %d records", topic, n, total)
		}
		fs.EachRecord(func(r *kgo.Record) { out[r.Partition] = append(out[r.Partition], string(r.Value)); n++ })
	}
	return out
}

func sameRecords(a, b map[int32][]string) bool {
	for p, v := range a {
		if !slices.Equal(v, b[p]) {
			return false
		}
	}
	return len(a) == len(b)
}

// TestKill9DuringTopicDelete kills a real `tandem serve` with SIGKILL
// right after it receives a DeleteTopics request, at a random moment of
// the deletion, and restarts it: the topic is then either whole (every
// acknowledged record) or gone with none of its directories left, another
// topic keeps every acknowledged record, and the name can be created
// again and starts empty (issue #9).
func TestKill9DuringTopicDelete(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test builds and runs the binary")
	}
	bin := buildTandem(t)
	dir := t.TempDir()
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p := startBroker(t, bin, dir, port)
	adm, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kadm.NewClient(adm).CreateTopic(context.Background(), 2, 1, nil, "keep"); err != nil {
		t.Fatal(err)
	}
	adm.Close()
	keep := produceAll(t, addr, "keep", 2, 20)

	outcomes := map[bool]int{}
	for round := range 12 {
		topic := "doomed" + strconv.Itoa(round)
		adm, err := kgo.NewClient(kgo.SeedBrokers(addr))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kadm.NewClient(adm).CreateTopic(context.Background(), 3, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
		acked := produceAll(t, addr, topic, 3, 20)
		go func() { _, _ = kadm.NewClient(adm).DeleteTopics(context.Background(), topic) }()
		time.Sleep(time.Duration(rand.IntN(30000)) * time.Microsecond)
		p.kill9(t)
		adm.Close()
		p = startBroker(t, bin, dir, port)

		cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
		if err != nil {
			t.Fatal(err)
		}
		td, err := kadm.NewClient(cl).ListTopics(context.Background(), topic)
		if err != nil {
			t.Fatal(err)
		}
		exists := td.Has(topic) && td[topic].Err == nil
		outcomes[exists]++
		if exists {
			if got := readAll(t, addr, topic, 3); !sameRecords(got, acked) {
				t.Fatalf("round %d: %s survived the crash but lost acknowledged records: %v", round, topic, got)
			}
			if _, err := kadm.NewClient(cl).DeleteTopics(context.Background(), topic); err != nil {
				t.Fatal(err)
			}
		}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), topic+"-") || strings.HasPrefix(e.Name(), topic+".") {
				t.Fatalf("round %d: %s left %s behind\n%s", round, topic, e.Name(), p.log.String())
			}
		}
		if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 3, 1, nil, topic); err != nil {
			t.Fatalf("round %d: re-creating %s: %v", round, topic, err)
		}
		if got := readAll(t, addr, topic, 3); len(got) != 0 {
			t.Fatalf("round %d: re-created %s is not empty: %v", round, topic, got)
		}
		cl.Close()
		if got := readAll(t, addr, "keep", 2); !sameRecords(got, keep) {
			t.Fatalf("round %d: keep lost acknowledged records: %v", round, got)
		}
	}
	p.stop(t)
	t.Logf("outcomes over 12 crashes: topic survived %d, deleted %d", outcomes[true], outcomes[false])
}
