package rest

// Mirror topics over Confluent REST v3 (cluster-linking.md §2.3–2.6, §5).

import (
	"cmp"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/tandem-streaming/tandem/internal/restapi"
)

// CreateMirrorRequest creates a mirror topic on a link.
type CreateMirrorRequest struct {
	SourceTopic string
	// MirrorTopic is "" when the request named none: the link manager
	// derives it (the source name, plus cluster.link.prefix if set; §2.1).
	MirrorTopic       string
	ReplicationFactor int16 // -1 = broker default
	Configs           map[string]string
	ValidateOnly      bool
}

// MirrorInfo describes one mirror topic (KafkaMirrorData).
type MirrorInfo struct {
	Link          string
	MirrorTopic   string
	SourceTopic   string
	NumPartitions int32
	State         string // a MirrorStatus value; "" = UNKNOWN
	StateTimeMs   int64  // when State was entered, epoch ms
	Error         string // mirror_topic_error, e.g. SOURCE_TOPIC_MAY_BE_DELETED; "" = NO_ERROR
	Lags          []PartitionLag
	// StateTransitionErrors are returned only with
	// include_state_transition_errors=true.
	StateTransitionErrors []TaskError
}

// PartitionLag is one partition's mirroring lag (§2.6).
type PartitionLag struct {
	Partition int32
	Lag       int64
	// LastSourceFetchOffset is -1 until something has been fetched.
	LastSourceFetchOffset int64
	// TimeSinceLastFetchMs is -1 until something has been fetched (the
	// per-partition TimeSinceLastFetchMs of kafka-mirrors --describe).
	TimeSinceLastFetchMs int64
	// LocalLogEndOffset is the mirror partition's log end offset;
	// SourceEndOffset the newest source high watermark known (-1: none)
	// and SourceEndAgeMs how old that knowledge is (-1: none). Lag counts
	// from it, so a paused or cut-off mirror shows its last known lag and
	// how stale it is. For a STOPPED mirror they are the values at the
	// stop.
	LocalLogEndOffset int64
	SourceEndOffset   int64
	SourceEndAgeMs    int64
}

// AlterMirrorResult is the outcome of a mirror operation for one topic.
type AlterMirrorResult struct {
	MirrorTopic string
	// Err is nil on success; otherwise it becomes the item's error_code
	// and error_message, mapped like a request error (ErrMirrorNotFound
	// gives 40403, ErrInvalidMirrorState 40002, ...).
	Err  error
	Lags []PartitionLag
	// MessagesTruncated and Truncation are truncate-and-restore's
	// messages_truncated (nil: none reported) and, per partition, its
	// partition_level_truncation_data.
	MessagesTruncated *int64
	Truncation        []restapi.Truncation
}

// Mirror operations (the REST action after "mirrors:").
const (
	MirrorOpPause    = "pause"
	MirrorOpResume   = "resume"
	MirrorOpPromote  = "promote"
	MirrorOpFailover = "failover"
	// The failback operations of bidirectional links (§2.5,
	// docs/design/links-bidirectional.md §5).
	MirrorOpTruncateAndRestore = "truncate-and-restore"
	MirrorOpReverseAndStart    = "reverse-and-start-mirror"
	MirrorOpReverseAndPause    = "reverse-and-pause-mirror"
)

var mirrorOps = []string{MirrorOpPause, MirrorOpResume, MirrorOpPromote, MirrorOpFailover,
	MirrorOpTruncateAndRestore, MirrorOpReverseAndStart, MirrorOpReverseAndPause}

// mirrorOpAliases are the older CP spellings of the reverse operations,
// served too as §5.1 recommends.
var mirrorOpAliases = map[string]string{
	"promote-local-and-start-remote-mirror": MirrorOpReverseAndStart,
	"promote-local-and-pause-remote-mirror": MirrorOpReverseAndPause,
}

// MirrorStatuses are the mirror_status values (§2.3, plus the CP SDK's
// UNKNOWN); mirror_status filters must be one of them.
var MirrorStatuses = []string{
	"ACTIVE", "FAILED", "LINK_FAILED", "LINK_PAUSED", "PAUSED", "PENDING_STOPPED",
	"SOURCE_UNAVAILABLE", "STOPPED", "PENDING_MIRROR", "PENDING_SYNCHRONIZE",
	"PENDING_SETUP_FOR_RESTORE", "PENDING_RESTORE", "UNKNOWN",
}

