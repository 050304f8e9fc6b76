package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/groupview"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// simGroups serves fixed consumer groups to the REST handler: billing
// (two members, one static; lag on orders 0 and 2, none on orders 1, and
// an unassigned committed partition of returns), audit (a simple group)
// and fresh (a consumer group that has committed nothing).
type simGroups struct{}

func simGroupList() []groupview.Group {
	inst := "billing-1"
	return []groupview.Group{
		{ID: "audit", State: "Empty", Offsets: []groupview.Offset{
			{Topic: "orders", Partition: 0, Committed: 50, End: 50, Lag: 0, Owner: -1},
		}},
		{ID: "billing", State: "Stable", ProtocolType: "consumer", Protocol: "range",
			Members: []groupview.Member{
				{ID: "billing-1-6f1c", InstanceID: &inst, ClientID: "billing-app", ClientHost: "/10.0.0.1",
					Assignment: []groupview.TopicPartition{{Topic: "orders", Partition: 0}, {Topic: "orders", Partition: 1}}},
				{ID: "consumer-2-91ab", ClientID: "billing-app", ClientHost: "/10.0.0.2",
					Assignment: []groupview.TopicPartition{{Topic: "orders", Partition: 2}}},
			},
			Offsets: []groupview.Offset{
				{Topic: "orders", Partition: 0, Committed: 40, End: 50, Lag: 10, Owner: 0},
				{Topic: "orders", Partition: 1, Committed: 7, End: 7, Lag: 0, Owner: 0},
				{Topic: "orders", Partition: 2, Committed: 3, End: 25, Lag: 22, Owner: 1},
				{Topic: "returns", Partition: 0, Committed: 5, End: 9, Lag: 4, Owner: -1},
			}},
		{ID: "fresh", State: "Empty", ProtocolType: "consumer"},
	}
}

func (simGroups) List(context.Context) ([]groupview.Group, error) { return simGroupList(), nil }

func (simGroups) Get(_ context.Context, id string) (groupview.Group, error) {
	for _, g := range simGroupList() {
		if g.ID == id {
			return g, nil
		}
	}
	return groupview.Group{}, groupview.ErrNotFound
}

// TestGroupOutputGolden pins what `tandem group ...` prints, in the
// confluent CLI's keys and columns (docs/cli.md); -update rewrites.
func TestGroupOutputGolden(t *testing.T) {
	e := newCLIEnv(t)
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"group-list", []string{"group", "list"}, ""},
		{"group-list-json", []string{"group", "list", "-o", "json"}, ""},
		{"group-list-yaml", []string{"group", "list", "-o", "yaml"}, ""},
		{"group-describe", []string{"group", "describe", "billing"}, ""},
		{"group-describe-json", []string{"group", "describe", "billing", "-o", "json"}, ""},
		{"group-describe-yaml", []string{"group", "describe", "billing", "-o", "yaml"}, ""},
		{"group-describe-no-offsets", []string{"group", "describe", "fresh"}, ""},
		{"group-describe-no-offsets-json", []string{"group", "describe", "fresh", "-o", "json"}, ""},
		{"group-lag-list", []string{"group", "lag", "list", "billing"}, ""},
		{"group-lag-list-json", []string{"group", "lag", "list", "billing", "-o", "json"}, ""},
		{"group-lag-describe", []string{"group", "lag", "describe", "billing", "--topic", "orders", "--partition", "2"}, ""},
		{"group-lag-describe-yaml", []string{"group", "lag", "get", "billing", "--topic", "orders", "--partition", "2", "-o", "yaml"}, ""},
		{"group-lag-summarize", []string{"group", "lag", "summarize", "billing"}, ""},
		{"group-lag-summarize-json", []string{"group", "lag", "summarize", "billing", "-o", "json"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := e.run(t, tc.args...)
			if err != nil {
				t.Fatalf("tandem %s: %v", strings.Join(tc.args, " "), err)
			}
			checkGolden(t, filepath.Join("testdata", "output", tc.name+".golden"), out)
		})
	}
}

// TestGroupErrors: what the API refuses comes back as the command's
// error, in the API's words.
func TestGroupErrors(t *testing.T) {
	e := newCLIEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"group", "describe", "ghost"}, "Consumer Group ghost could not be found. (error code 404)"},
		{[]string{"group", "lag", "list", "fresh"}, "Consumer group offsets could not be found. (error code 404)"},
		{[]string{"group", "lag", "summarize", "ghost"}, "Consumer Group ghost could not be found. (error code 404)"},
		{[]string{"group", "lag", "describe", "billing", "--topic", "orders", "--partition", "9"},
			"Consumer lag for orders-9 could not be found. (error code 404)"},
		{[]string{"group", "lag", "describe", "billing", "--partition", "1"}, `required flag(s) "topic" not set`},
	} {
		_, _, err := e.run(t, tc.args...)
		if err == nil || err.Error() != tc.want {
			t.Errorf("tandem %s: err = %v, want %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

// TestGroupCLIAgainstLiveBroker: a group that committed offsets with the
// admin API (a simple group) as `tandem group` sees it on a real broker.
func TestGroupCLIAgainstLiveBroker(t *testing.T) {
	b := tandemtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl := tandemtest.NewClient(t, b.Addr(), kgo.DefaultProduceTopic("orders"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v"), Partition: int32(i % 2)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	var offs kadm.Offsets
	offs.AddOffset("orders", 0, 2, -1) // lag 4
	offs.AddOffset("orders", 1, 5, -1) // lag 1
	if resp, err := adm.CommitOffsets(ctx, "audit", offs); err != nil || resp.Error() != nil {
		t.Fatalf("commit: %v %v", err, resp.Error())
	}
	run := func(out any, args ...string) {
		t.Helper()
		stdout, _, err := runCLI(t, append(args, "--url", "http://"+b.HTTPAddr(), "-o", "json")...)
		if err != nil {
			t.Fatalf("tandem %s: %v", strings.Join(args, " "), err)
		}
		if err := json.Unmarshal([]byte(stdout), out); err != nil {
			t.Fatalf("tandem %s: %v: %s", strings.Join(args, " "), err, stdout)
		}
	}
	var list []groupOut
	run(&list, "group", "list")
	if len(list) != 1 || list[0].ConsumerGroup != "audit" || !list[0].IsSimple || list[0].State != "EMPTY" || list[0].Coordinator != "1" {
		t.Errorf("group list = %+v", list)
	}
	var sum lagSummaryOut
	run(&sum, "group", "lag", "summarize", "audit")
	if sum.TotalLag != 5 || sum.MaxLag != 4 || sum.MaxLagTopic != "orders" || sum.MaxLagPartition != 0 || sum.MaxLagConsumer != "" {
		t.Errorf("lag summarize = %+v", sum)
	}
	var d groupDescribeOut
	run(&d, "group", "describe", "audit")
	if d.TotalLag != 5 || len(d.Lags) != 2 || d.Lags[1].CurrentOffset != 5 || d.Lags[1].LogEndOffset != 6 || len(d.Consumers) != 0 {
		t.Errorf("group describe = %+v", d)
	}
}
