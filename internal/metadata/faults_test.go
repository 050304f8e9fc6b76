package metadata

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/tandem-streaming/tandem/internal/vfs"
)

// TestOpenBoltFaults: a storage fault at any file operation the store
// makes itself while opening (the directory, the database open,
// meta.properties' write, sync and rename) fails the open with an error
// wrapping the errno, and an open after the fault clears succeeds with
// the same cluster id. (bbolt's own page writes and fsyncs use the
// *os.File it opened and are not injected; see OpenBoltFS.)
func TestOpenBoltFaults(t *testing.T) {
	probe := vfs.NewErrorFS(nil)
	probe.Trace(true)
	s, err := OpenBoltFS(t.TempDir(), 1, nil, probe)
	if err != nil {
		t.Fatal(err)
	}
	records := probe.Records()
	_ = s.Close()
	seen := map[vfs.Op]int{}
	type point struct {
		op  vfs.Op
		nth int
	}
	var points []point
	for _, r := range records {
		// The backup the open ends with is best effort: its faults are
		// TestBackupFaults'.
		if strings.Contains(r.Path, metadataBackupName) {
			break
		}
		seen[r.Op]++
		if r.Op&vfs.OpMutating != 0 {
			points = append(points, point{r.Op, seen[r.Op]})
		}
	}
	if len(points) < 4 {
		t.Fatalf("recorded %v", probe.Records())
	}
	for _, p := range points {
		for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EMFILE, syscall.EIO} {
			dir := t.TempDir()
			fs := vfs.NewErrorFS(nil)
			fs.Inject(vfs.Rule{Ops: p.op, Nth: p.nth, Times: 1, Err: errno})
			s, err := OpenBoltFS(dir, 1, nil, fs)
			if err == nil {
				_ = s.Close()
				t.Fatalf("%v #%d %v: open succeeded", p.op, p.nth, errno)
			}
			if !errors.Is(err, errno) {
				t.Fatalf("%v #%d %v: %v does not wrap the errno", p.op, p.nth, errno, err)
			}
			s, err = OpenBoltFS(dir, 1, nil, fs)
			if err != nil {
				t.Fatalf("%v #%d %v: open after the fault cleared: %v", p.op, p.nth, errno, err)
			}
			id := s.ClusterID()
			_ = s.Close()
			s, err = OpenBoltFS(dir, 1, nil, nil)
			if err != nil || s.ClusterID() != id {
				t.Fatalf("%v #%d %v: reopen: %v", p.op, p.nth, errno, err)
			}
			_ = s.Close()
		}
	}
}

// TestCommitFaults: ENOSPC, EMFILE or EIO at the write or the sync of
// metadata.db, for every kind of metadata write, fails that write with an
// error wrapping the errno and changes nothing (same revision, same
// records, also after a reopen); the same write succeeds once the fault
// clears, exactly once.
func TestCommitFaults(t *testing.T) {
	writes := []struct {
		name  string
		write func(Store) error
		check func(Store) bool // the write is visible
	}{
		{"create topic", func(s Store) error {
			return s.CreateTopic(Topic{Name: "new", Partitions: 2, ReplicationFactor: 1, Leader: 1})
		}, func(s Store) bool { _, ok := s.Topic("new"); return ok }},
		{"delete topic", func(s Store) error { _, err := s.DeleteTopic("base"); return err },
			func(s Store) bool { _, ok := s.Topic("base"); return !ok }},
		{"add partitions", func(s Store) error { return s.AddPartitions("base", 3) },
			func(s Store) bool { t, _ := s.Topic("base"); return t.Partitions == 3 }},
		{"topic configs", func(s Store) error { return s.SetTopicConfigs("base", map[string]string{"retention.ms": "1"}) },
			func(s Store) bool { t, _ := s.Topic("base"); return t.Configs["retention.ms"] == "1" }},
		{"broker configs", func(s Store) error { return s.SetBrokerConfigs(1, map[string]string{"log.retention.ms": "5"}) },
			func(s Store) bool { return s.BrokerConfigs(1)["log.retention.ms"] == "5" }},
		{"create link", func(s Store) error {
			return s.CreateLink(Link{Name: "dr", SourceClusterID: "src", Configs: map[string]string{"bootstrap.servers": "a:9092"}})
		}, func(s Store) bool { _, ok := s.Link("dr"); return ok }},
		{"producer ids", func(s Store) error { _, err := s.AllocateProducerIDs(5000, 1000); return err },
			func(s Store) bool { return nextProducerID(t, s) == 6000 }},
	}
	for _, w := range writes {
		for _, op := range []vfs.Op{vfs.OpWrite, vfs.OpSync} {
			for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EMFILE, syscall.EIO} {
				dir := t.TempDir()
				fs := vfs.NewErrorFS(nil)
				s, err := OpenBoltFS(dir, 1, nil, fs)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.CreateTopic(Topic{Name: "base", Partitions: 1, ReplicationFactor: 1, Leader: 1}); err != nil {
					t.Fatal(err)
				}
				rev := s.Revision()
				// Until dropped: the rule matches the background backups'
				// metadata.db.bak too, which must not use it up.
				rule := fs.Inject(vfs.Rule{Ops: op, Path: "metadata.db", Err: errno})
				err = w.write(s)
				fs.Drop(rule)
				if !errors.Is(err, errno) {
					t.Fatalf("%s, %v %v: err = %v, want the errno", w.name, op, errno, err)
				}
				if s.Revision() != rev || w.check(s) {
					t.Fatalf("%s, %v %v: the failed write changed the store (revision %d -> %d)", w.name, op, errno, rev, s.Revision())
				}
				if err := w.write(s); err != nil {
					t.Fatalf("%s, %v %v: after the fault cleared: %v", w.name, op, errno, err)
				}
				if s.Revision() != rev+1 || !w.check(s) {
					t.Fatalf("%s, %v %v: revision %d -> %d after one successful write", w.name, op, errno, rev, s.Revision())
				}
				_ = s.Close()
				s, err = OpenBoltFS(dir, 1, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				if s.Revision() != rev+1 || !w.check(s) {
					t.Fatalf("%s, %v %v: after reopen revision %d, visible %v", w.name, op, errno, s.Revision(), w.check(s))
				}
				_ = s.Close()
			}
		}
	}
}

