package main

// What `tandem link|mirror ... -o json|yaml` prints, and the columns of the
// human tables. They follow the confluent CLI's output of `confluent kafka
// link|mirror` (its `serialized` keys, `human` column names, nesting and
// value types), not the REST API's shapes, so that scripts written for it
// read Tandem's output too. docs/cli.md lists what still differs, and why.

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/internal/restapi"
)

// linkOut is one link of `link list` and `link describe`. Cluster IDs,
// the error and the category counts are left out when empty, as the
// confluent CLI does; topic_name is there only with --include-topics.
type linkOut struct {
	Name               string            `json:"link_name"`
	ID                 string            `json:"link_id"`
	TopicName          *string           `json:"topic_name,omitempty"`
	SourceCluster      string            `json:"source_cluster,omitempty"`
	DestinationCluster string            `json:"destination_cluster,omitempty"`
	RemoteCluster      string            `json:"remote_cluster,omitempty"`
	State              string            `json:"state"`
	Error              string            `json:"error,omitempty"`
	ErrorMessage       string            `json:"error_message,omitempty"`
	CategoryCounts     []linkCategoryOut `json:"category_counts,omitempty"`
	// A paired half's view of its peer (link.mode=SOURCE/BIDIRECTIONAL,
	// connection.mode=INBOUND); the update time is RFC 3339, UTC.
	RemoteLinkState           string `json:"remote_link_state,omitempty"`
	RemoteLinkStateUpdateTime string `json:"remote_link_state_update_time,omitempty"`
	RemoteLinkStateMessage    string `json:"remote_link_state_message,omitempty"`
	// Describe only: the synced consumer groups with the most offset lag
	// (at most restapi.MaxDescribedGroupLags) and how many there are.
	ConsumerGroupLags    []linkGroupLagOut `json:"consumer_group_lags,omitempty"`
	ConsumerGroupsSynced int               `json:"consumer_groups_synced,omitempty"`
}

// linkGroupLagOut is one synced group's offset lag between source and
// destination, summed over its mirror partitions.
type linkGroupLagOut struct {
	Group       string `json:"group_id"`
	SourceGroup string `json:"source_group_id"`
	OffsetLag   int64  `json:"offset_lag"`
	Partitions  int    `json:"partitions"`
	Status      string `json:"status"`
	LastSync    string `json:"last_sync"` // RFC 3339, UTC
}

// linkGroupLags is what describe shows of l's consumer offset sync.
func linkGroupLags(l restapi.Link) []linkGroupLagOut {
	var out []linkGroupLagOut
	for _, g := range l.ConsumerGroupLags {
		last := ""
		if g.LastSyncMs > 0 {
			last = time.UnixMilli(g.LastSyncMs).UTC().Format(time.RFC3339)
		}
		out = append(out, linkGroupLagOut{Group: g.GroupID, SourceGroup: g.SourceGroupID, OffsetLag: g.OffsetLag,
			Partitions: g.Partitions, Status: g.Status, LastSync: last})
	}
	return out
}

type linkCategoryOut struct {
	StateCategory string `json:"state_category"`
	Count         int    `json:"count"`
}

func newLinkOut(l restapi.Link) linkOut {
	o := linkOut{
		Name:                   l.LinkName,
		ID:                     l.ClusterLinkID,
		SourceCluster:          deref(l.SourceClusterID),
		DestinationCluster:     deref(l.DestinationClusterID),
		RemoteCluster:          deref(l.RemoteClusterID),
		State:                  l.LinkState,
		Error:                  shownError(l.LinkError),
		ErrorMessage:           deref(l.LinkErrorMessage),
		RemoteLinkState:        deref(l.RemoteLinkState),
		RemoteLinkStateMessage: deref(l.RemoteLinkStateMessage),
	}
	if l.RemoteLinkStateUpdateTimeMs != nil {
		o.RemoteLinkStateUpdateTime = time.UnixMilli(*l.RemoteLinkStateUpdateTimeMs).UTC().Format(time.RFC3339)
	}
	// link_id is the deprecated UUID form REST still sends; the CLI
	// prints it as the link's ID. Fall back to cluster_link_id.
	if l.LinkID != nil && *l.LinkID != "" {
		o.ID = *l.LinkID
	}
	for _, c := range l.CategoryCounts {
		o.CategoryCounts = append(o.CategoryCounts, linkCategoryOut{StateCategory: c.StateCategory, Count: c.Count})
	}
	return o
}

func (o linkOut) categoryText() string {
	parts := make([]string, 0, len(o.CategoryCounts))
	for _, c := range o.CategoryCounts {
		parts = append(parts, c.StateCategory+": "+strconv.Itoa(c.Count))
	}
	return strings.Join(parts, ", ")
}

