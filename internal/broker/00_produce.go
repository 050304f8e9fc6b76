package broker

// Produce: v3-11
//
// Behaviour:
//   - Records must be RecordBatch v2 (magic 2); they are validated (CRC,
//     header consistency, no control batches from clients, sizes,
//     timestamps) and appended as received: the log sets only baseOffset
//     and partitionLeaderEpoch (LogAppendTime topics excepted), so the CRC
//     the producer computed is the CRC consumers and mirrors verify.
//   - Idempotent producers: the log checks per-producer sequences; a
//     retried duplicate of one of the last five batches is answered with
//     its original offset and no error (Kafka ProducerStateEntry).
//   - acks=all waits until the HighWatermark covers the batch, which on
//     this single-node broker means it has been fsynced (docs/storage.md);
//     TimeoutMillis bounds the wait (REQUEST_TIMED_OUT). min.insync.replicas
//     above the one replica we have fails with NOT_ENOUGH_REPLICAS.
//   - acks=1 answers once the data is written to the log; acks=0 sends no
//     response, and the connection is closed if any partition failed, as
//     Kafka does, so that the producer notices.
//   - Mirror topics of a cluster link are read-only until promoted or
//     failed over: INVALID_REQUEST "Cannot append records to read-only
//     mirror topic '<topic>'" (Confluent's message).
//   - Internal topics (__consumer_offsets) are written only by the broker:
//     INVALID_TOPIC_EXCEPTION, as Kafka answers.
//   - Transactional produce needs the transaction coordinator, which does
//     not exist yet: such requests get UNSUPPORTED_VERSION (transactional
//     id given; as InitProducerId answers, see 22_init_producer_id.go) or
//     INVALID_TXN_STATE (transactional batch), with the ErrorMessage
//     "transactions are not supported by Tandem yet" from v8.
//
//   - Authorization (KafkaApis.handleProduceRequest): a request carrying
//     transactional batches needs WRITE on its transactional id, else every
//     partition answers TRANSACTIONAL_ID_AUTHORIZATION_FAILED; then WRITE
//     on each topic, else TOPIC_AUTHORIZATION_FAILED for each of its
//     partitions (before the topic's existence is checked, so a refused
//     principal cannot probe for topic names). With no authorizer, a
//     transactional batch gets INVALID_TXN_STATE as before.
//
//   - ApiVersions advertises Produce from v0 although v0-2 are not served
//     (a v0-2 request closes the connection): librdkafka before 2.11.1
//     refuses to compress unless the broker lists Produce v0
//     (librdkafka#4956). Kafka 4.0 does the same (KAFKA-18659).
//
// Version notes:
//   - v3: RecordBatch v2, TransactionID; v5: LogStartOffset in the response
//   - v8: ErrorRecords and ErrorMessage (KIP-467); v9: flexible
//   - v10/v11: CurrentLeader/NodeEndpoints tags (KIP-951), which we never
//     need to fill because this node leads every partition.
//   - v12 (KIP-890 transactions v2) and v13 (topic ids) are not served.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
	"github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/record"
)

func init() {
	register(kmsg.Produce, 3, 11, (*Broker).handleProduce)
	advertiseFrom(kmsg.Produce, 0)
}

// errTxnUnsupported is the ErrorMessage of a transactional produce.
var errTxnUnsupported = errors.New("transactions are not supported by Tandem yet")

