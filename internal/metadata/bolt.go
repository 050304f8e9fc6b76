package metadata

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/tandem-streaming/tandem/internal/usererr"
	"github.com/tandem-streaming/tandem/internal/vfs"
)

// Layout of the bbolt database:
//
//	meta/cluster.id       the cluster id
//	meta/format.version   "2"
//	meta/revision         the store revision, 8 bytes big-endian (v2)
//	meta/next_producer_id the first producer id not yet reserved
//	topics/<name>         JSON topicRecord (with mod_revision since v2)
//	links/<name>          JSON linkRecord (with mod_revision since v2)
//	broker_configs/<node> JSON {"configs": map of dynamic broker configs,
//	                      "mod_revision": n} (format 1: the bare map);
//	                      node "-1" is the cluster-wide default
//	acls/<binding>        JSON aclRecord; the key is the binding's
//	                      canonical JSON (acls.go). Added without a format
//	                      change: older formats simply have no ACLs
//
// Format 1 had no revisions; opening it migrates it in place, in one
// transaction: revision 1, every topic, link and broker-config record at
// mod_revision 1.
const (
	metadataDirName   = "__tandem_metadata"
	metadataDBName    = "metadata.db"
	formatVersion     = "2"
	formatVersionNoRv = "1" // before revisions; migrated on open
)

var (
	bucketMeta          = []byte("meta")
	bucketTopics        = []byte("topics")
	bucketBrokerConfigs = []byte("broker_configs")
	bucketLinks         = []byte("links")
	keyClusterID        = []byte("cluster.id")
	keyFormatVersion    = []byte("format.version")
	keyRevision         = []byte("revision")
)

// errDamagedRecord: a record of the database does not decode.
var errDamagedRecord = errors.New("cluster metadata: undecodable record")

// lockTimeout bounds the wait for bbolt's file lock, so a second broker on
// the same directory fails instead of hanging. A variable for tests.
var lockTimeout = 2 * time.Second

// topicRecord is a topic as stored. Fields are named so that the format can
// grow without breaking old records.
type topicRecord struct {
	Name              string            `json:"name"`
	ID                string            `json:"id"`
	Partitions        int32             `json:"partitions"`
	ReplicationFactor int16             `json:"replication_factor"`
	Configs           map[string]string `json:"configs,omitempty"`
	LeaderEpochs      []int32           `json:"leader_epochs"`
	Leader            int32             `json:"leader"`
	CreatedMs         int64             `json:"created_ms"`
	Mirror            *mirrorRecord     `json:"mirror,omitempty"`
	ModRevision       int64             `json:"mod_revision,omitempty"`
}

type mirrorRecord struct {
	Link          string                   `json:"link"`
	LinkID        string                   `json:"link_id,omitempty"`
	SourceTopic   string                   `json:"source_topic"`
	SourceTopicID string                   `json:"source_topic_id,omitempty"`
	State         string                   `json:"state"`
	StateTimeMs   int64                    `json:"state_time_ms"`
	Error         string                   `json:"error,omitempty"`
	PendingOp     string                   `json:"pending_op,omitempty"`
	PreviousState string                   `json:"previous_state,omitempty"`
	StopOffsets   []MirrorPartitionOffsets `json:"stop_offsets,omitempty"`
	Restore       []MirrorRestorePartition `json:"restore,omitempty"`
	RemoteOp      string                   `json:"remote_op,omitempty"`
}

type linkRecord struct {
	Name            string            `json:"name"`
	ID              string            `json:"id"`
	SourceClusterID string            `json:"source_cluster_id,omitempty"`
	Configs         map[string]string `json:"configs,omitempty"`
	CreatedMs       int64             `json:"created_ms"`
	ModRevision     int64             `json:"mod_revision,omitempty"`
	// SyncedACLs: see Link.SyncedACLs.
	SyncedACLs []aclRecord `json:"synced_acls,omitempty"`
	// IDFixed: see Link.IDFixed.
	IDFixed bool `json:"id_fixed,omitempty"`
}

