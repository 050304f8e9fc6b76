package rest

import (
	"context"
	"log/slog"
	"testing"

	"github.com/tandem-streaming/tandem/internal/groupview"
)

func TestGroupState(t *testing.T) {
	for in, want := range map[string]string{
		"Stable": "STABLE", "Empty": "EMPTY", "Dead": "DEAD",
		"PreparingRebalance": "PREPARING_REBALANCE", "CompletingRebalance": "COMPLETING_REBALANCE", "": "UNKNOWN",
	} {
		if got := groupState(in); got != want {
			t.Errorf("groupState(%q) = %q, want %q", in, got, want)
		}
	}
}

// oneGroup serves group "g": simple, committed on t-0 (lag 4, no
// member) and t-1 (end unknown here).
type oneGroup struct{}

func (oneGroup) List(ctx context.Context) ([]groupview.Group, error) {
	g, _ := oneGroup{}.Get(ctx, "g")
	return []groupview.Group{g, {ID: "gone", State: "Dead"}}, nil
}

func (oneGroup) Get(_ context.Context, id string) (groupview.Group, error) {
	if id != "g" {
		return groupview.Group{}, groupview.ErrNotFound
	}
	return groupview.Group{ID: "g", State: "Empty", Offsets: []groupview.Offset{
		{Topic: "t", Partition: 0, Committed: 1, End: 5, Lag: 4, Owner: -1},
		{Topic: "t", Partition: 1, Committed: 1, End: -1, Lag: -1, Owner: -1},
	}}, nil
}

// TestGroupShapes pins the whole JSON of the group and lag resources
// (Confluent's ConsumerGroupData, ConsumerLagData and
// ConsumerGroupLagSummaryData) for a group no member owns.
func TestGroupShapes(t *testing.T) {
	e := newEnv(t)
	e.h = New(e.b, e.m, slog.New(slog.DiscardHandler), WithGroups(oneGroup{}))
	c := "http://rest.example:8090/kafka/v3/clusters/" + testCluster
	g := c + "/consumer-groups/g"
	crn := "crn:///kafka=" + testCluster + "/consumer-group=g"

	expect(t, e.do(t, "GET", "/kafka/v3/clusters/"+testCluster+"/consumer-groups", ""), 200, `{
		"kind":"KafkaConsumerGroupList","metadata":{"self":"`+c+`/consumer-groups","next":null},
		"data":[{"kind":"KafkaConsumerGroup","metadata":{"self":"`+g+`","resource_name":"`+crn+`"},
			"cluster_id":"`+testCluster+`","consumer_group_id":"g","is_simple":true,"partition_assignor":"",
			"state":"EMPTY","type":"CLASSIC","coordinator":{"related":"`+c+`/brokers/1"},
			"consumers":{"related":"`+g+`/consumers"},"lag_summary":{"related":"`+g+`/lag-summary"}}]}`)
	expect(t, e.do(t, "GET", "/kafka/v3/clusters/"+testCluster+"/consumer-groups/g/lags", ""), 200, `{
		"kind":"KafkaConsumerLagList","metadata":{"self":"`+g+`/lags","next":null},
		"data":[{"kind":"KafkaConsumerLag","metadata":{"self":"`+g+`/lags/t/partitions/0","resource_name":"`+crn+`/lag=t/partition=0"},
			"cluster_id":"`+testCluster+`","consumer_group_id":"g","topic_name":"t","partition_id":0,
			"current_offset":1,"log_end_offset":5,"lag":4,"consumer_id":"","instance_id":null,"client_id":""}]}`)
	expect(t, e.do(t, "GET", "/kafka/v3/clusters/"+testCluster+"/consumer-groups/g/lag-summary", ""), 200, `{
		"kind":"KafkaConsumerGroupLagSummary","metadata":{"self":"`+g+`/lag-summary","resource_name":"`+crn+`/lag-summary"},
		"cluster_id":"`+testCluster+`","consumer_group_id":"g","max_lag_consumer_id":"","max_lag_instance_id":null,
		"max_lag_client_id":"","max_lag_topic_name":"t","max_lag_partition_id":0,"max_lag":4,"total_lag":4,
		"max_lag_consumer":{"related":"`+g+`/consumers/"},"max_lag_partition":{"related":"`+c+`/topics/t/partitions/0"}}`)
	expect(t, e.do(t, "GET", "/kafka/v3/clusters/"+testCluster+"/consumer-groups/g/lags/t/partitions/1", ""), 404,
		`{"error_code":404,"message":"Consumer lag for t-1 could not be found."}`)
	expect(t, e.do(t, "GET", "/kafka/v3/clusters/other/consumer-groups/g", ""), 404,
		`{"error_code":404,"message":"Cluster other cannot be found."}`)
}

// TestGroupsNotServed: without WithGroups the cluster links no consumer
// groups, the list is empty and every group is unknown.
func TestGroupsNotServed(t *testing.T) {
	e := newEnv(t)
	c := "http://rest.example:8090/kafka/v3/clusters/" + testCluster
	expect(t, e.do(t, "GET", "/kafka/v3/clusters/"+testCluster+"/consumer-groups", ""), 200,
		`{"kind":"KafkaConsumerGroupList","metadata":{"self":"`+c+`/consumer-groups","next":null},"data":[]}`)
	expect(t, e.do(t, "GET", "/kafka/v3/clusters/"+testCluster+"/consumer-groups/g/lags", ""), 404,
		`{"error_code":404,"message":"Consumer Group g could not be found."}`)
}
