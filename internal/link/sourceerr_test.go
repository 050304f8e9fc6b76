package link

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestSourceErrorUnwrapsShards: a kadm ShardErrors reaches users as what
// was asked of which broker and the Kafka error, not as franz-go's
// "request ListOffsets has 1 separate shard errors".
func TestSourceErrorUnwrapsShards(t *testing.T) {
	lo := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = "orders"
	for _, p := range []int32{2, 0} {
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition = p
		lt.Partitions = append(lt.Partitions, lp)
	}
	lo.Topics = append(lo.Topics, lt)
	md := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("clicks")
	md.Topics = append(md.Topics, mt)
	se := &kadm.ShardErrors{Name: "ListOffsets", Errs: []kadm.ShardError{
		{Req: lo, Err: kerr.NotLeaderForPartition, Broker: kadm.BrokerDetail{NodeID: 2, Host: "east-2", Port: 9092}},
		{Req: md, Err: errors.New("unable to dial"), Broker: kadm.BrokerDetail{NodeID: -1}},
	}}
	err := sourceError(fmt.Errorf("wrapped: %w", se))
	want := "listing offsets of topic 'orders' partitions 0, 2 on source broker 2 (east-2:9092): " + kerr.NotLeaderForPartition.Error() +
		"; describing topic 'clicks' before it reached a source broker: unable to dial"
	if err.Error() != want {
		t.Fatalf("got  %q\nwant %q", err, want)
	}
	if strings.Contains(err.Error(), "shard") {
		t.Errorf("%q mentions shards", err)
	}
	if !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Error("the Kafka error is no longer in the chain")
	}
	if plain := errors.New("x"); sourceError(plain) != plain {
		t.Error("a non-shard error was changed")
	}
}
