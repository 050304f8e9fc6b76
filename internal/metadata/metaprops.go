package metadata

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"time"

	"github.com/tandem-streaming/tandem/internal/config"
	"github.com/tandem-streaming/tandem/internal/vfs"
)

// metaPropertiesFile is the log directory's identity file, in Kafka's KRaft
// format (version=1, cluster.id, node.id; see Kafka's MetaProperties). Kafka
// tooling can read it, and a directory moved to the wrong node or cluster is
// caught at start-up.
const metaPropertiesFile = "meta.properties"

type metaProperties struct {
	clusterID string
	nodeID    int32
}

// readMetaProperties returns nil, nil when the file does not exist.
func readMetaProperties(fsys vfs.FS, dir string) (*metaProperties, error) {
	path := filepath.Join(dir, metaPropertiesFile)
	f, err := vfs.Open(fsys, path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cluster metadata: %w", err)
	}
	defer f.Close()
	props, err := config.ParseProperties(f)
	if err != nil {
		return nil, fmt.Errorf("cluster metadata: %s: %w", path, err)
	}
	if v := props["version"]; v != "1" {
		// version=0 is the ZooKeeper-era format.
		return nil, fmt.Errorf("%w: %s has version=%q; only version=1 (KRaft) is supported", ErrMetaProperties, path, v)
	}
	mp := &metaProperties{clusterID: props["cluster.id"]}
	if mp.clusterID == "" {
		return nil, fmt.Errorf("%w: %s has no cluster.id", ErrMetaProperties, path)
	}
	n, err := strconv.ParseInt(props["node.id"], 10, 32)
	if err != nil {
		return nil, fmt.Errorf("%w: %s has an invalid node.id %q", ErrMetaProperties, path, props["node.id"])
	}
	mp.nodeID = int32(n)
	return mp, nil
}

// writeMetaProperties writes the file atomically (temp file, fsync, rename,
// fsync of the directory).
func writeMetaProperties(fsys vfs.FS, dir string, mp metaProperties) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "#\n#Written by Tandem at %s. Kafka KRaft format; do not edit.\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "cluster.id=%s\nnode.id=%d\nversion=1\n", mp.clusterID, mp.nodeID)

	path := filepath.Join(dir, metaPropertiesFile)
	if err := vfs.WriteFileAtomic(fsys, path, b.Bytes()); err != nil {
		return fmt.Errorf("cluster metadata: writing %s: %w", path, err)
	}
	return nil
}
