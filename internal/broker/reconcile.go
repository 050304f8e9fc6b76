package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/partition"
)

// The reconciler is the only code that hosts and unhosts partitions and
// applies their metadata-derived state (configs, leader epochs, the
// read-only flag of a mirror): it makes the partition manager match the
// metadata store, the way Kafka's broker applies metadata deltas
// (BrokerMetadataPublisher → ReplicaManager.applyDelta) instead of the
// admin code opening and deleting logs. Admin code (CreateTopic,
// DeleteTopic, CreatePartitions, config changes, mirror state, leader
// epochs) writes metadata only, then calls sync so that its caller sees
// the result applied (a client produces right after CreateTopic); changes
// made by anything else (another node's controller, one day) arrive
// through the store's WatchRevision and are applied by the loop goroutine.
//
// Ownership: every pass runs under reconciler.mu, held for the whole pass,
// whichever goroutine runs it (the loop, or an admin caller in sync). The
// partition manager's hosting calls (Host, Unhost, SetConfig) are made
// only under it. It is level-triggered: a pass compares the store's topics
// (with their ModRevisions) to what it applied last and does only the
// difference, so a pass with nothing new is a map walk. A pass never waits
// for the link's data path or takes Broker.adminMu, so fetcher workers
// (RaiseLeaderEpoch) and admin code may call sync; see docs/lock-order.md.
type reconciler struct {
	b *Broker

	mu sync.Mutex
	// Guarded by mu.
	rev       int64                   // store revision the last pass read
	applied   map[string]appliedTopic // by topic name
	brokerCfg [2]map[string]string    // dynamic broker configs applied: this node, cluster default
	errs      map[string]error        // topics the last pass failed to apply
	// atStart: ids of the topics in metadata when the broker started
	// (first). A foreign or damaged directory under the name of a topic
	// created since cannot be its data and is moved aside
	// (MoveAsideForeign).
	atStart map[[16]byte]bool
	closed  bool // close was called: no more passes

	revs     <-chan int64 // WatchRevision, taken before the first pass
	cancel   func()
	started  bool // the loop runs; set once by run
	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

// appliedTopic is what the reconciler last applied for a topic.
type appliedTopic struct {
	id     [16]byte
	modRev int64
}

// retryBackoff is how long the loop waits before retrying topics that
// failed to apply (a log that could not be opened, say) when no metadata
// change comes first.
const retryBackoff = time.Second

func newReconciler(b *Broker) *reconciler {
	return &reconciler{b: b, applied: make(map[string]appliedTopic), stop: make(chan struct{}), done: make(chan struct{})}
}

// first subscribes to the store and applies the current metadata. The
// subscription is taken first so that no change between this pass and the
// loop (run) is missed. Before it hosts anything it sweeps the log
// directory (partition.Manager.Sweep): leftovers of deletions a crash
// interrupted are removed (or rolled back), strays moved aside. It returns
// the pass's errors; partitions that could not be opened are offline and
// retried (see Broker.New).
func (r *reconciler) first() error {
	r.revs, r.cancel = r.b.store.WatchRevision()
	r.mu.Lock()
	defer r.mu.Unlock()
	topics, _ := r.b.store.ListTopics()
	refs := make(map[string]partition.TopicRef, len(topics))
	r.atStart = make(map[[16]byte]bool, len(topics))
	for _, t := range topics {
		refs[t.Name] = partition.TopicRef{ID: t.ID, Partitions: t.Partitions}
		r.atStart[t.ID] = true
	}
	if err := r.b.parts.Sweep(refs); err != nil {
		// What could not be swept is tried again at the next start; the
		// hosting below moves strays of the names it hosts aside itself.
		r.b.logger.Error("sweeping the log directory", "err", err)
	}
	return r.passLocked()
}

// run starts the loop that follows the store. Called once, after first
// and after the broker's fields the passes read (groups) are set.
func (r *reconciler) run() {
	r.started = true
	go r.loop()
}

func (r *reconciler) loop() {
	defer close(r.done)
	defer r.cancel()
	var retry <-chan time.Time
	r.mu.Lock()
	if len(r.errs) > 0 { // the first pass failed somewhere (an offline partition)
		retry = time.After(retryBackoff)
	}
	r.mu.Unlock()
	for {
		select {
		case <-r.stop:
			return
		case _, ok := <-r.revs:
			if !ok {
				return // store closed
			}
		case <-retry:
		}
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return
		}
		_ = r.passLocked() // failures are logged and retried
		failed := len(r.errs) > 0
		r.mu.Unlock()
		retry = nil
		if failed {
			retry = time.After(retryBackoff)
		}
	}
}

// close stops the loop and waits for a pass in progress. Called by the
// goroutine that called first and run (the broker's owner).
func (r *reconciler) close() {
	r.mu.Lock()
	r.closed = true // after a pass in progress; the node closes the logs next
	r.mu.Unlock()
	r.stopOnce.Do(func() {
		close(r.stop)
		if !r.started {
			if r.cancel != nil {
				r.cancel()
			}
			close(r.done)
		}
	})
	<-r.done
}

