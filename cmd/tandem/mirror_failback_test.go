package main

import (
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/rest"
)

// TestMirrorFailbackCommands: truncate-and-restore, reverse-and-start and
// reverse-and-pause over HTTP (a simulated link manager behind the real
// REST handler): the REST calls they make, Confluent's success texts, the
// per-partition data, the refusals, and every --help example.
func TestMirrorFailbackCommands(t *testing.T) {
	e := newCLIEnv(t)
	e.mustRun(t, "link", "create", "dr", "--source-bootstrap-server", "127.0.0.1:9092")
	e.sim.mirrors["dr/clicks"] = &rest.MirrorInfo{Link: "dr", MirrorTopic: "clicks", SourceTopic: "clicks", NumPartitions: 1, State: "ACTIVE"}
	e.sim.mirrors["dr/stuck"] = &rest.MirrorInfo{Link: "dr", MirrorTopic: "stuck", SourceTopic: "stuck", NumPartitions: 1, State: "ACTIVE",
		Lags: []rest.PartitionLag{{Partition: 0, Lag: 4}}}

	out, stderr, err := e.run(t, "mirror", "truncate-and-restore", "orders", "--link", "dr", "--dry-run", "--include-partition-data")
	if err != nil || stderr != "Dry run: validated only, nothing was changed.\n" {
		t.Fatalf("dry run: %v %s", err, stderr)
	}
	wantText(t, "truncate-and-restore --dry-run --include-partition-data", out, `
Truncate and restore for topic orders validated: 5 messages would be truncated.
  Mirror Topic Name | Partition | Offset Truncated To | Messages Truncated
--------------------+-----------+---------------------+--------------------
  orders            | 0         | 10                  | 3
  orders            | 1         | 7                   | 2
`)
	if _, ok := e.sim.mirrors["dr/orders"]; ok {
		t.Fatal("the dry run restored the topic")
	}
	wantText(t, "truncate-and-restore -o json", e.mustRun(t, "mirror", "truncate-and-restore", "orders", "--link", "dr", "--dry-run", "-o", "json"), `[
  {
    "mirror_topic_name": "orders",
    "partition": -1,
    "offset_truncated_to": -1,
    "messages_truncated": 5,
    "error_message": "",
    "error_code": ""
  }
]
`)
	wantText(t, "truncate-and-restore", e.mustRun(t, "mirror", "truncate-and-restore", "orders", "--link", "dr"), `
Request for truncate and restore for topic orders was successfully scheduled. 5 messages will be truncated.
`)
	// orders is an ACTIVE mirror now: refused, exit 1.
	out, _, err = e.run(t, "mirror", "truncate-and-restore", "orders", "--link", "dr")
	if err == nil || !strings.Contains(out, "Truncate and restore of topic orders failed: topic 'orders' is ACTIVE") {
		t.Errorf("truncate-and-restore of an ACTIVE mirror: %v\n%s", err, out)
	}

	// The reverses find each topic's link themselves.
	wantText(t, "reverse-and-start --dry-run", e.mustRun(t, "mirror", "reverse-and-start", "orders", "--dry-run"), `
Reversing local mirror and starting remote mirror for topic orders validated.
`)
	wantText(t, "reverse-and-start", e.mustRun(t, "mirror", "reverse-and-start", "orders"), `
Request for reversing local mirror and starting remote mirror for topic orders was successfully scheduled.
`)
	wantText(t, "reverse-and-pause", e.mustRun(t, "mirror", "reverse-and-pause", "--topics", "clicks"), `
Request for reversing local mirror and pausing remote mirror for topic clicks was successfully scheduled.
`)
	out, _, err = e.run(t, "mirror", "reverse-and-start", "stuck", "ghost")
	if err == nil || err.Error() != "reverse-and-start failed for 2 of 2 mirror topics" ||
		!strings.Contains(out, "Reversing mirror topic ghost failed: topic 'ghost' is not a mirror topic on this cluster (error code 40403)") ||
		!strings.Contains(out, "Reversing mirror topic stuck failed: topic 'stuck' still has mirroring lag (error code 40002)") {
		t.Errorf("reverse of a lagging mirror and a non-mirror: %v\n%s", err, out)
	}
	if _, _, err := e.run(t, "mirror", "reverse-and-start", "stuck", "--link", "dr"); err == nil || err.Error() != "Cannot specify both --topics and --link." {
		t.Errorf("reverse with --link: %v", err)
	}
	wantAlters := []string{
		`truncate-and-restore dr [orders] "" true`, `truncate-and-restore dr [orders] "" true`, `truncate-and-restore dr [orders] "" false`,
		`truncate-and-restore dr [orders] "" false`, `reverse-and-start-mirror dr [orders] "" true`, `reverse-and-start-mirror dr [orders] "" false`, `reverse-and-pause-mirror dr [clicks] "" false`,
		`reverse-and-start-mirror dr [stuck] "" false`,
	}
	if got := strings.Join(e.sim.alters, "\n"); got != strings.Join(wantAlters, "\n") {
		t.Errorf("backend calls:\n%s\nwant:\n%s", got, strings.Join(wantAlters, "\n"))
	}

	// Every --help example of the three commands runs (TestEveryHelpExampleIsRun).
	e = newCLIEnv(t)
	e.mustRun(t, "link", "create", "dr", "--source-bootstrap-server", "127.0.0.1:9092")
	for _, name := range []string{"truncate-and-restore", "reverse-and-start", "reverse-and-pause"} {
		c, _, err := newRoot().Find([]string{"mirror", name})
		if err != nil {
			t.Fatal(err)
		}
		for _, args := range exampleLines(c) {
			if _, errOut, err := e.run(t, args...); err != nil {
				t.Errorf("tandem %s: %v %s", strings.Join(args, " "), err, errOut)
			}
		}
		e.sim.mirrors["dr/orders"].State = "ACTIVE" // for the next reverse
	}
}
