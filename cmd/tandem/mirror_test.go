package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/rest"
)

func TestMirrorFlags(t *testing.T) {
	e := newCLIEnv(t)
	e.mustRun(t, "link", "create", "east", "--source-bootstrap-server", "src:9092", "--config", "cluster.link.prefix=east.")
	// With a prefix, naming only the source lets the broker derive the
	// mirror name.
	e.mustRun(t, "mirror", "create", "orders", "--link", "east")
	e.mustRun(t, "mirror", "create", "clicks", "--link", "east", "--dry-run")
	e.mustRun(t, "mirror", "create", "east.clicks", "--source-topic", "clicks", "--link", "east")
	e.mustRun(t, "mirror", "create", "same", "--source-topic", "same", "--link", "east", "--replication-factor", "3")
	want := []rest.CreateMirrorRequest{
		{SourceTopic: "orders", ReplicationFactor: -1},
		{SourceTopic: "clicks", ReplicationFactor: -1, ValidateOnly: true},
		{SourceTopic: "clicks", MirrorTopic: "east.clicks", ReplicationFactor: -1},
		{SourceTopic: "same", ReplicationFactor: 3},
	}
	if !reflect.DeepEqual(e.sim.mirrorCreates, want) {
		t.Errorf("creates = %+v\nwant %+v", e.sim.mirrorCreates, want)
	}
	if _, ok := e.sim.mirrors["east/east.orders"]; !ok {
		t.Errorf("mirrors = %v", e.sim.mirrors)
	}

	// --pattern selects by regular expression on the broker side
	// ("same" became east.same: its mirror name was not sent).
	out := e.mustRun(t, "mirror", "pause", "--pattern", "east\\.(c|o).*", "--link", "east")
	if !strings.Contains(out, "east.clicks") || !strings.Contains(out, "east.orders") || strings.Contains(out, "same") {
		t.Errorf("pause --pattern output:\n%s", out)
	}
	if got := e.sim.alters[0]; got != `pause east [] "east\\.(c|o).*" false` {
		t.Errorf("alter call = %s", got)
	}
	// Several names in one request; dry run.
	e.mustRun(t, "mirror", "resume", "east.clicks", "east.orders", "--link", "east", "--dry-run")
	if got := e.sim.alters[1]; got != `resume east [east.clicks east.orders] "" true` {
		t.Errorf("alter call = %s", got)
	}

	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"mirror", "create", "x"}, `required flag(s) "link" not set`},
		{[]string{"mirror", "describe", "x"}, `required flag(s) "link" not set`},
		{[]string{"mirror", "state-transition-error", "list", "x"}, `required flag(s) "link" not set`},
		{[]string{"mirror", "state-transition-error", "list", "nope", "--link", "east"}, "topic 'nope' is not a mirror topic of link 'east': rest: mirror topic not found (error code 40403)"},
		{[]string{"mirror", "failover", "x"}, `required flag(s) "link" not set`},
		{[]string{"mirror", "failover", "--link", "east"}, "name at least one mirror topic, or give --pattern"},
		{[]string{"mirror", "failover", "a", "--pattern", "a", "--link", "east"}, "give mirror topic names or --pattern, not both"},
		{[]string{"mirror", "pause", "--pattern", "(", "--link", "east"}, "mirror_topic_name_pattern: error parsing regexp: missing closing ): `(` (error code 400)"},
		{[]string{"mirror", "create", "x", "--link", "east", "--replication-factor", "x"},
			`invalid argument "x" for "--replication-factor" flag: strconv.ParseInt: parsing "x": invalid syntax`},
		{[]string{"mirror", "list", "--mirror-status", "dozing"}, `mirror_status "dozing" is not one of ACTIVE, FAILED, LINK_FAILED, LINK_PAUSED, PAUSED, PENDING_STOPPED, SOURCE_UNAVAILABLE, STOPPED, PENDING_MIRROR, PENDING_SYNCHRONIZE, PENDING_SETUP_FOR_RESTORE, PENDING_RESTORE, UNKNOWN (error code 400)`},
		{[]string{"mirror", "describe", "nope", "--link", "east"}, "topic 'nope' is not a mirror topic of link 'east': rest: mirror topic not found (error code 40403)"},
		{[]string{"mirror", "list", "--link", "west"}, "cluster link 'west' does not exist: rest: cluster link not found (error code 40404)"},
		{[]string{"mirror", "create", "x", "--link", "west"}, "cluster link 'west' does not exist: rest: cluster link not found (error code 40404)"},
		{[]string{"mirror", "promote", "x", "--link", "west"}, "cluster link 'west' does not exist: rest: cluster link not found (error code 40404)"},
	} {
		_, _, err := e.run(t, tc.args...)
		if err == nil || err.Error() != tc.msg {
			t.Errorf("%v: err = %v\nwant %s", tc.args, err, tc.msg)
		}
	}
}

func TestMirrorDescribeDetails(t *testing.T) {
	e := newCLIEnv(t)
	e.mustRun(t, "link", "create", "east", "--source-bootstrap-server", "src:9092")
	e.mustRun(t, "mirror", "create", "orders", "--link", "east")
	m := e.sim.mirrors["east/orders"]
	m.State, m.Error = "PENDING_STOPPED", "NO_ERROR"
	m.Lags = nil
	m.StateTransitionErrors = []rest.TaskError{{Code: "INTERNAL_ERROR", Message: "final offset sync failed"}}
	wantText(t, "describe", e.mustRun(t, "mirror", "describe", "orders", "--link", "east"), `
  Link Name | Mirror Topic Name | Source Topic Name | Mirror Status | Status Time (ms) | Partition | Partition Mirror Lag | Last Source Fetch Offset
------------+-------------------+-------------------+---------------+------------------+-----------+----------------------+--------------------------

State transition errors:
  Error Code     | Error Message
-----------------+--------------------------
  INTERNAL_ERROR | final offset sync failed
`)
	// No partitions, no rows: the confluent CLI prints an empty list.
	wantText(t, "describe -o json", e.mustRun(t, "mirror", "describe", "orders", "--link", "east", "-o", "json"), "[]\n")
}
