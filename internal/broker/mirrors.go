package broker

import (
	"errors"
	"fmt"

	"github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/partition"
	"github.com/tandem-streaming/tandem/internal/usererr"
)

// This file is the broker's side of cluster linking: what the link manager
// (internal/link) may do to mirror topics that clients may not.

// CreateMirrorTopic creates a mirror topic: the source's partition count,
// the synced configs, read-only until promoted or failed over.
func (b *Broker) CreateMirrorTopic(name string, partitions int32, configs map[string]string, m metadata.Mirror) (metadata.Topic, error) {
	if _, ok := b.store.Topic(name); ok {
		// Confluent: re-creating a mirror over an existing topic fails
		// with "Topic 'X' already exists."
		return metadata.Topic{}, usererr.New(metadata.ErrTopicExists, "Topic '%s' already exists.", name)
	}
	m.StateTimeMs = b.now().UnixMilli()
	return b.CreateTopic(TopicSpec{Name: name, Partitions: partitions, ReplicationFactor: 1, Configs: configs, Mirror: &m}, false)
}

// SetMirrorState persists a mirror topic's state; the reconciler applies
// its read-only flag (and the new epochs of a stop) before it returns.
// One compare-and-set write of the topic: state and epochs change together.
func (b *Broker) SetMirrorState(topic string, m metadata.Mirror) error {
	_, err := metadata.UpdateTopic(b.store, topic, func(t *metadata.Topic) error {
		if t.Mirror == nil && m.State != metadata.MirrorPendingRestore && m.State != metadata.MirrorPendingSetupForRestore {
			return usererr.New(metadata.ErrUnknownTopic, "topic '%s' is not a mirror topic", topic)
		}
		// truncate-and-restore turns an ordinary topic into a mirror:
		// PENDING_RESTORE is one state an ordinary topic may enter
		// (internal/link/restore.go); the other is a reverse's fence,
		// PENDING_SETUP_FOR_RESTORE (internal/link/failback_answer.go),
		// read-only at once.
		was := metadata.MirrorStopped
		if t.Mirror != nil {
			was = t.Mirror.State
		}
		if m.State != was || t.Mirror == nil {
			m.StateTimeMs = b.now().UnixMilli()
		}
		// Leaving PENDING_RESTORE, the truncation is done: a new leader
		// epoch fences fetchers and consumers holding the old one, which
		// then find the truncation with OffsetsForLeaderEpoch (KIP-320),
		// as after a Kafka leader change that truncated the log.
		if m.State == metadata.MirrorStopped || (was == metadata.MirrorPendingRestore && m.State != was) {
			// New writes after failover/promote start a new leader epoch
			// above every epoch the mirror copied from the source, so
			// that divergence from the source is detectable later
			// (KIP-1279's DLE ≥ SLE, and what a new leader does in
			// Kafka).
			epochs, err := b.epochsPastLog(*t)
			if err != nil {
				return err
			}
			t.LeaderEpochs = epochs
		}
		mm := m
		t.Mirror = &mm
		return nil
	})
	if err != nil {
		return err
	}
	return b.rec.sync(topic)
}

// epochsPastLog returns t's leader epochs, each raised to one above both
// its current value and the largest epoch in the partition's log.
func (b *Broker) epochsPastLog(t metadata.Topic) ([]int32, error) {
	epochs := append([]int32(nil), t.LeaderEpochs...)
	for i := range epochs {
		p, err := b.parts.Get(t.Name, int32(i))
		if err != nil {
			return nil, err
		}
		next := epochs[i] + 1
		if e, ok := p.Log.LatestEpoch(); ok && e+1 > next {
			next = e + 1
		}
		epochs[i] = next
	}
	return epochs, nil
}

