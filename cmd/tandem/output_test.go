package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/rest"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/output/*.golden from the output")

// outputEnv is a cluster with something in every column: link east
// (healthy, two mirrors, a task in error), link west (failed, no
// mirrors), mirror orders (lagging on partition 1), clicks (paused) and
// east.returns (failed, with state transition errors).
func outputEnv(t *testing.T) *cliEnv {
	t.Helper()
	e := newCLIEnv(t)
	e.mustRun(t, "link", "create", "east", "--source-bootstrap-server", "src:9092",
		"--config", "consumer.offset.sync.enable=true,sasl.jaas.config=secret")
	e.mustRun(t, "link", "create", "west", "--source-bootstrap-server", "w:9092")
	w := e.sim.links["west"]
	w.id, w.state, w.err, w.errMessage = "AAAAAAAAAAAAAAAAAAAAAQ", "FAILED", "AUTHENTICATION_ERROR", "Please check your API key and secret."
	e.mustRun(t, "mirror", "create", "orders", "--link", "east")
	e.mustRun(t, "mirror", "create", "clicks", "--link", "east")
	e.mustRun(t, "mirror", "pause", "clicks", "--link", "east")
	e.mustRun(t, "mirror", "create", "east.returns", "--source-topic", "returns", "--link", "east")
	m := e.sim.mirrors["east/east.returns"]
	m.State, m.Error = "FAILED", "SOURCE_TOPIC_MAY_BE_DELETED"
	m.StateTransitionErrors = []rest.TaskError{{Code: "INTERNAL_ERROR", Message: "source topic 'returns' not found"}}
	return e
}