// allLinks is the {link_name} that lists the mirrors of every link.
const allLinks = "-"

func (u urls) mirror(link, topic string) string {
	return u.link(link) + "/mirrors/" + url.PathEscape(topic)
}

func mirrorLags(lags []PartitionLag) []restapi.MirrorLag {
	lags = slices.Clone(lags)
	slices.SortFunc(lags, func(a, b PartitionLag) int { return cmp.Compare(a.Partition, b.Partition) })
	out := make([]restapi.MirrorLag, 0, len(lags))
	for _, l := range lags {
		out = append(out, restapi.MirrorLag{Partition: l.Partition, Lag: l.Lag, LastSourceFetchOffset: l.LastSourceFetchOffset,
			TimeSinceLastFetchMs: l.TimeSinceLastFetchMs, LocalLogEndOffset: l.LocalLogEndOffset,
			SourceEndOffset: l.SourceEndOffset, SourceEndAgeMs: l.SourceEndAgeMs})
	}
	return out
}

func mirrorDataFor(u urls, m MirrorInfo, withTransitionErrors bool) restapi.Mirror {
	d := restapi.Mirror{
		Kind: "KafkaMirrorData",
		Metadata: resourceMeta{
			Self:         u.mirror(m.Link, m.MirrorTopic),
			ResourceName: u.crn("cluster-link="+m.Link, "topic="+m.MirrorTopic),
		},
		LinkName:         m.Link,
		MirrorTopicName:  m.MirrorTopic,
		SourceTopicName:  m.SourceTopic,
		NumPartitions:    m.NumPartitions,
		MirrorLags:       mirrorLags(m.Lags),
		MirrorStatus:     cmpOr(m.State, "UNKNOWN"),
		MirrorTopicError: cmpOr(m.Error, "NO_ERROR"),
		StateTimeMs:      m.StateTimeMs,
	}
	if withTransitionErrors {
		d.StateTransitionErrors = taskErrors(m.StateTransitionErrors)
	}
	return d
}

// mirrorStatusParam reads the mirror_status filter, case-insensitively
// (the confluent CLI documents lower-case values, §6.3).
func mirrorStatusParam(r *http.Request) (string, error) {
	s := r.URL.Query().Get("mirror_status")
	if s == "" {
		return "", nil
	}
	up := strings.ToUpper(s)
	if !slices.Contains(MirrorStatuses, up) {
		return "", badRequest("mirror_status %q is not one of %s", s, strings.Join(MirrorStatuses, ", "))
	}
	return up, nil
}

func (h *handler) listMirrors(w http.ResponseWriter, r *http.Request, u urls) error {
	status, err := mirrorStatusParam(r)
	if err != nil {
		return err
	}
	link := r.PathValue("link_name")
	backendLink := link
	if link == allLinks {
		backendLink = ""
	}
	mirrors, err := h.links.ListMirrors(r.Context(), backendLink, status)
	if err != nil {
		return err
	}
	slices.SortFunc(mirrors, func(a, b MirrorInfo) int {
		return cmp.Or(strings.Compare(a.Link, b.Link), strings.Compare(a.MirrorTopic, b.MirrorTopic))
	})
	data := make([]restapi.Mirror, 0, len(mirrors))
	for _, m := range mirrors {
		data = append(data, mirrorDataFor(u, m, false))
	}
	WriteJSON(w, http.StatusOK, newList("KafkaMirrorDataList", u.link(link)+"/mirrors", data))
	return nil
}

