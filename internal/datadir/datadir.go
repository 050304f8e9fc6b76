// Package datadir inspects and repairs a stopped broker's log directory as
// a whole: `tandem check` (Check) deep-validates every partition and the
// metadata database against the directories; `tandem recover-metadata`
// (RecoverMetadata) restores a damaged metadata database from the backup
// the broker keeps, or rebuilds it, and re-creates from the partition
// directories the topics it lacks. See "Data directory and recovery" in
// docs/operations.md.
package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/metadata"
)

// lock takes the broker's lock on dir (node.lockFile), so that neither
// tool runs on a live directory, and no broker starts while one runs.
func lock(dir string) (func(), error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("datadir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("datadir: lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("datadir: %s is in use by a running broker; stop it first (or work on a copy): %w", dir, err)
	}
	return func() { _ = f.Close() }, nil
}

// DirProblem is a finding about a directory entry as a whole.
type DirProblem struct {
	Severity string `json:"severity"`
	Path     string `json:"path"`
	What     string `json:"what"`
}

// Report is what Check found.
type Report struct {
	Dir           string            `json:"dir"`
	MetadataError string            `json:"metadata_error,omitempty"`
	Topics        int               `json:"topics"`
	Partitions    []log.CheckReport `json:"partitions"`
	Directories   []DirProblem      `json:"directories,omitempty"`
	Errors        int               `json:"errors"`
	Warnings      int               `json:"warnings"`
}

func (r *Report) dir(sev, path, format string, args ...any) {
	r.Directories = append(r.Directories, DirProblem{Severity: sev, Path: path, What: fmt.Sprintf(format, args...)})
}

// compacted reports whether a topic's cleanup.policy includes compact
// (its override; the broker default log.cleanup.policy is delete).
func compacted(t metadata.Topic) bool {
	return slices.Contains(strings.Split(t.Configs["cleanup.policy"], ","), "compact")
}