// boltStore is the single-node Store.
//
// Lock order: mu, then watchMu. Readers take neither: they load snap.
type boltStore struct {
	db        *bolt.DB
	clusterID string
	logger    *slog.Logger

	// mu serializes writers so that the snapshot order matches the commit
	// order. Held across the bbolt transaction and the snapshot swap.
	mu     sync.Mutex
	closed bool // guarded by mu
	snap   atomic.Pointer[snapshot]

	watchMu  sync.Mutex
	watchers map[*watcher]struct{} // guarded by watchMu; nil after Close

	// Backups (backup.go). backupMu serializes backup writes; a leaf,
	// taken under mu only by Close.
	metaDir    string
	backupMu   sync.Mutex
	backupRev  int64 // revision of the last backup; guarded by backupMu
	backupKick chan struct{}
	backupStop chan struct{}
	backupDone chan struct{}

	// fault is the injecting file system's Fault (vfs.Faulter), nil on a
	// real one; dbPath is metadata.db's path, which its rules match.
	fault  func(op vfs.Op, path string) error
	dbPath string
	// backupFS is where backups are written: the store's file system. A
	// backup that fails is logged and retried after the next change; it
	// never fails a commit or the open (TestBackupFaults).
	backupFS vfs.FS

	// scram holds the SCRAM credentials (scram.go); replaced under mu.
	scram atomic.Pointer[scramSnapshot]
}

// watcher is a Watch (ch) or WatchRevision (rev) subscription; exactly one
// of the channels is set.
type watcher struct {
	ch     chan struct{}
	rev    chan int64
	closed bool // guarded by watchMu
}

func (w *watcher) close() {
	w.closed = true
	if w.ch != nil {
		close(w.ch)
	} else {
		close(w.rev)
	}
}

// OpenBolt opens (or creates) the metadata store of a single node in the log
// directory dir: the database is <dir>/__tandem_metadata/metadata.db and
// <dir>/meta.properties identifies the directory.
//
// On first start it generates the cluster id, commits it, then writes
// meta.properties. Later starts fail with ErrMetaProperties when
// meta.properties names another node id or another cluster id than the
// database, or exists while the database is missing (the metadata was lost;
// starting empty would orphan every partition directory). A missing
// meta.properties next to an existing database is rewritten.
func OpenBolt(dir string, nodeID int32, logger *slog.Logger) (Store, error) {
	return OpenBoltFS(dir, nodeID, logger, nil)
}

