package rest

// Consumer groups over Confluent REST v3: the groups, their consumers and
// assignments, and their lag (per partition and in summary). Everything
// comes from internal/groupview, which the web console and the lag
// metrics read too, so the three cannot disagree.
//
// As in Confluent REST (ConsumerLagManagerImpl), lags are listed for the
// partitions the group has committed an offset for and whose end offset
// is known here; a group with no committed offset answers 404 on /lags and
// /lag-summary ("Consumer group offsets could not be found.").

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"unicode"

	"github.com/tandem-streaming/tandem/internal/groupview"
	"github.com/tandem-streaming/tandem/internal/restapi"
)

// GroupSource reads consumer groups; groupview.Reader is one. List need
// not fill in offsets. Get returns an error wrapping groupview.ErrNotFound
// for a group that does not exist.
type GroupSource interface {
	List(ctx context.Context) ([]groupview.Group, error)
	Get(ctx context.Context, id string) (groupview.Group, error)
}

// WithGroups serves the consumer-group resources from src.
func WithGroups(src GroupSource) Option {
	return func(h *handler) { h.groups = src }
}

func (h *handler) groupRoutes(c string) {
	const g = "/consumer-groups/{consumer_group_id}"
	h.handle("GET "+c+"/consumer-groups", h.listGroups)
	h.handle("GET "+c+g, h.getGroup)
	h.handle("GET "+c+g+"/consumers", h.listConsumers)
	h.handle("GET "+c+g+"/consumers/{consumer_id}", h.getConsumer)
	h.handle("GET "+c+g+"/consumers/{consumer_id}/assignments", h.listAssignments)
	h.handle("GET "+c+g+"/consumers/{consumer_id}/assignments/{topic_name}/partitions/{partition_id}", h.getAssignment)
	h.handle("GET "+c+g+"/lag-summary", h.getLagSummary)
	h.handle("GET "+c+g+"/lags", h.listLags)
	h.handle("GET "+c+g+"/lags/{topic_name}/partitions/{partition_id}", h.getLag)
}

func (u urls) group(id string) string { return u.cluster + "/consumer-groups/" + url.PathEscape(id) }
func (u urls) consumer(group, id string) string {
	return u.group(group) + "/consumers/" + url.PathEscape(id)
}
func (u urls) lag(group, topic string, p int32) string {
	return u.group(group) + "/lags/" + url.PathEscape(topic) + "/partitions/" + itoa(p)
}

