package broker

import (
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tandem-streaming/tandem/internal/config"
	"github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/metadata"
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

// CreateTopic validates s and, unless validateOnly, creates the topic in
// metadata; it returns once the reconciler has opened its logs, so clients
// can produce at once.
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

	t, err := b.createTopicMetadata(s, validateOnly)
	if err != nil || validateOnly {
		return t, err
	}
	if err := b.rec.sync(t.Name); err != nil {
		if errors.Is(err, errShuttingDown) {
			return metadata.Topic{}, err // hosted at the next start
		}
		// Keep metadata and hosted logs consistent: a topic whose logs
		// cannot be opened is removed again, with the directories the
		// attempt made.
		b.rec.rollbackCreate(t)
		return metadata.Topic{}, err
	}
	b.rlog.Info("topic created", "topic", t.Name, "partitions", t.Partitions)
	return t, nil
}

// createTopicMetadata checks s against the existing topics and writes it.
func (b *Broker) createTopicMetadata(s TopicSpec, validateOnly bool) (metadata.Topic, error) {
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
	created, ok := b.store.Topic(t.Name)
	if !ok || created.ID != t.ID {
		return metadata.Topic{}, fmt.Errorf("%w: %s was deleted while being created", metadata.ErrUnknownTopic, t.Name)
	}
	return created, nil
}

// DeleteTopic deletes a topic from metadata; the reconciler deletes its
// data (and its committed offsets) before DeleteTopic returns. A mirror's
// link notices the deletion in metadata; nothing here calls into it.
func (b *Broker) DeleteTopic(name string) (metadata.Topic, error) {
	if !b.static.DeleteTopicEnable {
		return metadata.Topic{}, ErrTopicDeletionDisabled
	}
	if isInternalTopic(name) {
		// Deleting __consumer_offsets would drop every group's offsets;
		// Kafka refuses it as well.
		return metadata.Topic{}, fmt.Errorf("%w %s cannot be deleted", ErrInternalTopic, name)
	}
	// The reconciler renames the partition directories, commits the
	// deletion and removes them, so that a crash leaves all of the topic
	// or none (reconciler.deleteTopic). A mirror's fetcher may still be
	// appending: its appends now fail with log.ErrClosed, and the link
	// stops it when it sees the topic gone from metadata.
	t, err := b.rec.deleteTopic(name)
	if err != nil {
		return metadata.Topic{}, err
	}
	b.rlog.Info("topic deleted", "topic", name)
	return t, nil
}

// CreatePartitions grows topic name to total partitions, for clients
// (CreatePartitions, key 37). A mirror topic its link still owns refuses:
// its partition count follows the source topic, and a mirror with more
// partitions than its source fails (SOURCE_PARTITIONS_DECREASED,
// cluster-linking.md §2.1). Confluent documents no message for this; we
// answer INVALID_REQUEST, as it answers produce to a mirror (§2.2).
func (b *Broker) CreatePartitions(name string, total int32, assignment [][]int32, validateOnly bool) error {
	return b.createPartitions(name, total, assignment, validateOnly, true)
}

// errMirrorPartitions is CreatePartitions' refusal on a read-only mirror.
func errMirrorPartitions(name string) error {
	return &kafkaError{ke: kerr.InvalidRequest,
		err: fmt.Errorf("Cannot add partitions to mirror topic '%s': its partition count follows the source topic", name)}
}

// createPartitions grows a topic; client says whether mirrors refuse (the
// link's own partition sync may grow them). The write is a compare-and-set
// of the topic read, re-checked on conflict.
func (b *Broker) createPartitions(name string, total int32, assignment [][]int32, validateOnly, client bool) error {
	t, ok := b.store.Topic(name)
	if !ok {
		return fmt.Errorf("%w: %s", metadata.ErrUnknownTopic, name)
	}
	if err := b.checkGrow(t, total, assignment, client); err != nil {
		return err
	}
	if validateOnly {
		return nil
	}
	_, err := metadata.UpdateTopic(b.store, name, func(t *metadata.Topic) error {
		if err := b.checkGrow(*t, total, assignment, client); err != nil {
			return err
		}
		// New partitions start at leader epoch 0, as in Kafka.
		t.LeaderEpochs = append(t.LeaderEpochs, make([]int32, total-t.Partitions)...)
		t.Partitions = total
		return nil
	})
	if err != nil {
		return err
	}
	return b.rec.sync(name)
}

