package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// StallOptions says what RunAdminStall measures: how much one big admin
// operation (creating a topic of Partitions partitions) slows produce to
// another topic on the same broker (issue #9: opening logs under the
// partition manager's lock once stalled every produce for the whole
// create). A producer sends acks=all records to Other one at a time from
// before the create until after it, and the latency of each is recorded.
type StallOptions struct {
	Brokers    []string
	Topic      string // created with Partitions partitions; must not exist
	Partitions int32
	Other      string // produced to; created with 1 partition if missing
	Out        io.Writer
}

// StallResult is what RunAdminStall measured.
type StallResult struct {
	CreateTook    time.Duration
	Produces      int64 // acknowledged while the create ran
	P50, P99, Max time.Duration
	ProduceErrors int64
}

// RunAdminStall creates the topic while producing to another one and
// reports the create's duration and the produce latencies meanwhile.
func RunAdminStall(ctx context.Context, o StallOptions) (StallResult, error) {
	var res StallResult
	if len(o.Brokers) == 0 || o.Topic == "" || o.Other == "" || o.Partitions < 1 {
		return res, errors.New("bench: admin-stall needs brokers, --topic, --other and --partitions >= 1")
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(o.Brokers...), kgo.DefaultProduceTopic(o.Other),
		kgo.ProducerLinger(0), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		return res, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if r, err := adm.CreateTopic(ctx, 1, -1, nil, o.Other); err != nil {
		return res, err
	} else if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
		return res, fmt.Errorf("create %s: %w", o.Other, r.Err)
	}
	for range 20 { // warm up: metadata, connection, producer id
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("warm-up")}).FirstErr(); err != nil {
			return res, err
		}
	}
	var h histogram
	var stop atomic.Bool
	var errs atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() && ctx.Err() == nil {
			s := time.Now()
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
				errs.Add(1)
				continue
			}
			h.Record(time.Since(s))
		}
	}()
	start := time.Now()
	r, err := adm.CreateTopic(ctx, o.Partitions, -1, nil, o.Topic)
	res.CreateTook = time.Since(start)
	stop.Store(true)
	<-done
	if err == nil {
		err = r.Err
	}
	if err != nil {
		return res, fmt.Errorf("create %s: %w", o.Topic, err)
	}
	res.Produces, res.ProduceErrors = h.Count(), errs.Load()
	res.P50, res.P99, res.Max = h.Quantile(0.5), h.Quantile(0.99), h.Max()
	if o.Out != nil {
		fmt.Fprintf(o.Out, "create %s (%d partitions): %v; meanwhile %d acks=all produces to %s: p50 %v p99 %v max %v, %d errors\n",
			o.Topic, o.Partitions, res.CreateTook.Round(time.Millisecond), res.Produces, o.Other,
			res.P50, res.P99, res.Max, res.ProduceErrors)
		b, _ := json.Marshal(res)
		fmt.Fprintln(o.Out, string(b))
	}
	return res, nil
}