// OpenBoltFS is OpenBolt on fsys (vfs.Default when nil), so tests can
// inject storage faults. The store's own file operations (the directory,
// meta.properties and the backup: open, write, sync, rename) and the open
// of the database go through fsys. bbolt writes and fdatasyncs its pages
// through the *os.File it opened (Options.OpenFile returns one), which no
// injector can sit under; so when fsys injects faults (vfs.Faulter), every
// commit asks it for the write and the sync of metadata.db at the point
// where bbolt's Commit does them, and an injected error fails the commit
// the way a real one does: bbolt rolls the transaction back, the metadata
// write that made it gets the error, and the store keeps serving its last
// committed snapshot.
func OpenBoltFS(dir string, nodeID int32, logger *slog.Logger, fsys vfs.FS) (Store, error) {
	if fsys == nil {
		fsys = vfs.Default
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	metaDir := filepath.Join(dir, metadataDirName)
	if err := fsys.MkdirAll(metaDir, 0o755); err != nil {
		return nil, fmt.Errorf("cluster metadata: %w", err)
	}
	mp, err := readMetaProperties(fsys, dir)
	if err != nil {
		return nil, err
	}
	if mp != nil && mp.nodeID != nodeID {
		return nil, fmt.Errorf("%w: %s has node.id=%d but this broker is configured with node.id=%d; "+
			"the directory belongs to another node", ErrMetaProperties, filepath.Join(dir, metaPropertiesFile), mp.nodeID, nodeID)
	}

	dbPath := filepath.Join(metaDir, metadataDBName)
	_, statErr := fsys.Stat(dbPath)
	dbExisted := statErr == nil
	if !dbExisted && mp != nil {
		return nil, fmt.Errorf("%w: %s names cluster %s but the metadata database %s is missing; "+
			"refusing to start with empty metadata: %w", ErrMetaProperties, filepath.Join(dir, metaPropertiesFile), mp.clusterID, dbPath,
			damaged(dir, errors.New("missing")))
	}
	if statErr != nil && !errors.Is(statErr, fs.ErrNotExist) {
		return nil, fmt.Errorf("cluster metadata: %w", statErr)
	}

	openFile := func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := fsys.OpenFile(name, flag, perm)
		if err != nil {
			return nil, err
		}
		if of := vfs.OSFile(f); of != nil {
			return of, nil
		}
		_ = f.Close()
		return nil, fmt.Errorf("cluster metadata: %s: the file system has no descriptors for bbolt", name)
	}
	db, err := openChecked(dbPath, &bolt.Options{Timeout: lockTimeout, OpenFile: openFile})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("cluster metadata: %s is locked; is another broker using %s? %w", dbPath, dir, err)
	}
	if err != nil && isDamage(err) {
		return nil, damaged(dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster metadata: opening %s: %w", dbPath, err)
	}
	s := &boltStore{db: db, logger: logger, watchers: make(map[*watcher]struct{}), metaDir: metaDir, dbPath: dbPath, backupFS: fsys}
	if f, ok := fsys.(vfs.Faulter); ok {
		s.fault = f.Fault
	}
	if err := s.init(mp); err != nil {
		db.Close()
		if errors.Is(err, errDamagedRecord) || errors.Is(err, ErrMetaProperties) && dbExisted && mp != nil && s.clusterID == "" {
			// A record that does not decode, or an empty database
			// where meta.properties says there was one (truncated).
			return nil, damaged(dir, err)
		}
		return nil, err
	}
	if err := s.loadScram(); err != nil {
		db.Close()
		if errors.Is(err, errDamagedRecord) {
			return nil, damaged(dir, err)
		}
		return nil, fmt.Errorf("cluster metadata: %w", err)
	}
	if mp == nil {
		if err := writeMetaProperties(fsys, dir, metaProperties{clusterID: s.clusterID, nodeID: nodeID}); err != nil {
			db.Close()
			return nil, err
		}
		if dbExisted {
			logger.Warn("meta.properties was missing; rewrote it from the metadata database", "dir", dir, "cluster.id", s.clusterID)
		} else {
			logger.Info("created cluster metadata", "dir", dir, "cluster.id", s.clusterID, "node.id", nodeID)
		}
	}
	// The database passed its consistency check: it is the backup from
	// now on (a restore never goes further back than this start).
	if err := s.writeBackup(); err != nil {
		logger.Warn("metadata backup failed", "err", err)
	}
	s.startBackups()
	return s, nil
}

// init creates the buckets and cluster id if needed, checks them against
// meta.properties, and loads the first snapshot.
func (s *boltStore) init(mp *metaProperties) error {
	var rev int64
	var topics []Topic
	brokerConfigs := make(map[int32]map[string]string)
	brokerCfgRevs := make(map[int32]int64)
	links := make(map[string]Link)
	var acls *aclSet
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketTopics, bucketBrokerConfigs, bucketLinks, bucketACLs} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		switch v := meta.Get(keyFormatVersion); {
		case v == nil, string(v) == formatVersion:
		case string(v) == formatVersionNoRv:
			if err := migrateToRevisions(tx); err != nil {
				return fmt.Errorf("cluster metadata: migrating format %s to %s: %w", v, formatVersion, err)
			}
			s.logger.Info("migrated the metadata database to format " + formatVersion + " (revisions)")
		default:
			return fmt.Errorf("cluster metadata: database format version %s is not supported (want %s)", v, formatVersion)
		}
		if id := meta.Get(keyClusterID); id != nil {
			s.clusterID = string(id)
		} else {
			if mp != nil {
				return fmt.Errorf("%w: meta.properties names cluster %s but the metadata database is empty",
					ErrMetaProperties, mp.clusterID)
			}
			s.clusterID = UUIDString(NewUUID())
			if err := meta.Put(keyClusterID, []byte(s.clusterID)); err != nil {
				return err
			}
			if err := meta.Put(keyFormatVersion, []byte(formatVersion)); err != nil {
				return err
			}
			// The cluster id is the first write: revision 1, as etcd's
			// first revision is.
			if err := meta.Put(keyRevision, encodeRevision(1)); err != nil {
				return err
			}
		}
		r, err := decodeRevision(meta.Get(keyRevision))
		if err != nil {
			return fmt.Errorf("%w: %w", errDamagedRecord, err)
		}
		rev = r
		if mp != nil && mp.clusterID != s.clusterID {
			return fmt.Errorf("%w: meta.properties has cluster.id=%s but the metadata database belongs to cluster %s",
				ErrMetaProperties, mp.clusterID, s.clusterID)
		}
		err = tx.Bucket(bucketTopics).ForEach(func(k, v []byte) error {
			t, err := decodeTopic(v)
			if err != nil {
				return fmt.Errorf("%w: topic %q: %w", errDamagedRecord, k, err)
			}
			topics = append(topics, t)
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketLinks).ForEach(func(k, v []byte) error {
			l, err := decodeLink(v)
			if err != nil {
				return fmt.Errorf("%w: link %q: %w", errDamagedRecord, k, err)
			}
			links[l.Name] = l
			return nil
		})
		if err != nil {
			return err
		}
		if acls, err = loadACLs(tx); err != nil {
			return err
		}
		return tx.Bucket(bucketBrokerConfigs).ForEach(func(k, v []byte) error {
			node, err := strconv.ParseInt(string(k), 10, 32)
			if err != nil {
				return fmt.Errorf("%w: broker configs key %q: %w", errDamagedRecord, k, err)
			}
			var r brokerConfigsRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("%w: broker configs of node %d: %w", errDamagedRecord, node, err)
			}
			brokerConfigs[int32(node)], brokerCfgRevs[int32(node)] = r.Configs, r.ModRevision
			return nil
		})
	})
	if err != nil {
		return err
	}
	snap := newSnapshot(topics, brokerConfigs)
	snap.links = links
	snap.acls = acls
	snap.brokerCfgRevs = brokerCfgRevs
	snap.rev = rev
	s.snap.Store(snap)
	return nil
}

