// Package restapi holds the wire types of Tandem's REST v3 API (Confluent
// REST v3 shapes, cluster-linking.md §5): the JSON the server
// (internal/rest) writes and reads and its clients (internal/restclient,
// the `tandem link|mirror` CLI, the benchmarks) read and write. Each shape
// is written once, here, so the two sides cannot drift apart.
//
// It holds the shapes that have a client in this module: envelopes and
// errors, clusters, cluster links, link configs, mirror topics and consumer
// groups (the `tandem group` CLI). Topic,
// broker and partition shapes are only served, and stay in internal/rest.
//
// Field names and nullability follow the v3 OpenAPI; fields Confluent
// sends as JSON null are pointers. Request bodies omit empty optional
// fields, so that what a client sends is what it was asked to send; the
// server tells "absent" from "empty" with pointers where that matters.
package restapi

// ResourceMeta is the "metadata" of a single resource.
type ResourceMeta struct {
	Self         string  `json:"self"`
	ResourceName *string `json:"resource_name"`
}

// ListMeta is the "metadata" of a collection.
type ListMeta struct {
	Self string  `json:"self"`
	Next *string `json:"next"` // always null: Tandem never paginates
}

// List is a collection: {"kind":"KafkaXxxList","metadata":{..},"data":[..]}.
type List[T any] struct {
	Kind     string   `json:"kind"`
	Metadata ListMeta `json:"metadata"`
	Data     []T      `json:"data"`
}

// ErrorBody is an error answer. error_code is the HTTP status times 100
// plus a sub-code for errors that come from Kafka, or just the HTTP status
// (internal/rest/errors.go); it is never 0.
type ErrorBody struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

// Relationship links to a related resource.
type Relationship struct {
	Related string `json:"related"`
}

// Cluster is KafkaCluster (GET /kafka/v3/clusters). Relationships name
// only routes the server serves: a link a client follows must not answer
// 404 (broker configs and reassignments are omitted until they are
// served; consumer groups and ACLs are there when the server serves them).
type Cluster struct {
	Kind                   string        `json:"kind"`
	Metadata               ResourceMeta  `json:"metadata"`
	ClusterID              string        `json:"cluster_id"`
	Controller             *Relationship `json:"controller"`
	ACLs                   *Relationship `json:"acls,omitempty"`
	Brokers                Relationship  `json:"brokers"`
	BrokerConfigs          *Relationship `json:"broker_configs,omitempty"`
	ConsumerGroups         *Relationship `json:"consumer_groups,omitempty"`
	Topics                 Relationship  `json:"topics"`
	PartitionReassignments *Relationship `json:"partition_reassignments,omitempty"`
}