// groupState is Confluent's name for a Kafka group state:
// PreparingRebalance → PREPARING_REBALANCE.
func groupState(s string) string {
	if s == "" {
		return "UNKNOWN"
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

func (h *handler) groupData(u urls, g groupview.Group) restapi.ConsumerGroup {
	self := u.group(g.ID)
	return restapi.ConsumerGroup{
		Kind:              "KafkaConsumerGroup",
		Metadata:          resourceMeta{Self: self, ResourceName: u.crn("consumer-group=" + g.ID)},
		ClusterID:         u.clusterID,
		ConsumerGroupID:   g.ID,
		IsSimple:          g.Simple(),
		PartitionAssignor: g.Protocol,
		State:             groupState(g.State),
		Type:              "CLASSIC",
		Coordinator:       relationship{Related: u.broker(h.b.NodeID())},
		Consumers:         relationship{Related: self + "/consumers"},
		LagSummary:        relationship{Related: self + "/lag-summary"},
	}
}

// groupRequest checks the cluster and reads the group in the path.
func (h *handler) groupRequest(r *http.Request) (urls, groupview.Group, error) {
	u, err := h.clusterURLs(r)
	if err != nil {
		return u, groupview.Group{}, err
	}
	id := r.PathValue("consumer_group_id")
	if h.groups == nil {
		return u, groupview.Group{}, notFound("Consumer Group %s could not be found.", id)
	}
	g, err := h.groups.Get(r.Context(), id)
	if errors.Is(err, groupview.ErrNotFound) {
		return u, g, notFound("Consumer Group %s could not be found.", id)
	}
	g.Offsets = h.describableOffsets(r, g.Offsets)
	return u, g, err
}

func (h *handler) listGroups(w http.ResponseWriter, r *http.Request) error {
	u, err := h.clusterURLs(r)
	if err != nil {
		return err
	}
	var out []restapi.ConsumerGroup
	if h.groups != nil {
		gs, err := h.groups.List(r.Context())
		if err != nil {
			return err
		}
		for _, g := range gs {
			if g.State == "Dead" {
				continue // deleted between ListGroups and DescribeGroups
			}
			if !h.mayDescribeGroup(r, g.ID) {
				continue // as ListGroups lists only what the principal may DESCRIBE
			}
			out = append(out, h.groupData(u, g))
		}
	}
	WriteJSON(w, http.StatusOK, newList("KafkaConsumerGroupList", u.cluster+"/consumer-groups", out))
	return nil
}

func (h *handler) getGroup(w http.ResponseWriter, r *http.Request) error {
	u, g, err := h.groupRequest(r)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, h.groupData(u, g))
	return nil
}

func consumerData(u urls, g groupview.Group, m groupview.Member) restapi.Consumer {
	self := u.consumer(g.ID, m.ID)
	return restapi.Consumer{
		Kind:            "KafkaConsumer",
		Metadata:        resourceMeta{Self: self, ResourceName: u.crn("consumer-group="+g.ID, "consumer="+m.ID)},
		ClusterID:       u.clusterID,
		ConsumerGroupID: g.ID,
		ConsumerID:      m.ID,
		InstanceID:      m.InstanceID,
		ClientID:        m.ClientID,
		Assignments:     relationship{Related: self + "/assignments"},
	}
}

func (h *handler) listConsumers(w http.ResponseWriter, r *http.Request) error {
	u, g, err := h.groupRequest(r)
	if err != nil {
		return err
	}
	out := make([]restapi.Consumer, 0, len(g.Members))
	for _, m := range g.Members {
		out = append(out, consumerData(u, g, m))
	}
	WriteJSON(w, http.StatusOK, newList("KafkaConsumerList", u.group(g.ID)+"/consumers", out))
	return nil
}

// consumerRequest is groupRequest and the member in the path.
func (h *handler) consumerRequest(r *http.Request) (urls, groupview.Group, groupview.Member, error) {
	u, g, err := h.groupRequest(r)
	if err != nil {
		return u, g, groupview.Member{}, err
	}
	id := r.PathValue("consumer_id")
	for _, m := range g.Members {
		if m.ID == id {
			return u, g, m, nil
		}
	}
	return u, g, groupview.Member{}, notFound("Consumer %s could not be found.", id)
}

func (h *handler) getConsumer(w http.ResponseWriter, r *http.Request) error {
	u, g, m, err := h.consumerRequest(r)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, consumerData(u, g, m))
	return nil
}

func assignmentData(u urls, g groupview.Group, m groupview.Member, tp groupview.TopicPartition) restapi.ConsumerAssignment {
	p := itoa(tp.Partition)
	return restapi.ConsumerAssignment{
		Kind: "KafkaConsumerAssignment",
		Metadata: resourceMeta{
			Self:         u.consumer(g.ID, m.ID) + "/assignments/" + url.PathEscape(tp.Topic) + "/partitions/" + p,
			ResourceName: u.crn("consumer-group="+g.ID, "consumer="+m.ID, "assignment="+tp.Topic, "partition="+p),
		},
		ClusterID:       u.clusterID,
		ConsumerGroupID: g.ID,
		ConsumerID:      m.ID,
		TopicName:       tp.Topic,
		PartitionID:     tp.Partition,
		Partition:       relationship{Related: u.partition(tp.Topic, tp.Partition)},
		Lag:             relationship{Related: u.lag(g.ID, tp.Topic, tp.Partition)},
	}
}

func (h *handler) listAssignments(w http.ResponseWriter, r *http.Request) error {
	u, g, m, err := h.consumerRequest(r)
	if err != nil {
		return err
	}
	out := make([]restapi.ConsumerAssignment, 0, len(m.Assignment))
	for _, tp := range m.Assignment {
		out = append(out, assignmentData(u, g, m, tp))
	}
	WriteJSON(w, http.StatusOK, newList("KafkaConsumerAssignmentList", u.consumer(g.ID, m.ID)+"/assignments", out))
	return nil
}

func (h *handler) getAssignment(w http.ResponseWriter, r *http.Request) error {
	want, err := pathTopicPartition(r)
	if err != nil {
		return err
	}
	u, g, m, err := h.consumerRequest(r)
	if err != nil {
		return err
	}
	for _, tp := range m.Assignment {
		if tp == want {
			WriteJSON(w, http.StatusOK, assignmentData(u, g, m, tp))
			return nil
		}
	}
	return notFound("Consumer assignment %s-%d could not be found.", want.Topic, want.Partition)
}