func encodeRevision(rev int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(rev)) }

func decodeRevision(v []byte) (int64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("cluster metadata: store revision is %d bytes, want 8", len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// migrateToRevisions turns a format-1 database into format 2: revision 1,
// every topic and link at mod_revision 1 (they all predate any revision a
// reader can have seen).
func migrateToRevisions(tx *bolt.Tx) error {
	for _, bucket := range [][]byte{bucketTopics, bucketLinks} {
		b := tx.Bucket(bucket)
		var keys, vals [][]byte
		err := b.ForEach(func(k, v []byte) error {
			var rec map[string]json.RawMessage
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("%s/%s: %w", bucket, k, err)
			}
			rec["mod_revision"] = json.RawMessage("1")
			nv, err := json.Marshal(rec)
			if err != nil {
				return err
			}
			keys, vals = append(keys, slices.Clone(k)), append(vals, nv)
			return nil
		})
		if err != nil {
			return err
		}
		for i := range keys { // not inside ForEach: bbolt forbids writes there
			if err := b.Put(keys[i], vals[i]); err != nil {
				return err
			}
		}
	}
	bc := tx.Bucket(bucketBrokerConfigs)
	var keys, vals [][]byte
	err := bc.ForEach(func(k, v []byte) error {
		var m map[string]string
		if err := json.Unmarshal(v, &m); err != nil {
			return fmt.Errorf("%s/%s: %w", bucketBrokerConfigs, k, err)
		}
		nv, err := json.Marshal(brokerConfigsRecord{Configs: m, ModRevision: 1})
		keys, vals = append(keys, slices.Clone(k)), append(vals, nv)
		return err
	})
	if err != nil {
		return err
	}
	for i := range keys {
		if err := bc.Put(keys[i], vals[i]); err != nil {
			return err
		}
	}
	meta := tx.Bucket(bucketMeta)
	if err := meta.Put(keyRevision, encodeRevision(1)); err != nil {
		return err
	}
	return meta.Put(keyFormatVersion, []byte(formatVersion))
}

// brokerConfigsRecord is one node's dynamic broker configs as stored.
type brokerConfigsRecord struct {
	Configs     map[string]string `json:"configs"`
	ModRevision int64             `json:"mod_revision"`
}

func encodeTopic(t Topic) ([]byte, error) {
	var mr *mirrorRecord
	if m := t.Mirror; m != nil {
		mr = &mirrorRecord{Link: m.Link, SourceTopic: m.SourceTopic, State: string(m.State), StateTimeMs: m.StateTimeMs, Error: m.Error,
			PendingOp: m.PendingOp, PreviousState: string(m.PreviousState), StopOffsets: m.StopOffsets, Restore: m.Restore, RemoteOp: m.RemoteOp}
		if m.SourceTopicID != ([16]byte{}) {
			mr.SourceTopicID = UUIDString(m.SourceTopicID)
		}
		if m.LinkID != ([16]byte{}) {
			mr.LinkID = UUIDString(m.LinkID)
		}
	}
	return json.Marshal(topicRecord{
		Mirror:            mr,
		Name:              t.Name,
		ID:                UUIDString(t.ID),
		Partitions:        t.Partitions,
		ReplicationFactor: t.ReplicationFactor,
		Configs:           t.Configs,
		LeaderEpochs:      t.LeaderEpochs,
		Leader:            t.Leader,
		CreatedMs:         t.CreatedMs,
		ModRevision:       t.ModRevision,
	})
}

func decodeTopic(b []byte) (Topic, error) {
	var r topicRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return Topic{}, err
	}
	id, err := ParseUUID(r.ID)
	if err != nil {
		return Topic{}, err
	}
	if int(r.Partitions) != len(r.LeaderEpochs) {
		return Topic{}, fmt.Errorf("%d partitions but %d leader epochs", r.Partitions, len(r.LeaderEpochs))
	}
	var mirror *Mirror
	if mr := r.Mirror; mr != nil {
		mirror = &Mirror{Link: mr.Link, SourceTopic: mr.SourceTopic, State: MirrorState(mr.State), StateTimeMs: mr.StateTimeMs, Error: mr.Error,
			PendingOp: mr.PendingOp, PreviousState: MirrorState(mr.PreviousState), StopOffsets: mr.StopOffsets, Restore: mr.Restore, RemoteOp: mr.RemoteOp}
		if mr.SourceTopicID != "" {
			if mirror.SourceTopicID, err = ParseUUID(mr.SourceTopicID); err != nil {
				return Topic{}, fmt.Errorf("mirror source topic id: %w", err)
			}
		}
		if mr.LinkID != "" {
			if mirror.LinkID, err = ParseUUID(mr.LinkID); err != nil {
				return Topic{}, fmt.Errorf("mirror link id: %w", err)
			}
		}
	}
	return Topic{
		Mirror:            mirror,
		Name:              r.Name,
		ID:                id,
		Partitions:        r.Partitions,
		ReplicationFactor: r.ReplicationFactor,
		Configs:           r.Configs,
		LeaderEpochs:      r.LeaderEpochs,
		Leader:            r.Leader,
		CreatedMs:         r.CreatedMs,
		ModRevision:       r.ModRevision,
	}, nil
}

