package broker

// InitProducerId: v0-5
//
// Behaviour:
//   - Idempotent producers (null TransactionalID) get a fresh producer id
//     with epoch 0, as Kafka's ProducerIdManager hands out; ids are
//     allocated from blocks reserved durably in cluster metadata, so an id
//     is never reused after a restart. A v3+ request carrying an existing
//     id/epoch (KIP-360 epoch bump) also gets a fresh id, which is what
//     Kafka does for non-transactional producers.
//   - No id at or below the largest producer id in mirrored data is handed
//     out (producerIDs.floor): mirror topics carry the source cluster's
//     producer ids, and a fresh local producer sharing one would be refused
//     with OUT_OF_ORDER_SEQUENCE_NUMBER once the mirror is promoted.
//   - Transactional producers need the transaction coordinator, which does
//     not exist yet: they get UNSUPPORTED_VERSION, with a log line saying
//     why (the response has no ErrorMessage field). FindCoordinator
//     answers this node for transactional ids so that this is where they
//     stop. What the clients do with it:
//       franz-go: fatal at once ("producer ID has a fatal, unrecoverable
//         error, err: UNSUPPORTED_VERSION: The version of API is not
//         supported.");
//       Sarama: NewSyncProducer fails at once ("kafka server: The version
//         of API is not supported");
//       Java (TransactionManager.InitProducerIdHandler): not retriable, not
//         an authorization error, so fatal ("Unexpected error in
//         InitProducerIdResponse; The version of API is not supported.");
//       librdkafka (rd_kafka_idemp_request_pid_failed): logs "Failed to
//         acquire transactional PID ...: Broker: API version not
//         supported: retrying" every 500 ms and fails init_transactions()
//         at its timeout with UNSUPPORTED_VERSION. It makes no error here
//         fatal but INVALID_TRANSACTION_TIMEOUT and the authorization
//         errors, which would print as something else.
//     TRANSACTIONAL_ID_AUTHORIZATION_FAILED, the earlier answer, failed
//     fast everywhere but reads as an ACL problem. Retriable errors such
//     as COORDINATOR_NOT_AVAILABLE would make clients spin.
//   - Authorization (KafkaApis.handleInitProducerIdRequest), checked first:
//     with a transactional id, WRITE on it, else
//     TRANSACTIONAL_ID_AUTHORIZATION_FAILED (so a refused principal learns
//     nothing more); without one, IDEMPOTENT_WRITE on the cluster or, since
//     KIP-679 made idempotence the default, WRITE on any topic (the
//     authorizer's AuthorizeByResourceType), else
//     CLUSTER_AUTHORIZATION_FAILED.
//
// Version notes:
//   - v2: flexible; v3: ProducerID/ProducerEpoch; v4: PRODUCER_FENCED
//   - v5: KIP-890 (served only without a transactional id here)

import (
	"errors"
	"math"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
	"github.com/tandem-streaming/tandem/internal/partition"
)

func init() { register(kmsg.InitProducerID, 0, 5, (*Broker).handleInitProducerID) }

func (b *Broker) handleInitProducerID(r *Request) Reply {
	req := r.Req.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		if !b.authorized(r, kmsg.ACLOperationWrite, acl.TransactionalID(*req.TransactionalID)) {
			resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
			return now(resp)
		}
	} else if !b.authorizedCluster(r, kmsg.ACLOperationIdempotentWrite) &&
		!b.authorizedByResourceType(r, kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTopic) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return now(resp)
	}
	if req.TransactionalID != nil {
		b.rlog.Warn("transactional producer refused: transactions are not supported by Tandem yet",
			"transactional_id", *req.TransactionalID, "client_id", r.Header.ClientID)
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		return now(resp)
	}
	id, err := b.producers.next()
	if err != nil {
		b.rlog.Error("allocating producer id", "err", err)
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return now(resp)
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return now(resp)
}

// producerIDBlock is how many ids are reserved per metadata write; Kafka's
// ProducerIdManager uses blocks of 1000 too.
const producerIDBlock = 1000

// errProducerIDsExhausted: a source handed out the largest producer id.
var errProducerIDsExhausted = errors.New("broker: producer ids exhausted")

// pidStore is the part of cluster metadata that reserves producer ids.
type pidStore interface {
	// AllocateProducerIDs durably reserves n ids, none below atLeast, and
	// returns the first.
	AllocateProducerIDs(atLeast, n int64) (int64, error)
}

// producerIDs hands out producer ids from blocks reserved in metadata,
// never one at or below its floor: the largest producer id found in
// mirrored data. A mirror topic's batches are appended verbatim, so its
// partitions' producer state holds the source cluster's producer ids, which
// the source allocates from 0 as this cluster does. A local producer given
// one of them would meet the source producer's epoch and sequence on its
// first write to the topic once it is writable (OUT_OF_ORDER_SEQUENCE_NUMBER
// or INVALID_PRODUCER_EPOCH). The floor is raised by the mirror data path
// before it appends a batch (ObserveProducerID) and recomputed from the
// hosted partitions' producer state at start (New), so it is at or above
// every mirrored id before a mirror can become writable: promote and
// failover drain the data path first. See docs/mirroring.md, "Producer ids".
type producerIDs struct {
	store pidStore
	floor atomic.Int64 // largest producer id in use outside this allocator; -1 none
	mu    sync.Mutex   // guards cur, end; held across a block reservation
	cur   int64
	end   int64
}

func newProducerIDs(s pidStore) *producerIDs {
	p := &producerIDs{store: s}
	p.floor.Store(-1)
	return p
}

// observe raises the floor to pid. It takes no lock and never blocks: the
// mirror data path calls it for every fetched response.
func (p *producerIDs) observe(pid int64) {
	for {
		f := p.floor.Load()
		if pid <= f || p.floor.CompareAndSwap(f, pid) {
			return
		}
	}
}

func (p *producerIDs) next() (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	floor := p.floor.Load()
	if floor == math.MaxInt64 {
		return 0, errProducerIDsExhausted // a source handed out the last id
	}
	if p.cur <= floor {
		// Skip the ids the floor overtook; the rest of the block is
		// still reserved for this allocator alone.
		p.cur = floor + 1
	}
	if p.cur >= p.end {
		first, err := p.store.AllocateProducerIDs(floor+1, producerIDBlock)
		if err != nil {
			return 0, err
		}
		p.cur, p.end = first, first+producerIDBlock
	}
	id := p.cur
	p.cur++
	return id, nil
}

// ObserveProducerID tells the broker that a producer id is in use by
// data it did not allocate (a batch the mirror data path is about to
// append): it will never hand out pid or anything below it again. Cheap
// and lock-free; called by fetcher workers.
func (b *Broker) ObserveProducerID(pid int64) { b.producers.observe(pid) }

// observeHostedProducerIDs raises the producer-id floor to the largest
// producer id in the producer state of every hosted partition. Called at
// start, before the broker serves requests: the producer state of a log is
// rebuilt when it is opened (snapshot and log tail), so it holds every
// mirrored producer that has not expired. All partitions are scanned, not
// only mirrors: a promoted, failed-over or detached mirror is no longer a
// mirror in metadata but its log still carries source producer ids, and
// local producers' ids are below the allocator's next id anyway. An
// expired producer has no state left to collide with.
func (b *Broker) observeHostedProducerIDs() {
	b.parts.EachPartition(func(p *partition.Partition) {
		if ps := p.Log.Producers(); len(ps) > 0 {
			b.producers.observe(ps[len(ps)-1].ProducerID) // sorted by id
		}
	})
}
