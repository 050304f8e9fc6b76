package broker

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/wire"
)

// TestEveryServedVersionHasASchema: a request the pre-scan has no schema
// for is refused, so every (key, version) the broker serves needs one.
func TestEveryServedVersionHasASchema(t *testing.T) {
	for key, d := range registry {
		for v := d.min; v <= d.max; v++ {
			req := kmsg.RequestForKey(key)
			req.SetVersion(v)
			body := req.AppendTo(nil)
			scan, err := wire.Prescan(wire.Header{Key: key, Version: v}, body, defaultDecodedMaxBytes)
			if err != nil {
				t.Errorf("%s v%d: %v", kmsg.NameForKey(key), v, err)
			} else if scan.Used != len(body) {
				t.Errorf("%s v%d: scanned %d of %d bytes", kmsg.NameForKey(key), v, scan.Used, len(body))
			}
		}
	}
}

func fetchBody(partitions int) []byte {
	req := kmsg.NewPtrFetchRequest()
	req.Version = 4
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "t"
	rt.Partitions = make([]kmsg.FetchRequestTopicPartition, partitions)
	req.Topics = []kmsg.FetchRequestTopic{rt}
	return req.AppendTo(nil)
}

func TestDecodeBudget(t *testing.T) {
	h := wire.Header{Key: int16(kmsg.Fetch), Version: 4}
	d := newDecodeBudget(1<<20, 3<<20)

	// Over the per-request budget: refused, nothing reserved.
	if _, _, err := d.decode(h, fetchBody(100000)); !errors.Is(err, wire.ErrDecodeBudget) {
		t.Fatalf("err = %v, want ErrDecodeBudget", err)
	}
	if n := d.inUse.Load(); n != 0 {
		t.Fatalf("in use %d after a refusal", n)
	}

	// Within it: reserved until released; the broker-wide budget
	// refuses the request that would pass it.
	body := fetchBody(8000)
	var releases []func()
	for {
		_, release, err := d.decode(h, body)
		if errors.Is(err, wire.ErrDecodeBudget) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, release)
		if len(releases) > 100 {
			t.Fatal("broker-wide budget never refused")
		}
	}
	if len(releases) < 2 {
		t.Fatalf("only %d requests fit", len(releases))
	}
	for _, r := range releases {
		r()
		r() // idempotent
	}
	if n := d.inUse.Load(); n != 0 {
		t.Fatalf("in use %d after every release", n)
	}
}

// TestHoldUntilAnswered: an immediate reply releases at once; a deferred
// one after its Wait, or when the connection ends without a Wait.
func TestHoldUntilAnswered(t *testing.T) {
	released := 0
	release := func() { released++ }
	holdUntilAnswered(context.Background(), Reply{Resp: kmsg.NewPtrFetchResponse()}, release)
	if released != 1 {
		t.Fatalf("immediate reply: released %d", released)
	}

	released = 0
	r := holdUntilAnswered(context.Background(), Reply{Wait: func() kmsg.Response {
		if released != 0 {
			t.Error("released before the wait ended")
		}
		return kmsg.NewPtrFetchResponse()
	}}, release)
	r.Wait()
	if released != 1 {
		t.Fatalf("after Wait: released %d", released)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	holdUntilAnswered(ctx, Reply{Wait: func() kmsg.Response { return nil }}, func() { close(done) })
	cancel()
	<-done // the connection ended: released without a Wait
}
