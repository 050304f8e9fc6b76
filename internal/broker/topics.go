package broker

import (
	"sort"

	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"github.com/twmb/franz-go/pkg/kerr"
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/internal/config"
	"github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/partition"
)

// Domain errors of topic administration; handlers map them to Kafka codes.
var (
	ErrInvalidTopic             = errors.New("broker: invalid topic name")
	ErrInvalidPartitions        = errors.New("broker: invalid partition count")
	ErrInvalidReplicationFactor = errors.New("broker: invalid replication factor")
	ErrInvalidReplicaAssignment = errors.New("broker: invalid replica assignment")
	ErrTopicDeletionDisabled    = errors.New("broker: topic deletion is disabled (delete.topic.enable=false)")
	ErrInvalidRequest           = errors.New("broker: invalid request")
)

// maxTopicNameLength is Kafka's Topic.MAX_NAME_LENGTH.
const maxTopicNameLength = 249

// ValidateTopicName applies Kafka's Topic.validate rules.
func ValidateTopicName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: the empty string is not allowed", ErrInvalidTopic)
	case name == "." || name == "..":
		return fmt.Errorf("%w: %q is not allowed", ErrInvalidTopic, name)
	case len(name) > maxTopicNameLength:
		return fmt.Errorf("%w: %q is longer than %d characters", ErrInvalidTopic, name, maxTopicNameLength)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: %q contains a character other than ASCII alphanumerics, '.', '_' and '-'", ErrInvalidTopic, name)
		}
	}
	return nil
}

// collisionName maps '.' to '_', as Kafka's Topic.unifyCollisionChars does:
// metric names cannot tell the two apart, so Kafka refuses a topic whose
// name collides with an existing one this way.
func collisionName(name string) string { return strings.ReplaceAll(name, ".", "_") }

// TopicSpec is a topic-creation request, from CreateTopics or REST.
type TopicSpec struct {
	Name              string
	Partitions        int32 // -1: num.partitions
	ReplicationFactor int16 // -1: default.replication.factor
	// Assignment, when given, lists each partition's replicas; on one
	// node every list must be exactly [this node].
	Assignment [][]int32
	Configs    map[string]string
	// Mirror, when set, creates a mirror topic of a cluster link.
	Mirror *metadata.Mirror
}

// layers returns the config layers for a topic with the given overrides.
func (b *Broker) layers(overrides map[string]string) config.Layers {
	return config.Layers{
		Topic:          overrides,
		DynamicBroker:  b.store.BrokerConfigs(b.nodeID),
		DynamicDefault: b.store.BrokerConfigs(-1),
		Static:         b.props,
	}
}

// logConfig turns the effective topic configuration into the log's.
func (b *Broker) logConfig(overrides map[string]string) (log.Config, config.TopicConfig, error) {
	tc, err := config.EffectiveTopicConfig(b.layers(overrides))
	if err != nil {
		return log.Config{}, tc, err
	}
	return log.Config{
		SegmentBytes:         tc.SegmentBytes,
		SegmentMs:            tc.SegmentMs,
		IndexIntervalBytes:   tc.IndexIntervalBytes,
		RetentionMs:          tc.RetentionMs,
		RetentionBytes:       tc.RetentionBytes,
		FileDeleteDelayMs:    tc.FileDeleteDelayMs,
		MaxMessageBytes:      tc.MaxMessageBytes,
		LogAppendTime:        tc.MessageTimestampType == "LogAppendTime",
		TimestampBeforeMaxMs: tc.TimestampBeforeMaxMs,
		TimestampAfterMaxMs:  tc.TimestampAfterMaxMs,
		Compact:              tc.Compact(),
		Delete:               tc.Delete(),
		DeleteRetentionMs:    tc.DeleteRetentionMs,
		// Kafka's cleaner settings are per topic, with broker synonyms.
		MinCleanableDirtyRatio: tc.MinCleanableDirtyRatio,
		MinCompactionLagMs:     tc.MinCompactionLagMs,
		MaxCompactionLagMs:     tc.MaxCompactionLagMs,
	}, tc, nil
}

