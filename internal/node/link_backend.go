package node

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/link"
	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/rest"
	"github.com/tandem-streaming/tandem/internal/restapi"
	"github.com/tandem-streaming/tandem/internal/usererr"
)

// linkBackend adapts the link manager to the HTTP API's LinkBackend.
type linkBackend struct {
	m *link.Manager
}

var _ rest.LinkBackend = linkBackend{}

// restError keeps the manager's message and adds the REST sentinel that
// picks the HTTP status and error code.
type restError struct {
	err      error
	sentinel error
}

func (e *restError) Error() string   { return e.err.Error() }
func (e *restError) Unwrap() []error { return []error{e.sentinel, e.err} }

// mapLinkErr classifies a manager error for the REST layer.
func mapLinkErr(err error) error {
	if err == nil {
		return nil
	}
	var s error
	switch {
	case errors.Is(err, metadata.ErrUnknownLink):
		s = rest.ErrLinkNotFound
	case errors.Is(err, metadata.ErrLinkExists):
		s = rest.ErrLinkExists
	case errors.Is(err, link.ErrLinkInUse):
		s = rest.ErrLinkInUse
	case errors.Is(err, link.ErrNotMirror):
		s = rest.ErrMirrorNotFound
	case errors.Is(err, link.ErrMirrorState), errors.Is(err, link.ErrPromoteNotReady), errors.Is(err, link.ErrRestore):
		s = rest.ErrInvalidMirrorState
	case errors.Is(err, link.ErrSourceCluster), errors.Is(err, link.ErrMirrorName), errors.Is(err, link.ErrInvalidConfig), errors.Is(err, link.ErrMirrorConfig),
		errors.Is(err, link.ErrUnknownConfig), errors.Is(err, link.ErrCreateOnly), errors.Is(err, link.ErrNotSupported),
		errors.Is(err, link.ErrDisabled), errors.Is(err, link.ErrNoPeer), errors.Is(err, link.ErrRemoteLinkNotFound):
		s = rest.ErrInvalidLink
	default:
		// Kafka errors (unknown topic, topic exists, ...) map as for topics.
		return broker.AsKafkaError(err)
	}
	return &restError{err: err, sentinel: s}
}

// parseLinkID reads a cluster_link_id: Kafka's 22-character base64 form,
// or the UUID form link_id shows.
func parseLinkID(s string) ([16]byte, error) {
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil && len(b) == 16 {
		if id := [16]byte(b); id != ([16]byte{}) {
			return id, nil
		}
	}
	if id, err := metadata.ParseUUID(s); err == nil && id != ([16]byte{}) {
		return id, nil
	}
	// The same id as `link describe` shows it under ID (REST link_id):
	// the dashed 8-4-4-4-12 hex form.
	if len(s) == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' {
		if b, err := hex.DecodeString(strings.ReplaceAll(s, "-", "")); err == nil && len(b) == 16 {
			if id := [16]byte(b); id != ([16]byte{}) {
				return id, nil
			}
		}
	}
	return [16]byte{}, usererr.New(link.ErrInvalidConfig, "invalid cluster_link_id %q: give the peer half's cluster_link_id (22 characters of base64) or its link ID (8-4-4-4-12 hex) as link describe shows them", s)
}

// linkID renders a link UUID the way Kafka renders ids (22 characters of
// URL-safe base64), as Confluent's cluster_link_id looks.
func linkID(id [16]byte) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

