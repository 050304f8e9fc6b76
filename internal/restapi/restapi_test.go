package restapi

import (
	"encoding/json"
	"testing"
)

// TestRequestJSON pins what clients send: optional fields that were not
// set stay out of the body (the server's golden tests pin the answers).
func TestRequestJSON(t *testing.T) {
	pattern, mirror, rf := "o.*", "east.orders", int16(3)
	for _, tc := range []struct {
		v    any
		want string
	}{
		{CreateLinkRequest{Configs: ConfigValues(nil)}, `{"configs":[]}`},
		{CreateLinkRequest{SourceClusterID: "src", Configs: ConfigValues(map[string]string{"b": "2", "a": "1"})},
			`{"source_cluster_id":"src","configs":[{"name":"a","value":"1"},{"name":"b","value":"2"}]}`},
		{CreateMirrorRequest{SourceTopicName: "orders"}, `{"source_topic_name":"orders"}`},
		{CreateMirrorRequest{SourceTopicName: "orders", MirrorTopicName: &mirror, ReplicationFactor: &rf, ValidateOnly: true},
			`{"source_topic_name":"orders","mirror_topic_name":"east.orders","replication_factor":3,"validate_only":true}`},
		{AlterMirrorsRequest{MirrorTopicNames: []string{"a"}}, `{"mirror_topic_names":["a"]}`},
		{AlterMirrorsRequest{MirrorTopicNamePattern: &pattern}, `{"mirror_topic_name_pattern":"o.*"}`},
		{AlterConfigsRequest{Data: []AlterConfig{{Name: "a", Value: new("1")}, {Name: "b", Operation: new("DELETE")}}},
			`{"data":[{"name":"a","value":"1"},{"name":"b","operation":"DELETE"}]}`},
		{UpdateConfigRequest{Value: new("1")}, `{"value":"1"}`},
	} {
		b, err := json.Marshal(tc.v)
		if err != nil || string(b) != tc.want {
			t.Errorf("%T: %s, %v; want %s", tc.v, b, err, tc.want)
		}
	}
}