func (s *boltStore) ClusterID() string { return s.clusterID }

func (s *boltStore) Revision() int64 { return s.snap.Load().rev }

func (s *boltStore) Topics() []Topic {
	ts, _ := s.ListTopics()
	return ts
}

func (s *boltStore) ListTopics() ([]Topic, int64) {
	snap := s.snap.Load()
	out := make([]Topic, len(snap.topics))
	for i, t := range snap.topics {
		out[i] = t.Clone()
	}
	return out, snap.rev
}

func (s *boltStore) Topic(name string) (Topic, bool) {
	t, ok := s.snap.Load().topic(name)
	return t.Clone(), ok
}

func (s *boltStore) TopicByID(id [16]byte) (Topic, bool) {
	snap := s.snap.Load()
	i, ok := snap.byID[id]
	if !ok {
		return Topic{}, false
	}
	return snap.topics[i].Clone(), true
}

func (s *boltStore) BrokerConfigs(node int32) map[string]string {
	return maps.Clone(s.snap.Load().brokerConfigs[node])
}

// commit runs fn in a bbolt write transaction (fsynced on commit) that also
// raises the store revision to next.rev, which must be the current
// revision + 1 (records written by fn carry it as their ModRevision), and,
// if it succeeds, publishes next and notifies the watchers. mu must be
// held.
func (s *boltStore) commit(next *snapshot, fn func(tx *bolt.Tx) error) error {
	if cur := s.snap.Load().rev; next.rev != cur+1 {
		panic(fmt.Sprintf("cluster metadata: commit of revision %d at revision %d", next.rev, cur))
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if err := tx.Bucket(bucketMeta).Put(keyRevision, encodeRevision(next.rev)); err != nil {
			return err
		}
		if s.fault != nil {
			// bbolt's Commit writes the dirty pages, fdatasyncs, then
			// writes the meta page and fdatasyncs again; an error at any
			// of them rolls the transaction back. Injected ones do too.
			for _, op := range []vfs.Op{vfs.OpWrite, vfs.OpSync} {
				if err := s.fault(op, s.dbPath); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cluster metadata: commit: %w", err)
	}
	s.snap.Store(next)
	s.notify(next.rev)
	s.kickBackup()
	return nil
}

// nextRev returns snap with the revision of the next write (for commit).
func nextRev(snap *snapshot) *snapshot { snap.rev++; return snap }

func (s *boltStore) CreateTopic(t Topic) error {
	t = t.Clone()
	switch {
	case t.Name == "":
		return fmt.Errorf("%w: empty name", ErrInvalidTopic)
	case t.Partitions < 1:
		return fmt.Errorf("%w: topic %s: %d partitions", ErrInvalidPartitions, t.Name, t.Partitions)
	case t.ReplicationFactor < 1:
		return fmt.Errorf("%w: topic %s: replication factor %d", ErrInvalidTopic, t.Name, t.ReplicationFactor)
	case t.LeaderEpochs != nil && len(t.LeaderEpochs) != int(t.Partitions):
		return fmt.Errorf("%w: topic %s: %d leader epochs for %d partitions", ErrInvalidTopic, t.Name, len(t.LeaderEpochs), t.Partitions)
	}
	if t.LeaderEpochs == nil {
		t.LeaderEpochs = make([]int32, t.Partitions)
	}
	if len(t.Configs) == 0 {
		t.Configs = nil
	}
	if t.CreatedMs == 0 {
		t.CreatedMs = time.Now().UnixMilli()
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	cur := s.snap.Load()
	if _, ok := cur.byName[t.Name]; ok {
		return usererr.New(ErrTopicExists, "Topic '%s' already exists.", t.Name)
	}
	if t.ID == ([16]byte{}) {
		t.ID = NewUUID()
		for cur.hasID(t.ID) {
			t.ID = NewUUID()
		}
	} else if cur.hasID(t.ID) {
		return fmt.Errorf("%w: topic %s: topic id %s is already used", ErrInvalidTopic, t.Name, UUIDString(t.ID))
	}
	t.ModRevision = cur.rev + 1
	rec, err := encodeTopic(t)
	if err != nil {
		return fmt.Errorf("cluster metadata: %w", err)
	}
	return s.commit(nextRev(cur.withTopic(t)), func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTopics).Put([]byte(t.Name), rec)
	})
}

func (s *snapshot) hasID(id [16]byte) bool { _, ok := s.byID[id]; return ok }

func (s *boltStore) DeleteTopic(name string) (Topic, error) {
	return s.deleteTopic(name, -1)
}

func (s *boltStore) DeleteTopicIf(name string, modRevision int64) (Topic, error) {
	return s.deleteTopic(name, modRevision)
}

// deleteTopic deletes name; if modRevision >= 0 only while the topic is at
// that ModRevision.
func (s *boltStore) deleteTopic(name string, modRevision int64) (Topic, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Topic{}, ErrClosed
	}
	cur := s.snap.Load()
	t, ok := cur.topic(name)
	if !ok {
		return Topic{}, usererr.New(ErrUnknownTopic, "topic '%s' does not exist", name)
	}
	if modRevision >= 0 && t.ModRevision != modRevision {
		return Topic{}, fmt.Errorf("%w: topic %s is at revision %d, not %d", ErrConflict, name, t.ModRevision, modRevision)
	}
	err := s.commit(nextRev(cur.withoutTopic(name)), func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTopics).Delete([]byte(name))
	})
	if err != nil {
		return Topic{}, err
	}
	return t.Clone(), nil
}