// topicConfig returns the effective config of a hosted topic.
func (b *Broker) topicConfig(name string) (config.TopicConfig, error) {
	t, ok := b.store.Topic(name)
	if !ok {
		return config.TopicConfig{}, fmt.Errorf("%w: %s", metadata.ErrUnknownTopic, name)
	}
	_, tc, err := b.logConfig(t.Configs)
	return tc, err
}

func (b *Broker) hostTopic(t metadata.Topic) error {
	lc, tc, err := b.logConfig(t.Configs)
	if err != nil {
		// A config that no longer validates (e.g. after an upgrade)
		// must not keep the topic's data offline: fall back to the
		// broker defaults and say so.
		b.logger.Error("topic config invalid; using broker defaults", "topic", t.Name, "err", err)
		if lc, tc, err = b.logConfig(nil); err != nil {
			return err
		}
	}
	return b.parts.Host(partition.Spec{Name: t.Name, ID: t.ID, LeaderEpochs: t.LeaderEpochs, Config: lc,
		MinInsyncReplicas: tc.MinInsyncReplicas, ReadOnly: isReadOnlyMirror(t)})
}

// CreateTopic validates s and, unless validateOnly, creates the topic in
// metadata and opens its logs.
func (b *Broker) CreateTopic(s TopicSpec, validateOnly bool) (metadata.Topic, error) {
	if err := ValidateTopicName(s.Name); err != nil {
		return metadata.Topic{}, err
	}
	if s.Partitions == -1 {
		s.Partitions = b.static.NumPartitions
	}
	if s.ReplicationFactor == -1 {
		s.ReplicationFactor = int16(b.static.DefaultReplicationFactor)
	}
	if len(s.Assignment) > 0 {
		if s.Partitions != -1 && s.Partitions != int32(len(s.Assignment)) && s.Partitions != b.static.NumPartitions {
			return metadata.Topic{}, fmt.Errorf("%w: both partition count and assignment given", ErrInvalidRequest)
		}
		s.Partitions = int32(len(s.Assignment))
		for p, replicas := range s.Assignment {
			if len(replicas) != 1 || replicas[0] != b.nodeID {
				return metadata.Topic{}, fmt.Errorf("%w: partition %d: replicas %v; this single-node cluster has only node %d",
					ErrInvalidReplicaAssignment, p, replicas, b.nodeID)
			}
		}
		s.ReplicationFactor = 1
	}
	if s.Partitions <= 0 {
		return metadata.Topic{}, fmt.Errorf("%w: %d; the number of partitions must be positive", ErrInvalidPartitions, s.Partitions)
	}
	if s.ReplicationFactor <= 0 {
		return metadata.Topic{}, fmt.Errorf("%w: %d; the replication factor must be positive", ErrInvalidReplicationFactor, s.ReplicationFactor)
	}
	if s.ReplicationFactor > 1 {
		return metadata.Topic{}, fmt.Errorf("%w: replication factor %d is larger than the 1 available broker", ErrInvalidReplicationFactor, s.ReplicationFactor)
	}
	if err := config.ValidateTopicOverrides(s.Configs); err != nil {
		return metadata.Topic{}, err
	}
	if _, _, err := b.logConfig(s.Configs); err != nil {
		return metadata.Topic{}, err
	}

	b.adminMu.Lock()
	defer b.adminMu.Unlock()
	if _, exists := b.store.Topic(s.Name); exists {
		return metadata.Topic{}, fmt.Errorf("%w: %s", metadata.ErrTopicExists, s.Name)
	}
	cn := collisionName(s.Name)
	for _, t := range b.store.Topics() {
		if collisionName(t.Name) == cn {
			return metadata.Topic{}, fmt.Errorf("%w: %q collides with existing topic %q ('.' and '_' are interchangeable in metric names)",
				ErrInvalidTopic, s.Name, t.Name)
		}
	}
	t := metadata.Topic{
		Name:              s.Name,
		ID:                newTopicID(),
		Partitions:        s.Partitions,
		ReplicationFactor: s.ReplicationFactor,
		Configs:           s.Configs,
		LeaderEpochs:      make([]int32, s.Partitions),
		Leader:            b.nodeID,
		CreatedMs:         b.now().UnixMilli(),
		Mirror:            s.Mirror,
	}
	if validateOnly {
		return t, nil
	}
	if err := b.store.CreateTopic(t); err != nil {
		return metadata.Topic{}, err
	}
	if err := b.hostTopic(t); err != nil {
		// Keep metadata and hosted logs consistent: a topic whose logs
		// cannot be opened is removed again.
		if _, derr := b.store.DeleteTopic(t.Name); derr != nil {
			b.logger.Error("rollback of failed topic creation", "topic", t.Name, "err", derr)
		}
		return metadata.Topic{}, err
	}
	b.logger.Info("topic created", "topic", t.Name, "partitions", t.Partitions)
	return t, nil
}