func (b linkBackend) linkInfo(li link.LinkInfo) rest.LinkInfo {
	out := rest.LinkInfo{
		Name: li.Link.Name, ClusterLinkID: linkID(li.Link.ID),
		State: li.State, Error: li.ErrorCode, ErrorMessage: li.ErrorMessage, TopicNames: li.TopicNames,
	}
	// The other cluster's id, under the field of the link's mode
	// (reference §1.1): known from the remote's Metadata at creation, or
	// from the peer half's last word.
	remote := li.Link.SourceClusterID
	if r := li.Remote; r != nil {
		remote = cmp.Or(remote, r.ClusterID)
		out.RemoteLinkState, out.RemoteLinkStateMessage = r.State, r.Message
		out.RemoteLinkStateTimeMs = epochMs(r.Time)
	}
	switch link.LinkMode(li.Link.Configs) {
	case link.ModeSource:
		out.DestinationClusterID = remote
	case link.ModeBidirectional:
		out.RemoteClusterID = remote
	default:
		out.SourceClusterID = remote
	}
	for _, st := range slices.Sorted(maps.Keys(li.MirrorPartsByState)) {
		out.CategoryCounts = append(out.CategoryCounts, rest.StateCount{Category: category(st), Count: li.MirrorPartsByState[st]})
	}
	return out
}

// category maps a mirror state to Confluent's state categories.
func category(state metadata.MirrorState) string {
	switch state {
	case link.MirrorActive:
		return "ACTIVE"
	case link.MirrorPaused, link.MirrorLinkPaused:
		return "PAUSED"
	case link.MirrorFailed, link.MirrorSourceUnavailable:
		return "IN_ERROR"
	case link.MirrorPendingStopped, metadata.MirrorPendingRestore, metadata.MirrorPendingSetupForRestore:
		return "PENDING"
	}
	return "NOT_APPLICABLE"
}

func (b linkBackend) ListLinks(context.Context) ([]rest.LinkInfo, error) {
	var out []rest.LinkInfo
	for _, li := range b.m.Links() {
		out = append(out, b.linkInfo(li))
	}
	return out, nil
}

func (b linkBackend) GetLink(_ context.Context, name string, includeTasks bool) (rest.LinkInfo, error) {
	li, err := b.m.Link(name)
	if err != nil {
		return rest.LinkInfo{}, mapLinkErr(err)
	}
	info := b.linkInfo(li)
	if includeTasks {
		info.Tasks = []rest.LinkTask{}
		for _, t := range li.Tasks {
			lt := rest.LinkTask{Name: t.Name, State: t.State, LastRunMs: epochMs(t.LastRun), LastSuccessMs: epochMs(t.LastSuccess)}
			if t.ErrorCode != "" {
				lt.Errors = []rest.TaskError{{Code: t.ErrorCode, Message: t.ErrorMessage}}
			}
			info.Tasks = append(info.Tasks, lt)
		}
		info.ConsumerGroupLags, info.ConsumerGroupsSynced, info.ConsumerGroupOffsets = consumerGroupOffsets(b.m, name)
	}
	return info, nil
}

func (b linkBackend) CreateLink(ctx context.Context, req rest.CreateLinkRequest) error {
	// The remote cluster's id comes under the field of the link's mode
	// (source_cluster_id, destination_cluster_id or remote_cluster_id,
	// reference §1.1, §5.2); any one is taken, two that differ are
	// refused.
	remote := ""
	for _, id := range []string{req.SourceClusterID, req.DestinationClusterID, req.RemoteClusterID} {
		if id == "" {
			continue
		}
		if remote != "" && id != remote {
			return mapLinkErr(usererr.New(link.ErrInvalidConfig, "the remote cluster's id is given twice, as %s and %s; give it once", remote, id))
		}
		remote = id
	}
	var opts []link.CreateOption
	if req.ClusterLinkID != "" {
		id, err := parseLinkID(req.ClusterLinkID)
		if err != nil {
			return mapLinkErr(err)
		}
		opts = append(opts, link.WithClusterLinkID(id))
	}
	return mapLinkErr(b.m.CreateLink(ctx, req.Name, remote, req.Configs, req.ValidateOnly, req.ValidateLink, opts...))
}

func (b linkBackend) DeleteLink(_ context.Context, name string, force, validateOnly bool) error {
	return mapLinkErr(b.m.DeleteLink(name, force, validateOnly))
}