// updateTopic applies change to a copy of the named topic and commits it
// at the next revision. Under mu, so the read and the write are one atomic
// step (the etcd implementation does the same with UpdateTopic's CAS loop).
func (s *boltStore) updateTopic(name string, change func(t *Topic) error) error {
	_, err := s.updateTopicRet(name, change)
	return err
}

func (s *boltStore) updateTopicRet(name string, change func(t *Topic) error) (Topic, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Topic{}, ErrClosed
	}
	cur := s.snap.Load()
	old, ok := cur.topic(name)
	if !ok {
		return Topic{}, usererr.New(ErrUnknownTopic, "topic '%s' does not exist", name)
	}
	t := old.Clone()
	if err := change(&t); err != nil {
		return Topic{}, err
	}
	if err := checkTopicUpdate(old, t); err != nil {
		return Topic{}, err
	}
	if len(t.Configs) == 0 {
		t.Configs = nil
	}
	t.ModRevision = cur.rev + 1
	rec, err := encodeTopic(t)
	if err != nil {
		return Topic{}, fmt.Errorf("cluster metadata: %w", err)
	}
	err = s.commit(nextRev(cur.withTopic(t)), func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTopics).Put([]byte(t.Name), rec)
	})
	if err != nil {
		return Topic{}, err
	}
	return t.Clone(), nil
}

