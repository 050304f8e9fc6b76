package restapi

// Consumer groups (Confluent REST v3: ConsumerGroupData, ConsumerData,
// ConsumerAssignmentData, ConsumerLagData, ConsumerGroupLagSummaryData).

// ConsumerGroup is KafkaConsumerGroup
// (GET /clusters/{cid}/consumer-groups[/{group}]). State is Confluent's
// upper-case name (STABLE, EMPTY, PREPARING_REBALANCE, ...); Type is
// CLASSIC for every Tandem group (KIP-848 groups are not served).
type ConsumerGroup struct {
	Kind              string       `json:"kind"`
	Metadata          ResourceMeta `json:"metadata"`
	ClusterID         string       `json:"cluster_id"`
	ConsumerGroupID   string       `json:"consumer_group_id"`
	IsSimple          bool         `json:"is_simple"`
	PartitionAssignor string       `json:"partition_assignor"`
	State             string       `json:"state"`
	Type              string       `json:"type"`
	Coordinator       Relationship `json:"coordinator"`
	Consumers         Relationship `json:"consumers"`
	LagSummary        Relationship `json:"lag_summary"`
}

// Consumer is KafkaConsumer (.../consumers[/{consumer_id}]).
type Consumer struct {
	Kind            string       `json:"kind"`
	Metadata        ResourceMeta `json:"metadata"`
	ClusterID       string       `json:"cluster_id"`
	ConsumerGroupID string       `json:"consumer_group_id"`
	ConsumerID      string       `json:"consumer_id"`
	InstanceID      *string      `json:"instance_id"`
	ClientID        string       `json:"client_id"`
	Assignments     Relationship `json:"assignments"`
}

// ConsumerAssignment is KafkaConsumerAssignment
// (.../consumers/{consumer_id}/assignments[/{topic}/partitions/{p}]).
type ConsumerAssignment struct {
	Kind            string       `json:"kind"`
	Metadata        ResourceMeta `json:"metadata"`
	ClusterID       string       `json:"cluster_id"`
	ConsumerGroupID string       `json:"consumer_group_id"`
	ConsumerID      string       `json:"consumer_id"`
	TopicName       string       `json:"topic_name"`
	PartitionID     int32        `json:"partition_id"`
	Partition       Relationship `json:"partition"`
	Lag             Relationship `json:"lag"`
}

// ConsumerLag is KafkaConsumerLag (.../lags[/{topic}/partitions/{p}]):
// one partition the group has committed an offset for. ConsumerID and
// ClientID are "" when no member is assigned the partition.
type ConsumerLag struct {
	Kind            string       `json:"kind"`
	Metadata        ResourceMeta `json:"metadata"`
	ClusterID       string       `json:"cluster_id"`
	ConsumerGroupID string       `json:"consumer_group_id"`
	TopicName       string       `json:"topic_name"`
	PartitionID     int32        `json:"partition_id"`
	CurrentOffset   int64        `json:"current_offset"`
	LogEndOffset    int64        `json:"log_end_offset"`
	Lag             int64        `json:"lag"`
	ConsumerID      string       `json:"consumer_id"`
	InstanceID      *string      `json:"instance_id"`
	ClientID        string       `json:"client_id"`
}

// ConsumerGroupLagSummary is KafkaConsumerGroupLagSummary
// (.../lag-summary).
type ConsumerGroupLagSummary struct {
	Kind              string       `json:"kind"`
	Metadata          ResourceMeta `json:"metadata"`
	ClusterID         string       `json:"cluster_id"`
	ConsumerGroupID   string       `json:"consumer_group_id"`
	MaxLagConsumerID  string       `json:"max_lag_consumer_id"`
	MaxLagInstanceID  *string      `json:"max_lag_instance_id"`
	MaxLagClientID    string       `json:"max_lag_client_id"`
	MaxLagTopicName   string       `json:"max_lag_topic_name"`
	MaxLagPartitionID int32        `json:"max_lag_partition_id"`
	MaxLag            int64        `json:"max_lag"`
	TotalLag          int64        `json:"total_lag"`
	MaxLagConsumer    Relationship `json:"max_lag_consumer"`
	MaxLagPartition   Relationship `json:"max_lag_partition"`
}
