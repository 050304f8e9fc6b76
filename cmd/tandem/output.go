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
}

type linkCategoryOut struct {
	StateCategory string `json:"state_category"`
	Count         int    `json:"count"`
}

func newLinkOut(l restapi.Link) linkOut {
	o := linkOut{
		Name:               l.LinkName,
		ID:                 l.ClusterLinkID,
		SourceCluster:      deref(l.SourceClusterID),
		DestinationCluster: deref(l.DestinationClusterID),
		RemoteCluster:      deref(l.RemoteClusterID),
		State:              l.LinkState,
		Error:              shownError(l.LinkError),
		ErrorMessage:       deref(l.LinkErrorMessage),
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
