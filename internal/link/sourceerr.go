package link

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// sourceError turns an error of a franz-go admin request to the source
// cluster into what happened. kadm reports a request that failed on some
// brokers as one *kadm.ShardErrors whose text is the client's
// ("request ListOffsets has 1 separate shard errors, first: ..."); users
// are told, for each failed piece, what was asked about (topic and
// partitions), of which source broker, and the Kafka error. errors.Is and
// errors.As still see the original error (and the Kafka errors in it).
func sourceError(err error) error {
	se, ok := errors.AsType[*kadm.ShardErrors](err)
	if !ok {
		return err
	}
	parts := make([]string, 0, len(se.Errs))
	for _, e := range se.Errs {
		what := shardSubject(e.Req)
		where := "before it reached a source broker"
		if e.Broker.NodeID >= 0 {
			where = fmt.Sprintf("on source broker %d (%s:%d)", e.Broker.NodeID, e.Broker.Host, e.Broker.Port)
		}
		parts = append(parts, fmt.Sprintf("%s %s: %v", what, where, e.Err))
	}
	return &sourceErr{msg: strings.Join(parts, "; "), err: err}
}

type sourceErr struct {
	msg string
	err error
}

func (e *sourceErr) Error() string { return e.msg }
func (e *sourceErr) Unwrap() error { return e.err }

// shardSubject says what one piece of a kadm request asked about.
func shardSubject(req kmsg.Request) string {
	switch r := req.(type) {
	case *kmsg.ListOffsetsRequest:
		var ts []string
		for _, t := range r.Topics {
			ts = append(ts, topicPartitions(t.Topic, len(t.Partitions), func(i int) int32 { return t.Partitions[i].Partition }))
		}
		return "listing offsets of " + strings.Join(ts, ", ")
	case *kmsg.MetadataRequest:
		var ts []string
		for _, t := range r.Topics {
			if t.Topic != nil {
				ts = append(ts, "'"+*t.Topic+"'")
			}
		}
		if len(ts) == 0 {
			return "describing the source cluster"
		}
		return "describing topic " + strings.Join(ts, ", ")
	case *kmsg.DescribeConfigsRequest:
		var ts []string
		for _, r := range r.Resources {
			ts = append(ts, "'"+r.ResourceName+"'")
		}
		return "describing the configs of topic " + strings.Join(ts, ", ")
	case nil:
		return "a request"
	}
	return kmsg.NameForKey(req.Key()) + " request"
}

// topicPartitions renders "topic 'orders' partitions 0, 2".
func topicPartitions(topic string, n int, partition func(int) int32) string {
	ps := make([]int32, n)
	for i := range ps {
		ps[i] = partition(i)
	}
	slices.Sort(ps)
	s := make([]string, n)
	for i, p := range ps {
		s[i] = fmt.Sprint(p)
	}
	word := "partitions"
	if n == 1 {
		word = "partition"
	}
	return fmt.Sprintf("topic '%s' %s %s", topic, word, strings.Join(s, ", "))
}