// linkConfigOut is a `link configuration list` row.
type linkConfigOut struct {
	ConfigName  string   `json:"config_name"`
	ConfigValue string   `json:"config_value"`
	ReadOnly    bool     `json:"read_only"`
	Sensitive   bool     `json:"sensitive"`
	Source      string   `json:"source"`
	Synonyms    []string `json:"synonyms"`
}

// linkTaskOut is a `link task list` row; errors is never null.
type linkTaskOut struct {
	TaskName string              `json:"task_name"`
	State    string              `json:"state"`
	Errors   []restapi.TaskError `json:"errors"`
}

// taskErrorsText is a task's errors in one table cell, as the confluent
// CLI writes them: CODE: "message", ...
func taskErrorsText(errs []restapi.TaskError) string {
	parts := make([]string, 0, len(errs))
	for _, e := range errs {
		parts = append(parts, e.ErrorCode+": "+strconv.Quote(e.ErrorMessage))
	}
	return strings.Join(parts, ", ")
}

// mirrorListOut is a `mirror list` row.
type mirrorListOut struct {
	LinkName                 string `json:"link_name"`
	MirrorTopicName          string `json:"mirror_topic_name"`
	SourceTopicName          string `json:"source_topic_name"`
	MirrorStatus             string `json:"mirror_status"`
	StatusTimeMs             int64  `json:"status_time_ms"`
	NumPartition             int32  `json:"num_partition"`
	MaxPerPartitionMirrorLag int64  `json:"max_per_partition_mirror_lag"`
}

// mirrorPartitionOut is a `mirror describe` row: one per partition. The
// state transition errors (which the confluent CLI has printed in some
// versions, in every row) and the mirror topic error are Tandem additions,
// present only when there are any.
type mirrorPartitionOut struct {
	LinkName              string              `json:"link_name"`
	MirrorTopicName       string              `json:"mirror_topic_name"`
	SourceTopicName       string              `json:"source_topic_name"`
	MirrorStatus          string              `json:"mirror_status"`
	StatusTimeMs          int64               `json:"status_time_ms"`
	Partition             int32               `json:"partition"`
	PartitionMirrorLag    int64               `json:"partition_mirror_lag"`
	LastSourceFetchOffset int64               `json:"last_source_fetch_offset"`
	StateTransitionErrors []restapi.TaskError `json:"mirror_state_transition_errors,omitempty"`
	MirrorTopicError      string              `json:"mirror_topic_error,omitempty"`
}

func mirrorPartitionRows(m restapi.Mirror) []mirrorPartitionOut {
	lags := slices.Clone(m.MirrorLags)
	slices.SortFunc(lags, func(a, b restapi.MirrorLag) int { return cmp.Compare(a.Partition, b.Partition) })
	out := make([]mirrorPartitionOut, 0, len(lags))
	for _, l := range lags {
		out = append(out, mirrorPartitionOut{
			LinkName: m.LinkName, MirrorTopicName: m.MirrorTopicName, SourceTopicName: m.SourceTopicName,
			MirrorStatus: m.MirrorStatus, StatusTimeMs: m.StateTimeMs, Partition: l.Partition,
			PartitionMirrorLag: l.Lag, LastSourceFetchOffset: l.LastSourceFetchOffset,
			StateTransitionErrors: m.StateTransitionErrors, MirrorTopicError: shownError(m.MirrorTopicError),
		})
	}
	return out
}

// alterMirrorOut is a row of `mirror pause|resume|promote|failover`: one
// per partition of each topic that succeeded, and one with partition, lag
// and offset -1 for each topic that failed. error_code is a string, ""
// on success.
type alterMirrorOut struct {
	MirrorTopicName       string `json:"mirror_topic_name"`
	Partition             int32  `json:"partition"`
	PartitionMirrorLag    int64  `json:"partition_mirror_lag"`
	LastSourceFetchOffset int64  `json:"last_source_fetch_offset"`
	ErrorMessage          string `json:"error_message"`
	ErrorCode             string `json:"error_code"`
}

// alterMirrorFailed says whether one topic's outcome is a failure.
func alterMirrorFailed(r restapi.AlterMirrorsResult) bool {
	return r.ErrorCode != nil || deref(r.ErrorMessage) != ""
}

