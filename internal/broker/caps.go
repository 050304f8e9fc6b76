package broker

// Per-request caps on admin mutations (issue #9): one request must not make
// the broker create an unbounded number of topics or partitions.
//
//   - max.partitions.per.request bounds the partitions one CreateTopics,
//     CreatePartitions (partitions added) or REST topic creation asks for,
//     summed over its topics. Kafka's KRaft controller refuses a
//     CreateTopics over 10,000 partitions with POLICY_VIOLATION
//     "Excessively large number of partitions per request."
//     (ReplicationControlManager.validateTotalNumberOfPartitions,
//     KAFKA-17870), counting num.partitions for -1 and the assignment
//     size for manual assignments, before validateOnly is looked at; every
//     topic of the request fails. Tandem does the same, with the limit
//     configurable and the numbers in the message, and applies it to
//     CreatePartitions too.
//   - auto.create.topics.max.per.request bounds the topics one Metadata
//     request auto-creates (and their partitions count against
//     max.partitions.per.request). Kafka creates auto-created topics
//     asynchronously and answers LEADER_NOT_AVAILABLE until they exist;
//     topics past the cap get that same retriable answer, so a client
//     that really needs them retries and its next requests create them.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// errTooManyPartitions is the POLICY_VIOLATION for a request over
// max.partitions.per.request.
func (b *Broker) errTooManyPartitions(requested int64) error {
	return &kafkaError{ke: kerr.PolicyViolation, err: fmt.Errorf(
		"Excessively large number of partitions per request: %d requested, max.partitions.per.request is %d",
		requested, b.static.MaxPartitionsPerRequest)}
}

// checkPartitionsPerRequest refuses a request creating more than
// max.partitions.per.request partitions.
func (b *Broker) checkPartitionsPerRequest(requested int64) error {
	if requested > int64(b.static.MaxPartitionsPerRequest) {
		return b.errTooManyPartitions(requested)
	}
	return nil
}

// specPartitions is how many partitions creating s would make, resolving
// -1 to num.partitions as CreateTopic does; invalid counts are 0 (their
// own error comes later).
func (b *Broker) specPartitions(numPartitions int32, assignments int) int64 {
	switch {
	case assignments > 0:
		return int64(assignments)
	case numPartitions == -1:
		return int64(b.static.NumPartitions)
	case numPartitions > 0:
		return int64(numPartitions)
	}
	return 0
}

// CheckCreateTopicCap applies max.partitions.per.request to a single topic
// creation from another surface (the HTTP API), so it cannot create what
// a Kafka CreateTopics could not.
func (b *Broker) CheckCreateTopicCap(s TopicSpec) error {
	return b.checkPartitionsPerRequest(b.specPartitions(s.Partitions, len(s.Assignment)))
}

// createTopicsPartitions sums the partitions a CreateTopics request asks
// for, skipping topics named more than once (they fail on their own).
func (b *Broker) createTopicsPartitions(req *kmsg.CreateTopicsRequest, seen map[string]int) int64 {
	var total int64
	for _, rt := range req.Topics {
		if seen[rt.Topic] == 1 {
			total += b.specPartitions(rt.NumPartitions, len(rt.ReplicaAssignment))
		}
	}
	return total
}

// createPartitionsAdded sums the partitions a CreatePartitions request
// adds to existing topics; unknown topics and counts that do not grow add
// nothing (they fail on their own).
func (b *Broker) createPartitionsAdded(req *kmsg.CreatePartitionsRequest, seen map[string]int) int64 {
	var total int64
	for _, rt := range req.Topics {
		if seen[rt.Topic] != 1 {
			continue
		}
		if t, ok := b.store.Topic(rt.Topic); ok && rt.Count > t.Partitions {
			total += int64(rt.Count) - int64(t.Partitions)
		}
	}
	return total
}

// autoCreateBudget tracks what one Metadata request may still auto-create.
type autoCreateBudget struct {
	topics     int32
	partitions int64
}

func (b *Broker) newAutoCreateBudget() *autoCreateBudget {
	return &autoCreateBudget{topics: b.static.AutoCreateTopicsMaxPerRequest, partitions: int64(b.static.MaxPartitionsPerRequest)}
}

// take reserves one topic of n partitions, reporting false when the
// request has used its budget.
func (a *autoCreateBudget) take(n int64) bool {
	if a.topics <= 0 || n > a.partitions {
		return false
	}
	a.topics--
	a.partitions -= n
	return true
}
