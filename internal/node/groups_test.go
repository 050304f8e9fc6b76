package node_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/restapi"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// groupsEnv is a broker with topic orders (partition 0: 6 records,
// partition 1: 4) and two groups: billing, a consumer group whose one
// static member (instance billing-1, client billing-app) is assigned both
// partitions and committed 4 and 1 (lag 2 and 3), and audit, a simple
// group that only committed partition 0 at its end (lag 0).
type groupsEnv struct {
	b        *tandemtest.Broker
	base     string // .../kafka/v3/clusters/{cid}
	memberID string
}

func startGroupsEnv(t *testing.T) *groupsEnv {
	t.Helper()
	b := tandemtest.Start(t, tandemtest.Config("metrics.consumer.group.partition.lag.enable", "true"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm := kadm.NewClient(tandemtest.NewClient(t, b.Addr()))
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	prod := tandemtest.NewClient(t, b.Addr(), kgo.DefaultProduceTopic("orders"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 10 {
		p := int32(0)
		if i >= 6 {
			p = 1
		}
		if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte("v"), Partition: p}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cons := tandemtest.NewClient(t, b.Addr(), kgo.ConsumerGroup("billing"), kgo.ConsumeTopics("orders"),
		kgo.InstanceID("billing-1"), kgo.ClientID("billing-app"), kgo.DisableAutoCommit(),
		kgo.FetchMaxWait(100*time.Millisecond), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	for seen := 0; seen < 10; {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of 10 records: %v", seen, fs.Errors())
		}
		seen += fs.NumRecords()
	}
	var commitErr error
	cons.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{
		"orders": {0: {Epoch: -1, Offset: 4}, 1: {Epoch: -1, Offset: 1}},
	}, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		commitErr = err
		if resp == nil {
			return
		}
		for _, tp := range resp.Topics {
			for _, p := range tp.Partitions {
				if commitErr == nil {
					commitErr = kerr.ErrorForCode(p.ErrorCode)
				}
			}
		}
	})
	if commitErr != nil {
		t.Fatal(commitErr)
	}
	var audit kadm.Offsets
	audit.AddOffset("orders", 0, 6, -1)
	if resp, err := adm.CommitOffsets(ctx, "audit", audit); err != nil || resp.Error() != nil {
		t.Fatalf("commit audit: %v %v", err, resp.Error())
	}
	memberID, _ := cons.GroupMetadata()
	code, clusters := httpDo(t, "GET", "http://"+b.HTTPAddr()+"/kafka/v3/clusters", nil)
	if code != 200 {
		t.Fatalf("clusters: %d", code)
	}
	cid := clusters["data"].([]any)[0].(map[string]any)["cluster_id"].(string)
	return &groupsEnv{b: b, base: "http://" + b.HTTPAddr() + "/kafka/v3/clusters/" + cid, memberID: memberID}
}

// getJSON GETs url into out and returns the status.
func getJSON(t *testing.T, url string, out any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("GET %s: %d %q: %v", url, resp.StatusCode, raw, err)
	}
	return resp.StatusCode
}

func TestConsumerGroupsREST(t *testing.T) {
	e := startGroupsEnv(t)
	g := e.base + "/consumer-groups"
	str := func(s string) *string { return &s }

	for _, tc := range []struct {
		name   string
		path   string
		status int
		check  func(t *testing.T, body []byte)
	}{
		{"list", "/consumer-groups", 200, func(t *testing.T, body []byte) {
			var l restapi.List[restapi.ConsumerGroup]
			mustJSON(t, body, &l)
			if l.Kind != "KafkaConsumerGroupList" || l.Metadata.Self != g || len(l.Data) != 2 {
				t.Fatalf("list = %+v", l)
			}
			a, b := l.Data[0], l.Data[1]
			if a.ConsumerGroupID != "audit" || !a.IsSimple || a.State != "EMPTY" || a.PartitionAssignor != "" {
				t.Errorf("audit = %+v", a)
			}
			if b.ConsumerGroupID != "billing" || b.IsSimple || b.State != "STABLE" || b.PartitionAssignor == "" || b.Type != "CLASSIC" {
				t.Errorf("billing = %+v", b)
			}
		}},
		{"group", "/consumer-groups/billing", 200, func(t *testing.T, body []byte) {
			var cg restapi.ConsumerGroup
			mustJSON(t, body, &cg)
			if cg.Kind != "KafkaConsumerGroup" || cg.Metadata.Self != g+"/billing" ||
				deref(cg.Metadata.ResourceName) != "crn:///kafka="+e.b.Node.ClusterID()+"/consumer-group=billing" ||
				cg.Coordinator.Related != e.base+"/brokers/1" || cg.Consumers.Related != g+"/billing/consumers" ||
				cg.LagSummary.Related != g+"/billing/lag-summary" {
				t.Errorf("group = %+v", cg)
			}
		}},
		{"consumers", "/consumer-groups/billing/consumers", 200, func(t *testing.T, body []byte) {
			var l restapi.List[restapi.Consumer]
			mustJSON(t, body, &l)
			want := g + "/billing/consumers/" + e.memberID
			if len(l.Data) != 1 || l.Data[0].ConsumerID != e.memberID || deref(l.Data[0].InstanceID) != "billing-1" ||
				l.Data[0].ClientID != "billing-app" || l.Data[0].Metadata.Self != want || l.Data[0].Assignments.Related != want+"/assignments" {
				t.Errorf("consumers = %+v", l)
			}
		}},
		{"consumer", "/consumer-groups/billing/consumers/" + e.memberID, 200, func(t *testing.T, body []byte) {
			var c restapi.Consumer
			mustJSON(t, body, &c)
			if c.Kind != "KafkaConsumer" || c.ConsumerID != e.memberID {
				t.Errorf("consumer = %+v", c)
			}
		}},
		{"assignments", "/consumer-groups/billing/consumers/" + e.memberID + "/assignments", 200, func(t *testing.T, body []byte) {
			var l restapi.List[restapi.ConsumerAssignment]
			mustJSON(t, body, &l)
			if len(l.Data) != 2 || l.Data[0].TopicName != "orders" || l.Data[0].PartitionID != 0 || l.Data[1].PartitionID != 1 ||
				l.Data[1].Lag.Related != g+"/billing/lags/orders/partitions/1" ||
				l.Data[1].Partition.Related != e.base+"/topics/orders/partitions/1" {
				t.Errorf("assignments = %+v", l)
			}
		}},
		{"assignment", "/consumer-groups/billing/consumers/" + e.memberID + "/assignments/orders/partitions/1", 200, nil},
		{"lags", "/consumer-groups/billing/lags", 200, func(t *testing.T, body []byte) {
			var l restapi.List[restapi.ConsumerLag]
			mustJSON(t, body, &l)
			if len(l.Data) != 2 {
				t.Fatalf("lags = %+v", l)
			}
			for i, want := range []struct{ cur, end, lag int64 }{{4, 6, 2}, {1, 4, 3}} {
				got := l.Data[i]
				if got.TopicName != "orders" || got.PartitionID != int32(i) || got.CurrentOffset != want.cur ||
					got.LogEndOffset != want.end || got.Lag != want.lag || got.ConsumerID != e.memberID ||
					deref(got.InstanceID) != "billing-1" || got.ClientID != "billing-app" || got.Kind != "KafkaConsumerLag" {
					t.Errorf("lag %d = %+v, want %+v", i, got, want)
				}
			}
		}},
		{"lag", "/consumer-groups/billing/lags/orders/partitions/1", 200, func(t *testing.T, body []byte) {
			var l restapi.ConsumerLag
			mustJSON(t, body, &l)
			if l.Lag != 3 || l.Metadata.Self != g+"/billing/lags/orders/partitions/1" {
				t.Errorf("lag = %+v", l)
			}
		}},
		{"lag-summary", "/consumer-groups/billing/lag-summary", 200, func(t *testing.T, body []byte) {
			var s restapi.ConsumerGroupLagSummary
			mustJSON(t, body, &s)
			want := restapi.ConsumerGroupLagSummary{
				Kind: "KafkaConsumerGroupLagSummary",
				Metadata: restapi.ResourceMeta{Self: g + "/billing/lag-summary",
					ResourceName: str("crn:///kafka=" + e.b.Node.ClusterID() + "/consumer-group=billing/lag-summary")},
				ClusterID: e.b.Node.ClusterID(), ConsumerGroupID: "billing",
				MaxLagConsumerID: e.memberID, MaxLagInstanceID: str("billing-1"), MaxLagClientID: "billing-app",
				MaxLagTopicName: "orders", MaxLagPartitionID: 1, MaxLag: 3, TotalLag: 5,
				MaxLagConsumer:  restapi.Relationship{Related: g + "/billing/consumers/" + e.memberID},
				MaxLagPartition: restapi.Relationship{Related: e.base + "/topics/orders/partitions/1"},
			}
			wb, _ := json.Marshal(want)
			gb, _ := json.Marshal(s)
			if string(wb) != string(gb) {
				t.Errorf("lag summary:\n got %s\nwant %s", gb, wb)
			}
		}},
		{"simple group lags", "/consumer-groups/audit/lags", 200, func(t *testing.T, body []byte) {
			var l restapi.List[restapi.ConsumerLag]
			mustJSON(t, body, &l)
			if len(l.Data) != 1 || l.Data[0].Lag != 0 || l.Data[0].ConsumerID != "" || l.Data[0].InstanceID != nil {
				t.Errorf("audit lags = %+v", l)
			}
			if !strings.Contains(string(body), `"instance_id":null`) {
				t.Errorf("instance_id is not null: %s", body)
			}
		}},
		{"simple group consumers", "/consumer-groups/audit/consumers", 200, func(t *testing.T, body []byte) {
			if !strings.Contains(string(body), `"data":[]`) {
				t.Errorf("audit consumers: %s", body)
			}
		}},
		{"unknown group", "/consumer-groups/ghost", 404, wantError(404, "Consumer Group ghost could not be found.")},
		{"unknown group lags", "/consumer-groups/ghost/lags", 404, wantError(404, "Consumer Group ghost could not be found.")},
		{"unknown consumer", "/consumer-groups/billing/consumers/nobody", 404, wantError(404, "Consumer nobody could not be found.")},
		{"uncommitted partition", "/consumer-groups/audit/lags/orders/partitions/1", 404,
			wantError(404, "Consumer lag for orders-1 could not be found.")},
		{"bad partition", "/consumer-groups/billing/lags/orders/partitions/x", 400, nil},
		{"cluster links groups", "", 200, func(t *testing.T, body []byte) {
			var c restapi.Cluster
			mustJSON(t, body, &c)
			if c.ConsumerGroups == nil || c.ConsumerGroups.Related != g {
				t.Errorf("cluster consumer_groups = %+v", c.ConsumerGroups)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var raw json.RawMessage
			if code := getJSON(t, e.base+tc.path, &raw); code != tc.status {
				t.Fatalf("GET %s: %d, want %d: %s", tc.path, code, tc.status, raw)
			}
			if tc.check != nil {
				tc.check(t, raw)
			}
		})
	}

	// The same numbers in /metrics (per group and topic; per partition
	// because the test turned it on).
	m := tandemtest.Get(t, "http://"+e.b.HTTPAddr()+"/metrics")
	for _, want := range []string{
		`tandem_consumer_group_lag_total{group="billing",topic="orders"} 5`,
		`tandem_consumer_group_lag_max{group="billing",topic="orders"} 3`,
		`tandem_consumer_group_partition_lag{group="billing",partition="0",topic="orders"} 2`,
		`tandem_consumer_group_partition_lag{group="billing",partition="1",topic="orders"} 3`,
		`tandem_consumer_group_lag_total{group="audit",topic="orders"} 0`,
		`tandem_consumer_group_lag_groups_omitted 0`,
	} {
		if !strings.Contains(m, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
}

func wantError(code int, msg string) func(t *testing.T, body []byte) {
	return func(t *testing.T, body []byte) {
		var e restapi.ErrorBody
		mustJSON(t, body, &e)
		if e.ErrorCode != code || e.Message != msg {
			t.Errorf("error = %+v, want %d %q", e, code, msg)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
