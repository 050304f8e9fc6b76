package metadata

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/tandem-streaming/tandem/internal/vfs"
)

// Damage and recovery of metadata.db (issue #9). The broker keeps a
// consistent copy of the database, <dir>/__tandem_metadata/metadata.db.bak:
// written at open (once the database passed bbolt's consistency check), at
// most every backupInterval after a commit, and at Close. It is a bbolt
// snapshot (Tx.WriteTo in a read transaction), written to a temporary
// file, fsynced and renamed, so it is always a whole database.
//
// A database that bbolt cannot open, that fails its consistency check, or
// that is empty or missing while meta.properties says it existed, is
// damaged: OpenBolt refuses with ErrDamaged and an error that names the
// recovery command (`tandem recover-metadata`, internal/datadir): it moves
// the damaged file aside, starts from the backup (or, with none, from an
// empty database of the same cluster, Reinitialize) and re-creates from
// the partition directories every topic the restored metadata lacks.
// Starting from a backup automatically would silently undo the metadata
// changes made after it; the operator decides (docs/operations.md).

const (
	metadataBackupName  = "metadata.db.bak"
	damagedPrefix       = "metadata.db.damaged-"
	recoverCommandUsage = "tandem recover-metadata --data-dir %s"
)

// backupInterval bounds how often commits cause a backup. A variable for
// tests.
var backupInterval = 5 * time.Second

// ErrDamaged: metadata.db cannot be used; see RestoreBackup.
var ErrDamaged = errors.New("cluster metadata database is damaged")

// damaged returns ErrDamaged for the database of log directory dir with
// its cause and the recovery to run.
func damaged(dir string, cause error) error {
	backup := filepath.Join(dir, metadataDirName, metadataBackupName)
	have := "no backup exists, so it rebuilds the topics from the partition directories (topic configs are lost)"
	if fi, err := os.Stat(backup); err == nil {
		have = fmt.Sprintf("it restores the backup %s of %s and re-creates from the partition directories any topic created after it",
			backup, fi.ModTime().UTC().Format(time.RFC3339))
	}
	return fmt.Errorf("%w: %s: %v; the broker will not start on it. Stop here and run `"+recoverCommandUsage+
		"`: %s (see \"Data directory and recovery\" in docs/operations.md)",
		ErrDamaged, filepath.Join(dir, metadataDirName, metadataDBName), cause, dir, have)
}

// openChecked opens a bbolt file and runs its consistency check. bbolt
// panics on some damaged files, and a truncated file faults (SIGBUS) when
// it reads a page of its mapping past the end; both are returned as
// errors (debug.SetPanicOnFault, meant for memory-mapped files). Once the
// check passed, every page is inside the file.
func openChecked(path string, opts *bolt.Options) (db *bolt.DB, err error) {
	if err := checkBoltSize(path); err != nil {
		return nil, err
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			if db != nil {
				_ = db.Close()
			}
			db, err = nil, fmt.Errorf("bbolt: %v", p)
		}
	}()
	if db, err = bolt.Open(path, 0o600, opts); err != nil {
		return nil, err
	}
	err = db.View(func(tx *bolt.Tx) error {
		for cerr := range tx.Check() {
			return cerr // the first inconsistency is enough
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("consistency check: %w", err)
	}
	return db, nil
}

// isDamage tells damage of the file from errors of its environment (a
// lock held by another process, permissions).
func isDamage(err error) bool {
	var pe *os.PathError
	var errno syscall.Errno
	return !errors.Is(err, berrors.ErrTimeout) && !errors.As(err, &pe) && !errors.As(err, &errno)
}

// writeBackup writes a consistent copy of the database next to it, unless
// the last one already holds the current revision.
func (s *boltStore) writeBackup() error {
	s.backupMu.Lock()
	defer s.backupMu.Unlock()
	path := filepath.Join(s.metaDir, metadataBackupName)
	tmp := path + ".tmp"
	f, err := s.backupFS.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("cluster metadata: backup: %w", err)
	}
	var rev int64
	err = s.db.View(func(tx *bolt.Tx) error {
		if rev, _ = decodeRevision(tx.Bucket(bucketMeta).Get(keyRevision)); rev == s.backupRev && rev != 0 {
			return errBackupCurrent
		}
		_, err := tx.WriteTo(f)
		return err
	})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, errBackupCurrent) {
		_ = s.backupFS.Remove(tmp)
		return nil
	}
	if err == nil {
		err = s.backupFS.Rename(tmp, path)
	}
	if err != nil {
		_ = s.backupFS.Remove(tmp)
		return fmt.Errorf("cluster metadata: backup: %w", err)
	}
	if err := vfs.SyncDir(s.backupFS, s.metaDir); err != nil {
		return fmt.Errorf("cluster metadata: backup: %w", err)
	}
	s.backupRev = rev
	return nil
}

