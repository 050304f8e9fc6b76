package rest

import (
	"cmp"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/tandem-streaming/tandem/internal/acl"
	"github.com/tandem-streaming/tandem/internal/restapi"
)

// Wire shapes (Confluent REST v3). The ones clients read too (envelopes,
// clusters, links, mirrors) are in internal/restapi, written once for both
// sides; the short local names keep the server code as it was. Field names
// and nullability follow the v3 OpenAPI; fields that Confluent emits as
// JSON null are pointers here.

type (
	resourceMeta = restapi.ResourceMeta
	relationship = restapi.Relationship
	clusterData  = restapi.Cluster
)

func newList[T any](kind, self string, data []T) restapi.List[T] {
	if data == nil {
		data = []T{} // "data":[] rather than null
	}
	return restapi.List[T]{Kind: kind, Metadata: restapi.ListMeta{Self: self}, Data: data}
}

type brokerData struct {
	Kind      string       `json:"kind"`
	Metadata  resourceMeta `json:"metadata"`
	ClusterID string       `json:"cluster_id"`
	BrokerID  int32        `json:"broker_id"`
	Host      *string      `json:"host"`
	Port      *int32       `json:"port"`
	Rack      *string      `json:"rack"`
	// Configs and PartitionReplicas are not served (broker configs are
	// read with DescribeConfigs); omitted rather than linked to a 404.
	Configs           *relationship `json:"configs,omitempty"`
	PartitionReplicas *relationship `json:"partition_replicas,omitempty"`
}

type topicData struct {
	Kind                   string        `json:"kind"`
	Metadata               resourceMeta  `json:"metadata"`
	ClusterID              string        `json:"cluster_id"`
	TopicName              string        `json:"topic_name"`
	TopicID                string        `json:"topic_id,omitempty"`
	IsInternal             bool          `json:"is_internal"`
	ReplicationFactor      int           `json:"replication_factor"`
	PartitionsCount        int           `json:"partitions_count"`
	Partitions             relationship  `json:"partitions"`
	Configs                relationship  `json:"configs"`
	PartitionReassignments *relationship `json:"partition_reassignments,omitempty"`
}

type partitionData struct {
	Kind         string        `json:"kind"`
	Metadata     resourceMeta  `json:"metadata"`
	ClusterID    string        `json:"cluster_id"`
	TopicName    string        `json:"topic_name"`
	PartitionID  int32         `json:"partition_id"`
	Leader       *relationship `json:"leader"` // null when there is no leader
	Replicas     relationship  `json:"replicas"`
	Reassignment *relationship `json:"reassignment,omitempty"`
}

type replicaData struct {
	Kind        string       `json:"kind"`
	Metadata    resourceMeta `json:"metadata"`
	ClusterID   string       `json:"cluster_id"`
	TopicName   string       `json:"topic_name"`
	PartitionID int32        `json:"partition_id"`
	BrokerID    int32        `json:"broker_id"`
	IsLeader    bool         `json:"is_leader"`
	IsInSync    bool         `json:"is_in_sync"`
	Broker      relationship `json:"broker"`
}

// urls builds the absolute URLs of one request's resources. "self" links
// use the Host the client addressed, so they work through port forwards
// and load balancers that preserve Host.
type urls struct {
	root      string // scheme://host
	clusterID string
	cluster   string // root + /kafka/v3/clusters/{id}
}

func newURLs(r *http.Request, clusterID string) urls {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if host == "" {
		host = "localhost"
	}
	root := scheme + "://" + host
	return urls{root: root, clusterID: clusterID, cluster: root + "/kafka/v3/clusters/" + url.PathEscape(clusterID)}
}

func (u urls) broker(id int32) string { return u.cluster + "/brokers/" + itoa(id) }
func (u urls) topic(name string) string {
	return u.cluster + "/topics/" + url.PathEscape(name)
}
func (u urls) partition(topic string, p int32) string {
	return u.topic(topic) + "/partitions/" + itoa(p)
}
func (u urls) topicConfig(topic, name string) string {
	return u.topic(topic) + "/configs/" + url.PathEscape(name)
}

// crn builds a Confluent resource name, e.g.
// crn:///kafka=lkc-1/topic=orders/partition=0.
func (u urls) crn(parts ...string) *string {
	s := "crn:///kafka=" + u.clusterID
	for _, p := range parts {
		s += "/" + p
	}
	return &s
}

func itoa(n int32) string { return strconv.FormatInt(int64(n), 10) }

