package mirror_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// rdConsumer is a confluent-kafka (librdkafka) group consumer: it reads n
// records of topic in group from the earliest offset (or the group's
// committed ones), commits synchronously, closes, and prints the
// [partition, offset] of every record it read.
const rdConsumer = `
import json, sys
from confluent_kafka import Consumer
bootstrap, group, topic, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
              "auto.offset.reset": "earliest", "session.timeout.ms": 6000})
c.subscribe([topic])
got = []
while len(got) < n:
    m = c.poll(30)
    if m is None:
        sys.exit("timed out after %d records" % len(got))
    if m.error():
        sys.exit(str(m.error()))
    got.append([m.partition(), m.offset()])
c.commit(asynchronous=False)
c.close()
print(json.dumps(got))
`

const rdPython = "/usr/bin/python3"

func runRdConsumer(t *testing.T, bootstrap, group, topic string, n int) map[int32][]int64 {
	t.Helper()
	out, err := exec.CommandContext(ctxT(t), rdPython, "-c", rdConsumer, bootstrap, group, topic, fmt.Sprint(n)).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("confluent-kafka consumer: %v: %s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var recs [][2]int64
	if err := json.Unmarshal(out, &recs); err != nil {
		t.Fatalf("consumer output %q: %v", out, err)
	}
	got := map[int32][]int64{}
	for _, r := range recs {
		got[int32(r[0])] = append(got[int32(r[0])], r[1])
	}
	return got
}

// TestConsumerOffsetSyncLibrdkafka: a confluent-kafka consumer group
// commits on the source; within one sync interval the destination holds
// the same offsets; after failover the same group, started on the
// destination with the same group id, resumes exactly there.
func TestConsumerOffsetSyncLibrdkafka(t *testing.T) {
	if _, err := os.Stat(rdPython); err != nil {
		t.Skip("no " + rdPython)
	}
	if err := exec.Command(rdPython, "-c", "import confluent_kafka").Run(); err != nil {
		t.Skip("confluent_kafka is not installed for " + rdPython)
	}
	src := tandemtest.Start(t)
	dst := tandemtest.Start(t)
	scl := newClient(t, src.Addr(), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	dcl := newClient(t, dst.Addr(), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	lm := offsetSyncLink(t, src, dst, scl, "events", 3, 300, "1000", `{"groupFilters":[{"name":"rd-","patternType":"PREFIXED"}]}`)
	srcRead := runRdConsumer(t, src.Addr(), "rd-app", "events", 120)
	want := committed(t, scl, "rd-app", "events")
	var n int
	for p, o := range want {
		n++
		if last := srcRead[p]; len(last) > 0 && o.At != last[len(last)-1]+1 {
			t.Fatalf("source commit %+v after reading %v", want, srcRead)
		}
	}
	took := waitUntil(t, 10*time.Second, "rd-app synced", func() bool {
		return sameOffsets(want, committed(t, dcl, "rd-app", "events"))
	})
	t.Logf("confluent-kafka group synced after %v (%d partitions)", took, n)

	res, _ := lm.AlterMirrors(ctxT(t), "dr", "failover", []string{"events"}, "", false)
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	waitUntil(t, 30*time.Second, "events stopped", func() bool {
		return mirrorOf(t, lm, "dr", "events").State == metadata.MirrorStopped
	})
	produceN(t, dcl, "events", 30)
	at := committed(t, dcl, "rd-app", "events")
	var got map[int32][]int64
	checkResumed(t, at, func(n int) map[int32][]int64 {
		got = runRdConsumer(t, dst.Addr(), "rd-app", "events", n)
		return got
	}, remainingFrom(t, dcl, "events", at))
	if len(got) != 3 {
		t.Errorf("read %d partitions on the destination: %v", len(got), got)
	}
}
