// Package partition owns the partitions this node hosts: their logs, their
// leader epochs, and the topic-to-partition index that request handlers use.
// It is Kafka's ReplicaManager reduced to one node: every partition is led
// here, so there is no ISR to track, but the leader epoch is kept in the
// data model (it comes from cluster metadata) so that a multi-node cluster
// can grow from it.
//
// Host, Unhost and SetConfig are called by one caller at a time: the
// broker's metadata reconciler (internal/broker/reconcile.go), which makes
// the hosted partitions match cluster metadata.
//
// Lock order: Manager.mu is taken before any log.Log lock and is never held
// across log I/O: Host opens logs without it and takes it only to install
// the opened partitions, so creating a topic with many partitions never
// stalls the produce and fetch paths, which take it (shared) on every
// request (see docs/lock-order.md).
//
// A partition whose log fails to open (damage recovery cannot repair, an
// I/O error, no descriptors) is hosted offline: Get answers
// ErrPartitionOffline (KAFKA_STORAGE_ERROR to clients), Offline lists it
// for /readyz and metrics, and the rest of the topic and of the broker
// serve. Host returns the failures, so the reconciler retries, and a
// retry opens the offline partitions again: one whose cause has cleared
// (descriptors, space) comes online by itself.
package partition

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-streaming/tandem/internal/log"
)

var (
	// ErrUnknownTopic is returned for a topic this node does not host.
	ErrUnknownTopic = errors.New("topic is not hosted on this broker")
	// ErrUnknownPartition is returned for a partition index past the
	// topic's partition count.
	ErrUnknownPartition = errors.New("partition is not hosted on this broker")
	// ErrPartitionOffline is returned by Get for a partition whose log
	// could not be opened; it wraps the cause (KAFKA_STORAGE_ERROR).
	ErrPartitionOffline = errors.New("partition is offline")
)

// Partition is one hosted partition: its log and its leader epoch.
type Partition struct {
	Topic   string
	TopicID [16]byte
	Index   int32
	// Log is nil when the partition is offline because its log could not
	// be opened (OpenErr); Get never returns such a partition.
	Log *log.Log
	// OpenErr is why the log could not be opened, nil when Log is set.
	OpenErr error

	leaderEpoch atomic.Int32
	minInsync   atomic.Int32
	readOnly    atomic.Bool
	restoring   atomic.Bool
}

// Offline returns why the partition cannot take writes, or nil: its log
// could not be opened, or a storage failure took it offline since
// (log.Log.Failed).
func (p *Partition) Offline() error {
	if p.Log == nil {
		return p.OpenErr
	}
	return p.Log.Failed()
}

// ReadOnly reports whether clients may not write to the partition: it
// belongs to a mirror topic that is still being filled by a cluster link.
func (p *Partition) ReadOnly() bool { return p.readOnly.Load() }

// Restoring reports whether the partition's topic is being truncated by a
// truncate-and-restore (mirror state PENDING_RESTORE): clients get no
// offsets from it until the truncation is done and the leader epoch
// raised (broker Fetch, ListOffsets, OffsetForLeaderEpoch).
func (p *Partition) Restoring() bool { return p.restoring.Load() }

// MinInsyncReplicas is the topic's min.insync.replicas, cached here because
// every acks=all produce checks it.
func (p *Partition) MinInsyncReplicas() int32 { return p.minInsync.Load() }

// LeaderEpoch is the current leader epoch of the partition, as recorded in
// cluster metadata.
func (p *Partition) LeaderEpoch() int32 { return p.leaderEpoch.Load() }

// Topic is a hosted topic. The Partitions slice is replaced, never mutated,
// so readers may keep a reference without locking.
type Topic struct {
	Name       string
	ID         [16]byte
	Partitions []*Partition
}

// Spec describes a topic to host, as cluster metadata has it.
type Spec struct {
	Name              string
	ID                [16]byte
	LeaderEpochs      []int32 // one per partition
	Config            log.Config
	MinInsyncReplicas int32
	// ReadOnly marks an active mirror topic (written only by its link).
	ReadOnly bool
	// Restoring marks a topic being truncated (PENDING_RESTORE).
	Restoring bool
}

