package restapi

import (
	"slices"
	"strings"
)

// Cluster links and their configs (cluster-linking.md §5.2).

// Link is KafkaLinkData.
type Link struct {
	Kind                 string       `json:"kind"`
	Metadata             ResourceMeta `json:"metadata"`
	SourceClusterID      *string      `json:"source_cluster_id"`
	DestinationClusterID *string      `json:"destination_cluster_id"`
	RemoteClusterID      *string      `json:"remote_cluster_id"`
	LinkName             string       `json:"link_name"`
	LinkID               *string      `json:"link_id"` // deprecated UUID form
	ClusterLinkID        string       `json:"cluster_link_id"`
	TopicNames           []string     `json:"topic_names"`
	LinkState            string       `json:"link_state"`
	LinkError            string       `json:"link_error"`
	LinkErrorMessage     *string      `json:"link_error_message"`
	// RemoteLinkState is a paired half's view of its peer half
	// (link.mode=SOURCE/BIDIRECTIONAL, connection.mode=INBOUND): the
	// peer's link state, REMOTE_LINK_NOT_FOUND or UNKNOWN; absent for a
	// link that does not pair. Confluent's REST field is NOT FOUND in the
	// reference (its CLI prints "Remote link state"), so the names are
	// ours, in its snake_case (docs/mirroring.md "Bidirectional links").
	RemoteLinkState *string `json:"remote_link_state,omitempty"`
	// RemoteLinkStateUpdateTimeMs is when the peer last answered or
	// asked (epoch ms); absent while UNKNOWN.
	RemoteLinkStateUpdateTimeMs *int64 `json:"remote_link_state_update_time_ms,omitempty"`
	// RemoteLinkStateMessage says why the state is REMOTE_LINK_NOT_FOUND.
	RemoteLinkStateMessage *string         `json:"remote_link_state_message,omitempty"`
	Tasks                  []LinkTask      `json:"tasks,omitzero"` // only with include_tasks
	CategoryCounts         []CategoryCount `json:"category_counts"`
	// ConsumerGroupOffsets (a Tandem extension, with include_tasks) is
	// what the link's last consumer offset sync found, per group and
	// mirror partition.
	ConsumerGroupOffsets []ConsumerGroupOffset `json:"consumer_group_offsets,omitzero"`
	// ConsumerGroupLags (a Tandem extension, with include_tasks) are the
	// synced groups with the most offset lag, at most
	// MaxDescribedGroupLags of them, most first; ConsumerGroupsSynced
	// counts every group the last sync found. ConsumerGroupOffsets then
	// holds the partitions of these groups only.
	ConsumerGroupLags    []ConsumerGroupLag `json:"consumer_group_lags,omitzero"`
	ConsumerGroupsSynced int                `json:"consumer_groups_synced,omitzero"`
}

// MaxDescribedGroupLags bounds the groups link describe lists.
const MaxDescribedGroupLags = 20

// ConsumerGroupLag is one synced group's offset lag over the link's
// mirror partitions.
type ConsumerGroupLag struct {
	GroupID       string `json:"group_id"`
	SourceGroupID string `json:"source_group_id"`
	// OffsetLag sums the source's committed offset minus this cluster's
	// over the group's mirror partitions (positive differences only).
	OffsetLag  int64 `json:"offset_lag"`
	Partitions int   `json:"partitions"`
	// Status is the group's worst partition status: GROUP_ACTIVE, then
	// CLAMPED_TO_MIRROR_END, then SYNCED.
	Status     string `json:"status"`
	LastSyncMs int64  `json:"last_sync_ms"` // epoch ms of the newest sync of its offsets
}

