package partition

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tandem-streaming/tandem/internal/log"
)

// Partition directories leave service in two ways (Kafka LogManager):
//
//   - a deleted partition's directory is renamed <topic>-<p>.<topic id>-delete
//     (log.DeleteDirName), the log directory is fsynced, and only then is it
//     removed; a crash leaves at most a -delete directory, which Sweep
//     removes at the next start (or renames back, when the metadata commit
//     of the deletion never happened; see broker.DeleteTopic);
//   - a directory that belongs to no topic in metadata, or to another
//     incarnation of its name (a stray, KAFKA-14616), is renamed
//     <topic>-<p>.<random>-stray (log.StrayDirName) and kept: it may be
//     the only copy of acknowledged data (metadata restored from an older
//     backup), so it is for the operator to inspect and remove; it never
//     blocks creating a topic of that name.

// DeletedDir is a partition directory renamed for deletion.
type DeletedDir struct {
	From string // <topic>-<p>
	To   string // <topic>-<p>.<topic id>-delete
}

// TopicRef is what Sweep needs to know of a topic in metadata.
type TopicRef struct {
	ID         [16]byte
	Partitions int32
}

// detach removes topic name from the index if it is hosted with id (any
// id when id is zero) and returns it.
func (m *Manager) detach(name string, id [16]byte) *Topic {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.topics[name]
	if t == nil || id != ([16]byte{}) && t.ID != id {
		return nil
	}
	delete(m.topics, name)
	delete(m.byID, t.ID)
	return t
}

// MarkDeleted stops hosting topic name (topic id id, partitions
// partitions): it closes its hosted logs and renames every partition
// directory of it to its delete name, then fsyncs the log directory, so
// that the renames are durable before the caller commits the deletion to
// metadata. Directories that are not hosted are renamed too when their
// partition.metadata names id, is missing or is damaged (most likely the
// topic's own offline partition); a directory of another topic id is left
// for Sweep and MoveAsideForeign. renamed,
// when set, is called after each rename (crash tests). On error the
// directories renamed so far are returned with it, for RestoreDeleted.
func (m *Manager) MarkDeleted(name string, id [16]byte, partitions int32, renamed func(DeletedDir)) ([]DeletedDir, error) {
	hosted := map[int32]*Partition{}
	n := partitions
	if t := m.detach(name, id); t != nil {
		n = max(n, int32(len(t.Partitions)))
		for _, p := range t.Partitions {
			if p.Log != nil { // an offline partition's directory is renamed as one not hosted
				hosted[p.Index] = p
			}
		}
	}
	var done []DeletedDir
	var errs []error
	for p := int32(0); p < n; p++ {
		d := DeletedDir{From: m.partDir(name, p)}
		d.To = log.DeleteDirName(d.From, id)
		if pt := hosted[p]; pt != nil {
			if m.cleaner != nil {
				m.cleaner.Remove(pt.Log) // waits for a pass in progress
			}
			if err := pt.Log.CloseAndRename(d.To); err != nil {
				errs = append(errs, err)
				continue
			}
		} else {
			if _, err := os.Stat(d.From); errors.Is(err, os.ErrNotExist) {
				continue
			}
			// A damaged partition.metadata under the topic's name is
			// taken too: it is most likely the topic's own offline
			// partition, and its name is what is being deleted.
			if pid, ok, err := log.ReadPartitionMetadata(d.From); err != nil && !errors.Is(err, log.ErrCorrupt) || err == nil && ok && pid != id {
				continue
			}
			if err := os.Rename(d.From, d.To); err != nil {
				errs = append(errs, fmt.Errorf("rename %s for deletion: %w", d.From, err))
				continue
			}
		}
		done = append(done, d)
		if renamed != nil {
			renamed(d)
		}
	}
	if len(done) > 0 {
		if err := log.SyncDir(m.dir); err != nil {
			errs = append(errs, err)
		}
	}
	return done, errors.Join(errs...)
}

// RestoreDeleted renames directories MarkDeleted renamed back (a deletion
// whose metadata commit failed) and fsyncs the log directory. The caller
// hosts the topic again.
func (m *Manager) RestoreDeleted(dirs []DeletedDir) error {
	var errs []error
	for _, d := range dirs {
		if err := os.Rename(d.To, d.From); err != nil {
			errs = append(errs, fmt.Errorf("restore %s: %w", d.From, err))
		}
	}
	if len(dirs) > 0 {
		errs = append(errs, log.SyncDir(m.dir))
	}
	return errors.Join(errs...)
}

// RemoveDeleted removes directories renamed by MarkDeleted (after the
// deletion is committed). A crash part-way leaves -delete directories,
// which Sweep removes at the next start.
func (m *Manager) RemoveDeleted(dirs []DeletedDir) error {
	var errs []error
	for _, d := range dirs {
		if err := os.RemoveAll(d.To); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", d.To, err))
		}
	}
	return errors.Join(errs...)
}

// deleteTopicDirs closes and deletes the logs of a topic no longer hosted
// (Unhost): rename each directory to its delete name, fsync the log
// directory, remove them.
func (m *Manager) deleteTopicDirs(t *Topic) error {
	var errs []error
	var dirs []DeletedDir
	for _, p := range t.Partitions {
		d := DeletedDir{From: m.partDir(t.Name, p.Index)}
		d.To = log.DeleteDirName(d.From, t.ID)
		if p.Log == nil {
			// Offline: no log to close; its directory (possibly damaged)
			// goes with the topic.
			if _, err := os.Stat(d.From); errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err := os.Rename(d.From, d.To); err != nil {
				errs = append(errs, fmt.Errorf("rename %s for deletion: %w", d.From, err))
				continue
			}
			dirs = append(dirs, d)
			continue
		}
		if m.cleaner != nil {
			m.cleaner.Remove(p.Log) // waits for a pass in progress
		}
		if err := p.Log.CloseAndRename(d.To); err != nil {
			errs = append(errs, err)
			continue
		}
		dirs = append(dirs, d)
	}
	if len(dirs) > 0 {
		if err := log.SyncDir(m.dir); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, m.RemoveDeleted(dirs))
	return errors.Join(errs...)
}