// sync applies the metadata as it is now (every write that returned before
// the call) and returns the error, if any, of applying topic name.
func (r *reconciler) sync(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errShuttingDown
	}
	_ = r.passLocked()
	return r.errs[name]
}

// errShuttingDown: metadata written during shutdown is applied at the next
// start, not now (the partition manager is about to close).
var errShuttingDown = errors.New("the broker is shutting down")

// passLocked makes the partition manager match the store and returns the
// failures, joined. Caller holds mu.
func (r *reconciler) passLocked() error {
	b := r.b
	topics, rev := b.store.ListTopics()
	if rev == r.rev && len(r.errs) == 0 {
		return nil // nothing new
	}
	bc := [2]map[string]string{b.store.BrokerConfigs(b.nodeID), b.store.BrokerConfigs(metadata.ClusterDefaultNode)}
	brokerCfgChanged := !maps.Equal(bc[0], r.brokerCfg[0]) || !maps.Equal(bc[1], r.brokerCfg[1])
	byName := make(map[string]metadata.Topic, len(topics))
	for _, t := range topics {
		byName[t.Name] = t
	}
	errs := make(map[string]error)

	// Unhost first: a name deleted and created again (a new topic id)
	// must lose its old logs before the new ones open in the same
	// directories.
	var deleted []string
	for _, h := range b.parts.Topics() {
		if t, ok := byName[h.Name]; ok && t.ID == h.ID {
			continue
		}
		if err := b.parts.Unhost(h.Name); err != nil && !errors.Is(err, partition.ErrUnknownTopic) {
			b.logger.Error("deleting topic data", "topic", h.Name, "err", err)
		}
		deleted = append(deleted, h.Name)
	}
	r.forgetLocked(deleted)

	for _, t := range topics {
		a, ok := r.applied[t.Name]
		_, failed := r.errs[t.Name]
		if ok && a.id == t.ID && a.modRev == t.ModRevision && !brokerCfgChanged && !failed {
			continue
		}
		if err := r.applyLocked(t); err != nil {
			errs[t.Name] = err
			level := slog.LevelError
			if prev, ok := r.errs[t.Name]; ok && prev.Error() == err.Error() {
				// Retried every retryBackoff (an offline partition whose
				// cause has not cleared): said once already.
				level = slog.LevelDebug
			}
			b.logger.Log(context.Background(), level, "hosting topic from metadata", "topic", t.Name, "revision", t.ModRevision, "err", err)
			continue
		}
		r.applied[t.Name] = appliedTopic{id: t.ID, modRev: t.ModRevision}
	}
	r.rev, r.brokerCfg, r.errs = rev, bc, errs
	var all []error
	for name, err := range errs {
		all = append(all, fmt.Errorf("topic %s: %w", name, err))
	}
	return errors.Join(all...)
}

// applyLocked hosts t's partitions (opening new ones) and applies its
// leader epochs, read-only flag and effective config.
func (r *reconciler) applyLocked(t metadata.Topic) error {
	b := r.b
	lc, tc, err := b.logConfig(t.Configs)
	if err != nil {
		// A config that no longer validates (e.g. after an upgrade)
		// must not keep the topic's data offline: fall back to the
		// broker defaults and say so.
		b.logger.Error("topic config invalid; using broker defaults", "topic", t.Name, "err", err)
		if lc, tc, err = b.logConfig(nil); err != nil {
			return err
		}
	}
	if _, hosted := b.parts.Topic(t.Name); !hosted && !r.atStart[t.ID] {
		// A topic created since the start: an orphan of an earlier
		// incarnation of the name (another topic id, or damaged) never
		// blocks it; it is moved aside, kept. A topic that existed at
		// start keeps such a directory offline with its error, for the
		// operator (it may be its own data with a damaged file).
		if err := b.parts.MoveAsideForeign(t.Name, t.ID, t.Partitions); err != nil {
			return err
		}
	}
	// Host hosts what it could open even when it fails (a partition whose
	// log cannot open is offline, and retried after retryBackoff), so the
	// config applies either way.
	herr := b.parts.Host(partition.Spec{Name: t.Name, ID: t.ID, LeaderEpochs: t.LeaderEpochs, Config: lc,
		MinInsyncReplicas: tc.MinInsyncReplicas, ReadOnly: t.ReadOnly(),
		Restoring: t.Mirror != nil && t.Mirror.State == metadata.MirrorPendingRestore})
	if err := b.parts.SetConfig(t.Name, lc, tc.MinInsyncReplicas); err != nil && herr == nil {
		return err
	}
	return herr
}