func (b linkBackend) LinkConfigs(_ context.Context, name string) ([]rest.LinkConfigEntry, error) {
	li, err := b.m.Link(name)
	if err != nil {
		return nil, mapLinkErr(err)
	}
	var out []rest.LinkConfigEntry
	for _, e := range link.Describe(li.Link.Configs) {
		out = append(out, rest.LinkConfigEntry{Name: e.Name, Value: e.Value, IsNull: e.IsNull, IsDefault: e.IsDefault,
			ReadOnly: e.ReadOnly, Sensitive: e.Sensitive, Source: e.Source})
	}
	return out, nil
}

func (b linkBackend) AlterLinkConfigs(_ context.Context, name string, ops []rest.ConfigOp, validateOnly bool) error {
	li, err := b.m.Link(name)
	if err != nil {
		return mapLinkErr(err)
	}
	next := maps.Clone(li.Link.Configs)
	for _, op := range ops {
		if op.Delete {
			delete(next, op.Name)
		} else {
			next[op.Name] = op.Value
		}
	}
	return mapLinkErr(b.m.AlterLinkConfigs(name, next, validateOnly))
}

func mirrorInfo(mi link.MirrorInfo) rest.MirrorInfo {
	t := mi.Topic
	out := rest.MirrorInfo{Link: t.Mirror.Link, MirrorTopic: t.Name, SourceTopic: t.Mirror.SourceTopic,
		NumPartitions: t.Partitions, State: string(mi.State), StateTimeMs: t.Mirror.StateTimeMs, Error: t.Mirror.Error}
	for _, e := range mi.TransitionErrors {
		out.StateTransitionErrors = append(out.StateTransitionErrors, rest.TaskError{Code: e.Code, Message: e.Message})
	}
	for _, p := range mi.Partitions {
		since, age := int64(-1), int64(-1)
		if !p.LastFetch.IsZero() {
			since = time.Since(p.LastFetch).Milliseconds()
		}
		if !p.SourceEndTime.IsZero() {
			age = max(time.Since(p.SourceEndTime).Milliseconds(), 0)
		}
		out.Lags = append(out.Lags, rest.PartitionLag{Partition: p.Partition, Lag: p.Lag(),
			LastSourceFetchOffset: p.LastSourceFetchOffset, TimeSinceLastFetchMs: since,
			LocalLogEndOffset: p.LocalEndOffset, SourceEndOffset: p.SourceEndOffset, SourceEndAgeMs: age})
	}
	return out
}

func (b linkBackend) ListMirrors(_ context.Context, linkName, status string) ([]rest.MirrorInfo, error) {
	mis, err := b.m.Mirrors(linkName, status)
	if err != nil {
		return nil, mapLinkErr(err)
	}
	out := make([]rest.MirrorInfo, 0, len(mis))
	for _, mi := range mis {
		out = append(out, mirrorInfo(mi))
	}
	return out, nil
}

func (b linkBackend) GetMirror(_ context.Context, linkName, mirror string) (rest.MirrorInfo, error) {
	mi, err := b.m.Mirror(linkName, mirror)
	if err != nil {
		return rest.MirrorInfo{}, mapLinkErr(err)
	}
	return mirrorInfo(mi), nil
}

func (b linkBackend) CreateMirror(ctx context.Context, linkName string, req rest.CreateMirrorRequest) error {
	if req.ReplicationFactor > 1 {
		return mapLinkErr(usererr.New(link.ErrInvalidConfig,
			"replication factor %d for mirror topic '%s' is above 1, and this is a single-node cluster; omit it or use 1", req.ReplicationFactor, cmp.Or(req.MirrorTopic, req.SourceTopic)))
	}
	return mapLinkErr(b.m.CreateMirror(ctx, linkName, req.SourceTopic, req.MirrorTopic, req.Configs, req.ValidateOnly))
}