// Check deep-validates the log directory dir of a stopped broker: the
// metadata database (bbolt consistency check, records decode), every
// partition directory (log.CheckPartition, against its topic's id and
// cleanup.policy), and the directories against metadata (strays, leftover
// deletions, missing partitions). It changes nothing.
func Check(dir string) (*Report, error) {
	unlock, err := lock(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	r := &Report{Dir: dir}
	topics, err := metadata.CheckDatabase(dir)
	byName := map[string]metadata.Topic{}
	if err != nil {
		r.MetadataError = err.Error()
		r.Errors++
	} else {
		r.Topics = len(topics)
		for _, t := range topics {
			byName[t.Name] = t
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("datadir: %w", err)
	}
	seen := map[string]bool{}
	for _, e := range ents {
		name, path := e.Name(), filepath.Join(dir, e.Name())
		if !e.IsDir() || strings.HasPrefix(name, "__tandem") {
			continue
		}
		if _, _, _, ok := log.ParseMarkedDirName(name, log.DeleteDirSuffix); ok || strings.HasSuffix(name, log.DeleteDirSuffix) {
			r.dir(log.SeverityWarning, path, "leftover of a topic deletion; removed (or, if the deletion never committed, renamed back) at the next start")
			continue
		}
		if strings.HasSuffix(name, log.StrayDirSuffix) {
			id, _, _ := log.ReadPartitionMetadata(path)
			r.dir(log.SeverityWarning, path, "stray partition directory (topic id %x) kept by the broker: not served; inspect it, then remove it", id)
			continue
		}
		topic, p, ok := log.ParsePartitionDirName(name)
		if !ok {
			continue
		}
		t, known := byName[topic]
		var want [16]byte
		switch {
		case r.MetadataError != "":
		case !known:
			r.dir(log.SeverityError, path, "topic %s is not in metadata: its data is not served (the next start moves it aside as a stray; "+
				"`tandem recover-metadata` re-creates the topic from it)", topic)
		case p >= t.Partitions:
			r.dir(log.SeverityError, path, "topic %s has %d partitions in metadata: this directory is not served", topic, t.Partitions)
		default:
			want = t.ID
			seen[name] = true
		}
		pr := log.CheckPartition(path, want, known && compacted(t))
		r.Partitions = append(r.Partitions, pr)
	}
	for _, t := range topics {
		for p := range t.Partitions {
			name := fmt.Sprintf("%s-%d", t.Name, p)
			if !seen[name] {
				r.dir(log.SeverityWarning, filepath.Join(dir, name), "partition %d of topic %s has no directory: it starts empty at the next start", p, t.Name)
			}
		}
	}
	for _, d := range r.Directories {
		if d.Severity == log.SeverityError {
			r.Errors++
		} else {
			r.Warnings++
		}
	}
	for _, pr := range r.Partitions {
		e := pr.Errors()
		r.Errors += e
		r.Warnings += len(pr.Problems) - e
	}
	return r, nil
}

// RecoverReport says what RecoverMetadata did.
type RecoverReport struct {
	// Restored: "" (the database was healthy), "backup" or "rebuilt".
	Restored       string   `json:"restored,omitempty"`
	BackupRevision int64    `json:"backup_revision,omitempty"`
	Actions        []string `json:"actions"`
}

// RecoverMetadata makes the metadata database of a stopped broker's log
// directory usable again and consistent with the partition directories:
//
//  1. a damaged or missing metadata.db is moved aside
//     (metadata.db.damaged-<time>) and replaced by the backup the broker
//     keeps (metadata.RestoreBackup), or, when there is no usable backup,
//     by an empty database of the same cluster (metadata.Reinitialize);
//  2. every topic with partition directories but not in metadata (created
//     after the backup) is created again with its topic id (from
//     partition.metadata), its partition count and leader epochs (from
//     the directories) and default configs (__consumer_offsets gets
//     cleanup.policy=compact), as is a topic deleted and created again
//     after the backup (no directory has the restored id, all name one
//     other); topics that gained partitions after the backup get them
//     back; leader epochs below the logs' are raised;
//  3. topics in metadata without any partition directory are listed (they
//     were probably deleted after the backup) but kept.
//
// With a healthy database it does steps 2 and 3 only.
func RecoverMetadata(dir string) (*RecoverReport, error) {
	unlock, err := lock(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	rep := &RecoverReport{}
	if _, err := metadata.CheckDatabase(dir); err != nil {
		if !errors.Is(err, metadata.ErrDamaged) && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		rev, taken, berr := metadata.RestoreBackup(dir)
		if berr == nil {
			rep.Restored, rep.BackupRevision = "backup", rev
			rep.Actions = append(rep.Actions, fmt.Sprintf("restored metadata.db from its backup (revision %d, written %s); the damaged file is kept as metadata.db.damaged-*",
				rev, taken.UTC().Format("2006-01-02T15:04:05Z")))
		} else {
			if err := metadata.Reinitialize(dir); err != nil {
				return nil, fmt.Errorf("datadir: no usable backup (%v), and rebuilding failed: %w", berr, err)
			}
			rep.Restored = "rebuilt"
			rep.Actions = append(rep.Actions, fmt.Sprintf("no usable backup (%v): started an empty metadata.db of the same cluster; the damaged file is kept as metadata.db.damaged-*", berr))
		}
	}
	node, err := metadata.NodeID(dir)
	if err != nil {
		return nil, err
	}
	store, err := metadata.OpenBolt(dir, node, nil)
	if err != nil {
		return nil, err
	}
	if err := adopt(dir, store, node, rep); err != nil {
		_ = store.Close()
		return rep, err
	}
	return rep, store.Close()
}

// found is what the partition directories say about one topic.
type found struct {
	ids    map[[16]byte][]int32 // topic id -> partitions
	epochs map[int32]int32      // partition -> latest leader epoch
}

// adopt is RecoverMetadata's steps 2 and 3.
func adopt(dir string, store metadata.Store, node int32, rep *RecoverReport) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("datadir: %w", err)
	}
	topics := map[string]*found{}
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), "__tandem") {
			continue
		}
		topic, p, ok := log.ParsePartitionDirName(e.Name())
		if !ok {
			continue
		}
		path := filepath.Join(dir, e.Name())
		id, has, err := log.ReadPartitionMetadata(path)
		if err != nil || !has {
			rep.Actions = append(rep.Actions, fmt.Sprintf("skipped %s: no usable partition.metadata (%v)", path, err))
			continue
		}
		f := topics[topic]
		if f == nil {
			f = &found{ids: map[[16]byte][]int32{}, epochs: map[int32]int32{}}
			topics[topic] = f
		}
		f.ids[id] = append(f.ids[id], p)
		if ep, ok, _ := log.LatestLeaderEpoch(path); ok {
			f.epochs[p] = ep
		}
	}
	names := make([]string, 0, len(topics))
	for name := range topics {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		f := topics[name]
		t, known := store.Topic(name)
		parts, ok := f.ids[t.ID]
		if known {
			if !ok && len(f.ids) == 1 {
				// No directory has the restored topic's id and all name
				// one other: the topic was deleted and created again
				// after the backup. The directories are the newer
				// incarnation; it replaces the restored record.
				if _, err := store.DeleteTopic(name); err != nil {
					return fmt.Errorf("datadir: replacing topic %s: %w", name, err)
				}
				rep.Actions = append(rep.Actions, fmt.Sprintf("topic %s: metadata has id %x, which no directory has; its directories name one newer id", name, t.ID))
				known = false
			} else if !ok {
				continue // another incarnation: offline at start, for the operator
			}
		}
		if known {
			n := slices.Max(parts) + 1
			_, err := metadata.UpdateTopic(store, name, func(t *metadata.Topic) error {
				if n > t.Partitions {
					t.LeaderEpochs = append(t.LeaderEpochs, make([]int32, n-t.Partitions)...)
					t.Partitions = n
				}
				for p, ep := range f.epochs {
					if int(p) < len(t.LeaderEpochs) && t.LeaderEpochs[p] < ep {
						t.LeaderEpochs[p] = ep
					}
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("datadir: updating topic %s: %w", name, err)
			}
			if n > t.Partitions {
				rep.Actions = append(rep.Actions, fmt.Sprintf("topic %s: partitions %d to %d found in the directories, added back", name, t.Partitions, n-1))
			}
			continue
		}
		if len(f.ids) != 1 {
			rep.Actions = append(rep.Actions, fmt.Sprintf("topic %s: its directories name %d different topic ids; not re-created (inspect them)", name, len(f.ids)))
			continue
		}
		for id, parts := range f.ids {
			n := slices.Max(parts) + 1
			epochs := make([]int32, n)
			for p, ep := range f.epochs {
				epochs[p] = ep
			}
			var configs map[string]string
			if name == "__consumer_offsets" {
				configs = map[string]string{"cleanup.policy": "compact"}
			}
			err := store.CreateTopic(metadata.Topic{Name: name, ID: id, Partitions: n, ReplicationFactor: 1,
				LeaderEpochs: epochs, Leader: node, Configs: configs})
			if err != nil {
				return fmt.Errorf("datadir: re-creating topic %s: %w", name, err)
			}
			missing := ""
			if len(parts) != int(n) {
				missing = fmt.Sprintf(" (%d of them without a directory start empty)", int(n)-len(parts))
			}
			rep.Actions = append(rep.Actions, fmt.Sprintf("re-created topic %s (id %x, %d partitions%s) from its directories, with default configs", name, id, n, missing))
		}
	}
	for _, t := range store.Topics() {
		if topics[t.Name] == nil {
			rep.Actions = append(rep.Actions, fmt.Sprintf("topic %s is in metadata but has no partition directory: if it was deleted after the backup, delete it again", t.Name))
		}
	}
	return nil
}
