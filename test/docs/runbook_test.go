package docs

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/link"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

const runbookDoc = "docs/dr-runbook.md"

// runbookCommands returns the tandem command lines of a page: the lines of
// its fenced code blocks (with backslash continuations joined) and its
// code spans that start with "tandem ".
func runbookCommands(doc string) []string {
	var out []string
	fence := false
	var cont string
	for _, l := range strings.Split(doc, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "```") {
			fence = !fence
			continue
		}
		if !fence {
			for _, s := range codeSpans(l) {
				if strings.HasPrefix(s, "tandem ") {
					out = append(out, s)
				}
			}
			continue
		}
		t = cont + t
		if strings.HasSuffix(t, "\\") {
			cont = strings.TrimSuffix(t, "\\")
			continue
		}
		cont = ""
		if c, _, _ := strings.Cut(t, "#"); strings.HasPrefix(c, "tandem ") {
			out = append(out, strings.TrimSpace(c))
		}
	}
	return out
}

// TestRunbookCommandsExist checks every tandem command of the runbook and
// the config reference against the CLI: the subcommand exists (its help is
// not a parent's list of commands) and every --flag of the line is one of
// its flags.
func TestRunbookCommandsExist(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "tandem")
	build := exec.Command("go", "build", "-o", bin, "./cmd/tandem")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	help := map[string]string{}
	checked := 0
	for _, page := range []string{runbookDoc, linkConfigsDoc, mirrorStatesDoc} {
		for _, line := range runbookCommands(readDoc(t, page)) {
			words := strings.Fields(line)[1:]
			var sub []string
			for _, w := range words {
				if strings.HasPrefix(w, "-") {
					break
				}
				sub = append(sub, w)
			}
			key := strings.Join(sub, " ")
			h, ok := help[key]
			if !ok {
				out, err := exec.Command(bin, append(sub, "--help")...).CombinedOutput()
				if err != nil {
					t.Errorf("%s: %q: %v\n%s", page, line, err, out)
					continue
				}
				h = string(out)
				help[key] = h
			}
			_, usage, _ := strings.Cut(h, "Usage:\n")
			usage, _, _ = strings.Cut(usage, "\n")
			uw := strings.Fields(usage)[1:] // without "tandem"
			n := 0
			for n < len(uw) && n < len(sub) && uw[n] == sub[n] {
				n++
			}
			if n == 0 || (n < len(uw) && uw[n] == "[command]") {
				t.Errorf("%s: %q: no such command (usage: %s)", page, line, strings.TrimSpace(usage))
				continue
			}
			for _, w := range words {
				// An optional flag of a synopsis: [--dry-run].
				w = strings.TrimLeft(w, "[")
				if !strings.HasPrefix(w, "--") {
					continue
				}
				w = strings.TrimRight(w, "]")
				flag, _, _ := strings.Cut(w, "=")
				if !strings.Contains(h, "  "+flag+" ") && !strings.Contains(h, ", "+flag+" ") {
					t.Errorf("%s: %q: %s is not a flag of tandem %s", page, line, flag, strings.Join(uw[:n], " "))
				}
			}
			checked++
		}
	}
	if checked < 30 {
		t.Errorf("checked %d command lines", checked)
	}
}

// TestRunbookCopyGroupOffsets runs the runbook's "Migrate a consumer
// group" recipe: a group's committed offsets on the source are committed
// on the destination as they are, while the mirror is still read-only, and
// the group's consumer on the destination resumes exactly there, reading
// the same records.
func TestRunbookCopyGroupOffsets(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src := tandemtest.Start(t)
	dst := tandemtest.Start(t)
	scl := tandemtest.NewClient(t, src.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if _, err := kadm.NewClient(scl).CreateTopic(ctx, 2, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	for i := range 60 { // 30 records in each partition
		r := &kgo.Record{Topic: "orders", Partition: int32(i % 2), Value: []byte(fmt.Sprint("order-", i))}
		if err := scl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// The group has consumed part of each partition on the source.
	committed := kadm.Offsets{}
	committed.AddOffset("orders", 0, 17, -1)
	committed.AddOffset("orders", 1, 9, -1)
	if resp, err := kadm.NewClient(scl).CommitOffsets(ctx, "billing", committed); err != nil || resp.Error() != nil {
		t.Fatalf("commit on the source: %v %v", err, resp.Error())
	}

	lm := dst.Node.Links()
	if err := lm.CreateLink(ctx, "dr", "", map[string]string{"bootstrap.servers": src.Addr(), "replica.fetch.wait.max.ms": "100"}, false, true); err != nil {
		t.Fatal(err)
	}
	if err := lm.CreateMirror(ctx, "dr", "orders", "", nil, false); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; { // step 1: caught up
		mi, err := lm.Mirror("dr", "orders")
		if err != nil {
			t.Fatal(err)
		}
		caught := len(mi.Partitions) == 2
		for _, p := range mi.Partitions {
			caught = caught && p.Lag() == 0
		}
		if caught {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the mirror never caught up: %+v", mi.Partitions)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Steps 3 and 4, as the runbook's Go snippet does them.
	dcl := tandemtest.NewClient(t, dst.Addr())
	srcAdm, dstAdm := kadm.NewClient(scl), kadm.NewClient(dcl)
	offsets, err := srcAdm.FetchOffsets(ctx, "billing")
	if err == nil {
		err = offsets.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	resp, err := dstAdm.CommitOffsets(ctx, "billing", offsets.Offsets())
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("commit on the destination (mirror still read-only): %v", err)
	}
	if mi, _ := lm.Mirror("dr", "orders"); mi.State != link.MirrorActive {
		t.Fatalf("the mirror is %s, want ACTIVE (read-only) while the group moves", mi.State)
	}

	// Step 5: the group resumes on the destination at the copied offsets,
	// reading what the source holds there.
	cons := tandemtest.NewClient(t, dst.Addr(), kgo.ConsumerGroup("billing"), kgo.ConsumeTopics("orders"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	first := firstRecords(ctx, t, cons, 2)
	srcRead := tandemtest.NewClient(t, src.Addr(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		"orders": {0: kgo.NewOffset().At(17), 1: kgo.NewOffset().At(9)}}))
	want := firstRecords(ctx, t, srcRead, 2)
	for p, o := range map[int32]int64{0: 17, 1: 9} {
		got := first[p]
		if got.Offset != o {
			t.Errorf("partition %d: the group resumed at %d, want %d", p, got.Offset, o)
		}
		if string(got.Value) != string(want[p].Value) {
			t.Errorf("partition %d offset %d: destination %q, source %q", p, o, got.Value, want[p].Value)
		}
	}
}

// firstRecords polls cl until it has a record of n partitions and returns
// the first record of each.
func firstRecords(ctx context.Context, t *testing.T, cl *kgo.Client, n int) map[int32]*kgo.Record {
	t.Helper()
	first := map[int32]*kgo.Record{}
	for len(first) < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if first[r.Partition] == nil {
				first[r.Partition] = r
			}
		})
	}
	return first
}