// Manager hosts the partitions of this node.
type Manager struct {
	dir     string
	clean   bool
	files   *log.FileCache
	syncer  *log.Syncer
	cleaner *log.Cleaner
	logger  *slog.Logger
	now     func() time.Time

	mu     sync.RWMutex
	topics map[string]*Topic
	byID   map[[16]byte]*Topic
	closed bool
}

// Options configures a Manager.
type Options struct {
	// Dir is the log directory (log.dirs); partition directories are
	// named <topic>-<partition> in it, as in Kafka.
	Dir string
	// CleanShutdown reports whether the previous run closed every log
	// cleanly; when false, logs validate their tails on open.
	CleanShutdown bool
	Files         *log.FileCache
	Syncer        *log.Syncer
	// Cleaner, when set, compacts the logs of compacted topics; every
	// hosted log is registered with it (it skips non-compacted ones).
	Cleaner *log.Cleaner
	Logger  *slog.Logger
	Now     func() time.Time
}

// NewManager returns an empty manager; use Host to open topics.
func NewManager(o Options) *Manager {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Manager{
		dir: o.Dir, clean: o.CleanShutdown, files: o.Files, syncer: o.Syncer, cleaner: o.Cleaner,
		logger: o.Logger, now: o.Now,
		topics: make(map[string]*Topic), byID: make(map[[16]byte]*Topic),
	}
}

// Dir is the log directory.
func (m *Manager) Dir() string { return m.dir }

func (m *Manager) partDir(topic string, p int32) string {
	return filepath.Join(m.dir, topic+"-"+strconv.Itoa(int(p)))
}

func (m *Manager) openLog(s Spec, p int32) (*Partition, error) {
	l, err := log.Open(log.Options{
		Dir:           m.partDir(s.Name, p),
		Topic:         s.Name,
		Partition:     p,
		TopicID:       s.ID,
		Config:        s.Config,
		CleanShutdown: m.clean,
		Files:         m.files,
		Syncer:        m.syncer,
		Now:           m.now,
		Logger:        m.logger.With("topic", s.Name, "partition", p),
	})
	if err != nil {
		return nil, fmt.Errorf("partition %s-%d: %w", s.Name, p, err)
	}
	pt := &Partition{Topic: s.Name, TopicID: s.ID, Index: p, Log: l}
	if m.cleaner != nil {
		m.cleaner.Add(l)
	}
	if int(p) < len(s.LeaderEpochs) {
		pt.leaderEpoch.Store(s.LeaderEpochs[p])
	}
	return pt, nil
}

// Host opens (creating if needed) the logs of every partition in s and
// makes them visible to Get. Hosting a topic already hosted opens only the
// partitions that are new (CreatePartitions) or offline (a retry).
//
// The logs are opened without m.mu (up to openParallelism at a time) and
// installed under it at the end, so produce and fetch to other topics go
// on while thousands of logs open. Host and Unhost have one caller (the
// reconciler), so the topic cannot change between the two steps except by
// Close, which Host checks for.
//
// A partition whose log fails to open is installed offline (see the
// package comment) and Host returns the failures joined; the other
// partitions are hosted all the same.
func (m *Manager) Host(s Spec) error {
	m.mu.RLock()
	closed, old := m.closed, m.topics[s.Name]
	m.mu.RUnlock()
	if closed {
		return errors.New("partition: manager closed")
	}
	if old != nil && old.ID != s.ID {
		return fmt.Errorf("partition: topic %s is hosted with another id", s.Name)
	}
	n := max(len(s.LeaderEpochs), lenOf(old))
	parts := make([]*Partition, n)
	var toOpen []int32
	for p := range int32(n) {
		if old != nil && int(p) < len(old.Partitions) && old.Partitions[p].Log != nil {
			parts[p] = old.Partitions[p]
			continue
		}
		toOpen = append(toOpen, p)
	}
	errs := m.openLogs(s, toOpen, parts, old)

	m.mu.Lock()
	if m.closed || m.topics[s.Name] != old {
		m.mu.Unlock()
		for _, p := range toOpen {
			m.closePartition(parts[p])
		}
		return fmt.Errorf("partition: topic %s changed while its logs opened (manager closed)", s.Name)
	}
	for i, pt := range parts {
		if i < len(s.LeaderEpochs) {
			pt.leaderEpoch.Store(s.LeaderEpochs[i])
		}
		pt.minInsync.Store(s.MinInsyncReplicas)
		pt.readOnly.Store(s.ReadOnly)
		// After the epoch: leaving PENDING_RESTORE, the new epoch is
		// in place before the partition answers clients again.
		pt.restoring.Store(s.Restoring)
	}
	t := &Topic{Name: s.Name, ID: s.ID, Partitions: parts}
	m.topics[s.Name] = t
	m.byID[s.ID] = t
	m.mu.Unlock()
	return errors.Join(errs...)
}