// forgetLocked finishes the deletion of topics that are no longer hosted:
// what the reconciler applied, their metrics, and their committed offsets
// (Kafka GroupCoordinator.onPartitionsDeleted), so a re-created topic
// does not inherit them. Caller holds mu.
func (r *reconciler) forgetLocked(deleted []string) {
	b := r.b
	for _, name := range deleted {
		delete(r.applied, name)
		if b.metrics != nil {
			b.metrics.DeleteTopic(name)
		}
	}
	if len(deleted) > 0 && b.groups != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := b.groups.OnTopicsDeleted(ctx, deleted); err != nil {
			b.logger.Warn("removing committed offsets of deleted topics", "topics", deleted, "err", err)
		}
		cancel()
	}
}

// crashHook is called at each step of a topic deletion and of a failed
// creation's rollback; tests make it kill the process there (crash points,
// see crashsafe_test.go). A no-op otherwise.
var crashHook = func(point string) {}

// deleteTopic deletes topic name so that a crash at any point leaves
// either the whole topic or none of it (issue #9): under mu, so no pass
// re-hosts it meanwhile,
//
//  1. its logs are closed and its partition directories renamed
//     <topic>-<p>.<topic id>-delete, durably (MarkDeleted fsyncs the log
//     directory);
//  2. the deletion is committed to metadata — the commit point: a crash
//     before it leaves the topic in metadata, and the next start renames
//     the directories back (Sweep); a failed commit renames them back now;
//  3. the directories are removed (a crash leaves -delete directories,
//     which the next start removes), the topic's metrics and committed
//     offsets go.
//
// Kafka commits first and renames after (the controller and the log
// manager are apart); on one node the rename can go first, so that no
// directory of a deleted topic is ever left under its live name, where it
// would be a stray.
func (r *reconciler) deleteTopic(name string) (metadata.Topic, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return metadata.Topic{}, errShuttingDown
	}
	t, ok := r.b.store.Topic(name)
	if !ok {
		return metadata.Topic{}, fmt.Errorf("%w: %s", metadata.ErrUnknownTopic, name)
	}
	return r.deleteLocked(t, false, "delete")
}

// rollbackCreate undoes a topic creation whose logs could not be opened,
// the way deleteTopic deletes (so a crash part-way leaves the topic or
// nothing), but only while the topic is as created (otherwise something
// changed it meanwhile and it is that writer's): the topic leaves
// metadata and the partition directories the attempt made are removed, so
// a failed create leaves nothing behind.
func (r *reconciler) rollbackCreate(t metadata.Topic) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	if _, err := r.deleteLocked(t, true, "create-rollback"); err != nil {
		r.b.logger.Error("rollback of failed topic creation", "topic", t.Name, "err", err)
	}
}

// deleteLocked is deleteTopic's sequence for t; exact deletes only while
// t is at t.ModRevision, else it retries on concurrent changes of the
// same topic. point prefixes the crash points. Caller holds mu.
func (r *reconciler) deleteLocked(t metadata.Topic, exact bool, point string) (metadata.Topic, error) {
	b := r.b
	name := t.Name
	crashHook(point + ":start")
	dirs, err := b.parts.MarkDeleted(name, t.ID, t.Partitions, func(partition.DeletedDir) { crashHook(point + ":renamed-one") })
	// The topic is not hosted any more: the next pass hosts it again if
	// the deletion does not go through.
	delete(r.applied, name)
	r.rev = -1
	restore := func() {
		if rerr := b.parts.RestoreDeleted(dirs); rerr != nil {
			b.logger.Error("restoring partition directories of a failed topic deletion", "topic", name, "err", rerr)
		}
		_ = r.passLocked()
	}
	if err != nil {
		restore()
		return metadata.Topic{}, err
	}
	crashHook(point + ":renamed")
	var deleted metadata.Topic
	for i := 0; ; i++ {
		cur, ok := b.store.Topic(name)
		if !ok || cur.ID != t.ID {
			// Deleted (and maybe re-created) by another writer meanwhile:
			// the renamed directories are that deletion's leftovers.
			err = fmt.Errorf("%w: %s", metadata.ErrUnknownTopic, name)
			break
		}
		if exact {
			deleted, err = b.store.DeleteTopicIf(name, t.ModRevision)
			break
		}
		deleted, err = b.store.DeleteTopicIf(name, cur.ModRevision)
		if !errors.Is(err, metadata.ErrConflict) || i == 8 {
			break
		}
	}
	if err != nil && !errors.Is(err, metadata.ErrUnknownTopic) {
		restore()
		return metadata.Topic{}, err
	}
	crashHook(point + ":committed")
	if rerr := b.parts.RemoveDeleted(dirs); rerr != nil {
		b.logger.Error("removing partition directories of a deleted topic (the next start retries)", "topic", name, "err", rerr)
	}
	crashHook(point + ":removed")
	r.forgetLocked([]string{name})
	_ = r.passLocked()
	return deleted, err
}
