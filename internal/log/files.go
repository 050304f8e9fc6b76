package log

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tandem-streaming/tandem/internal/vfs"
)

// File names inside a partition directory (Kafka LogFileUtils).
const (
	logExt        = ".log"
	indexExt      = ".index"
	timeIndexExt  = ".timeindex"
	txnIndexExt   = ".txnindex"
	snapshotExt   = ".snapshot"
	deletedSuffix = ".deleted"
	cleanedSuffix = ".cleaned"
	swapSuffix    = ".swap"
	tmpSuffix     = ".tmp"

	epochCheckpointName = "leader-epoch-checkpoint"
	offsetsCheckpoint   = "log-offsets-checkpoint"
	partitionMetadata   = "partition.metadata"
)

// fileName is Kafka's zero-padded 20-digit offset file name.
func fileName(offset int64, ext string) string {
	return fmt.Sprintf("%020d%s", offset, ext)
}

// parseOffsetName parses "<20 digits><ext>" and reports the offset.
func parseOffsetName(name, ext string) (int64, bool) {
	if !strings.HasSuffix(name, ext) {
		return 0, false
	}
	num := strings.TrimSuffix(name, ext)
	if len(num) != 20 {
		return 0, false
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || v < 0 {
		return 0, false
	}
	return v, true
}

// syncDir fsyncs a directory so that file creations, renames and removals
// in it are durable.
func syncDir(fs vfs.FS, dir string) error { return vfs.SyncDir(fs, dir) }

// writeFileRename replaces path with data via a temporary file and rename,
// without fsync: the caller arranges for a later sync of file and directory.
func writeFileRename(fs vfs.FS, path string, data []byte) error {
	tmp := path + tmpSuffix
	if err := vfs.WriteFile(fs, tmp, data, 0o644); err != nil {
		_ = fs.Remove(tmp)
		return err
	}
	if err := fs.Rename(tmp, path); err != nil {
		_ = fs.Remove(tmp)
		return err
	}
	return nil
}

// writeFileAtomic replaces path with data: write a temporary file, fsync
// it, rename it over path, fsync the directory. Readers see either the old
// or the new content, also after a crash.
func writeFileAtomic(fs vfs.FS, path string, data []byte) error {
	return vfs.WriteFileAtomic(fs, path, data)
}
