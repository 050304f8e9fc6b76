package fetcher

import (
	"fmt"
	"time"

	"github.com/tandem-streaming/tandem/internal/javautil"
)

// fetcherID is Kafka's AbstractFetcherManager.getFetcherId:
//
//	Utils.abs(31 * topic.hashCode() + partitionId) % numFetchersPerBroker
//
// with Java's String.hashCode (int32 overflow arithmetic over UTF-16 code
// units) and Utils.abs (Math.abs, except that Integer.MIN_VALUE maps to 0
// rather than staying negative), so partitions spread over fetchers exactly
// as Kafka spreads them.
func fetcherID(tp TopicPartition, n int) int {
	if n <= 1 {
		return 0
	}
	return int(javautil.Abs(31*javautil.StringHashCode(tp.Topic)+tp.Partition)) % n
}

// discovered: p's leader comes from the source's metadata (it was not
// told one). Caller holds opMu or mu.
func (p *partition) discovered() bool { return p.told == nil }

// SetLeaders tells the Fetcher the leaders of partitions (Kafka's
// addFetcherForPartitions with an InitialFetchState per partition, as a
// replica follower learns them from LeaderAndIsr or the KRaft metadata
// log). A partition given a leader here, or in PartitionConfig.Leader, is
// placed on that leader's worker and is no longer moved by the source's
// metadata; a new leader or epoch moves or reinitialises it, a lower
// epoch than the one known is ignored (stale), and ID -1 parks it
// without a leader. Unknown partitions are ErrUnknownPart, after the
// known ones were placed. It returns once the workers have applied it.
func (f *Fetcher) SetLeaders(leaders map[TopicPartition]Leader) error {
	f.opMu.Lock()
	defer f.opMu.Unlock()
	if f.ctx.Err() != nil {
		return ErrClosed
	}
	tps := make([]TopicPartition, 0, len(leaders))
	for tp := range leaders {
		tps = append(tps, tp)
	}
	now := f.cfg.Now()
	err := f.each(tps, func(p *partition) error {
		f.placeTold(p, leaders[p.tp], now)
		return nil
	})
	f.stopIdleWorkers()
	return err
}

// placeTold places p on a leader it was told. Caller holds opMu.
func (f *Fetcher) placeTold(p *partition, l Leader, now time.Time) {
	if p.told != nil && l.Epoch >= 0 && l.Epoch < p.epoch {
		return // stale (Kafka ignores a LeaderAndIsr with an older epoch)
	}
	p.told = &l
	if p.failed {
		return
	}
	if l.ID < 0 {
		f.park(p, now, fmt.Errorf("%w: %s", ErrLeaderNotAvailable, p.tp))
		return
	}
	if l.Addr != "" {
		f.mu.Lock()
		f.addrs[l.ID] = l.Addr
		f.mu.Unlock()
	}
	f.assign(p, l.ID, l.Epoch)
}

// AddressedSource is a Source that can reach a broker at an address it was
// told rather than one it discovered (told leaders: Leader.Addr). A Source
// without it resolves broker ids itself (KafkaSource does, from the
// cluster's metadata).
type AddressedSource interface {
	Source
	LeaderAt(broker int32, addr string, fetcherID int) LeaderEndpoint
}

// endpoint is the LeaderEndpoint a new worker talks to. Caller holds mu
// (Fetcher.worker).
func (f *Fetcher) endpoint(key workerKey) LeaderEndpoint {
	addr := f.addrs[key.broker]
	if as, ok := f.src.(AddressedSource); ok && addr != "" {
		return as.LeaderAt(key.broker, addr, key.fetcherID)
	}
	return f.src.Leader(key.broker, key.fetcherID)
}

// newEngine builds a new worker's engine.
func (f *Fetcher) newEngine(key workerKey) *engine {
	return newEngine(f.cfg.engineConfig(), f.cfg.Policy, f.logger.With("fetcher", key.String()))
}
