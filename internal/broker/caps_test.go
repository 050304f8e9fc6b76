package broker_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

const tooManyMsg = "Excessively large number of partitions per request"

// TestCreateTopicsPartitionCap sends the CreateTopics of 100k
// partitions, and requests just over and at the default cap of 10,000.
func TestCreateTopicsPartitionCap(t *testing.T) {
	b := tandemtest.Start(t)
	cl := client(t, b)
	adm := kadm.NewClient(cl)

	createTopics := func(validateOnly bool, topics ...kmsg.CreateTopicsRequestTopic) *kmsg.CreateTopicsResponse {
		t.Helper()
		req := kmsg.NewPtrCreateTopicsRequest()
		req.Topics, req.ValidateOnly, req.TimeoutMillis = topics, validateOnly, 30000
		resp, err := req.RequestWith(ctxT(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	topic := func(name string, partitions int32) kmsg.CreateTopicsRequestTopic {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 1
		return rt
	}
	refused := func(resp *kmsg.CreateTopicsResponse, requested int) {
		t.Helper()
		for _, st := range resp.Topics {
			msg := ""
			if st.ErrorMessage != nil {
				msg = *st.ErrorMessage
			}
			want := fmt.Sprintf("%s: %d requested, max.partitions.per.request is 10000", tooManyMsg, requested)
			if st.ErrorCode != kerr.PolicyViolation.Code || msg != want {
				t.Errorf("%s: error %d %q, want POLICY_VIOLATION %q", st.Topic, st.ErrorCode, msg, want)
			}
		}
	}

	start := time.Now()
	for _, validateOnly := range []bool{false, true} {
		refused(createTopics(validateOnly, topic("huge", 100_000)), 100_000)
		// Over the cap only together: every topic fails.
		refused(createTopics(validateOnly, topic("a", 5000), topic("b", 5000), topic("c", 1)), 10_001)
		// num.partitions (1) counts for -1.
		refused(createTopics(validateOnly, topic("d", 10_000), topic("e", -1)), 10_001)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("refusals took %v", d)
	}
	topics, err := adm.ListTopics(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"huge", "a", "b", "c", "d", "e"} {
		if topics.Has(n) {
			t.Errorf("refused topic %s was created", n)
		}
	}

	// At the cap is accepted (validateOnly: nothing is created).
	resp := createTopics(true, topic("a", 5000), topic("b", 4999), topic("c", -1))
	for _, st := range resp.Topics {
		if st.ErrorCode != 0 {
			t.Errorf("%s at the cap: error %d", st.Topic, st.ErrorCode)
		}
	}
	// A duplicate keeps its own INVALID_REQUEST and is not counted.
	resp = createTopics(true, topic("dup", 6000), topic("dup", 6000), topic("f", 1))
	if resp.Topics[0].ErrorCode != kerr.InvalidRequest.Code || resp.Topics[2].ErrorCode != 0 {
		t.Errorf("duplicates: %+v", resp.Topics)
	}
}

func TestCreateTopicsPartitionCapConfigured(t *testing.T) {
	b := tandemtest.Start(t, tandemtest.Config("max.partitions.per.request", "20"))
	cl := client(t, b)
	adm := kadm.NewClient(cl)
	resp, err := adm.CreateTopics(ctxT(t), 10, 1, nil, "x", "y")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resp {
		if r.Err != nil {
			t.Errorf("%s: %v", r.Topic, r.Err)
		}
	}
	resp, err = adm.CreateTopics(ctxT(t), 7, 1, nil, "p", "q", "r")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resp {
		if r.Err != kerr.PolicyViolation || !strings.Contains(r.ErrMessage, "21 requested, max.partitions.per.request is 20") {
			t.Errorf("%s: %v %q, want POLICY_VIOLATION", r.Topic, r.Err, r.ErrMessage)
		}
	}

	// CreatePartitions counts the partitions added.
	for _, validateOnly := range []bool{true, false} {
		ctx := ctxT(t)
		var cr kadm.CreatePartitionsResponses
		if validateOnly {
			cr, err = adm.ValidateCreatePartitions(ctx, 11, "x", "y")
		} else {
			cr, err = adm.CreatePartitions(ctx, 11, "x", "y")
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range cr {
			if r.Err != kerr.PolicyViolation || !strings.Contains(r.ErrMessage, "22 requested") {
				t.Errorf("validateOnly=%v: %s: %v %q, want POLICY_VIOLATION", validateOnly, r.Topic, r.Err, r.ErrMessage)
			}
		}
	}
	cr, err := adm.CreatePartitions(ctxT(t), 10, "x", "y") // 20 added: at the cap
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range cr {
		if r.Err != nil {
			t.Errorf("grow %s by 10: %v", r.Topic, r.Err)
		}
	}
}

// TestMetadataAutoCreateCap sends the Metadata request naming
// 10,000 unknown topics: it creates auto.create.topics.max.per.request
// (100) of them and answers LEADER_NOT_AVAILABLE for the rest.
func TestMetadataAutoCreateCap(t *testing.T) {
	b := tandemtest.Start(t)
	cl := client(t, b)
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = true
	for i := range 10_000 {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(fmt.Sprintf("auto-%05d", i))
		req.Topics = append(req.Topics, rt)
	}
	start := time.Now()
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("Metadata took %v", d)
	}
	var created, retry int
	for _, mt := range resp.Topics {
		switch mt.ErrorCode {
		case 0:
			created++
		case kerr.LeaderNotAvailable.Code:
			retry++
		default:
			t.Fatalf("%s: error %d", *mt.Topic, mt.ErrorCode)
		}
	}
	if created != 100 || retry != 9900 {
		t.Fatalf("created %d, LEADER_NOT_AVAILABLE %d; want 100 and 9900", created, retry)
	}
	topics, err := kadm.NewClient(cl).ListTopics(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(topics.Names()); n != 100 {
		t.Errorf("%d topics exist, want 100", n)
	}

	// The next request creates the next 100: a client that needs its
	// topics converges by retrying.
	req.Topics = req.Topics[:150]
	resp, err = req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, mt := range resp.Topics {
		if mt.ErrorCode != 0 {
			t.Errorf("second request: %s: error %d", *mt.Topic, mt.ErrorCode)
		}
	}
}

func TestMetadataAutoCreateCapConfigured(t *testing.T) {
	b := tandemtest.Start(t,
		tandemtest.Config("num.partitions", "4"),
		tandemtest.Config("max.partitions.per.request", "10"),
		tandemtest.Config("auto.create.topics.max.per.request", "5"))
	cl := client(t, b)
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = true
	for _, n := range []string{"m1", "m2", "m3", "bad name"} {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(n)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	// 4+4 partitions fit in 10; the third topic's 4 do not.
	want := []int16{0, 0, kerr.LeaderNotAvailable.Code, kerr.InvalidTopicException.Code}
	for i, mt := range resp.Topics {
		if mt.ErrorCode != want[i] {
			t.Errorf("%s: error %d, want %d", *mt.Topic, mt.ErrorCode, want[i])
		}
	}
}