var errBackupCurrent = errors.New("backup current")

// startBackups starts the goroutine that backs the database up after
// commits, at most every backupInterval.
func (s *boltStore) startBackups() {
	s.backupKick = make(chan struct{}, 1)
	s.backupStop = make(chan struct{})
	s.backupDone = make(chan struct{})
	go func() {
		defer close(s.backupDone)
		var last time.Time
		for {
			select {
			case <-s.backupStop:
				return
			case <-s.backupKick:
			}
			if wait := backupInterval - time.Since(last); wait > 0 {
				select {
				case <-s.backupStop:
					return // Close writes the last one
				case <-time.After(wait):
				}
			}
			if err := s.writeBackup(); err != nil {
				s.logger.Warn("metadata backup failed (retried after the next change)", "err", err)
			}
			last = time.Now()
		}
	}()
}

// kickBackup asks for a backup after a commit (never blocks).
func (s *boltStore) kickBackup() {
	if s.backupKick == nil {
		return
	}
	select {
	case s.backupKick <- struct{}{}:
	default:
	}
}

// stopBackups stops the goroutine and writes a last backup (Close).
func (s *boltStore) stopBackups() error {
	if s.backupStop == nil {
		return nil
	}
	close(s.backupStop)
	<-s.backupDone
	return s.writeBackup()
}

// RestoreBackup replaces the damaged (or missing) metadata database of log
// directory dir by the backup the broker keeps, after checking the backup.
// The damaged file is kept as metadata.db.damaged-<unix seconds>. It
// returns the backup's revision and modification time. The broker must
// not be running.
func RestoreBackup(dir string) (rev int64, taken time.Time, err error) {
	metaDir := filepath.Join(dir, metadataDirName)
	backup := filepath.Join(metaDir, metadataBackupName)
	fi, err := os.Stat(backup)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("cluster metadata: no usable backup: %w", err)
	}
	db, err := openChecked(backup, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("cluster metadata: the backup %s is damaged too: %w", backup, err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return errors.New("no meta bucket")
		}
		rev, err = decodeRevision(meta.Get(keyRevision))
		return err
	})
	_ = db.Close()
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("cluster metadata: the backup %s is unusable: %w", backup, err)
	}
	if err := moveAsideDamaged(metaDir); err != nil {
		return 0, time.Time{}, err
	}
	dbPath := filepath.Join(metaDir, metadataDBName)
	if err := copyFileSync(backup, dbPath+".tmp"); err != nil {
		return 0, time.Time{}, fmt.Errorf("cluster metadata: restoring %s: %w", dbPath, err)
	}
	if err := os.Rename(dbPath+".tmp", dbPath); err != nil {
		return 0, time.Time{}, fmt.Errorf("cluster metadata: restoring %s: %w", dbPath, err)
	}
	return rev, fi.ModTime(), vfs.SyncDir(vfs.Default, metaDir)
}