// pathTopicPartition is the {topic_name} and {partition_id} of the path.
func pathTopicPartition(r *http.Request) (groupview.TopicPartition, error) {
	p, err := pathInt32(r, "partition_id")
	return groupview.TopicPartition{Topic: r.PathValue("topic_name"), Partition: p}, err
}

// lags are the group's committed partitions with a known end offset;
// 404 when it has committed nothing.
func lags(g groupview.Group) ([]groupview.Offset, error) {
	if len(g.Offsets) == 0 {
		return nil, notFound("Consumer group offsets could not be found.")
	}
	out := make([]groupview.Offset, 0, len(g.Offsets))
	for _, o := range g.Offsets {
		if o.Lag >= 0 {
			out = append(out, o)
		}
	}
	return out, nil
}

func lagData(u urls, g groupview.Group, o groupview.Offset) restapi.ConsumerLag {
	l := restapi.ConsumerLag{
		Kind: "KafkaConsumerLag",
		Metadata: resourceMeta{Self: u.lag(g.ID, o.Topic, o.Partition),
			ResourceName: u.crn("consumer-group="+g.ID, "lag="+o.Topic, "partition="+itoa(o.Partition))},
		ClusterID:       u.clusterID,
		ConsumerGroupID: g.ID,
		TopicName:       o.Topic,
		PartitionID:     o.Partition,
		CurrentOffset:   o.Committed,
		LogEndOffset:    o.End,
		Lag:             o.Lag,
	}
	if m, ok := g.Owner(o); ok {
		l.ConsumerID, l.InstanceID, l.ClientID = m.ID, m.InstanceID, m.ClientID
	}
	return l
}

func (h *handler) listLags(w http.ResponseWriter, r *http.Request) error {
	u, g, err := h.groupRequest(r)
	if err != nil {
		return err
	}
	ls, err := lags(g)
	if err != nil {
		return err
	}
	out := make([]restapi.ConsumerLag, 0, len(ls))
	for _, o := range ls {
		out = append(out, lagData(u, g, o))
	}
	WriteJSON(w, http.StatusOK, newList("KafkaConsumerLagList", u.group(g.ID)+"/lags", out))
	return nil
}

func (h *handler) getLag(w http.ResponseWriter, r *http.Request) error {
	want, err := pathTopicPartition(r)
	if err != nil {
		return err
	}
	u, g, err := h.groupRequest(r)
	if err != nil {
		return err
	}
	ls, err := lags(g)
	if err != nil {
		return err
	}
	for _, o := range ls {
		if o.Topic == want.Topic && o.Partition == want.Partition {
			WriteJSON(w, http.StatusOK, lagData(u, g, o))
			return nil
		}
	}
	return notFound("Consumer lag for %s-%d could not be found.", want.Topic, want.Partition)
}

func (h *handler) getLagSummary(w http.ResponseWriter, r *http.Request) error {
	u, g, err := h.groupRequest(r)
	if err != nil {
		return err
	}
	if _, err := lags(g); err != nil {
		return err
	}
	s := g.Summary()
	out := restapi.ConsumerGroupLagSummary{
		Kind: "KafkaConsumerGroupLagSummary",
		Metadata: resourceMeta{Self: u.group(g.ID) + "/lag-summary",
			ResourceName: u.crn("consumer-group="+g.ID, "lag-summary")},
		ClusterID:       u.clusterID,
		ConsumerGroupID: g.ID,
		MaxLag:          s.MaxLag,
		TotalLag:        s.TotalLag,
	}
	if s.OK {
		out.MaxLagTopicName, out.MaxLagPartitionID = s.Max.Topic, s.Max.Partition
		if m, ok := g.Owner(s.Max); ok {
			out.MaxLagConsumerID, out.MaxLagInstanceID, out.MaxLagClientID = m.ID, m.InstanceID, m.ClientID
		}
		out.MaxLagPartition = relationship{Related: u.partition(s.Max.Topic, s.Max.Partition)}
	}
	// As Confluent: the consumer link is there even when no member owns
	// the partition (then it names no consumer).
	out.MaxLagConsumer = relationship{Related: u.consumer(g.ID, out.MaxLagConsumerID)}
	WriteJSON(w, http.StatusOK, out)
	return nil
}