// openParallelism bounds concurrent log opens in Host: opening is mostly
// waiting for the file system (directory creation, recovery reads). New
// partition directories all go into the one log directory, whose inode
// lock serializes their creation: on a 2-core VM creating 50,000
// partitions took 20 s with 1 or 16 openers and 12-15 s with 4 (`tandem
// bench admin-stall`, docs/benchmarks.md).
const openParallelism = 4

// openLogs opens partitions ps of s into parts; a failure leaves an
// offline partition there and is logged and returned.
func (m *Manager) openLogs(s Spec, ps []int32, parts []*Partition, old *Topic) []error {
	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	sem := make(chan struct{}, openParallelism)
	for i, p := range ps {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			pt, err := m.openLog(s, p)
			if err != nil {
				pt = &Partition{Topic: s.Name, TopicID: s.ID, Index: p, OpenErr: err}
				errs[i] = err
				level := slog.LevelError
				if old != nil && int(p) < len(old.Partitions) && old.Partitions[p].OpenErr != nil &&
					old.Partitions[p].OpenErr.Error() == err.Error() {
					level = slog.LevelDebug // a retry failing the same way: said already
				}
				m.logger.Log(context.Background(), level, "partition offline: its log could not be opened; the rest of the broker serves. "+
					"Fix the cause (space, descriptors: it is retried and comes online by itself; damage: see "+
					"docs/operations.md, Storage faults)", "topic", s.Name, "partition", p, "err", err)
			}
			parts[p] = pt
		}()
	}
	wg.Wait()
	return errs
}

// closePartition closes an opened partition's log (Host backing out).
func (m *Manager) closePartition(pt *Partition) {
	if pt == nil || pt.Log == nil {
		return
	}
	if m.cleaner != nil {
		m.cleaner.Remove(pt.Log)
	}
	_ = pt.Log.Close()
}

func lenOf(t *Topic) int {
	if t == nil {
		return 0
	}
	return len(t.Partitions)
}

// Unhost closes and deletes the logs of topic name: each partition
// directory is renamed <topic>-<p>.<topic id>-delete, the log directory is
// fsynced, then they are removed (Kafka LogManager.asyncDelete, but
// synchronous), so a crash part-way leaves only -delete directories, which
// the next start removes (Sweep, dirs.go). A writer still holding one of
// the partitions (a mirror fetcher) gets log.ErrClosed from then on.
func (m *Manager) Unhost(name string) error {
	t := m.detach(name, [16]byte{})
	if t == nil {
		return fmt.Errorf("%w: %s", ErrUnknownTopic, name)
	}
	return m.deleteTopicDirs(t)
}

// SetConfig applies a new effective topic config to every partition.
func (m *Manager) SetConfig(name string, c log.Config, minInsync int32) error {
	t, ok := m.Topic(name)
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownTopic, name)
	}
	for _, p := range t.Partitions {
		if p.Log != nil {
			p.Log.SetConfig(c)
		}
		p.minInsync.Store(minInsync)
	}
	if m.cleaner != nil && c.Compact {
		m.cleaner.Wake() // a topic switched to compact may be cleanable now
	}
	return nil
}

// Topic returns the hosted topic name.
func (m *Manager) Topic(name string) (*Topic, bool) {
	m.mu.RLock()
	t, ok := m.topics[name]
	m.mu.RUnlock()
	return t, ok
}

