package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/datadir"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// runCheck runs `tandem check` as main does and returns its output.
func runCheck(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := &cobra.Command{Use: "tandem", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(checkCmd(), recoverMetadataCmd())
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// segmentsDir makes a stopped broker's data directory whose topic "t"
// has one partition of 6 segments (segment.ms=60000, records an hour
// apart), and returns the directory and the sorted segment files.
func segmentsDir(t *testing.T) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	b := tandemtest.Start(t, tandemtest.Config("log.dirs", dir), tandemtest.Config("offsets.topic.num.partitions", "1"))
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	segMs := "60000"
	if r, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, map[string]*string{"segment.ms": &segMs}, "t"); err != nil || r.Err != nil {
		t.Fatalf("create: %v %v", err, r.Err)
	}
	start := time.Now().Add(-24 * time.Hour)
	for i := range 6 {
		r := &kgo.Record{Topic: "t", Value: bytes.Repeat([]byte{'v'}, 200), Timestamp: start.Add(time.Duration(i) * time.Hour)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	b.Stop()
	segs, err := filepath.Glob(filepath.Join(dir, "t-0", "*.log"))
	if err != nil || len(segs) != 6 {
		t.Fatalf("segments: %v %v", segs, err)
	}
	slices.Sort(segs)
	return dir, segs
}

// TestCheckCommand runs `tandem check` on a healthy directory and on the
// hostile ones of issue #9, built here: a deleted middle segment, 4
// flipped bytes in the middle of a segment, a damaged partition.metadata.
func TestCheckCommand(t *testing.T) {
	dir, segs := segmentsDir(t)
	out, err := runCheck(t, "check", "--data-dir", dir)
	if err != nil || !strings.Contains(out, "0 errors, 0 warnings") {
		t.Fatalf("healthy directory: %v\n%s", err, out)
	}

	damage := []struct {
		name  string
		apply func(t *testing.T)
		want  string
	}{
		{"deleted middle segment", func(t *testing.T) {
			if err := os.Remove(segs[2]); err != nil {
				t.Fatal(err)
			}
		}, "offsets 2 to 2 are missing between this segment and the previous one"},
		{"flipped bytes mid-segment", func(t *testing.T) {
			data, err := os.ReadFile(segs[4])
			if err != nil {
				t.Fatal(err)
			}
			for i := range 4 {
				data[len(data)/2+i] ^= 0x5a
			}
			if err := os.WriteFile(segs[4], data, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "CRC mismatch"},
		{"damaged partition.metadata", func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "t-0", "partition.metadata"), []byte("version: 0\ntopic_id: not-an-id\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, `partition.metadata: record: corrupt`},
	}
	for i, d := range damage {
		d.apply(t)
		out, err := runCheck(t, "check", "--data-dir", dir)
		if !errors.Is(err, errProblemsFound) {
			t.Fatalf("%s: check returned %v, want problems found\n%s", d.name, err, out)
		}
		if !strings.Contains(out, d.want) || !strings.Contains(out, fmt.Sprintf("%d errors", i+1)) {
			t.Fatalf("%s: report lacks %q or %d errors:\n%s", d.name, d.want, i+1, out)
		}
	}
	out, err = runCheck(t, "check", "--data-dir", dir, "--json")
	var r datadir.Report
	if jerr := json.Unmarshal([]byte(out), &r); jerr != nil || !errors.Is(err, errProblemsFound) || r.Errors != 3 {
		t.Fatalf("--json: %v %v %+v\n%s", jerr, err, r, out)
	}
}