// checkTopicUpdate enforces the invariants of a topic change: identity
// fixed, partitions only grow with one leader epoch each, epochs never go
// down.
func checkTopicUpdate(old, t Topic) error {
	switch {
	case t.Name != old.Name || t.ID != old.ID || t.CreatedMs != old.CreatedMs:
		return fmt.Errorf("%w: topic %s: name, id and creation time cannot change", ErrInvalidTopic, old.Name)
	case t.Partitions < old.Partitions:
		return fmt.Errorf("%w: topic %s has %d partitions; cannot go down to %d", ErrInvalidPartitions, old.Name, old.Partitions, t.Partitions)
	case len(t.LeaderEpochs) != int(t.Partitions):
		return fmt.Errorf("%w: topic %s: %d leader epochs for %d partitions", ErrInvalidTopic, old.Name, len(t.LeaderEpochs), t.Partitions)
	case t.ReplicationFactor < 1:
		return fmt.Errorf("%w: topic %s: replication factor %d", ErrInvalidTopic, old.Name, t.ReplicationFactor)
	}
	for i, e := range old.LeaderEpochs {
		if t.LeaderEpochs[i] < e {
			return fmt.Errorf("%w: topic %s partition %d: leader epoch %d below %d", ErrInvalidTopic, old.Name, i, t.LeaderEpochs[i], e)
		}
	}
	return nil
}

func (s *boltStore) CompareAndSetTopic(t Topic) (Topic, error) {
	t = t.Clone()
	return s.updateTopicRet(t.Name, func(cur *Topic) error {
		if cur.ModRevision != t.ModRevision {
			return fmt.Errorf("%w: topic %s is at revision %d, not %d", ErrConflict, t.Name, cur.ModRevision, t.ModRevision)
		}
		*cur = t
		return nil
	})
}

func (s *boltStore) AddPartitions(name string, total int32) error {
	return s.updateTopic(name, func(t *Topic) error {
		if total <= t.Partitions {
			return fmt.Errorf("%w: topic %s has %d partitions; the new total must be larger, got %d",
				ErrInvalidPartitions, name, t.Partitions, total)
		}
		// New partitions start at leader epoch 0, as in Kafka.
		t.LeaderEpochs = append(t.LeaderEpochs, make([]int32, total-t.Partitions)...)
		t.Partitions = total
		return nil
	})
}

func (s *boltStore) SetTopicConfigs(name string, configs map[string]string) error {
	configs = maps.Clone(configs)
	if len(configs) == 0 {
		configs = nil
	}
	return s.updateTopic(name, func(t *Topic) error {
		t.Configs = configs
		return nil
	})
}

func (s *boltStore) SetBrokerConfigs(node int32, configs map[string]string) error {
	_, err := s.setBrokerConfigs(node, configs, -1)
	return err
}

func (s *boltStore) BrokerConfigsRev(node int32) (map[string]string, int64) {
	snap := s.snap.Load()
	return maps.Clone(snap.brokerConfigs[node]), snap.brokerCfgRevs[node]
}

func (s *boltStore) CompareAndSetBrokerConfigs(node int32, configs map[string]string, modRevision int64) (int64, error) {
	if modRevision < 0 {
		return 0, fmt.Errorf("%w: broker configs of node %d: revision %d", ErrConflict, node, modRevision)
	}
	return s.setBrokerConfigs(node, configs, modRevision)
}

