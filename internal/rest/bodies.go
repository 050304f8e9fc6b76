package rest

import "github.com/tandem-streaming/tandem/internal/restapi"

// Request bodies are the restapi types that clients send, decoded under
// the server's own type names: a decode error names the Go type it wanted
// (`field "configs": cannot use JSON object as []rest.configKVInput`), and
// that message is part of the API's answer, which sharing the types must
// not change.

type (
	configKVInput    restapi.ConfigValue
	alterConfigEntry restapi.AlterConfig
	updateConfigBody restapi.UpdateConfigRequest
	alterMirrorsBody restapi.AlterMirrorsRequest
)

// The bodies with a list of those are spelled out again, for the list's
// element type (embedding the restapi type would put its Go name into
// the error's field path). TestBodiesMatchRestAPI keeps their keys those
// of the restapi types.

// createLinkBody is restapi.CreateLinkRequest.
type createLinkBody struct {
	SourceClusterID      string          `json:"source_cluster_id"`
	DestinationClusterID string          `json:"destination_cluster_id"`
	RemoteClusterID      string          `json:"remote_cluster_id"`
	ClusterLinkID        string          `json:"cluster_link_id"`
	Configs              []configKVInput `json:"configs"`
}

// createMirrorBody is restapi.CreateMirrorRequest.
type createMirrorBody struct {
	SourceTopicName   string          `json:"source_topic_name"`
	MirrorTopicName   *string         `json:"mirror_topic_name"`
	ReplicationFactor *int16          `json:"replication_factor"`
	Configs           []configKVInput `json:"configs"`
	ValidateOnly      bool            `json:"validate_only"`
}

// alterConfigsBody is restapi.AlterConfigsRequest.
type alterConfigsBody struct {
	Data         []alterConfigEntry `json:"data"`
	ValidateOnly bool               `json:"validate_only"`
}
