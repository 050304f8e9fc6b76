package log

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tandem-streaming/tandem/internal/vfs"
)

// Names a partition directory takes when it leaves service (Kafka
// LogManager / LocalLog): a deleted partition is renamed
// <topic>-<partition>.<id>-delete and removed afterwards (Kafka
// LocalLog.logDeleteDirName); a directory that belongs to no topic in
// metadata (a stray, KAFKA-14616) is renamed <topic>-<partition>.<id>-stray
// and kept for the operator. Tandem's delete id is the topic id (32 hex
// digits, the same shape as Kafka's random uuid), so a directory renamed by
// a deletion whose metadata commit never happened can be recognised and
// renamed back at start.
const (
	DeleteDirSuffix = "-delete"
	StrayDirSuffix  = "-stray"
)

// DeleteDirName is the name dir takes while topic id's deletion runs.
func DeleteDirName(dir string, id [16]byte) string {
	return dir + "." + hex.EncodeToString(id[:]) + DeleteDirSuffix
}

// StrayDirName is a fresh name to move the stray directory dir aside to.
func StrayDirName(dir string) string {
	var r [16]byte
	_, _ = rand.Read(r[:])
	return dir + "." + hex.EncodeToString(r[:]) + StrayDirSuffix
}

// ParseMarkedDirName parses "<topic>-<partition>.<32 hex>-delete" (or
// -stray, per suffix) and returns the topic, partition and id.
func ParseMarkedDirName(name, suffix string) (topic string, partition int32, id [16]byte, ok bool) {
	rest, found := strings.CutSuffix(name, suffix)
	if !found || len(rest) < 34 || rest[len(rest)-33] != '.' {
		return "", 0, id, false
	}
	raw, err := hex.DecodeString(rest[len(rest)-32:])
	if err != nil {
		return "", 0, id, false
	}
	copy(id[:], raw)
	topic, partition, ok = ParsePartitionDirName(rest[:len(rest)-33])
	return topic, partition, id, ok
}

// ParsePartitionDirName parses "<topic>-<partition>" (Kafka
// UnifiedLog.parseTopicPartitionName).
func ParsePartitionDirName(name string) (topic string, partition int32, ok bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 || i == len(name)-1 {
		return "", 0, false
	}
	p, err := strconv.ParseInt(name[i+1:], 10, 32)
	if err != nil || p < 0 || strconv.FormatInt(p, 10) != name[i+1:] {
		return "", 0, false
	}
	return name[:i], int32(p), true
}

// CloseAndRename closes the log cleanly (as Close) and renames its
// directory to to, for a topic deletion: from then on every call fails
// with ErrClosed, and no checkpoint is written into either name. The
// caller fsyncs the parent directory (once for all the partitions it
// renames, see SyncDir) and removes to later, or renames it back if the
// deletion is abandoned.
func (l *Log) CloseAndRename(to string) error {
	cerr := l.close(false)
	l.ckptMu.Lock()
	defer l.ckptMu.Unlock()
	l.deleted = true
	if err := l.fs.Rename(l.dir, to); err != nil {
		return fmt.Errorf("log: rename %s for deletion: %w", l.dir, err)
	}
	if cerr != nil {
		// The data is going away; a failed final sync only matters if
		// the deletion is rolled back, and recovery then validates it.
		l.logger.Warn("log: close before deletion failed", "dir", l.dir, "err", cerr)
	}
	return nil
}

// SyncDir fsyncs a directory, making renames and removals in it durable.
func SyncDir(dir string) error {
	if err := syncDir(vfs.Default, dir); err != nil {
		return fmt.Errorf("log: fsync dir %s: %w", dir, err)
	}
	return nil
}

// corruptf is the error of stored data that must not be served: it
// matches ErrCorrupt and names the file and what is wrong with it.
func corruptf(path, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrCorrupt, path, fmt.Sprintf(format, args...))
}

// partitionMetadataPath is the partition.metadata path of dir.
func partitionMetadataPath(dir string) string { return filepath.Join(dir, partitionMetadata) }

// LatestLeaderEpoch returns the newest leader epoch in the partition
// directory's leader-epoch-checkpoint (ok false when it has none), for
// rebuilding a topic's metadata from its directories: a leader epoch in
// metadata below the log's would fence every append.
func LatestLeaderEpoch(dir string) (epoch int32, ok bool, err error) {
	entries, _, err := readEpochCheckpoint(vfs.Default, filepath.Join(dir, epochCheckpointName))
	if err != nil || len(entries) == 0 {
		return 0, false, err
	}
	return entries[len(entries)-1].Epoch, true, nil
}