// setBrokerConfigs writes node's configs; if modRevision >= 0 only while
// they are at that ModRevision.
func (s *boltStore) setBrokerConfigs(node int32, configs map[string]string, modRevision int64) (int64, error) {
	configs = maps.Clone(configs)
	if len(configs) == 0 {
		configs = nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	cur := s.snap.Load()
	if modRevision >= 0 && cur.brokerCfgRevs[node] != modRevision {
		return 0, fmt.Errorf("%w: broker configs of node %d are at revision %d, not %d", ErrConflict, node, cur.brokerCfgRevs[node], modRevision)
	}
	rev := cur.rev + 1
	key := []byte(strconv.FormatInt(int64(node), 10))
	var rec []byte
	if configs != nil {
		var err error
		if rec, err = json.Marshal(brokerConfigsRecord{Configs: configs, ModRevision: rev}); err != nil {
			return 0, fmt.Errorf("cluster metadata: %w", err)
		}
	}
	err := s.commit(nextRev(cur.withBrokerConfigs(node, configs, rev)), func(tx *bolt.Tx) error {
		if rec == nil {
			return tx.Bucket(bucketBrokerConfigs).Delete(key)
		}
		return tx.Bucket(bucketBrokerConfigs).Put(key, rec)
	})
	if err != nil || configs == nil {
		return 0, err
	}
	return rev, nil
}

// keyNextProducerID holds the first producer id not yet reserved.
var keyNextProducerID = []byte("next_producer_id")

func (s *boltStore) AllocateProducerIDs(atLeast, n int64) (int64, error) {
	if n <= 0 || atLeast < 0 {
		return 0, fmt.Errorf("cluster metadata: cannot reserve %d producer ids from %d", n, atLeast)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	var first int64
	next := *s.snap.Load()
	err := s.commit(nextRev(&next), func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if v := b.Get(keyNextProducerID); len(v) == 8 {
			first = int64(binary.BigEndian.Uint64(v))
		}
		first = max(first, atLeast)
		if first > math.MaxInt64-n {
			return fmt.Errorf("cluster metadata: producer ids exhausted")
		}
		return b.Put(keyNextProducerID, binary.BigEndian.AppendUint64(nil, uint64(first+n)))
	})
	if err != nil {
		return 0, fmt.Errorf("cluster metadata: reserve producer ids: %w", err)
	}
	return first, nil
}

func (s *boltStore) Watch() (<-chan struct{}, func()) {
	w := &watcher{ch: make(chan struct{}, 1)}
	return w.ch, s.subscribe(w)
}

func (s *boltStore) WatchRevision() (<-chan int64, func()) {
	w := &watcher{rev: make(chan int64, 1)}
	return w.rev, s.subscribe(w)
}

// subscribe registers w and returns its cancel func.
func (s *boltStore) subscribe(w *watcher) func() {
	s.watchMu.Lock()
	if s.watchers == nil { // closed
		w.close()
	} else {
		s.watchers[w] = struct{}{}
	}
	s.watchMu.Unlock()
	return func() {
		s.watchMu.Lock()
		defer s.watchMu.Unlock()
		delete(s.watchers, w)
		if !w.closed {
			w.close()
		}
	}
}

// notify wakes every watcher without blocking: a full Watch channel
// already has a notification pending; a WatchRevision channel gets its
// pending revision replaced by rev. notify is the only sender, under
// watchMu, so after the drain the send cannot block.
func (s *boltStore) notify(rev int64) {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	for w := range s.watchers {
		if w.ch != nil {
			select {
			case w.ch <- struct{}{}:
			default:
			}
			continue
		}
		select {
		case <-w.rev:
		default:
		}
		w.rev <- rev
	}
}

func (s *boltStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.stopBackups(); err != nil {
		s.logger.Warn("metadata backup at close failed", "err", err)
	}
	s.watchMu.Lock()
	for w := range s.watchers {
		w.close()
	}
	s.watchers = nil
	s.watchMu.Unlock()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("cluster metadata: close: %w", err)
	}
	return nil
}

// Compile-time check.
var _ Store = (*boltStore)(nil)
