package fetcher

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestPipelineCancelsEveryRequest: every LinkFetch's context is cancelled
// once the pipeline is done with it — applied, failed, refused, a
// duplicate Sequence, or abandoned by a reset while answered and waiting
// for an earlier answer — so that no context timer outlives its request
// until the deadline (RequestTimeout + 7 × max wait each).
func TestPipelineCancelsEveryRequest(t *testing.T) {
	p := newPipeline(nil)
	cancelled := map[*pipeReq]bool{}
	var all []*pipeReq
	issue := func() *pipeReq {
		r := &pipeReq{id: p.issued, req: &PipelinedFetchRequest{}, done: make(chan pipeResult, 1)}
		r.cancel = func() { cancelled[r] = true }
		p.issued++
		all = append(all, r)
		p.inflight = append(p.inflight, r)
		return r
	}
	answer := func(r *pipeReq, seq int32) {
		r.done <- pipeResult{resp: &PipelinedFetchResponse{Sequence: seq, Partitions: map[TopicPartition]PipelinedData{}}}
	}

	// A failed request.
	r := issue()
	r.done <- pipeResult{err: errors.New("connection reset")}
	if failed, err := p.collect(); failed != r || err == nil {
		t.Fatalf("collect: %v, %v", failed, err)
	}
	p.reset()
	// A refused session.
	r = issue()
	r.done <- pipeResult{resp: &PipelinedFetchResponse{Err: kerr.FetchSessionIDNotFound}}
	if _, err := p.collect(); err == nil {
		t.Fatal("refused session not reported")
	}
	p.reset()
	// A Sequence seen twice (the source restarted the session), and an
	// answer waiting in ready when the session is reset.
	a, b, c := issue(), issue(), issue() // a: in flight at the reset
	answer(b, 1)
	answer(c, 1)
	if _, err := p.collect(); err == nil {
		t.Fatal("duplicate sequence not reported")
	}
	p.reset()
	// Applied.
	d := issue()
	answer(d, 0)
	if _, err := p.collect(); err != nil {
		t.Fatal(err)
	}
	p.applyReady(func(x pipeAnswer) { p.applied(x.r) })
	_ = a
	for i, x := range all {
		if !cancelled[x] {
			t.Errorf("request %d (#%d of its session): context never cancelled", i, x.id)
		}
	}
}
