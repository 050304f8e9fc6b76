package broker_test

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// A long poll that read some bytes (fewer than MinBytes), was woken by an
// append and read again answers once: tandem_bytes_out_total counts the
// bytes of that answer, not those of every read.
func TestFetchBytesOutCountedOncePerAnswer(t *testing.T) {
	b := tandemtest.Start(t)
	cl := client(t, b)
	createTopic(t, cl, "bo", 1, nil)
	produceSync := func(v string) {
		t.Helper()
		if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: "bo", Partition: 0, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produceSync("first")

	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = -1, 2000, 1<<20, 1<<20
	req.SessionEpoch = -1
	tds, err := kadm.NewClient(cl).ListTopics(ctxT(t), "bo")
	if err != nil {
		t.Fatal(err)
	}
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = "bo", tds["bo"].ID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LastFetchedEpoch, rp.LogStartOffset = 1<<20, -1, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	type answer struct {
		resp *kmsg.FetchResponse
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		r, err := req.RequestWith(ctxT(t), cl)
		got <- answer{r, err}
	}()
	// The poll reads "first" (fewer than MinBytes) and waits; the next
	// append wakes it and it reads both batches, then waits again until
	// MaxWait (MinBytes is still not reached).
	time.Sleep(300 * time.Millisecond)
	produceSync("second")
	a := <-got
	if a.err != nil {
		t.Fatal(a.err)
	}
	answered := len(a.resp.Topics[0].Partitions[0].RecordBatches)
	if p := a.resp.Topics[0].Partitions[0]; answered == 0 || p.ErrorCode != 0 {
		t.Fatalf("the long poll answered %d bytes, error %d", answered, p.ErrorCode)
	}
	resp, err := http.Get("http://" + b.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`(?m)^tandem_bytes_out_total\{topic="bo"\} (\S+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no tandem_bytes_out_total for bo")
	}
	if out, _ := strconv.ParseFloat(string(m[1]), 64); int(out) != answered {
		t.Fatalf("tandem_bytes_out_total = %v, the answer carried %d bytes", out, answered)
	}
}