// clusterURLs checks the {cluster_id} in the path against ours; any other
// id is a 404, as a single-cluster Confluent server answers.
func (h *handler) clusterURLs(r *http.Request) (urls, error) {
	cid := h.b.ClusterID()
	if got := r.PathValue("cluster_id"); got != cid {
		return urls{}, notFound("Cluster %s cannot be found.", got)
	}
	return newURLs(r, cid), nil
}

func (h *handler) clusterData(u urls) clusterData {
	cd := clusterData{
		Kind:       "KafkaCluster",
		Metadata:   resourceMeta{Self: u.cluster, ResourceName: u.crn()},
		ClusterID:  u.clusterID,
		Controller: &relationship{Related: u.broker(h.b.NodeID())},
		Brokers:    relationship{Related: u.cluster + "/brokers"},
		Topics:     relationship{Related: u.cluster + "/topics"},
	}
	if h.groups != nil {
		cd.ConsumerGroups = &relationship{Related: u.cluster + "/consumer-groups"}
	}
	if h.acls != nil {
		cd.ACLs = &relationship{Related: u.cluster + "/acls"}
	}
	return cd
}

func (h *handler) listClusters(w http.ResponseWriter, r *http.Request) error {
	u := newURLs(r, h.b.ClusterID())
	WriteJSON(w, http.StatusOK, newList("KafkaClusterList", u.root+"/kafka/v3/clusters",
		[]clusterData{h.clusterData(u)}))
	return nil
}

func (h *handler) getCluster(w http.ResponseWriter, r *http.Request) error {
	u, err := h.clusterURLs(r)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, h.clusterData(u))
	return nil
}

// brokerData describes this node. Tandem's REST API answers for the node
// it runs on; the broker list is that one node.
func (h *handler) brokerData(u urls) brokerData {
	id := h.b.NodeID()
	host, port := h.b.AdvertisedHost()
	return brokerData{
		Kind:      "KafkaBroker",
		Metadata:  resourceMeta{Self: u.broker(id), ResourceName: u.crn("broker=" + itoa(id))},
		ClusterID: u.clusterID,
		BrokerID:  id,
		Host:      &host,
		Port:      &port,
	}
}

func (h *handler) listBrokers(w http.ResponseWriter, r *http.Request) error {
	u, err := h.clusterURLs(r)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, newList("KafkaBrokerList", u.cluster+"/brokers",
		[]brokerData{h.brokerData(u)}))
	return nil
}

func (h *handler) getBroker(w http.ResponseWriter, r *http.Request) error {
	u, err := h.clusterURLs(r)
	if err != nil {
		return err
	}
	id, err := pathInt32(r, "broker_id")
	if err != nil {
		return err
	}
	if id != h.b.NodeID() {
		return notFound("Broker %d cannot be found.", id)
	}
	WriteJSON(w, http.StatusOK, h.brokerData(u))
	return nil
}

// pathInt32 parses a numeric path segment; a non-number is a 400 rather
// than a 404 so a typo is reported as such.
func pathInt32(r *http.Request, name string) (int32, error) {
	s := r.PathValue(name)
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, badRequest("%s must be a 32-bit integer, got %q", name, s)
	}
	return int32(n), nil
}

// uuidString formats a topic ID as an RFC 4122 UUID string. The zero ID
// (Kafka's "no ID", Uuid.ZERO_UUID) yields "" and the field is omitted.
func uuidString(id [16]byte) string {
	if id == [16]byte{} {
		return ""
	}
	var b [36]byte
	hex.Encode(b[0:8], id[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], id[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], id[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], id[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], id[10:16])
	return string(b[:])
}

func topicDataFor(u urls, t TopicInfo) topicData {
	self := u.topic(t.Name)
	return topicData{
		Kind:              "KafkaTopic",
		Metadata:          resourceMeta{Self: self, ResourceName: u.crn("topic=" + t.Name)},
		ClusterID:         u.clusterID,
		TopicName:         t.Name,
		TopicID:           uuidString(t.ID),
		IsInternal:        t.Internal,
		ReplicationFactor: int(t.ReplicationFactor),
		PartitionsCount:   len(t.Partitions),
		Partitions:        relationship{Related: self + "/partitions"},
		Configs:           relationship{Related: self + "/configs"},
	}
}