func (h *handler) getMirror(w http.ResponseWriter, r *http.Request, u urls) error {
	withErrors, err := boolParam(r, "include_state_transition_errors", false)
	if err != nil {
		return err
	}
	m, err := h.links.GetMirror(r.Context(), r.PathValue("link_name"), r.PathValue("mirror_topic_name"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, mirrorDataFor(u, m, withErrors))
	return nil
}

// createMirror answers 204 (createKafkaMirrorTopic, §5.1). validate_only
// is a Tandem addition (query or body) behind `tandem mirror create
// --dry-run`.
func (h *handler) createMirror(w http.ResponseWriter, r *http.Request, u urls) error {
	var body createMirrorBody
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if body.SourceTopicName == "" {
		return badRequest("source_topic_name is required")
	}
	configs, err := configMap(body.Configs)
	if err != nil {
		return err
	}
	req := CreateMirrorRequest{
		SourceTopic:       body.SourceTopicName,
		ReplicationFactor: -1,
		Configs:           configs,
		ValidateOnly:      body.ValidateOnly,
	}
	if body.MirrorTopicName != nil {
		if *body.MirrorTopicName == "" {
			return badRequest("mirror_topic_name must not be empty (omit it to use the source topic name)")
		}
		req.MirrorTopic = *body.MirrorTopicName
	}
	if body.ReplicationFactor != nil {
		req.ReplicationFactor = *body.ReplicationFactor
	}
	if req.ValidateOnly, err = validateOnlyParam(r, body.ValidateOnly); err != nil {
		return err
	}
	link := r.PathValue("link_name")
	if err := h.authorizeMirrorCreate(r, link, req); err != nil {
		return err
	}
	if err := h.links.CreateMirror(r.Context(), link, req); err != nil {
		return err
	}
	if !req.ValidateOnly && req.MirrorTopic != "" {
		w.Header().Set("Location", u.mirror(link, req.MirrorTopic))
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// alterMirrors serves POST .../mirrors:<op>. The answer is 200 with one
// AlterMirrorsData per topic; per-topic failures are inside it (§5.2).
func (h *handler) alterMirrors(op string) func(http.ResponseWriter, *http.Request, urls) error {
	return func(w http.ResponseWriter, r *http.Request, u urls) error {
		var body alterMirrorsBody
		if err := decodeJSON(r, &body); err != nil {
			return err
		}
		var pattern string
		switch {
		case body.MirrorTopicNames != nil && body.MirrorTopicNamePattern != nil:
			return badRequest("give mirror_topic_names or mirror_topic_name_pattern, not both")
		case body.MirrorTopicNamePattern != nil:
			pattern = *body.MirrorTopicNamePattern
			if pattern == "" {
				return badRequest("mirror_topic_name_pattern must not be empty")
			}
			if _, err := regexp.Compile(pattern); err != nil {
				return badRequest("mirror_topic_name_pattern: %v", err)
			}
		case len(body.MirrorTopicNames) > 0:
			seen := make(map[string]bool, len(body.MirrorTopicNames))
			for i, n := range body.MirrorTopicNames {
				if n == "" {
					return badRequest("mirror_topic_names[%d] is empty", i)
				}
				if seen[n] {
					return badRequest("mirror_topic_names: duplicate topic %q", n)
				}
				seen[n] = true
			}
		default:
			return badRequest("mirror_topic_names or mirror_topic_name_pattern is required")
		}
		validateOnly, err := validateOnlyParam(r, body.ValidateOnly)
		if err != nil {
			return err
		}
		withTruncation, err := boolParam(r, "include_partition_level_truncation_data", false)
		if err != nil {
			return err
		}
		link := r.PathValue("link_name")
		results, err := h.alterAuthorizedMirrors(r, link, op, body.MirrorTopicNames, pattern, validateOnly)
		if err != nil {
			return err
		}
		data := make([]restapi.AlterMirrorsResult, 0, len(results))
		for _, res := range results {
			d := restapi.AlterMirrorsResult{
				Kind: "AlterMirrorsData",
				Metadata: resourceMeta{
					Self:         u.mirror(link, res.MirrorTopic),
					ResourceName: u.crn("cluster-link="+link, "topic="+res.MirrorTopic),
				},
				MirrorTopicName:              res.MirrorTopic,
				MirrorLags:                   mirrorLags(res.Lags),
				PartitionLevelTruncationData: []restapi.Truncation{},
			}
			if res.Err != nil {
				_, eb := mapError(linkError(res.Err))
				d.ErrorCode, d.ErrorMessage = &eb.ErrorCode, &eb.Message
			}
			d.MessagesTruncated = res.MessagesTruncated
			if withTruncation && res.Truncation != nil {
				d.PartitionLevelTruncationData = res.Truncation
			}
			data = append(data, d)
		}
		WriteJSON(w, http.StatusOK, newList("AlterMirrorsDataList", u.link(link)+"/mirrors:"+op, data))
		return nil
	}
}
