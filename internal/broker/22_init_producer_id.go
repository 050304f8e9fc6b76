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
//   - Transactional producers need the transaction coordinator, which does
//     not exist yet: they get TRANSACTIONAL_ID_AUTHORIZATION_FAILED, a
//     fatal, non-retriable error, with a log line saying why. (Retriable
//     errors such as COORDINATOR_NOT_AVAILABLE would make clients spin.)
//
// Version notes:
//   - v2: flexible; v3: ProducerID/ProducerEpoch; v4: PRODUCER_FENCED
//   - v5: KIP-890 (served only without a transactional id here)

import (
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.InitProducerID, 0, 5, (*Broker).handleInitProducerID) }

func (b *Broker) handleInitProducerID(r *Request) Reply {
	req := r.Req.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		b.rlog.Warn("transactional producer refused: transactions are not supported yet",
			"transactional_id", *req.TransactionalID, "client_id", r.Header.ClientID)
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
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

// pidStore is the part of cluster metadata that reserves producer ids.
type pidStore interface {
	// AllocateProducerIDs durably reserves n ids and returns the first.
	AllocateProducerIDs(n int64) (int64, error)
}

type producerIDs struct {
	store pidStore
	mu    sync.Mutex
	cur   int64
	end   int64
}

func newProducerIDs(s pidStore) *producerIDs { return &producerIDs{store: s} }

func (p *producerIDs) next() (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur >= p.end {
		first, err := p.store.AllocateProducerIDs(producerIDBlock)
		if err != nil {
			return 0, err
		}
		p.cur, p.end = first, first+producerIDBlock
	}
	id := p.cur
	p.cur++
	return id, nil
}