func (h *handler) listTopics(w http.ResponseWriter, r *http.Request) error {
	u, err := h.clusterURLs(r)
	if err != nil {
		return err
	}
	topics, err := h.b.ListTopics(r.Context())
	if err != nil {
		return err
	}
	slices.SortFunc(topics, func(a, b TopicInfo) int { return strings.Compare(a.Name, b.Name) })
	data := make([]topicData, 0, len(topics))
	for _, t := range topics {
		// As Metadata for all topics: only those the principal may
		// DESCRIBE are listed.
		if h.authorized(r, opDescribe, acl.Topic(t.Name)) {
			data = append(data, topicDataFor(u, t))
		}
	}
	WriteJSON(w, http.StatusOK, newList("KafkaTopicList", u.cluster+"/topics", data))
	return nil
}

func (h *handler) getTopic(w http.ResponseWriter, r *http.Request) error {
	u, err := h.clusterURLs(r)
	if err != nil {
		return err
	}
	t, err := h.b.GetTopic(r.Context(), r.PathValue("topic_name"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, topicDataFor(u, t))
	return nil
}

// createTopicBody is the v3 CreateTopicRequestData. Pointers tell "absent"
// from zero so that absent counts become the broker default (-1).
type createTopicBody struct {
	TopicName         *string         `json:"topic_name"`
	PartitionsCount   *int32          `json:"partitions_count"`
	ReplicationFactor *int16          `json:"replication_factor"`
	ReplicasAssign    []any           `json:"replicas_assignments"`
	Configs           []configKVInput `json:"configs"`
	ValidateOnly      bool            `json:"validate_only"`
}

func (h *handler) createTopic(w http.ResponseWriter, r *http.Request) error {
	u, err := h.clusterURLs(r)
	if err != nil {
		return err
	}
	var body createTopicBody
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if body.TopicName == nil || *body.TopicName == "" {
		return badRequest("topic_name is required")
	}
	// As CreateTopics: CREATE on the cluster, else on the topic.
	if !h.authorized(r, opCreate, acl.Cluster) {
		if err := h.authorize(r, opCreate, acl.Topic(*body.TopicName)); err != nil {
			return err
		}
	}
	if len(body.ReplicasAssign) > 0 {
		// Manual assignment is meaningless for a node that hosts every
		// replica itself; refusing beats silently ignoring it.
		return badRequest("replicas_assignments is not supported")
	}
	req := CreateTopicRequest{
		Name:              *body.TopicName,
		Partitions:        -1,
		ReplicationFactor: -1,
		ValidateOnly:      body.ValidateOnly || queryBool(r, "validate_only"),
	}
	if body.PartitionsCount != nil {
		req.Partitions = *body.PartitionsCount
	}
	if body.ReplicationFactor != nil {
		req.ReplicationFactor = *body.ReplicationFactor
	}
	if len(body.Configs) > 0 {
		req.Configs = make(map[string]string, len(body.Configs))
		for i, c := range body.Configs {
			if c.Name == "" {
				return badRequest("configs[%d].name is required", i)
			}
			if c.Value == nil {
				return badRequest("configs[%d] (%s): value is required", i, c.Name)
			}
			if _, dup := req.Configs[c.Name]; dup {
				// CreateTopics rejects duplicates with INVALID_REQUEST
				// (Kafka's ControllerApis); say so before asking.
				return badRequest("configs: duplicate config %q", c.Name)
			}
			req.Configs[c.Name] = *c.Value
		}
	}
	t, err := h.b.CreateTopic(r.Context(), req)
	if err != nil {
		return err
	}
	if !req.ValidateOnly {
		w.Header().Set("Location", u.topic(t.Name))
	}
	WriteJSON(w, http.StatusCreated, topicDataFor(u, t))
	return nil
}

// queryBool reads a boolean query parameter; anything but a true value
// (per strconv.ParseBool) is false.
func queryBool(r *http.Request, name string) bool {
	v, err := strconv.ParseBool(r.URL.Query().Get(name))
	return err == nil && v
}

func (h *handler) deleteTopic(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.clusterURLs(r); err != nil {
		return err
	}
	if err := h.b.DeleteTopic(r.Context(), r.PathValue("topic_name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func partitionDataFor(u urls, topic string, p PartitionInfo) partitionData {
	self := u.partition(topic, p.Partition)
	d := partitionData{
		Kind:        "KafkaPartition",
		Metadata:    resourceMeta{Self: self, ResourceName: u.crn("topic="+topic, "partition="+itoa(p.Partition))},
		ClusterID:   u.clusterID,
		TopicName:   topic,
		PartitionID: p.Partition,
		Replicas:    relationship{Related: self + "/replicas"},
	}
	if p.Leader >= 0 {
		d.Leader = &relationship{Related: self + "/replicas/" + itoa(p.Leader)}
	}
	return d
}

// topicPartition loads the topic and finds one partition in it.
func (h *handler) topicPartition(r *http.Request) (urls, string, PartitionInfo, error) {
	u, err := h.clusterURLs(r)
	if err != nil {
		return u, "", PartitionInfo{}, err
	}
	id, err := pathInt32(r, "partition_id")
	if err != nil {
		return u, "", PartitionInfo{}, err
	}
	t, err := h.b.GetTopic(r.Context(), r.PathValue("topic_name"))
	if err != nil {
		return u, "", PartitionInfo{}, err
	}
	for _, p := range t.Partitions {
		if p.Partition == id {
			return u, t.Name, p, nil
		}
	}
	return u, "", PartitionInfo{}, &apiError{
		status: http.StatusNotFound, code: codeUnknownTopicOrPart,
		msg: "This server does not host this topic-partition: " + t.Name + "-" + itoa(id),
	}
}

func (h *handler) listPartitions(w http.ResponseWriter, r *http.Request) error {
	u, err := h.clusterURLs(r)
	if err != nil {
		return err
	}
	t, err := h.b.GetTopic(r.Context(), r.PathValue("topic_name"))
	if err != nil {
		return err
	}
	parts := slices.Clone(t.Partitions)
	slices.SortFunc(parts, func(a, b PartitionInfo) int { return cmp.Compare(a.Partition, b.Partition) })
	data := make([]partitionData, 0, len(parts))
	for _, p := range parts {
		data = append(data, partitionDataFor(u, t.Name, p))
	}
	WriteJSON(w, http.StatusOK, newList("KafkaPartitionList", u.topic(t.Name)+"/partitions", data))
	return nil
}

func (h *handler) getPartition(w http.ResponseWriter, r *http.Request) error {
	u, topic, p, err := h.topicPartition(r)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, partitionDataFor(u, topic, p))
	return nil
}

// replicas lists what Tandem knows of a partition's replicas: its leader.
// PartitionInfo carries no replica set or ISR, and a leaderless partition
// has no replica we can name, so the list is empty then.
func replicasFor(u urls, topic string, p PartitionInfo) []replicaData {
	if p.Leader < 0 {
		return nil
	}
	self := u.partition(topic, p.Partition) + "/replicas/" + itoa(p.Leader)
	return []replicaData{{
		Kind: "KafkaReplica",
		Metadata: resourceMeta{Self: self, ResourceName: u.crn("topic="+topic,
			"partition="+itoa(p.Partition), "replica="+itoa(p.Leader))},
		ClusterID:   u.clusterID,
		TopicName:   topic,
		PartitionID: p.Partition,
		BrokerID:    p.Leader,
		IsLeader:    true,
		IsInSync:    true, // the leader is always in its own ISR
		Broker:      relationship{Related: u.broker(p.Leader)},
	}}
}

func (h *handler) listReplicas(w http.ResponseWriter, r *http.Request) error {
	u, topic, p, err := h.topicPartition(r)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, newList("KafkaReplicaList",
		u.partition(topic, p.Partition)+"/replicas", replicasFor(u, topic, p)))
	return nil
}

func (h *handler) getReplica(w http.ResponseWriter, r *http.Request) error {
	u, topic, p, err := h.topicPartition(r)
	if err != nil {
		return err
	}
	id, err := pathInt32(r, "broker_id")
	if err != nil {
		return err
	}
	for _, rep := range replicasFor(u, topic, p) {
		if rep.BrokerID == id {
			WriteJSON(w, http.StatusOK, rep)
			return nil
		}
	}
	return notFound("Replica %d of partition %s-%d cannot be found.", id, topic, p.Partition)
}

// Health endpoints. /v1/health is the Confluent-style name; /livez and
// /readyz are the Kubernetes-style probes.

type healthBody struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

func (h *handler) ready(w http.ResponseWriter, r *http.Request) error {
	if err := h.b.Ready(); err != nil {
		WriteJSON(w, http.StatusServiceUnavailable, healthBody{Status: "DOWN", Reason: err.Error()})
		return nil
	}
	WriteJSON(w, http.StatusOK, healthBody{Status: "UP"})
	return nil
}

// live answers 200 whenever the process can serve HTTP at all; it does
// not consult the broker, so a slow or stuck Ready never gets the process
// restarted by a liveness probe.
func (h *handler) live(w http.ResponseWriter, r *http.Request) error {
	WriteJSON(w, http.StatusOK, healthBody{Status: "UP"})
	return nil
}
