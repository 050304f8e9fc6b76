package restapi

// Mirror topics (cluster-linking.md §2.5, §2.6, §5.2).

// Mirror is KafkaMirrorData.
type Mirror struct {
	Kind             string       `json:"kind"`
	Metadata         ResourceMeta `json:"metadata"`
	LinkName         string       `json:"link_name"`
	MirrorTopicName  string       `json:"mirror_topic_name"`
	SourceTopicName  string       `json:"source_topic_name"`
	NumPartitions    int32        `json:"num_partitions"`
	MirrorLags       []MirrorLag  `json:"mirror_lags"`
	MirrorStatus     string       `json:"mirror_status"`
	MirrorTopicError string       `json:"mirror_topic_error"`
	StateTimeMs      int64        `json:"state_time_ms"`
	// Only with include_state_transition_errors=true.
	StateTransitionErrors []TaskError `json:"mirror_state_transition_errors,omitzero"`
}

// MirrorLag is one partition's mirroring lag.
type MirrorLag struct {
	Partition             int32 `json:"partition"`
	Lag                   int64 `json:"lag"`
	LastSourceFetchOffset int64 `json:"last_source_fetch_offset"` // -1: nothing fetched yet
	// Not in Confluent's REST shape (§2.6) but in its describe output;
	// clients ignore unknown fields. -1: nothing fetched yet.
	TimeSinceLastFetchMs int64 `json:"time_since_last_fetch_ms"`
	// Tandem extensions: the mirror partition's log end offset, the
	// newest source high watermark known (-1: none) and how old that
	// knowledge is (-1: none). Lag counts from it, so a paused or cut-off
	// mirror shows its last known lag and how stale it is.
	LocalLogEndOffset int64 `json:"local_log_end_offset"`
	SourceEndOffset   int64 `json:"source_end_offset"`
	SourceEndAgeMs    int64 `json:"source_end_age_ms"`
}

// CreateMirrorRequest is CreateMirrorTopicRequestData (POST
// .../links/{link}/mirrors). validate_only is a Tandem addition (query or
// body).
type CreateMirrorRequest struct {
	SourceTopicName string `json:"source_topic_name"`
	// MirrorTopicName absent: the server derives it (the source name,
	// plus cluster.link.prefix if set; §2.1). Present and empty is an
	// error.
	MirrorTopicName   *string       `json:"mirror_topic_name,omitempty"`
	ReplicationFactor *int16        `json:"replication_factor,omitempty"` // absent: broker default
	Configs           []ConfigValue `json:"configs,omitempty"`
	ValidateOnly      bool          `json:"validate_only,omitempty"`
}

// AlterMirrorsRequest is AlterMirrorsRequestData (POST
// .../mirrors:pause|resume|promote|failover): names or a pattern (a
// full-string regular expression), not both.
type AlterMirrorsRequest struct {
	MirrorTopicNames       []string `json:"mirror_topic_names,omitempty"`
	MirrorTopicNamePattern *string  `json:"mirror_topic_name_pattern,omitempty"`
	ValidateOnly           bool     `json:"validate_only,omitempty"`
}

// AlterMirrorsResult is AlterMirrorsData, one topic's outcome of a mirror
// operation. Per-topic failures come back here, inside a 200.
type AlterMirrorsResult struct {
	Kind            string       `json:"kind"`
	Metadata        ResourceMeta `json:"metadata"`
	MirrorTopicName string       `json:"mirror_topic_name"`
	ErrorCode       *int         `json:"error_code"` // null on success
	ErrorMessage    *string      `json:"error_message"`
	MirrorLags      []MirrorLag  `json:"mirror_lags"`
	// Only truncate-and-restore fills these (the per-partition data with
	// include_partition_level_truncation_data=true); null / [] otherwise.
	MessagesTruncated            *int64       `json:"messages_truncated"`
	PartitionLevelTruncationData []Truncation `json:"partition_level_truncation_data"`
}

// Truncation is one partition's truncate-and-restore outcome.
type Truncation struct {
	PartitionID       int32 `json:"partition_id"`
	OffsetTruncatedTo int64 `json:"offset_truncated_to"`
	MessagesTruncated int64 `json:"messages_truncated"`
}
