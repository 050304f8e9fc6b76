package broker

// FindCoordinator: v0-6
//
// Behaviour:
//   - Group keys (type 0): this node coordinates every group (it leads
//     every __consumer_offsets partition). Whether the group's shard has
//     loaded is not checked here: the group requests that follow answer
//     COORDINATOR_LOAD_IN_PROGRESS until it has, as in Kafka.
//   - Transactional ids (type 1): there is no transaction coordinator
//     yet, but the answer is this node, so that the client's next request,
//     InitProducerId with the transactional id, is what refuses: it
//     answers UNSUPPORTED_VERSION, which every client prints as "not
//     supported" (see 22_init_producer_id.go for each client). An error
//     here would not do: librdkafka (rd_kafka_txn_handle_FindCoordinator)
//     retries every FindCoordinator error except
//     TRANSACTIONAL_ID_AUTHORIZATION_FAILED until init_transactions()
//     times out with a bare "Timed out", and that one code is printed as
//     an authorization problem by every client. Checked with franz-go,
//     Sarama, kcat and confluent-kafka-python (librdkafka 2.0.2).
//   - Share groups (type 2, KIP-932) are not supported: INVALID_REQUEST,
//     which is what Kafka answers when share groups are disabled; any
//     other type is INVALID_REQUEST too.
//   - Authorization (KafkaApis.getCoordinator), before anything else: a
//     group key needs DESCRIBE on the group (GROUP_AUTHORIZATION_FAILED), a
//     transactional id DESCRIBE on it (TRANSACTIONAL_ID_AUTHORIZATION_FAILED),
//     per key from v4; before v4 the error carries Kafka's message.
//
// Version notes:
//   - v1: CoordinatorType, ErrorMessage; v3: flexible
//   - v4: batched CoordinatorKeys with per-key errors (KIP-699)
//   - v5: TRANSACTION_ABORTABLE may be returned (KIP-890), never here
//   - v6: share group keys (KIP-932)

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
)

func init() { register(kmsg.FindCoordinator, 0, 6, (*Broker).handleFindCoordinator) }

// Coordinator key types (Kafka's CoordinatorType).
const (
	coordinatorGroup       = 0
	coordinatorTransaction = 1
)

func (b *Broker) handleFindCoordinator(r *Request) Reply {
	req := r.Req.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	keys := req.CoordinatorKeys
	if req.Version < 4 {
		keys = []string{req.CoordinatorKey}
	}
	for _, key := range keys {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key = key
		c.NodeID, c.Port = -1, -1 // Kafka's Node.noNode() on error
		var msg string
		switch {
		case req.CoordinatorType == coordinatorGroup && !b.authorized(r, kmsg.ACLOperationDescribe, acl.Group(key)):
			c.ErrorCode = kerr.GroupAuthorizationFailed.Code
			if req.Version < 4 {
				msg = msgGroupAuthorizationFailed
			}
		case req.CoordinatorType == coordinatorTransaction && !b.authorized(r, kmsg.ACLOperationDescribe, acl.TransactionalID(key)):
			c.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
			if req.Version < 4 {
				msg = msgTxnIDAuthorizationFailed
			}
		case req.CoordinatorType == coordinatorGroup && b.groups == nil:
			c.ErrorCode = kerr.CoordinatorNotAvailable.Code
			msg = "the group coordinator is not running"
		case req.CoordinatorType == coordinatorGroup, req.CoordinatorType == coordinatorTransaction:
			c.NodeID = b.nodeID
			c.Host, c.Port = b.advertised(r.Conn)
		default:
			c.ErrorCode = kerr.InvalidRequest.Code
			msg = "unsupported coordinator type"
		}
		if msg != "" {
			c.ErrorMessage = &msg
		}
		resp.Coordinators = append(resp.Coordinators, c)
	}
	if req.Version < 4 {
		c := resp.Coordinators[0]
		resp.Coordinators = nil
		resp.ErrorCode, resp.NodeID, resp.Host, resp.Port = c.ErrorCode, c.NodeID, c.Host, c.Port
		if req.Version >= 1 {
			resp.ErrorMessage = c.ErrorMessage
		}
	}
	return now(resp)
}