// TopicByID returns the hosted topic with id.
func (m *Manager) TopicByID(id [16]byte) (*Topic, bool) {
	m.mu.RLock()
	t, ok := m.byID[id]
	m.mu.RUnlock()
	return t, ok
}

// Get returns partition p of topic name.
func (m *Manager) Get(name string, p int32) (*Partition, error) {
	t, ok := m.Topic(name)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownTopic, name)
	}
	if p < 0 || int(p) >= len(t.Partitions) {
		return nil, fmt.Errorf("%w: %s-%d", ErrUnknownPartition, name, p)
	}
	pt := t.Partitions[p]
	if pt.Log == nil {
		return nil, fmt.Errorf("%w: %s-%d: %w", ErrPartitionOffline, name, p, pt.OpenErr)
	}
	return pt, nil
}

// Topics returns the hosted topics sorted by name.
func (m *Manager) Topics() []*Topic {
	m.mu.RLock()
	ts := make([]*Topic, 0, len(m.topics))
	for _, t := range m.topics {
		ts = append(ts, t)
	}
	m.mu.RUnlock()
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	return ts
}

// EachPartition calls fn for every hosted partition that has a log (not
// those offline since they failed to open; see Offline).
func (m *Manager) EachPartition(fn func(*Partition)) {
	for _, t := range m.Topics() {
		for _, p := range t.Partitions {
			if p.Log != nil {
				fn(p)
			}
		}
	}
}

// OfflinePartition is a hosted partition that cannot take writes.
type OfflinePartition struct {
	Topic     string
	Partition int32
	Err       error
}

// Offline lists the partitions that are offline: their log could not be
// opened, or a storage failure (an I/O error, a failed fsync) took it
// offline since. /readyz reports DOWN while any is, and the metric
// tandem_partitions_offline counts them.
func (m *Manager) Offline() []OfflinePartition {
	var out []OfflinePartition
	for _, t := range m.Topics() {
		for _, p := range t.Partitions {
			if err := p.Offline(); err != nil {
				out = append(out, OfflinePartition{Topic: t.Name, Partition: p.Index, Err: err})
			}
		}
	}
	return out
}

// EnforceRetention runs retention on every partition and returns the number
// of segments deleted.
func (m *Manager) EnforceRetention() int {
	n := 0
	m.EachPartition(func(p *Partition) {
		d, err := p.Log.EnforceRetention()
		if err != nil {
			m.logger.Warn("retention failed", "topic", p.Topic, "partition", p.Index, "err", err)
		}
		n += d
	})
	return n
}

// Close closes every log. It returns the first error but closes them all.
func (m *Manager) Close() error {
	m.mu.Lock()
	m.closed = true
	ts := m.topics
	m.topics = map[string]*Topic{}
	m.byID = map[[16]byte]*Topic{}
	m.mu.Unlock()
	// Closing a log fsyncs it and writes its producer snapshot; do many
	// at once so that shutdown with thousands of partitions stays short.
	var (
		wg   sync.WaitGroup
		emu  sync.Mutex
		errs []error
		sem  = make(chan struct{}, 32)
	)
	for _, t := range ts {
		for _, p := range t.Partitions {
			if p.Log == nil {
				continue
			}
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if m.cleaner != nil {
					m.cleaner.Remove(p.Log)
				}
				if err := p.Log.Close(); err != nil {
					emu.Lock()
					errs = append(errs, err)
					emu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

// OrphanDirs lists partition directories in the log dir that belong to no
// hosted topic (left over by a delete interrupted by a crash). The caller
// decides what to do with them.
func (m *Manager) OrphanDirs() ([]string, error) {
	ents, err := os.ReadDir(m.dir)
	if err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []string
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), "__tandem") {
			continue
		}
		name := e.Name()
		i := strings.LastIndexByte(name, '-')
		if i <= 0 {
			continue
		}
		topic, pstr := name[:i], name[i+1:]
		p, err := strconv.Atoi(pstr)
		if err != nil {
			out = append(out, filepath.Join(m.dir, name)) // e.g. "x-0.<id>-delete"
			continue
		}
		if t, ok := m.topics[topic]; !ok || p >= len(t.Partitions) {
			out = append(out, filepath.Join(m.dir, name))
		}
	}
	return out, nil
}