// ConsumerGroupOffset is one synced group's offsets on one mirror
// partition: committed on the source and here, and the offset lag
// between them (source minus destination).
type ConsumerGroupOffset struct {
	GroupID           string `json:"group_id"`
	SourceGroupID     string `json:"source_group_id"`
	MirrorTopicName   string `json:"mirror_topic_name"`
	PartitionID       int32  `json:"partition_id"`
	SourceOffset      int64  `json:"source_offset"`
	DestinationOffset int64  `json:"destination_offset"` // -1: none committed
	OffsetLag         int64  `json:"offset_lag"`
	// Status is SYNCED, GROUP_ACTIVE (the group has members here and is
	// left alone) or CLAMPED_TO_MIRROR_END (the mirror does not have the
	// source's offset yet).
	Status string `json:"status"`
}

// LinkTask is one background task of a link (§1.3).
type LinkTask struct {
	TaskName string      `json:"task_name"`
	State    string      `json:"state"`
	Errors   []TaskError `json:"errors"`
	// Tandem extensions (epoch ms, 0 before the first run); clients
	// ignore unknown fields.
	LastRunMs     int64 `json:"last_run_ms"`
	LastSuccessMs int64 `json:"last_success_ms"`
}

// TaskError is a link task's or a mirror state transition's error.
type TaskError struct {
	ErrorCode    string `json:"error_code"`
	ErrorMessage string `json:"error_message"`
}

// CategoryCount counts a link's mirror partitions in one state category.
type CategoryCount struct {
	StateCategory string `json:"state_category"`
	Count         int    `json:"count"`
}

// LinkConfig is KafkaLinkConfigData. It carries both the CC (is_read_only,
// is_sensitive) and the CP (read_only, sensitive) spellings, as §5.2
// recommends.
type LinkConfig struct {
	Kind        string       `json:"kind"`
	Metadata    ResourceMeta `json:"metadata"`
	ClusterID   string       `json:"cluster_id"`
	LinkName    string       `json:"link_name"`
	Name        string       `json:"name"`
	Value       *string      `json:"value"` // null when unset or sensitive
	IsDefault   bool         `json:"is_default"`
	IsReadOnly  bool         `json:"is_read_only"`
	ReadOnly    bool         `json:"read_only"`
	IsSensitive bool         `json:"is_sensitive"`
	Sensitive   bool         `json:"sensitive"`
	Source      string       `json:"source"`
	Synonyms    []string     `json:"synonyms"`
}

// CreateLinkRequest is CreateLinkRequestData (POST .../links). The link
// name is the link_name query parameter, not a body field (§5.1).
type CreateLinkRequest struct {
	SourceClusterID      string        `json:"source_cluster_id,omitempty"`
	DestinationClusterID string        `json:"destination_cluster_id,omitempty"`
	RemoteClusterID      string        `json:"remote_cluster_id,omitempty"`
	ClusterLinkID        string        `json:"cluster_link_id,omitempty"`
	Configs              []ConfigValue `json:"configs"`
}

// ConfigValue is one {"name","value"} of a create request's "configs".
// The server refuses a null value.
type ConfigValue struct {
	Name  string  `json:"name"`
	Value *string `json:"value"`
}

// ConfigValues turns a map into a "configs" list, sorted by name so that
// a request is the same every time; never nil, so it encodes as [].
func ConfigValues(m map[string]string) []ConfigValue {
	out := make([]ConfigValue, 0, len(m))
	for k, v := range m {
		out = append(out, ConfigValue{Name: k, Value: &v})
	}
	slices.SortFunc(out, func(a, b ConfigValue) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// AlterConfigsRequest is a batch config change (PUT
// .../links/{link}/configs:alter, POST .../topics/{topic}/configs:alter).
type AlterConfigsRequest struct {
	Data         []AlterConfig `json:"data"`
	ValidateOnly bool          `json:"validate_only,omitempty"`
}

// AlterConfig is one entry of a batch: a SET (the default when Operation
// is absent) with a Value, or a DELETE.
type AlterConfig struct {
	Name      string  `json:"name"`
	Value     *string `json:"value,omitempty"`
	Operation *string `json:"operation,omitempty"`
}

// UpdateConfigRequest sets one config (PUT .../configs/{name}).
type UpdateConfigRequest struct {
	Value *string `json:"value"`
}
