package broker

import (
	"fmt"

	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/partition"
)

// This file is the broker's side of cluster linking: what the link manager
// (internal/link) may do to mirror topics that clients may not.

// CreateMirrorTopic creates a mirror topic: the source's partition count,
// the synced configs, read-only until promoted or failed over.
func (b *Broker) CreateMirrorTopic(name string, partitions int32, configs map[string]string, m metadata.Mirror) (metadata.Topic, error) {
	if _, ok := b.store.Topic(name); ok {
		// Confluent: re-creating a mirror over an existing topic fails
		// with "Topic 'X' already exists."
		return metadata.Topic{}, fmt.Errorf("%w: Topic '%s' already exists.", metadata.ErrTopicExists, name)
	}
	m.StateTimeMs = b.now().UnixMilli()
	return b.CreateTopic(TopicSpec{Name: name, Partitions: partitions, ReplicationFactor: 1, Configs: configs, Mirror: &m}, false)
}

// SetMirrorState persists a mirror topic's state and applies its
// read-only flag.
func (b *Broker) SetMirrorState(topic string, m metadata.Mirror) error {
	b.adminMu.Lock()
	defer b.adminMu.Unlock()
	t, ok := b.store.Topic(topic)
	if !ok || t.Mirror == nil {
		return fmt.Errorf("%w: %s is not a mirror topic", metadata.ErrUnknownTopic, topic)
	}
	if m.State != t.Mirror.State {
		m.StateTimeMs = b.now().UnixMilli()
	}
	if m.State == metadata.MirrorStopped {
		// New writes after failover/promote start a new leader epoch above
		// every epoch the mirror copied from the source, so that
		// divergence from the source is detectable later (KIP-1279's
		// DLE ≥ SLE, and what a new leader does in Kafka).
		if err := b.bumpEpochsPastLog(t); err != nil {
			return err
		}
	}
	if err := b.store.SetMirror(topic, &m); err != nil {
		return err
	}
	t.Mirror = &m
	return b.parts.SetReadOnly(topic, isReadOnlyMirror(t))
}

// bumpEpochsPastLog sets each partition's leader epoch to one above both
// its current epoch and the largest epoch in its log. Caller holds adminMu.
func (b *Broker) bumpEpochsPastLog(t metadata.Topic) error {
	epochs := append([]int32(nil), t.LeaderEpochs...)
	for i := range epochs {
		p, err := b.parts.Get(t.Name, int32(i))
		if err != nil {
			return err
		}
		next := epochs[i] + 1
		if e, ok := p.Log.LatestEpoch(); ok && e+1 > next {
			next = e + 1
		}
		epochs[i] = next
	}
	if err := b.store.SetLeaderEpochs(t.Name, epochs); err != nil {
		return err
	}
	t.LeaderEpochs = epochs
	return b.hostTopic(t)
}

// RaiseLeaderEpoch keeps a mirror partition's leader epoch at or above the
// largest source epoch it has copied (KIP-1279 DLE ≥ SLE), so consumers
// holding committed offsets with source epochs are not fenced by an older
// local epoch.
func (b *Broker) RaiseLeaderEpoch(topic string, p int32, atLeast int32) error {
	b.adminMu.Lock()
	defer b.adminMu.Unlock()
	t, ok := b.store.Topic(topic)
	if !ok || int(p) >= len(t.LeaderEpochs) {
		return fmt.Errorf("%w: %s-%d", metadata.ErrUnknownTopic, topic, p)
	}
	if t.LeaderEpochs[p] >= atLeast {
		return nil
	}
	epochs := append([]int32(nil), t.LeaderEpochs...)
	epochs[p] = atLeast
	if err := b.store.SetLeaderEpochs(topic, epochs); err != nil {
		return err
	}
	t.LeaderEpochs = epochs
	return b.hostTopic(t)
}

// SetMirrorConfigs applies configs synced from the source to a mirror.
func (b *Broker) SetMirrorConfigs(topic string, configs map[string]string) error {
	return b.setTopicConfigs(topic, configs, false)
}

// AddMirrorPartitions grows a mirror to the source's partition count.
func (b *Broker) AddMirrorPartitions(topic string, total int32) error {
	return b.CreatePartitions(topic, total, nil, false)
}

// MirrorPartition returns a hosted partition of a mirror topic, for the
// link's data path.
func (b *Broker) MirrorPartition(topic string, p int32) (*partition.Partition, error) {
	return b.parts.Get(topic, p)
}

// LogEndOffsets returns the log end offset of each partition of topic.
func (b *Broker) LogEndOffsets(topic string) (map[int32]int64, error) {
	t, ok := b.parts.Topic(topic)
	if !ok {
		return nil, fmt.Errorf("%w: %s", metadata.ErrUnknownTopic, topic)
	}
	out := make(map[int32]int64, len(t.Partitions))
	for _, p := range t.Partitions {
		out[p.Index] = p.Log.LogEndOffset()
	}
	return out, nil
}

// ClearMirror makes a STOPPED mirror an ordinary topic: its link was
// deleted, so no link owns it any more.
func (b *Broker) ClearMirror(topic string) error {
	b.adminMu.Lock()
	defer b.adminMu.Unlock()
	t, ok := b.store.Topic(topic)
	if !ok {
		return fmt.Errorf("%w: %s", metadata.ErrUnknownTopic, topic)
	}
	if t.Mirror == nil {
		return nil
	}
	if t.Mirror.State != metadata.MirrorStopped {
		return fmt.Errorf("%w: mirror %s is %s; only a STOPPED mirror can be detached", ErrInvalidRequest, topic, t.Mirror.State)
	}
	if err := b.store.SetMirror(topic, nil); err != nil {
		return err
	}
	return b.parts.SetReadOnly(topic, false)
}