// moveAside renames a stray directory to a -stray name and logs why.
func (m *Manager) moveAside(dir, why string) error {
	to := log.StrayDirName(dir)
	if err := os.Rename(dir, to); err != nil {
		return fmt.Errorf("move stray directory %s aside: %w", dir, err)
	}
	m.logger.Warn("moved a stray partition directory aside; it is kept for the operator (see docs/operations.md)",
		"dir", dir, "movedTo", to, "reason", why)
	return nil
}

// MoveAsideForeign moves aside the partition directories of topic name
// that belong to another topic id (an orphan of an earlier incarnation of
// the name) or whose partition.metadata is damaged, so that hosting the
// topic with id starts from its own directories: an orphan never blocks a
// name. Called before a topic created since this start is hosted the
// first time (such a directory cannot hold its data); a topic that
// existed before keeps such a directory, offline with its error (Sweep).
func (m *Manager) MoveAsideForeign(name string, id [16]byte, partitions int32) error {
	var errs []error
	moved := false
	for p := range partitions {
		dir := m.partDir(name, p)
		pid, ok, err := log.ReadPartitionMetadata(dir)
		var why string
		switch {
		case err != nil && errors.Is(err, log.ErrCorrupt):
			why = err.Error()
		case err != nil:
			continue // opening it reports the error
		case ok && pid != id:
			why = fmt.Sprintf("partition.metadata names topic id %x, the topic has id %x", pid, id)
		default:
			continue
		}
		if err := m.moveAside(dir, why); err != nil {
			errs = append(errs, err)
			continue
		}
		moved = true
	}
	if moved {
		errs = append(errs, log.SyncDir(m.dir))
	}
	return errors.Join(errs...)
}

// Sweep brings the log directory in line with metadata at start, before
// any topic is hosted (Kafka LogManager.loadLogs: -delete directories are
// removed, strays are renamed -stray):
//
//   - <topic>-<p>.<id>-delete: removed; or renamed back when topics still
//     has that topic with that id and the partition directory is missing
//     (a crash between MarkDeleted and the deletion's metadata commit: the
//     topic was never deleted);
//   - <topic>-<p> of a topic not in topics, or of a partition beyond its
//     count: moved aside as a stray (kept), so it never blocks the name;
//   - <topic>-<p> of a known topic whose partition.metadata names another
//     topic id or is damaged is left: opening the partition reports it
//     (log.ErrInconsistentTopicID, log.ErrCorrupt) and it stays offline
//     until repaired (it may be the topic's own data with a damaged
//     file; MoveAsideForeign handles names created since the start).
func (m *Manager) Sweep(topics map[string]TopicRef) error {
	ents, err := os.ReadDir(m.dir)
	if err != nil {
		return fmt.Errorf("partition directories: %w", err)
	}
	var errs []error
	changed := false
	for _, e := range ents {
		name := e.Name()
		if !e.IsDir() || strings.HasPrefix(name, "__tandem") {
			continue
		}
		dir := filepath.Join(m.dir, name)
		if strings.HasSuffix(name, log.DeleteDirSuffix) {
			topic, p, id, ok := log.ParseMarkedDirName(name, log.DeleteDirSuffix)
			if ok {
				from := m.partDir(topic, p)
				if ref, known := topics[topic]; known && ref.ID == id && p < ref.Partitions {
					if _, err := os.Stat(from); errors.Is(err, os.ErrNotExist) {
						if err := os.Rename(dir, from); err != nil {
							errs = append(errs, fmt.Errorf("roll back deletion of %s: %w", from, err))
							continue
						}
						changed = true
						m.logger.Warn("rolled back an interrupted topic deletion: its metadata commit never happened, so the topic still exists",
							"topic", topic, "partition", p, "dir", from)
						continue
					}
				}
			}
			if err := os.RemoveAll(dir); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", dir, err))
				continue
			}
			changed = true
			m.logger.Info("removed the directory of a deleted partition", "dir", dir)
			continue
		}
		topic, p, ok := log.ParsePartitionDirName(name)
		if !ok {
			continue
		}
		pid, has, err := log.ReadPartitionMetadata(dir)
		ref, known := topics[topic]
		var why string
		switch {
		case err != nil && known:
			continue // offline with its error when opened
		case err != nil:
			why = "topic not in metadata; " + err.Error()
		case !has:
			continue // adopted by Open (a crash before its first sync)
		case !known:
			why = fmt.Sprintf("topic %s (id %x) is not in metadata", topic, pid)
		case ref.ID != pid:
			continue // offline with log.ErrInconsistentTopicID when opened: for the operator
		case p >= ref.Partitions:
			why = fmt.Sprintf("topic %s has %d partitions", topic, ref.Partitions)
		default:
			continue
		}
		if err := m.moveAside(dir, why); err != nil {
			errs = append(errs, err)
			continue
		}
		changed = true
	}
	if changed {
		errs = append(errs, log.SyncDir(m.dir))
	}
	return errors.Join(errs...)
}