// nextProducerID reads meta/next_producer_id without reserving anything.
func nextProducerID(t *testing.T, s Store) int64 {
	var next int64
	if err := s.(*boltStore).db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyNextProducerID); len(v) == 8 {
			next = int64(binary.BigEndian.Uint64(v))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return next
}

// TestBackupFaults: a fault at any write, sync or rename of the backup
// (metadata.db.bak) fails that backup with an error wrapping the errno,
// leaves the previous backup whole and no temporary file, never fails a
// metadata write, and the next backup after the fault clears succeeds.
func TestBackupFaults(t *testing.T) {
	for _, op := range []vfs.Op{vfs.OpOpen, vfs.OpWrite, vfs.OpSync, vfs.OpRename} {
		for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EMFILE, syscall.EIO} {
			dir := t.TempDir()
			fs := vfs.NewErrorFS(nil)
			st, err := OpenBoltFS(dir, 1, nil, fs)
			if err != nil {
				t.Fatal(err)
			}
			s := st.(*boltStore)
			// Backups run only when the test calls writeBackup: a
			// background one already past its open when the rule goes in
			// would replace the backup the test compares with.
			close(s.backupStop)
			<-s.backupDone
			s.backupStop = nil
			if err := s.CreateTopic(Topic{Name: "a", Partitions: 1, ReplicationFactor: 1, Leader: 1}); err != nil {
				t.Fatal(err)
			}
			if err := s.writeBackup(); err != nil {
				t.Fatal(err)
			}
			bak := filepath.Join(s.metaDir, metadataBackupName)
			before, err := os.ReadFile(bak)
			if err != nil {
				t.Fatal(err)
			}
			rule := fs.Inject(vfs.Rule{Ops: op, Path: metadataBackupName, Err: errno})
			if err := s.CreateTopic(Topic{Name: "b", Partitions: 1, ReplicationFactor: 1, Leader: 1}); err != nil {
				t.Fatalf("%v %v: a metadata write failed with the backup's fault: %v", op, errno, err)
			}
			// (bbolt's WriteTo reports a write error with %s, not %w.)
			if err := s.writeBackup(); err == nil || !strings.Contains(err.Error(), errno.Error()) {
				t.Fatalf("%v %v: backup err = %v, want the errno", op, errno, err)
			}
			after, err := os.ReadFile(bak)
			if err != nil || string(after) != string(before) {
				t.Fatalf("%v %v: the previous backup changed or went (%v)", op, errno, err)
			}
			if _, err := os.Stat(bak + ".tmp"); !os.IsNotExist(err) {
				t.Fatalf("%v %v: temporary backup left behind (%v)", op, errno, err)
			}
			fs.Drop(rule)
			if err := s.writeBackup(); err != nil {
				t.Fatalf("%v %v: backup after the fault cleared: %v", op, errno, err)
			}
			if after, _ := os.ReadFile(bak); string(after) == string(before) {
				t.Fatalf("%v %v: the backup after the fault is still the old one", op, errno)
			}
			_ = s.Close()
		}
	}
}
