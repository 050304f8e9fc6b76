package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
	"github.com/tandem-streaming/tandem/internal/wire"
)

// FuzzHandle sends arbitrary bodies, for every served API at every served
// version, through the broker's request handling: decoding, validation
// (record batches included, via Produce) and the handlers' semantics. The
// broker must answer or refuse, never panic, and keep serving.
func FuzzHandle(f *testing.F) {
	versions := broker.Versions()
	seed := func(req kmsg.Request) {
		for i, v := range versions {
			if v.Key == req.Key() {
				f.Add(uint8(i), uint8(req.GetVersion()), req.AppendTo(nil))
			}
		}
	}
	p := kmsg.NewPtrProduceRequest()
	p.Version, p.Acks, p.TimeoutMillis = 9, 1, 1000
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = "fz"
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Records = rawBatchNoT(3)
	pt.Partitions = append(pt.Partitions, pp)
	p.Topics = append(p.Topics, pt)
	seed(p)
	fr := fetchReq("fz", 0, 0, 10)
	fr.Version = 12
	seed(fr)
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 12
	seed(md)
	ct := kmsg.NewPtrCreateTopicsRequest()
	ct.Version = 5
	seed(ct)
	ic := kmsg.NewPtrIncrementalAlterConfigsRequest()
	ic.Version = 1
	seed(ic)

	b := tandemtest.Start(f, tandemtest.Config("auto.create.topics.enable", "false"))
	br := b.Node.Broker()
	if _, err := br.CreateTopic(broker.TopicSpec{Name: "fz", Partitions: 2, ReplicationFactor: 1}, false); err != nil {
		f.Fatal(err)
	}
	conn := &broker.Conn{Listener: "FUZZ"}
	f.Fuzz(func(t *testing.T, keyIdx, version uint8, body []byte) {
		v := versions[int(keyIdx)%len(versions)]
		h := wire.Header{Key: v.Key, Version: int16(version)}
		req := kmsg.RequestForKey(v.Key)
		req.SetVersion(h.Version)
		h.Flexible = req.IsFlexible()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		reply, err := br.Handle(ctx, conn, h, body)
		if err != nil {
			return // refused: the server closes the connection
		}
		resp := reply.Resp
		if reply.Wait != nil {
			resp = reply.Wait()
		}
		if resp != nil {
			_ = wire.AppendResponse(nil, 1, resp) // must encode
		}
	})
}

func rawBatchNoT(n int) []byte {
	return rawBatchT(nil, -1, -1, -1, n)
}