// TestOutputGolden pins the human, JSON and YAML output of every link and
// mirror command that prints data, in the confluent CLI's keys, shapes and
// column names (docs/cli.md). go test -run TestOutputGolden -update
// rewrites the files; review the diff against the confluent CLI's own
// golden files (test/fixtures/output/kafka/{link,mirror}).
func TestOutputGolden(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"link-list", []string{"link", "list"}, ""},
		{"link-list-json", []string{"link", "list", "-o", "json"}, ""},
		{"link-list-yaml", []string{"link", "list", "-o", "yaml"}, ""},
		{"link-list-include-topics", []string{"link", "list", "--include-topics"}, ""},
		{"link-list-include-topics-json", []string{"link", "list", "--include-topics", "-o", "json"}, ""},
		{"link-describe", []string{"link", "describe", "east"}, ""},
		{"link-describe-json", []string{"link", "describe", "east", "-o", "json"}, ""},
		{"link-describe-yaml", []string{"link", "describe", "east", "-o", "yaml"}, ""},
		{"link-describe-error", []string{"link", "describe", "west"}, ""},
		{"link-describe-error-json", []string{"link", "describe", "west", "-o", "json"}, ""},
		{"link-configuration-list", []string{"link", "configuration", "list", "east"}, ""},
		{"link-configuration-list-json", []string{"link", "configuration", "list", "east", "-o", "json"}, ""},
		{"link-configuration-list-yaml", []string{"link", "configuration", "list", "east", "-o", "yaml"}, ""},
		{"link-task-list", []string{"link", "task", "list", "east"}, ""},
		{"link-task-list-json", []string{"link", "task", "list", "east", "-o", "json"}, ""},
		{"link-task-list-yaml", []string{"link", "task", "list", "east", "-o", "yaml"}, ""},
		{"mirror-list", []string{"mirror", "list"}, ""},
		{"mirror-list-json", []string{"mirror", "list", "-o", "json"}, ""},
		{"mirror-list-yaml", []string{"mirror", "list", "-o", "yaml"}, ""},
		{"mirror-describe", []string{"mirror", "describe", "orders", "--link", "east"}, ""},
		{"mirror-describe-json", []string{"mirror", "describe", "orders", "--link", "east", "-o", "json"}, ""},
		{"mirror-describe-yaml", []string{"mirror", "describe", "orders", "--link", "east", "-o", "yaml"}, ""},
		{"mirror-describe-errors", []string{"mirror", "describe", "east.returns", "--link", "east"}, ""},
		{"mirror-describe-errors-json", []string{"mirror", "describe", "east.returns", "--link", "east", "-o", "json"}, ""},
		{"mirror-describe-errors-yaml", []string{"mirror", "describe", "east.returns", "--link", "east", "-o", "yaml"}, ""},
		{"mirror-state-transition-error-list", []string{"mirror", "state-transition-error", "list", "east.returns", "--link", "east"}, ""},
		{"mirror-state-transition-error-list-json", []string{"mirror", "state-transition-error", "list", "east.returns", "--link", "east", "-o", "json"}, ""},
		{"mirror-state-transition-error-list-yaml", []string{"mirror", "state-transition-error", "list", "east.returns", "--link", "east", "-o", "yaml"}, ""},
		{"mirror-state-transition-error-list-none-json", []string{"mirror", "state-transition-error", "list", "orders", "--link", "east", "-o", "json"}, ""},
		{"mirror-resume", []string{"mirror", "resume", "clicks", "ghost", "--link", "east"},
			"resume failed for 1 of 2 mirror topics"},
		{"mirror-resume-json", []string{"mirror", "resume", "clicks", "ghost", "--link", "east", "-o", "json"},
			"resume failed for 1 of 2 mirror topics"},
		{"mirror-resume-yaml", []string{"mirror", "resume", "clicks", "ghost", "--link", "east", "-o", "yaml"},
			"resume failed for 1 of 2 mirror topics"},
		{"mirror-pause-dry-run", []string{"mirror", "pause", "orders", "--link", "east", "--dry-run"}, ""},
		{"mirror-pause-dry-run-json", []string{"mirror", "pause", "orders", "--link", "east", "--dry-run", "-o", "json"}, ""},
		{"mirror-promote", []string{"mirror", "promote", "orders", "--link", "east"}, "promote failed for 1 of 1 mirror topics"},
		{"mirror-promote-json", []string{"mirror", "promote", "orders", "--link", "east", "-o", "json"},
			"promote failed for 1 of 1 mirror topics"},
		{"mirror-failover-dry-run", []string{"mirror", "failover", "orders", "--link", "east", "--dry-run"}, ""},
		{"mirror-failover-dry-run-yaml", []string{"mirror", "failover", "orders", "--link", "east", "--dry-run", "-o", "yaml"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := outputEnv(t)
			out, _, err := e.run(t, tc.args...)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr) {
				t.Fatalf("tandem %s: err = %v, want %q", strings.Join(tc.args, " "), err, tc.wantErr)
			}
			checkGolden(t, filepath.Join("testdata", "output", tc.name+".golden"), out)
		})
	}
}

// TestOutputRemoteLinkState pins link describe of the halves of a
// bidirectional link: one paired (remote link state ACTIVE and its update
// time), one whose peer has no half of its name (REMOTE_LINK_NOT_FOUND
// and why).
func TestOutputRemoteLinkState(t *testing.T) {
	e := newCLIEnv(t)
	e.mustRun(t, "link", "create", "both", "--source-bootstrap-server", "b:9092", "--config", "link.mode=BIDIRECTIONAL")
	e.mustRun(t, "link", "create", "lonely", "--source-bootstrap-server", "b:9092", "--config", "link.mode=BIDIRECTIONAL")
	l := e.sim.links["both"]
	l.remote, l.remoteCluster, l.remoteTimeMs = "ACTIVE", "B-cluster", 1700000000000
	l = e.sim.links["lonely"]
	l.remote, l.remoteCluster, l.remoteTimeMs = "REMOTE_LINK_NOT_FOUND", "B-cluster", 1700000001000
	l.remoteMessage = "cluster link 'lonely' does not exist on cluster B-cluster: the two halves of a link must have byte-identical names"
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"link-describe-remote", []string{"link", "describe", "both"}},
		{"link-describe-remote-json", []string{"link", "describe", "both", "-o", "json"}},
		{"link-describe-remote-not-found", []string{"link", "describe", "lonely"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := e.run(t, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join("testdata", "output", tc.name+".golden"), out)
		})
	}
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run TestOutputGolden -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n got:\n%s\nwant:\n%s", path, got, want)
	}
}
