package datadir_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/datadir"
	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/node"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

const records = 30 // per partition

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func start(t *testing.T, dir string) *tandemtest.Broker {
	t.Helper()
	return tandemtest.Start(t, tandemtest.Config("log.dirs", dir), tandemtest.Config("offsets.topic.num.partitions", "2"))
}

// fill creates topic with 2 partitions (and configs) and produces records
// to each with acks=all.
func fill(t *testing.T, b *tandemtest.Broker, topic string, configs map[string]*string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if resp, err := kadm.NewClient(cl).CreateTopic(ctxT(t), 2, 1, configs, topic); err != nil || resp.Err != nil {
		t.Fatalf("create %s: %v %v", topic, err, resp.Err)
	}
	for p := range int32(2) {
		for i := range records {
			if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: topic, Partition: p, Value: fmt.Appendf(nil, "%s-%d-%d", topic, p, i)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// verify reads both partitions of topic and checks every acknowledged
// record is there, in order, and that the topic still takes writes.
func verify(t *testing.T, b *tandemtest.Broker, topic string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart()}}),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := map[int32][]string{}
	ctx := ctxT(t)
	for n := 0; n < 2*records; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: read %d of %d acknowledged records", topic, n, 2*records)
		}
		fs.EachRecord(func(r *kgo.Record) { got[r.Partition] = append(got[r.Partition], string(r.Value)); n++ })
	}
	for p := range int32(2) {
		var want []string
		for i := range records {
			want = append(want, fmt.Sprintf("%s-%d-%d", topic, p, i))
		}
		if !slices.Equal(got[p], want) {
			t.Fatalf("%s-%d: got %v, want %v", topic, p, got[p], want)
		}
	}
	if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: topic, Partition: 0, Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatalf("%s does not take writes after recovery: %v", topic, err)
	}
}

func truncateDB(t *testing.T, dir string) {
	t.Helper()
	path := filepath.Join(dir, "__tandem_metadata", "metadata.db")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()/3); err != nil {
		t.Fatal(err)
	}
}

// startFails checks that the broker refuses a damaged metadata.db and
// names the recovery command.
func startFails(t *testing.T, dir string) {
	t.Helper()
	n, err := node.Start(map[string]string{"listeners": "PLAINTEXT://127.0.0.1:0", "http.listeners": "", "log.dirs": dir}, nil)
	if err == nil {
		_ = n.Shutdown(context.Background())
		t.Fatal("broker started on a truncated metadata.db")
	}
	if !errors.Is(err, metadata.ErrDamaged) || !strings.Contains(err.Error(), "tandem recover-metadata --data-dir "+dir) {
		t.Fatalf("start error = %v; want ErrDamaged naming the recovery command", err)
	}
}

// TestTruncatedMetadataRecovers truncates metadata.db and runs the
// documented recovery: from the backup the broker keeps (with a topic
// created after that backup re-created from its directories), and with no
// backup at all. No acknowledged record is lost either way.
func TestTruncatedMetadataRecovers(t *testing.T) {
	for _, withBackup := range []bool{true, false} {
		t.Run(fmt.Sprintf("backup=%v", withBackup), func(t *testing.T) {
			dir := t.TempDir()
			b := start(t, dir)
			retention := "3600000"
			fill(t, b, "early", map[string]*string{"retention.ms": &retention})
			b.Stop() // the backup written at shutdown has "early"
			bak := filepath.Join(dir, "__tandem_metadata", "metadata.db.bak")
			old, err := os.ReadFile(bak)
			if err != nil {
				t.Fatal(err)
			}
			b = start(t, dir)
			fill(t, b, "late", nil)
			b.Stop()
			// The backup predates "late" (as when the crash came before
			// the next backup), or is gone.
			if withBackup {
				err = os.WriteFile(bak, old, 0o600)
			} else {
				err = os.Remove(bak)
			}
			if err != nil {
				t.Fatal(err)
			}
			truncateDB(t, dir)

			startFails(t, dir)
			r, err := datadir.Check(dir)
			if err != nil || r.MetadataError == "" || r.Errors == 0 {
				t.Fatalf("check of a truncated metadata.db: %+v, %v", r, err)
			}
			rep, err := datadir.RecoverMetadata(dir)
			if err != nil {
				t.Fatal(err)
			}
			want := map[bool]string{true: "backup", false: "rebuilt"}[withBackup]
			if rep.Restored != want || !slices.ContainsFunc(rep.Actions, func(a string) bool { return strings.Contains(a, "re-created topic late") }) {
				t.Fatalf("recovery: %+v", rep)
			}
			if r, err := datadir.Check(dir); err != nil || r.Errors != 0 {
				t.Fatalf("check after recovery: %+v, %v", r, err)
			}
			b = start(t, dir)
			verify(t, b, "early")
			verify(t, b, "late")
			if withBackup {
				if tc, _ := b.Node.Store().Topic("early"); tc.Configs["retention.ms"] != retention {
					t.Fatalf("the backup's topic configs were not restored: %v", tc.Configs)
				}
			}
		})
	}
}