// checkGrow validates growing t to total partitions.
func (b *Broker) checkGrow(t metadata.Topic, total int32, assignment [][]int32, client bool) error {
	name := t.Name
	if client && t.ReadOnly() {
		return errMirrorPartitions(name)
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
	return nil
}

// SetTopicConfigs replaces the dynamic overrides of topic name and applies
// the new effective config to its logs.
//
// On an active mirror topic every topic config Tandem supports is synced
// from the source (cluster-linking.md §2.4: they are all "always" or
// "synced when set at the source"), so a change that touches one is
// refused with Confluent's message.
func (b *Broker) SetTopicConfigs(name string, overrides map[string]string, validateOnly bool) error {
	return b.setTopicConfigsAt(name, overrides, -1, validateOnly, true)
}

// setTopicConfigsAt is SetTopicConfigs for a read-modify-write: with
// modRev >= 0 the write succeeds only if the topic is still at that
// ModRevision (metadata.ErrConflict otherwise; see retryOnConflict).
// client applies the mirror check (the link's config sync skips it).
func (b *Broker) setTopicConfigsAt(name string, overrides map[string]string, modRev int64, validateOnly, client bool) error {
	check := func(t metadata.Topic) error {
		if modRev >= 0 && t.ModRevision != modRev {
			return fmt.Errorf("%w: topic %s changed (revision %d, read at %d)", metadata.ErrConflict, name, t.ModRevision, modRev)
		}
		if client && isReadOnlyMirror(t) {
			for _, k := range changedKeys(t.Configs, overrides) {
				return &kafkaError{ke: kerr.InvalidConfig,
					err: fmt.Errorf("Cannot set configuration '%s' for mirror topic '%s'", k, name)}
			}
		}
		return nil
	}
	t, ok := b.store.Topic(name)
	if !ok {
		return fmt.Errorf("%w: %s", metadata.ErrUnknownTopic, name)
	}
	if err := check(t); err != nil {
		return err
	}
	if err := config.ValidateTopicOverrides(overrides); err != nil {
		return err
	}
	overrides = maps.Clone(overrides)
	err := func() error {
		// Under adminMu, so that a concurrent broker-config change
		// checks its layer against these overrides or they against it.
		b.adminMu.Lock()
		defer b.adminMu.Unlock()
		if _, _, err := b.logConfig(overrides); err != nil || validateOnly {
			return err
		}
		_, err := metadata.UpdateTopic(b.store, name, func(t *metadata.Topic) error {
			if err := check(*t); err != nil {
				return err
			}
			t.Configs = overrides
			return nil
		})
		return err
	}()
	if err != nil || validateOnly {
		return err
	}
	return b.rec.sync(name)
}

// retryOnConflict runs a read-modify-write until it does not fail with
// metadata.ErrConflict (another write changed what it read), a few times.
func retryOnConflict(fn func() error) error {
	for i := 0; ; i++ {
		err := fn()
		if !errors.Is(err, metadata.ErrConflict) || i == 8 {
			return err
		}
	}
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

// SetBrokerConfigs replaces the dynamic broker overrides for node (-1 is
// the cluster-wide default); the reconciler re-applies every topic's
// effective config, since topic defaults derive from broker configs.
func (b *Broker) SetBrokerConfigs(node int32, overrides map[string]string, validateOnly bool) error {
	return b.setBrokerConfigsAt(node, overrides, -1, validateOnly)
}

// setBrokerConfigsAt is SetBrokerConfigs for a read-modify-write: with
// modRev >= 0 the write succeeds only if the node's configs are still at
// that ModRevision (metadata.ErrConflict otherwise).
func (b *Broker) setBrokerConfigsAt(node int32, overrides map[string]string, modRev int64, validateOnly bool) error {
	if err := config.ValidateBrokerDynamic(overrides); err != nil {
		return err
	}
	if err := b.setBrokerConfigs(node, overrides, modRev, validateOnly); err != nil || validateOnly {
		return err
	}
	_ = b.rec.sync("") // per-topic failures are the reconciler's to log and retry
	return nil
}

// setBrokerConfigs checks that every topic still resolves under the new
// layer and writes it; adminMu makes the check and the write one step
// against other admin writes of this node.
func (b *Broker) setBrokerConfigs(node int32, overrides map[string]string, modRev int64, validateOnly bool) error {
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
	if modRev >= 0 {
		_, err := b.store.CompareAndSetBrokerConfigs(node, overrides, modRev)
		return err
	}
	return b.store.SetBrokerConfigs(node, overrides)
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