// DeleteTopic deletes a topic and its data.
func (b *Broker) DeleteTopic(name string) (metadata.Topic, error) {
	if !b.static.DeleteTopicEnable {
		return metadata.Topic{}, ErrTopicDeletionDisabled
	}
	if isInternalTopic(name) {
		// Deleting __consumer_offsets would drop every group's offsets;
		// Kafka refuses it as well.
		return metadata.Topic{}, fmt.Errorf("%w %s cannot be deleted", ErrInternalTopic, name)
	}
	if hook := b.beforeDelete; hook != nil {
		// Before adminMu: a mirror's data path must stop writing the logs
		// first, and stopping it waits for fetch workers that may be
		// waiting for adminMu themselves (EnsureLeaderEpoch).
		hook(name)
	}
	b.adminMu.Lock()
	defer b.adminMu.Unlock()
	t, err := b.store.DeleteTopic(name)
	if err != nil {
		return metadata.Topic{}, err
	}
	if err := b.parts.Unhost(name); err != nil && !errors.Is(err, partition.ErrUnknownTopic) {
		b.logger.Error("deleting topic data", "topic", name, "err", err)
	}
	if b.metrics != nil {
		b.metrics.DeleteTopic(name)
	}
	// Committed offsets of a deleted topic are removed from every group
	// (Kafka GroupCoordinator.onPartitionsDeleted), so a re-created topic
	// does not inherit them.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.groups.OnTopicsDeleted(ctx, []string{name}); err != nil {
		b.logger.Warn("removing committed offsets of deleted topic", "topic", name, "err", err)
	}
	b.logger.Info("topic deleted", "topic", name)
	return t, nil
}

// CreatePartitions grows topic name to total partitions.
func (b *Broker) CreatePartitions(name string, total int32, assignment [][]int32, validateOnly bool) error {
	b.adminMu.Lock()
	defer b.adminMu.Unlock()
	t, ok := b.store.Topic(name)
	if !ok {
		return fmt.Errorf("%w: %s", metadata.ErrUnknownTopic, name)
	}
	if total <= t.Partitions {
		return fmt.Errorf("%w: topic %s has %d partitions; the new count %d must be larger", ErrInvalidPartitions, name, t.Partitions, total)
	}
	if assignment != nil {
		if len(assignment) != int(total-t.Partitions) {
			return fmt.Errorf("%w: %d assignments for %d new partitions", ErrInvalidReplicaAssignment, len(assignment), total-t.Partitions)
		}
		for _, replicas := range assignment {
			if len(replicas) != 1 || replicas[0] != b.nodeID {
				return fmt.Errorf("%w: replicas %v; this single-node cluster has only node %d", ErrInvalidReplicaAssignment, replicas, b.nodeID)
			}
		}
	}
	if validateOnly {
		return nil
	}
	if err := b.store.AddPartitions(name, total); err != nil {
		return err
	}
	t, _ = b.store.Topic(name)
	return b.hostTopic(t)
}