// TestCheckFindsDamage builds damage into a stopped broker's directory:
// check reports each, and the broker still starts with the damaged
// partition offline while the rest serves.
func TestCheckFindsDamage(t *testing.T) {
	dir := t.TempDir()
	b := start(t, dir)
	fill(t, b, "good", nil)
	fill(t, b, "bad", nil)
	b.Stop()
	if r, err := datadir.Check(dir); err != nil || r.Errors != 0 || r.Warnings != 0 {
		t.Fatalf("check of a healthy directory: %+v, %v", r, err)
	}
	pm := filepath.Join(dir, "bad-1", "partition.metadata")
	if err := os.WriteFile(pm, []byte("version: 7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "ghost-0"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ghost-0", "partition.metadata"), []byte("version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAQ\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := datadir.Check(dir)
	if err != nil {
		t.Fatal(err)
	}
	var errs []string
	for _, d := range r.Directories {
		errs = append(errs, d.Severity+" "+d.Path+": "+d.What)
	}
	for _, p := range r.Partitions {
		for _, pr := range p.Problems {
			errs = append(errs, pr.Severity+" "+p.Dir+"/"+pr.File+": "+pr.What)
		}
	}
	joined := strings.Join(errs, "\n")
	if r.Errors != 2 || !strings.Contains(joined, "bad-1/partition.metadata: ") || !strings.Contains(joined, "ghost-0: topic ghost is not in metadata") {
		t.Fatalf("check found %d errors:\n%s", r.Errors, joined)
	}

	// The broker starts: bad-1 is offline, the rest serves, and the
	// stray is moved aside.
	b = start(t, dir)
	verify(t, b, "good")
	if _, err := b.Node.Broker().MirrorPartition("bad", 1); err == nil {
		t.Fatal("a partition with a damaged partition.metadata is served")
	}
	if _, err := b.Node.Broker().MirrorPartition("bad", 0); err != nil {
		t.Fatalf("bad-0 is not served: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ghost-0")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stray not moved aside: %v", err)
	}
	// The offline topic can be deleted, damaged directory included, and
	// its name used again.
	if _, err := b.Node.Broker().DeleteTopic("bad"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"bad-0", "bad-1"} {
		if _, err := os.Stat(filepath.Join(dir, p)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s left after deleting its topic: %v", p, err)
		}
	}
	fill(t, b, "bad", nil)
	b.Restart()
	verify(t, b, "bad")
}

// TestRecoverTopicRecreatedAfterBackup: a topic deleted and created again
// after the backup the broker kept: the restored metadata has the old
// topic id, the directories the new one, and recovery re-creates the
// topic from the directories (its acknowledged records served).
func TestRecoverTopicRecreatedAfterBackup(t *testing.T) {
	dir := t.TempDir()
	b := start(t, dir)
	fill(t, b, "again", nil)
	b.Stop()
	bak := filepath.Join(dir, "__tandem_metadata", "metadata.db.bak")
	old, err := os.ReadFile(bak)
	if err != nil {
		t.Fatal(err)
	}
	b = start(t, dir)
	if _, err := b.Node.Broker().DeleteTopic("again"); err != nil {
		t.Fatal(err)
	}
	fill(t, b, "again", nil)
	b.Stop()
	if err := os.WriteFile(bak, old, 0o600); err != nil {
		t.Fatal(err)
	}
	truncateDB(t, dir)
	rep, err := datadir.RecoverMetadata(dir)
	if err != nil || !slices.ContainsFunc(rep.Actions, func(a string) bool { return strings.Contains(a, "re-created topic again") }) {
		t.Fatalf("recovery: %+v, %v", rep, err)
	}
	if r, err := datadir.Check(dir); err != nil || r.Errors != 0 {
		t.Fatalf("check after recovery: %+v, %v", r, err)
	}
	b = start(t, dir)
	verify(t, b, "again")
}
