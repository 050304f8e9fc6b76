package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// TestCLIAgainstLiveBrokers drives the full flow through the CLI against
// two real brokers: link create → mirror create → describe (lag 0) →
// failover, and then writes to the former mirror.
func TestCLIAgainstLiveBrokers(t *testing.T) {
	src := tandemtest.Start(t)
	dst := tandemtest.Start(t)
	url := "http://" + dst.HTTPAddr()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	cl, err := kgo.NewClient(kgo.SeedBrokers(src.Addr()), kgo.DefaultProduceTopic("orders"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 2, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) string {
		t.Helper()
		out, errOut, err := runCLI(t, append(args, "--url", url)...)
		if err != nil {
			t.Fatalf("tandem %s: %v %s", strings.Join(args, " "), err, errOut)
		}
		return out
	}
	run("link", "create", "dr", "--source-bootstrap-server", src.Addr(), "--config", "replica.fetch.wait.max.ms=100")
	run("mirror", "create", "orders", "--link", "dr")

	// describe -o json is the confluent CLI's: a row per partition.
	type row struct {
		Status    string `json:"mirror_status"`
		Partition int32  `json:"partition"`
		Lag       int64  `json:"partition_mirror_lag"`
		Fetched   int64  `json:"last_source_fetch_offset"`
	}
	var desc []row
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out := run("mirror", "describe", "orders", "--link", "dr", "-o", "json")
		desc = nil
		if err := json.Unmarshal([]byte(out), &desc); err != nil {
			t.Fatalf("describe -o json: %v\n%s", err, out)
		}
		caught := len(desc) == 2
		for _, r := range desc {
			caught = caught && r.Status == "ACTIVE" && r.Lag == 0 && r.Fetched >= 0
		}
		if caught {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mirror not caught up: %+v", desc)
		}
	}
	// Everything the source holds is readable on the mirror.
	ends, err := kadm.NewClient(newDst(t, dst.Addr())).ListEndOffsets(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	if total != 100 {
		t.Fatalf("mirror holds %d records, want 100", total)
	}
	if out := run("mirror", "failover", "orders", "--link", "dr"); !strings.Contains(out, "orders") {
		t.Fatalf("failover output: %s", out)
	}
	if out := run("mirror", "list", "--link", "dr"); !strings.Contains(out, "STOPPED") {
		t.Fatalf("mirror list after failover: %s", out)
	}
	pc := newDst(t, dst.Addr(), kgo.DefaultProduceTopic("orders"))
	if err := pc.ProduceSync(ctx, &kgo.Record{Value: []byte("after failover")}).FirstErr(); err != nil {
		t.Fatalf("produce after failover: %v", err)
	}
	run("link", "delete", "dr")

	// With a link prefix the mirror is named prefix+source, and the CLI
	// says so (it printed the unprefixed name).
	run("link", "create", "pre", "--source-bootstrap-server", src.Addr(), "--config", "cluster.link.prefix=east.")
	if out := run("mirror", "create", "orders", "--link", "pre"); !strings.Contains(out, `"east.orders"`) {
		t.Fatalf("mirror create with a prefix printed: %s", out)
	}
	if _, err := dst.Node.Broker().TopicByName("east.orders"); err != nil {
		t.Fatal(err)
	}
}

func newDst(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return tandemtest.NewClient(t, addr, opts...)
}

// TestHelpExamplesWork runs every example that `tandem link …` and
// `tandem mirror …` print in --help against live brokers, as a newcomer
// would copy them (with --dry-run added, so that alternatives do not
// collide): an example must not fail on a config Tandem refuses. The
// source's address stands for east-kafka:9092, a properties file for
// link.properties, and link east (prefix "east.") exists for the commands
// that need one, except for `link create`.
func TestHelpExamplesWork(t *testing.T) {
	src := tandemtest.Start(t)
	// The --source-api-secret example needs a secret to store it with.
	dst := tandemtest.Start(t, tandemtest.Config("password.encoder.secret", "examples-secret"))
	url := "http://" + dst.HTTPAddr()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(src.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	props := filepath.Join(t.TempDir(), "link.properties")
	if err := os.WriteFile(props, []byte("request.timeout.ms=20000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	examples := func(cmd *cobra.Command) [][]string {
		var out [][]string
		joined := strings.ReplaceAll(cmd.Example, "\\\n", " ")
		for _, line := range strings.Split(joined, "\n") {
			f := strings.Fields(line)
			if len(f) < 2 || f[0] != "tandem" {
				continue
			}
			for i, a := range f {
				a = strings.ReplaceAll(a, "east-kafka:9092", src.Addr())
				f[i] = strings.ReplaceAll(a, "link.properties", props)
			}
			if !slices.Contains(f, "--dry-run") {
				f = append(f, "--dry-run")
			}
			out = append(out, append(f[1:], "--url", url))
		}
		return out
	}
	run := func(args []string) {
		t.Helper()
		if _, errOut, err := runCLI(t, args...); err != nil {
			t.Errorf("tandem %s: %v %s", strings.Join(args, " "), err, errOut)
		}
	}
	root := newRoot()
	find := func(path ...string) *cobra.Command {
		c, _, err := root.Find(path)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	n := 0
	for _, args := range examples(find("link", "create")) {
		run(args)
		n++
	}
	if _, errOut, err := runCLI(t, "link", "create", "east", "--source-bootstrap-server", src.Addr(),
		"--config", "cluster.link.prefix=east.", "--url", url); err != nil {
		t.Fatalf("link create: %v %s", err, errOut)
	}
	for _, path := range [][]string{{"link", "update"}, {"mirror", "create"}} {
		for _, args := range examples(find(path...)) {
			run(args)
			n++
		}
	}
	if n < 8 {
		t.Fatalf("ran %d examples; the help text has at least 8", n)
	}
}
