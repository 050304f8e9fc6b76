package mirror_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// TestIdempotentProduceAfterFailover: idempotent producers (franz-go's
// default, the Java client's since Kafka 3.0) write to the source; the
// topic is mirrored and failed over; a new idempotent producer on the
// destination writes to it at once. Every produce must succeed at the
// first attempt. Before the destination's producer-id allocator kept a
// floor above the mirrored producer ids, the new producer got id 0, met
// source producer 0's epoch and sequence in the partition's producer state,
// and its first batch was refused with OUT_OF_ORDER_SEQUENCE_NUMBER
// (franz-go then reset its id and retried for ~5 s; other clients fail).
// A destination restarted between mirroring and failover, or after the
// failover, has to take the floor from the logs' producer state.
func TestIdempotentProduceAfterFailover(t *testing.T) {
	for _, tc := range []struct {
		name                        string
		restartBefore, restartAfter bool
		op                          string
	}{
		{"failover", false, false, "failover"},
		{"promote", false, false, "promote"},
		{"restart then failover", true, false, "failover"},
		{"failover then restart", false, true, "failover"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := tandemtest.Start(t)
			dst := tandemtest.Start(t)
			const topic, parts, producers, perProducer = "orders", 3, 3, 60
			admin := kadm.NewClient(newClient(t, src.Addr()))
			if _, err := admin.CreateTopic(ctxT(t), parts, 1, nil, topic); err != nil {
				t.Fatal(err)
			}
			// Several source producers, so the source's ids are 0, 1, 2:
			// the ids the destination allocated first.
			for i := 0; i < producers; i++ {
				produceN(t, newClient(t, src.Addr()), topic, perProducer)
			}
			lm := mirrorOverLink(t, src, dst, topic)
			waitUntil(t, 30*time.Second, "mirror caught up", func() bool {
				var leo int64
				for _, p := range mirrorOf(t, lm, "dr", topic).Partitions {
					leo += p.LocalEndOffset
				}
				return leo == producers*perProducer
			})
			if tc.restartBefore {
				dst.Restart()
				lm = dst.Node.Links()
			}
			res, err := lm.AlterMirrors(ctxT(t), "dr", tc.op, []string{topic}, "", false)
			if err != nil || res[0].Err != nil || res[0].Info.State != metadata.MirrorStopped {
				t.Fatalf("%s: %v %+v", tc.op, err, res)
			}
			if tc.restartAfter {
				dst.Restart()
			}

			// No retries: a refused first batch fails the produce
			// instead of being healed by a producer-id reset.
			cl := newClient(t, dst.Addr(), kgo.DefaultProduceTopic(topic),
				kgo.RecordRetries(0), kgo.RequestRetries(1), kgo.RecordDeliveryTimeout(3*time.Second))
			for i := 0; i < 30; i++ {
				r := &kgo.Record{Key: []byte(fmt.Sprint("k", i)), Value: []byte(fmt.Sprint("after-", i))}
				if err := cl.ProduceSync(ctxT(t), r).FirstErr(); err != nil {
					t.Fatalf("produce %d to the %s mirror: %v", i, tc.op, err)
				}
			}
			pid, epoch, err := cl.ProducerID(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			if pid < producers || epoch != 0 {
				t.Fatalf("destination producer has id %d epoch %d; want an id above the mirrored 0..%d, epoch 0", pid, epoch, producers-1)
			}
		})
	}
}