func (b *Broker) handleProduce(r *Request) Reply {
	req := r.Req.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)

	type waiter struct {
		ti, pi int
		log    *log.Log
		last   int64
	}
	var (
		waits  []waiter
		failed bool
	)
	acksValid := req.Acks == -1 || req.Acks == 0 || req.Acks == 1
	// authErr refuses every partition (transactional id), topicErr the
	// partitions of one topic (WRITE on it); Kafka sends no message.
	authErr := b.produceTxnAuthorization(r, req)
	write := b.topicAuthz(r, kmsg.ACLOperationWrite)
	for ti, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		topicErr := authErr
		if topicErr == nil && !write.allowed(rt.Topic) {
			topicErr = kerr.TopicAuthorizationFailed
		}
		for pi, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			if topicErr != nil {
				failed = true
				sp.ErrorCode, sp.BaseOffset = topicErr.Code, -1
				if b.metrics != nil {
					b.metrics.ObserveError(int16(kmsg.Produce), topicErr.Code)
				}
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			l, last, err := b.produceOne(req, rt.Topic, rp, &sp, acksValid)
			if err != nil {
				failed = true
				ke := errorCode(err)
				sp.ErrorCode = ke.Code
				if req.Version >= 8 {
					sp.ErrorMessage = msgOf(err)
				}
				if b.metrics != nil {
					b.metrics.ObserveError(int16(kmsg.Produce), ke.Code)
				}
			} else if req.Acks == -1 {
				waits = append(waits, waiter{ti: ti, pi: pi, log: l, last: last})
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if req.Acks == 0 {
		return Reply{NoResponse: true, Close: failed}
	}
	if len(waits) == 0 {
		return now(resp)
	}
	timeout := time.Duration(req.TimeoutMillis) * time.Millisecond
	return Reply{Wait: func() kmsg.Response {
		ctx, cancel := context.WithTimeout(r.Ctx, timeout)
		defer cancel()
		for _, w := range waits {
			if err := w.log.WaitHighWatermark(ctx, w.last+1); err != nil {
				sp := &resp.Topics[w.ti].Partitions[w.pi]
				sp.ErrorCode = kerr.RequestTimedOut.Code
				if req.Version >= 8 {
					sp.ErrorMessage = msgOf(fmt.Errorf("not durable within the request timeout of %v: %w", timeout, err))
				}
			}
		}
		return resp
	}}
}

// produceTxnAuthorization is Kafka's check of a produce request with
// transactional records: WRITE on its transactional id, which must be set.
func (b *Broker) produceTxnAuthorization(r *Request, req *kmsg.ProduceRequest) *kerr.Error {
	if b.authorizer == nil {
		return nil
	}
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			if !hasTransactionalBatch(rp.Records) {
				continue
			}
			if req.TransactionID == nil || !b.authorized(r, kmsg.ACLOperationWrite, acl.TransactionalID(*req.TransactionID)) {
				return kerr.TransactionalIDAuthorizationFailed
			}
			return nil
		}
	}
	return nil
}

// produceOne appends one partition's records and fills sp; it returns the
// log and the last offset written, for acks=all to wait on.
func (b *Broker) produceOne(req *kmsg.ProduceRequest, topic string, rp kmsg.ProduceRequestTopicPartition, sp *kmsg.ProduceResponseTopicPartition, acksValid bool) (*log.Log, int64, error) {
	if !acksValid {
		return nil, 0, kerr.InvalidRequiredAcks
	}
	p, err := b.parts.Get(topic, rp.Partition)
	if err != nil {
		return nil, 0, err
	}
	if p.ReadOnly() {
		// Confluent's wording, which tools and users match on.
		return nil, 0, &kafkaError{ke: kerr.InvalidRequest,
			err: fmt.Errorf("Cannot append records to read-only mirror topic '%s'", topic)}
	}
	if isInternalTopic(topic) {
		// Kafka ReplicaManager: "Cannot append to internal topic".
		return nil, 0, fmt.Errorf("%w %s: only the broker writes to it", ErrInternalTopic, topic)
	}
	if req.TransactionID != nil {
		return nil, 0, &kafkaError{ke: kerr.UnsupportedVersion, err: errTxnUnsupported}
	}
	if req.Acks == -1 && p.MinInsyncReplicas() > 1 {
		return nil, 0, fmt.Errorf("%w: min.insync.replicas=%d but the partition has 1 in-sync replica", kerr.NotEnoughReplicas, p.MinInsyncReplicas())
	}
	if hasTransactionalBatch(rp.Records) {
		return nil, 0, &kafkaError{ke: kerr.InvalidTxnState, err: errTxnUnsupported}
	}
	res, err := p.Log.AppendAsLeader(rp.Records, p.LeaderEpoch())
	if err != nil {
		sp.LogStartOffset = p.Log.LogStartOffset()
		sp.BaseOffset = -1
		return nil, 0, err
	}
	sp.BaseOffset = res.BaseOffset
	sp.LogAppendTime = res.LogAppendTime
	sp.LogStartOffset = res.LogStartOffset
	if b.metrics != nil {
		b.metrics.BytesIn(topic, len(rp.Records))
		if !res.Duplicate {
			b.metrics.MessagesIn(topic, res.Records)
		}
	}
	return p.Log, res.LastOffset, nil
}

func hasTransactionalBatch(records []byte) bool {
	it := record.NewIter(records)
	for batch, ok := it.Next(); ok; batch, ok = it.Next() {
		if batch.IsTransactional() {
			return true
		}
	}
	return false
}