func (b linkBackend) AlterMirrors(ctx context.Context, linkName, op string, names []string, pattern string, validateOnly bool) ([]rest.AlterMirrorResult, error) {
	var (
		res []link.AlterResult
		err error
	)
	switch op {
	case rest.MirrorOpTruncateAndRestore:
		return b.truncateAndRestore(ctx, linkName, names, pattern, validateOnly)
	case rest.MirrorOpReverseAndStart, rest.MirrorOpReverseAndPause:
		res, err = b.m.ReverseMirrors(ctx, linkName, names, pattern, op == rest.MirrorOpReverseAndPause, validateOnly)
	default:
		res, err = b.m.AlterMirrors(ctx, linkName, op, names, pattern, validateOnly)
	}
	if err != nil {
		return nil, mapLinkErr(err)
	}
	out := make([]rest.AlterMirrorResult, 0, len(res))
	for _, r := range res {
		out = append(out, alterResult(r.Topic, r.Err, r.Info))
	}
	return out, nil
}

// alterResult is one topic's outcome of a mirror operation, with the
// mirror's lags after it when the topic is a mirror.
func alterResult(topic string, err error, info link.MirrorInfo) rest.AlterMirrorResult {
	ar := rest.AlterMirrorResult{MirrorTopic: topic, Err: mapLinkErr(err)}
	if info.Topic.Mirror != nil {
		ar.Lags = mirrorInfo(info).Lags
	}
	return ar
}

// truncateAndRestore serves mirrors:truncate-and-restore: each topic's
// plan becomes messages_truncated and, per partition,
// partition_level_truncation_data (reference §2.5).
func (b linkBackend) truncateAndRestore(ctx context.Context, linkName string, names []string, pattern string, validateOnly bool) ([]rest.AlterMirrorResult, error) {
	res, err := b.m.TruncateAndRestore(ctx, linkName, names, pattern, validateOnly)
	if err != nil {
		return nil, mapLinkErr(err)
	}
	out := make([]rest.AlterMirrorResult, 0, len(res))
	for _, r := range res {
		ar := alterResult(r.Topic, r.Err, r.Info)
		if r.Err == nil {
			n := r.MessagesTruncated()
			ar.MessagesTruncated = &n
			ar.Truncation = []restapi.Truncation{}
			for _, p := range r.Plan {
				ar.Truncation = append(ar.Truncation, restapi.Truncation{PartitionID: p.Partition, OffsetTruncatedTo: p.TruncatedTo, MessagesTruncated: p.Records})
			}
		}
		out = append(out, ar)
	}
	return out, nil
}

// epochMs is t in epoch milliseconds, 0 for the zero time.
func epochMs(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// consumerGroupOffsets is what the link's last consumer offset sync found,
// bounded: the restapi.MaxDescribedGroupLags groups with the most offset
// lag, how many groups there are, and the partitions of those groups.
func consumerGroupOffsets(m *link.Manager, name string) ([]restapi.ConsumerGroupLag, int, []restapi.ConsumerGroupOffset) {
	lags, _ := m.GroupOffsetLags(name)
	groups, n := link.TopGroupLags(lags, restapi.MaxDescribedGroupLags)
	var (
		top   []restapi.ConsumerGroupLag
		shown = map[string]bool{}
		parts []restapi.ConsumerGroupOffset
	)
	for _, g := range groups {
		top = append(top, restapi.ConsumerGroupLag{GroupID: g.Group, SourceGroupID: g.SourceGroup, OffsetLag: g.Lag,
			Partitions: g.Partitions, Status: g.Status, LastSyncMs: epochMs(g.LastSync)})
		shown[g.Group] = true
	}
	for _, l := range lags {
		if shown[l.Group] {
			parts = append(parts, restapi.ConsumerGroupOffset{GroupID: l.Group, SourceGroupID: l.SourceGroup, MirrorTopicName: l.Topic,
				PartitionID: l.Partition, SourceOffset: l.SourceOffset, DestinationOffset: l.LocalOffset, OffsetLag: l.Lag, Status: l.Status})
		}
	}
	return top, n, parts
}
