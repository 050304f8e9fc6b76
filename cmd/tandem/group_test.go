package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/groupview"
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

func (simGroups) All(context.Context) ([]groupview.Group, error) { return simGroupList(), nil }

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
