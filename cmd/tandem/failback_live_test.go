package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// TestFailbackCLIAgainstLiveBrokers is the failback sequence through the
// CLI on two real brokers with one BIDIRECTIONAL link (the second half
// takes the first's cluster_link_id at create): B mirrors A, B fails
// over, A gets records B never receives, truncate-and-restore on A
// (dry run, then real) prints Confluent's sentence with the count, and
// reverse-and-start on A makes A writable again and B its mirror.
func TestFailbackCLIAgainstLiveBrokers(t *testing.T) {
	a, b := tandemtest.Start(t), tandemtest.Start(t)
	urlA, urlB := "http://"+a.HTTPAddr(), "http://"+b.HTTPAddr()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	run := func(url string, args ...string) string {
		t.Helper()
		out, errOut, err := runCLI(t, append(args, "--url", url)...)
		if err != nil {
			t.Fatalf("tandem %s: %v %s", strings.Join(args, " "), err, errOut)
		}
		return out
	}
	aCl := tandemtest.NewClient(t, a.Addr(), kgo.DefaultProduceTopic("orders"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if _, err := kadm.NewClient(aCl).CreateTopic(ctx, 2, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	produce := func(cl *kgo.Client, perPartition int) {
		t.Helper()
		for p := int32(0); p < 2; p++ {
			for range perPartition {
				if err := cl.ProduceSync(ctx, &kgo.Record{Partition: p, Value: []byte("v")}).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	produce(aCl, 5)
	run(urlA, "link", "create", "L", "--source-bootstrap-server", b.Addr(), "--config", "link.mode=BIDIRECTIONAL")
	run(urlB, "link", "create", "L", "--source-bootstrap-server", a.Addr(), "--config", "link.mode=BIDIRECTIONAL")
	run(urlB, "mirror", "create", "orders", "--link", "L")
	ends := func(addr string) int64 {
		t.Helper()
		o, err := kadm.NewClient(tandemtest.NewClient(t, addr)).ListEndOffsets(ctx, "orders")
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		o.Each(func(l kadm.ListedOffset) { n += l.Offset })
		return n
	}
	for deadline := time.Now().Add(20 * time.Second); ends(b.Addr()) != 10; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("B's mirror did not catch up")
		}
	}
	run(urlB, "mirror", "failover", "orders", "--link", "L")
	produce(aCl, 3) // A's, never received by B

	var dry []truncateOut
	if err := json.Unmarshal([]byte(run(urlA, "mirror", "truncate-and-restore", "orders", "--link", "L", "--dry-run", "--include-partition-data", "-o", "json")), &dry); err != nil ||
		len(dry) != 2 || dry[0].MessagesTruncated != 3 || dry[0].OffsetTruncatedTo != 5 || dry[1].MessagesTruncated != 3 {
		t.Fatalf("dry run: %v %+v", err, dry)
	}
	if out := run(urlA, "mirror", "truncate-and-restore", "orders", "--link", "L"); out != "Request for truncate and restore for topic orders was successfully scheduled. 6 messages will be truncated.\n" {
		t.Fatalf("truncate-and-restore: %q", out)
	}
	if out := run(urlA, "mirror", "list"); !strings.Contains(out, "ACTIVE") {
		t.Fatalf("A after truncate-and-restore: %s", out)
	}
	if out := run(urlA, "mirror", "reverse-and-start", "orders"); out != "Request for reversing local mirror and starting remote mirror for topic orders was successfully scheduled.\n" {
		t.Fatalf("reverse-and-start: %q", out)
	}
	// Producers come back to A as new clients (the old one's idempotent
	// sequences were partly truncated away; franz-go recovers from that
	// too, after its retries).
	produce(tandemtest.NewClient(t, a.Addr(), kgo.DefaultProduceTopic("orders"), kgo.RecordPartitioner(kgo.ManualPartitioner())), 1)
	for deadline := time.Now().Add(20 * time.Second); ends(b.Addr()) != 12; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("B, A's mirror now, holds %d records, want 12", ends(b.Addr()))
		}
	}
	if out := run(urlB, "mirror", "list"); !strings.Contains(out, "ACTIVE") {
		t.Fatalf("B after reverse-and-start: %s", out)
	}
}
