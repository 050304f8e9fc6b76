package log

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tandem-streaming/tandem/internal/vfs"
)

// Offsets checkpoint (file "log-offsets-checkpoint", one per partition):
//
//	0                       <- version
//	log-start-offset 1234
//	recovery-point 5678
//
// Kafka keeps these two values in directory-wide files
// (log-start-offset-checkpoint, recovery-point-offset-checkpoint); keeping
// them per partition makes a partition directory self-contained, and the
// file is rewritten only when the log start offset moves (DeleteRecords,
// retention, truncation) or a segment roll becomes durable. It is replaced
// atomically (write, fsync, rename, fsync dir). A missing or unreadable
// file means: log start = first segment's base offset, recovery point = 0
// (every segment is validated after an unclean shutdown).
type offsetsCheckpointData struct {
	LogStartOffset int64
	RecoveryPoint  int64
}

func encodeOffsetsCheckpoint(c offsetsCheckpointData) []byte {
	return fmt.Appendf(nil, "0\nlog-start-offset %d\nrecovery-point %d\n", c.LogStartOffset, c.RecoveryPoint)
}

func decodeOffsetsCheckpoint(data []byte) (offsetsCheckpointData, error) {
	var c offsetsCheckpointData
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) != 3 || strings.TrimSpace(lines[0]) != "0" {
		return c, fmt.Errorf("log-offsets-checkpoint: malformed")
	}
	parse := func(line, key string) (int64, error) {
		f := strings.Fields(line)
		if len(f) != 2 || f[0] != key {
			return 0, fmt.Errorf("log-offsets-checkpoint: malformed line %q", line)
		}
		v, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("log-offsets-checkpoint: malformed line %q", line)
		}
		return v, nil
	}
	var err error
	if c.LogStartOffset, err = parse(lines[1], "log-start-offset"); err != nil {
		return c, err
	}
	if c.RecoveryPoint, err = parse(lines[2], "recovery-point"); err != nil {
		return c, err
	}
	return c, nil
}

// WritePartitionMetadata writes Kafka's partition.metadata file:
//
//	version: 0
//	topic_id: <topic id, URL-safe base64 without padding, as Uuid.toString>
//
// atomically, so a broker (ours or Kafka's tools) can tell which topic
// incarnation a directory belongs to (KIP-516).
func WritePartitionMetadata(dir string, topicID [16]byte) error {
	return vfs.WriteFileAtomic(vfs.Default, filepath.Join(dir, partitionMetadata), encodePartitionMetadata(topicID))
}

func encodePartitionMetadata(topicID [16]byte) []byte {
	return fmt.Appendf(nil, "version: 0\ntopic_id: %s\n", base64.RawURLEncoding.EncodeToString(topicID[:]))
}

// ReadPartitionMetadata reads partition.metadata; ok is false when the file
// does not exist, or is empty: it is written with a rename and fsynced by
// the partition's first sync round (see Open), so a crash before that round
// can leave an empty file, in a directory that holds nothing acknowledged.
// A file that is there but unreadable as Kafka's format is damage: the
// error matches ErrCorrupt and names the file, and the partition must not
// be served (nothing tells which topic incarnation its data belongs to).
func ReadPartitionMetadata(dir string) (topicID [16]byte, ok bool, err error) {
	return readPartitionMetadata(vfs.Default, dir)
}

func readPartitionMetadata(fs vfs.FS, dir string) (topicID [16]byte, ok bool, err error) {
	path := partitionMetadataPath(dir)
	data, err := vfs.ReadFile(fs, path)
	if errors.Is(err, os.ErrNotExist) || err == nil && len(data) == 0 {
		return topicID, false, nil
	}
	if err != nil {
		return topicID, false, fmt.Errorf("log: %w", err)
	}
	var version, id string
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		k, v, found := strings.Cut(string(line), ":")
		if !found {
			return topicID, true, corruptf(path, "malformed line %q (want \"version: 0\" and \"topic_id: <id>\")", line)
		}
		switch strings.TrimSpace(k) {
		case "version":
			version = strings.TrimSpace(v)
		case "topic_id":
			id = strings.TrimSpace(v)
		}
	}
	if version != "0" {
		return topicID, true, corruptf(path, "unsupported or missing version %q", version)
	}
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(raw) != 16 {
		return topicID, true, corruptf(path, "malformed topic_id %q", id)
	}
	copy(topicID[:], raw)
	return topicID, true, nil
}