func alterMirrorRows(results []restapi.AlterMirrorsResult) []alterMirrorOut {
	out := []alterMirrorOut{}
	for _, r := range results {
		if alterMirrorFailed(r) {
			code := ""
			if r.ErrorCode != nil {
				code = strconv.Itoa(*r.ErrorCode)
			}
			out = append(out, alterMirrorOut{MirrorTopicName: r.MirrorTopicName, Partition: -1, PartitionMirrorLag: -1,
				LastSourceFetchOffset: -1, ErrorMessage: deref(r.ErrorMessage), ErrorCode: code})
			continue
		}
		lags := slices.Clone(r.MirrorLags)
		slices.SortFunc(lags, func(a, b restapi.MirrorLag) int { return cmp.Compare(a.Partition, b.Partition) })
		for _, l := range lags {
			out = append(out, alterMirrorOut{MirrorTopicName: r.MirrorTopicName, Partition: l.Partition,
				PartitionMirrorLag: l.Lag, LastSourceFetchOffset: l.LastSourceFetchOffset})
		}
	}
	return out
}

// groupOut is a `group list` row: the confluent CLI's consumerGroupOut.
// coordinator is the coordinator's broker id, as text.
type groupOut struct {
	Cluster           string `json:"cluster"`
	ConsumerGroup     string `json:"consumer_group"`
	Coordinator       string `json:"coordinator"`
	IsSimple          bool   `json:"is_simple"`
	PartitionAssignor string `json:"partition_assignor"`
	State             string `json:"state"`
}

func newGroupOut(g restapi.ConsumerGroup) groupOut {
	// The related link is .../brokers/{id}; the CLI prints the id.
	_, broker, _ := strings.Cut(g.Coordinator.Related, "/brokers/")
	return groupOut{Cluster: g.ClusterID, ConsumerGroup: g.ConsumerGroupID, Coordinator: broker,
		IsSimple: g.IsSimple, PartitionAssignor: g.PartitionAssignor, State: g.State}
}

// groupDescribeOut is `group describe`: the confluent CLI's keys, then
// Tandem's additions (the lag in brief, the members and every committed
// partition's lag) so that one command shows what kafka-consumer-groups.sh
// --describe does.
type groupDescribeOut struct {
	groupOut
	TotalLag  int64              `json:"total_lag"`
	MaxLag    int64              `json:"max_lag"`
	Consumers []groupConsumerOut `json:"consumers"`
	Lags      []lagOut           `json:"lags"`
}

// groupConsumerOut is one member of a group and its partitions.
type groupConsumerOut struct {
	Consumer    string              `json:"consumer"`
	Instance    string              `json:"instance"`
	Client      string              `json:"client"`
	Assignments []topicPartitionOut `json:"assignments"`
}

type topicPartitionOut struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
}

// assignmentText is a member's partitions in one cell, as Kafka's
// kafka-consumer-groups.sh --members --verbose writes them: t(0,1);u(2).
func (c groupConsumerOut) assignmentText() string {
	var b strings.Builder
	for i, a := range c.Assignments {
		switch {
		case i == 0:
			b.WriteString(a.Topic + "(")
		case a.Topic != c.Assignments[i-1].Topic:
			b.WriteString(");" + a.Topic + "(")
		default:
			b.WriteString(",")
		}
		b.WriteString(strconv.Itoa(int(a.Partition)))
	}
	if len(c.Assignments) > 0 {
		b.WriteString(")")
	}
	return b.String()
}

// lagOut is a `group lag list` row and `group lag describe`: the
// confluent CLI's lagOut. consumer, instance and client are "" for a
// partition no member is assigned.
type lagOut struct {
	Cluster       string `json:"cluster"`
	ConsumerGroup string `json:"consumer_group"`
	Lag           int64  `json:"lag"`
	LogEndOffset  int64  `json:"log_end_offset"`
	CurrentOffset int64  `json:"current_offset"`
	Consumer      string `json:"consumer"`
	Instance      string `json:"instance"`
	Client        string `json:"client"`
	Topic         string `json:"topic"`
	Partition     int32  `json:"partition"`
}

func newLagOut(l restapi.ConsumerLag) lagOut {
	return lagOut{Cluster: l.ClusterID, ConsumerGroup: l.ConsumerGroupID, Lag: l.Lag, LogEndOffset: l.LogEndOffset,
		CurrentOffset: l.CurrentOffset, Consumer: l.ConsumerID, Instance: deref(l.InstanceID), Client: l.ClientID,
		Topic: l.TopicName, Partition: l.PartitionID}
}

// lagSummaryOut is `group lag summarize`: the confluent CLI's
// summarizeOut.
type lagSummaryOut struct {
	Cluster         string `json:"cluster"`
	ConsumerGroup   string `json:"consumer_group"`
	TotalLag        int64  `json:"total_lag"`
	MaxLag          int64  `json:"max_lag"`
	MaxLagConsumer  string `json:"max_lag_consumer"`
	MaxLagInstance  string `json:"max_lag_instance"`
	MaxLagClient    string `json:"max_lag_client"`
	MaxLagTopic     string `json:"max_lag_topic"`
	MaxLagPartition int32  `json:"max_lag_partition"`
}