// SetTopicConfigs replaces the dynamic overrides of topic name and applies
// the new effective config to its logs.
//
// On an active mirror topic every topic config Tandem supports is synced
// from the source (cluster-linking.md §2.4: they are all "always" or
// "synced when set at the source"), so a change that touches one is
// refused with Confluent's message.
func (b *Broker) SetTopicConfigs(name string, overrides map[string]string, validateOnly bool) error {
	if t, ok := b.store.Topic(name); ok && isReadOnlyMirror(t) {
		for _, k := range changedKeys(t.Configs, overrides) {
			return &kafkaError{ke: kerr.InvalidConfig,
				err: fmt.Errorf("Cannot set configuration '%s' for mirror topic '%s'", k, name)}
		}
	}
	return b.setTopicConfigs(name, overrides, validateOnly)
}

// changedKeys lists, sorted, the keys whose value differs between a and b.
func changedKeys(a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// setTopicConfigs replaces a topic's overrides without the mirror check
// (the link's config sync uses it).
func (b *Broker) setTopicConfigs(name string, overrides map[string]string, validateOnly bool) error {
	if err := config.ValidateTopicOverrides(overrides); err != nil {
		return err
	}
	lc, tc, err := b.logConfig(overrides)
	if err != nil {
		return err
	}
	b.adminMu.Lock()
	defer b.adminMu.Unlock()
	if _, ok := b.store.Topic(name); !ok {
		return fmt.Errorf("%w: %s", metadata.ErrUnknownTopic, name)
	}
	if validateOnly {
		return nil
	}
	if err := b.store.SetTopicConfigs(name, overrides); err != nil {
		return err
	}
	return b.parts.SetConfig(name, lc, tc.MinInsyncReplicas)
}

// SetBrokerConfigs replaces the dynamic broker overrides for node (-1 is
// the cluster-wide default) and re-applies every topic's effective config,
// since topic defaults derive from broker configs.
func (b *Broker) SetBrokerConfigs(node int32, overrides map[string]string, validateOnly bool) error {
	if err := config.ValidateBrokerDynamic(overrides); err != nil {
		return err
	}
	b.adminMu.Lock()
	defer b.adminMu.Unlock()
	// Check every topic still resolves with the new layer before
	// committing anything.
	l := b.layers(nil)
	if node == -1 {
		l.DynamicDefault = overrides
	} else {
		l.DynamicBroker = overrides
	}
	for _, t := range b.store.Topics() {
		l.Topic = t.Configs
		if _, err := config.EffectiveTopicConfig(l); err != nil {
			return fmt.Errorf("topic %s: %w", t.Name, err)
		}
	}
	if validateOnly {
		return nil
	}
	if err := b.store.SetBrokerConfigs(node, overrides); err != nil {
		return err
	}
	for _, t := range b.store.Topics() {
		lc, tc, err := b.logConfig(t.Configs)
		if err != nil {
			return err
		}
		if err := b.parts.SetConfig(t.Name, lc, tc.MinInsyncReplicas); err != nil && !errors.Is(err, partition.ErrUnknownTopic) {
			return err
		}
	}
	return nil
}

func newTopicID() [16]byte {
	var id [16]byte
	for {
		_, _ = rand.Read(id[:])
		id[6] = id[6]&0x0f | 0x40 // version 4
		id[8] = id[8]&0x3f | 0x80 // variant 10
		if id != ([16]byte{}) {
			return id
		}
	}
}

// isReadOnlyMirror reports whether t is a mirror topic its link still
// writes: every mirror state but STOPPED (after promote or failover).
func isReadOnlyMirror(t metadata.Topic) bool { return t.ReadOnly() }
