package node

import (
	"context"
	"errors"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/rest"
)

// restBackend adapts the broker to the HTTP API. Errors carry the Kafka
// error they map to, so REST reports the same codes Kafka clients see.
type restBackend struct{ n *Node }

var _ rest.Backend = (*restBackend)(nil)

func (r *restBackend) ClusterID() string { return r.n.ClusterID() }
func (r *restBackend) NodeID() int32     { return r.n.Config.NodeID }
func (r *restBackend) AdvertisedHost() (string, int32) {
	return r.n.broker.AdvertisedAddr()
}

func (r *restBackend) Ready() error {
	select {
	case <-r.n.stop:
		return errors.New("shutting down")
	default:
		return r.n.StorageHealth()
	}
}

func (r *restBackend) topicInfo(t metadata.Topic) rest.TopicInfo {
	ti := rest.TopicInfo{Name: t.Name, ID: t.ID, ReplicationFactor: t.ReplicationFactor}
	for p := int32(0); p < t.Partitions; p++ {
		pi := rest.PartitionInfo{Partition: p, Leader: r.n.Config.NodeID, LogStartOffset: -1, HighWatermark: -1}
		if int(p) < len(t.LeaderEpochs) {
			pi.LeaderEpoch = t.LeaderEpochs[p]
		}
		if ls, hw, err := r.n.broker.PartitionOffsets(t.Name, p); err == nil {
			pi.LogStartOffset, pi.HighWatermark = ls, hw
		}
		ti.Partitions = append(ti.Partitions, pi)
	}
	return ti
}

func (r *restBackend) ListTopics(context.Context) ([]rest.TopicInfo, error) {
	var out []rest.TopicInfo
	for _, t := range r.n.broker.Topics() {
		out = append(out, r.topicInfo(t))
	}
	return out, nil
}

func (r *restBackend) GetTopic(_ context.Context, name string) (rest.TopicInfo, error) {
	t, err := r.n.broker.TopicByName(name)
	if err != nil {
		return rest.TopicInfo{}, broker.AsKafkaError(err)
	}
	return r.topicInfo(t), nil
}

func (r *restBackend) CreateTopic(_ context.Context, req rest.CreateTopicRequest) (rest.TopicInfo, error) {
	spec := broker.TopicSpec{
		Name: req.Name, Partitions: req.Partitions, ReplicationFactor: req.ReplicationFactor, Configs: req.Configs,
	}
	if err := r.n.broker.CheckCreateTopicCap(spec); err != nil {
		return rest.TopicInfo{}, broker.AsKafkaError(err)
	}
	t, err := r.n.broker.CreateTopic(spec, req.ValidateOnly)
	if err != nil {
		return rest.TopicInfo{}, broker.AsKafkaError(err)
	}
	return r.topicInfo(t), nil
}

func (r *restBackend) DeleteTopic(_ context.Context, name string) error {
	_, err := r.n.broker.DeleteTopic(name)
	return broker.AsKafkaError(err)
}

func (r *restBackend) TopicConfigs(_ context.Context, name string) ([]rest.ConfigEntry, error) {
	entries, err := r.n.broker.DescribeTopicConfigs(name)
	if err != nil {
		return nil, broker.AsKafkaError(err)
	}
	out := make([]rest.ConfigEntry, 0, len(entries))
	for _, e := range entries {
		ce := rest.ConfigEntry{
			Name: e.Name, Value: e.Value, IsNull: e.IsNull, ReadOnly: e.ReadOnly, Sensitive: e.Sensitive,
			IsDefault: e.Source.String() == "DEFAULT_CONFIG", Source: e.Source.String(),
		}
		for _, s := range e.Synonyms {
			ce.Synonyms = append(ce.Synonyms, rest.ConfigSynonym{Name: s.Name, Value: s.Value, Source: s.Source.String()})
		}
		out = append(out, ce)
	}
	return out, nil
}

func (r *restBackend) AlterTopicConfigs(_ context.Context, name string, ops []rest.ConfigOp, validateOnly bool) error {
	bops := make([]broker.AlterTopicConfig, len(ops))
	for i, op := range ops {
		bops[i] = broker.AlterTopicConfig{Name: op.Name, Value: op.Value, Delete: op.Delete}
	}
	return broker.AsKafkaError(r.n.broker.AlterTopicConfigs(name, bops, validateOnly))
}