// RaiseLeaderEpoch keeps a mirror partition's leader epoch at or above the
// largest source epoch it has copied (KIP-1279 DLE ≥ SLE), so consumers
// holding committed offsets with source epochs are not fenced by an older
// local epoch. Called by fetcher workers (EpochKeeper): a compare-and-set
// write of the topic's epochs, then the reconciler applies it; it takes no
// broker lock, so it cannot wait on admin code that waits for the worker.
func (b *Broker) RaiseLeaderEpoch(topic string, p int32, atLeast int32) error {
	if t, ok := b.store.Topic(topic); ok && p >= 0 && int(p) < len(t.LeaderEpochs) && t.LeaderEpochs[p] >= atLeast {
		// Nothing to write (the common case); make sure the partition
		// has it too, in case another writer's change is not applied yet.
		if pt, err := b.parts.Get(topic, p); err == nil && pt.LeaderEpoch() >= atLeast {
			return nil
		}
		return b.rec.sync(topic)
	}
	_, err := metadata.UpdateTopic(b.store, topic, func(t *metadata.Topic) error {
		if p < 0 || int(p) >= len(t.LeaderEpochs) {
			return usererr.New(metadata.ErrUnknownTopic, "topic '%s' has no partition %d", topic, p)
		}
		if t.LeaderEpochs[p] >= atLeast {
			return errNoChange
		}
		t.LeaderEpochs[p] = atLeast
		return nil
	})
	if err != nil && !errors.Is(err, errNoChange) {
		return err
	}
	return b.rec.sync(topic)
}

// errNoChange ends a metadata update that finds nothing to change.
var errNoChange = errors.New("broker: no change")

// SetMirrorConfigs applies configs synced from the source to a mirror.
func (b *Broker) SetMirrorConfigs(topic string, configs map[string]string) error {
	return b.setTopicConfigsAt(topic, configs, -1, false, false)
}

// AddMirrorPartitions grows a mirror to the source's partition count (the
// link's partition sync; clients are refused, see CreatePartitions).
func (b *Broker) AddMirrorPartitions(topic string, total int32) error {
	return b.createPartitions(topic, total, nil, false, false)
}

// MirrorPartition returns a hosted partition of a mirror topic, for the
// link's data path.
func (b *Broker) MirrorPartition(topic string, p int32) (*partition.Partition, error) {
	return b.parts.Get(topic, p)
}

// LogEndOffsets returns the log end offset of each partition of topic.
func (b *Broker) LogEndOffsets(topic string) (map[int32]int64, error) {
	return b.partitionOffsets(topic, (*log.Log).LogEndOffset)
}

// HighWatermarks returns the high watermark of each partition of topic:
// where what a consumer can read ends.
func (b *Broker) HighWatermarks(topic string) (map[int32]int64, error) {
	return b.partitionOffsets(topic, (*log.Log).HighWatermark)
}

func (b *Broker) partitionOffsets(topic string, of func(*log.Log) int64) (map[int32]int64, error) {
	t, ok := b.parts.Topic(topic)
	if !ok {
		return nil, errUnknownTopic(topic)
	}
	out := make(map[int32]int64, len(t.Partitions))
	for _, p := range t.Partitions {
		if p.Log == nil {
			return nil, fmt.Errorf("%w: %s-%d: %w", partition.ErrPartitionOffline, topic, p.Index, p.OpenErr)
		}
		out[p.Index] = of(p.Log)
	}
	return out, nil
}

// ClearMirror makes a STOPPED mirror an ordinary topic: its link was
// deleted, so no link owns it any more; or makes a topic fenced by a
// reverse (internal/link/failback_answer.go) that was ordinary before
// ordinary again. One compare-and-set write; the
// reconciler applies it before it returns.
func (b *Broker) ClearMirror(topic string) error {
	_, err := metadata.UpdateTopic(b.store, topic, func(t *metadata.Topic) error {
		// A reverse's fence of an ordinary topic (PENDING_SETUP_FOR_RESTORE
		// with no previous state) is undone in this one write too:
		// nothing was written while fenced, so no new epoch is needed.
		fencedOrdinary := t.Mirror != nil && t.Mirror.State == metadata.MirrorPendingSetupForRestore && t.Mirror.PreviousState == ""
		if t.Mirror != nil && t.Mirror.State != metadata.MirrorStopped && !fencedOrdinary {
			return usererr.New(ErrInvalidRequest, "mirror topic '%s' is %s; only a STOPPED mirror topic can be detached from its link", topic, t.Mirror.State)
		}
		t.Mirror = nil
		return nil
	})
	if err != nil {
		return err
	}
	return b.rec.sync(topic)
}