// Reinitialize replaces the damaged (or missing) metadata database of log
// directory dir by an empty one of the cluster meta.properties names, for
// a rebuild from the partition directories when there is no backup. The
// damaged file is kept as metadata.db.damaged-<unix seconds>.
func Reinitialize(dir string) error {
	mp, err := readMetaProperties(vfs.Default, dir)
	if err != nil {
		return err
	}
	if mp == nil {
		return fmt.Errorf("%w: %s is missing: the cluster id is unknown", ErrMetaProperties, filepath.Join(dir, metaPropertiesFile))
	}
	metaDir := filepath.Join(dir, metadataDirName)
	if err := os.MkdirAll(metaDir, 0o755); err != nil {
		return fmt.Errorf("cluster metadata: %w", err)
	}
	if err := moveAsideDamaged(metaDir); err != nil {
		return err
	}
	db, err := bolt.Open(filepath.Join(metaDir, metadataDBName), 0o600, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		return fmt.Errorf("cluster metadata: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		for k, v := range map[string][]byte{string(keyClusterID): []byte(mp.clusterID), string(keyFormatVersion): []byte(formatVersion),
			string(keyRevision): encodeRevision(1)} {
			if err := meta.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cluster metadata: %w", err)
	}
	return vfs.SyncDir(vfs.Default, metaDir)
}

// CheckDatabase opens the metadata database of log directory dir read-only
// and runs bbolt's consistency check (for `tandem check`). A damaged
// database's error matches ErrDamaged.
func CheckDatabase(dir string) ([]Topic, error) {
	path := filepath.Join(dir, metadataDirName, metadataDBName)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("cluster metadata: %w", err)
	}
	db, err := openChecked(path, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
	if err != nil {
		if isDamage(err) {
			return nil, damaged(dir, err)
		}
		return nil, fmt.Errorf("cluster metadata: %w", err)
	}
	defer db.Close()
	var topics []Topic
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTopics)
		if b == nil {
			return errors.New("no topics bucket")
		}
		return b.ForEach(func(k, v []byte) error {
			t, err := decodeTopic(v)
			if err != nil {
				return fmt.Errorf("topic %q: %w", k, err)
			}
			topics = append(topics, t)
			return nil
		})
	})
	if err != nil {
		return nil, damaged(dir, err)
	}
	return topics, nil
}

// moveAsideDamaged renames metadata.db (if any) to metadata.db.damaged-<t>.
func moveAsideDamaged(metaDir string) error {
	dbPath := filepath.Join(metaDir, metadataDBName)
	if _, err := os.Stat(dbPath); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	to := filepath.Join(metaDir, damagedPrefix+fmt.Sprint(time.Now().Unix()))
	if err := os.Rename(dbPath, to); err != nil {
		return fmt.Errorf("cluster metadata: moving the damaged database aside: %w", err)
	}
	return nil
}

func copyFileSync(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, src)
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	return err
}

// NodeID returns the node id meta.properties of log directory dir names.
func NodeID(dir string) (int32, error) {
	mp, err := readMetaProperties(vfs.Default, dir)
	if err != nil {
		return 0, err
	}
	if mp == nil {
		return 0, fmt.Errorf("%w: %s is missing", ErrMetaProperties, filepath.Join(dir, metaPropertiesFile))
	}
	return mp.nodeID, nil
}

// checkBoltSize catches a truncated bbolt file before bbolt maps it: the
// newer of its two meta pages (bbolt's page header of 16 bytes, then
// magic, version, pageSize, flags, root bucket (16 bytes), freelist page,
// high-water page id, txid; native byte order, little-endian on every
// platform Tandem builds for) names the high-water mark, and the file must
// hold every page below it. A file bbolt would reject anyway (bad magic,
// too small) is left to bbolt.
func checkBoltSize(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // a new database
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return err // an empty file is a new database to bbolt
	}
	var hwm, txid uint64
	var pageSize uint32
	var hdr [80]byte
	for i, off := range []int64{0, -1} {
		if i == 1 {
			if pageSize == 0 {
				break
			}
			off = int64(pageSize)
		}
		if _, err := f.ReadAt(hdr[:], off); err != nil {
			continue
		}
		if binary.LittleEndian.Uint32(hdr[16:]) != boltMagic {
			continue
		}
		ps := binary.LittleEndian.Uint32(hdr[24:])
		h, tx := binary.LittleEndian.Uint64(hdr[56:]), binary.LittleEndian.Uint64(hdr[64:])
		if pageSize == 0 || tx > txid {
			hwm, txid, pageSize = h, tx, ps
		}
	}
	if pageSize == 0 {
		return nil
	}
	if need := int64(hwm) * int64(pageSize); need > fi.Size() {
		return fmt.Errorf("the file is %d bytes but its pages reach %d bytes (truncated)", fi.Size(), need)
	}
	return nil
}

// boltMagic is bbolt's meta page magic number.
const boltMagic = 0xED0CDAED
