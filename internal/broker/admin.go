package broker

import (
	"fmt"

	"github.com/tandem-streaming/tandem/internal/config"
	"github.com/tandem-streaming/tandem/internal/group"
	"github.com/tandem-streaming/tandem/internal/metadata"
)

// Topics lists the topics in cluster metadata, sorted by name.
func (b *Broker) Topics() []metadata.Topic { return b.store.Topics() }

// TopicByName returns one topic's metadata.
func (b *Broker) TopicByName(name string) (metadata.Topic, error) {
	t, ok := b.store.Topic(name)
	if !ok {
		return metadata.Topic{}, errUnknownTopic(name)
	}
	return t, nil
}

// PartitionOffsets returns a hosted partition's LogStartOffset and
// HighWatermark.
func (b *Broker) PartitionOffsets(topic string, p int32) (logStart, hw int64, err error) {
	pt, err := b.parts.Get(topic, p)
	if err != nil {
		return 0, 0, err
	}
	return pt.Log.LogStartOffset(), pt.Log.HighWatermark(), nil
}

// DescribeTopicConfigs resolves every config of a topic.
func (b *Broker) DescribeTopicConfigs(name string) ([]config.Entry, error) {
	t, ok := b.store.Topic(name)
	if !ok {
		return nil, errUnknownTopic(name)
	}
	return b.describeTopicConfigs(t.Configs, nil, true), nil
}

// AlterTopicConfig is one incremental change of a topic override.
type AlterTopicConfig struct {
	Name, Value string
	Delete      bool
}

// AlterTopicConfigs applies incremental changes to a topic's overrides.
func (b *Broker) AlterTopicConfigs(name string, ops []AlterTopicConfig, validateOnly bool) error {
	return retryOnConflict(func() error { return b.alterTopicConfigs(name, ops, validateOnly) })
}

// alterTopicConfigs is one read-modify-write of AlterTopicConfigs.
func (b *Broker) alterTopicConfigs(name string, ops []AlterTopicConfig, validateOnly bool) error {
	t, ok := b.store.Topic(name)
	if !ok {
		return errUnknownTopic(name)
	}
	next := clone(t.Configs)
	seen := map[string]bool{}
	for _, op := range ops {
		if seen[op.Name] {
			return fmt.Errorf("%w: config %s is named more than once", ErrInvalidRequest, op.Name)
		}
		seen[op.Name] = true
		if op.Delete {
			if _, known := config.TopicDefs().Lookup(op.Name); !known {
				return &config.KeyError{Key: op.Name, Err: config.ErrUnknownConfig}
			}
			delete(next, op.Name)
			continue
		}
		next[op.Name] = op.Value
	}
	return b.setTopicConfigsAt(name, next, t.ModRevision, validateOnly, true)
}

// AdvertisedAddr is the host and port the first listener advertises (the
// address REST and the console show).
func (b *Broker) AdvertisedAddr() (string, int32) {
	if len(b.endpoints) == 0 {
		return "", -1
	}
	return b.endpoints[0].Host, b.endpoints[0].Port
}

// Groups exposes the group coordinator, for read-only views (the web
// console's consumer-group lag).
func (b *Broker) Groups() *group.Coordinator { return b.groups }
