package link

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/partition"
	"github.com/tandem-streaming/tandem/internal/pwenc"
	"github.com/tandem-streaming/tandem/internal/usererr"
)

// More sentinels of the control plane. Like every sentinel a user can read
// they have no package prefix, and the code that returns one names the
// link, topic or config (usererr.New; docs/HACKING.md "Errors users read").
var (
	ErrLinkInUse       = errors.New("cluster link has mirror topics")
	ErrSourceCluster   = errors.New("source cluster unavailable or not the expected one")
	ErrNotMirror       = errors.New("not a mirror topic of this cluster link")
	ErrMirrorState     = errors.New("not allowed in the mirror topic's state")
	ErrMirrorName      = errors.New("invalid mirror topic name")
	ErrPromoteNotReady = errors.New("mirror topic has not caught up with its source")
	ErrDisabled        = errors.New("cluster linking is disabled on this broker (cluster.link.enable=false)")
)

// Link states (cluster-linking.md §1.3).
const (
	LinkActive      = "ACTIVE"
	LinkPaused      = "PAUSED"
	LinkUnavailable = "UNAVAILABLE"
	LinkFailed      = "FAILED"
)

// Mirror states: one spelling, in internal/metadata (persisted there).
const (
	MirrorActive            = metadata.MirrorActive
	MirrorPaused            = metadata.MirrorPaused
	MirrorPendingStopped    = metadata.MirrorPendingStopped
	MirrorStopped           = metadata.MirrorStopped
	MirrorFailed            = metadata.MirrorFailed
	MirrorSourceUnavailable = metadata.MirrorSourceUnavailable
	MirrorLinkPaused        = metadata.MirrorLinkPaused
)

// Cluster is what the manager needs of the local broker.
type Cluster interface {
	ClusterID() string
	Topics() []metadata.Topic
	TopicByName(name string) (metadata.Topic, error)
	CreateMirrorTopic(name string, partitions int32, configs map[string]string, m metadata.Mirror) (metadata.Topic, error)
	// SetMirrorState persists a mirror's state; STOPPED also raises the
	// partitions' leader epochs past their logs (the topic becomes
	// writable).
	SetMirrorState(topic string, m metadata.Mirror) error
	// ClearMirror makes a STOPPED mirror an ordinary topic that no link
	// owns (its link was deleted), or undoes a reverse's fence of an
	// ordinary topic (PENDING_SETUP_FOR_RESTORE, no PreviousState).
	ClearMirror(topic string) error
	SetMirrorConfigs(topic string, configs map[string]string) error
	AddMirrorPartitions(topic string, total int32) error
	// LogEndOffsets returns each partition's log end offset.
	LogEndOffsets(topic string) (map[int32]int64, error)
	// HighWatermarks returns each partition's high watermark: the end of
	// what a consumer can read (consumer offsets are clamped to it).
	HighWatermarks(topic string) (map[int32]int64, error)
}

// PartitionStatus is one mirror partition as described: the data path's
// view (while the data path has the partition) merged with what the
// manager knows of the source's end.
type PartitionStatus struct {
	Partition             int32
	LastSourceFetchOffset int64 // -1 before the first fetch
	SourceHighWatermark   int64 // from the data path's last fetch; -1 before it
	LocalEndOffset        int64
	LastFetch             time.Time
	Err                   error
	// ErrorSince is when the current run of errors began (zero when the
	// partition is healthy); cluster.link.retry.timeout.ms counts from it.
	ErrorSince time.Time
	// Failed means the data path gave up on the partition (an error
	// retrying cannot fix); ErrorCode is the mirror_topic_error it maps to.
	Failed    bool
	ErrorCode string
	// SourceEndOffset is the newest source high watermark known (from a
	// fetch, or from the link's ListOffsets probe of a mirror that is not
	// fetching), -1 when none is; SourceEndTime is when it was learned.
	// Lag counts from it, so a paused mirror or one whose source cannot
	// be reached keeps showing how far behind it was last seen to be.
	SourceEndOffset int64
	SourceEndTime   time.Time
}

// Lag is the last known source end minus the local log end offset (-1
// when no source end is known yet).
func (s PartitionStatus) Lag() int64 {
	if s.SourceEndOffset < 0 {
		return -1
	}
	return max(s.SourceEndOffset-s.LocalEndOffset, 0)
}

// Partitions is what a data path needs of the local broker: the mirror
// partitions' logs, and a way to keep their leader epochs at or above the
// source's (KIP-1279 DLE ≥ SLE).
type Partitions interface {
	MirrorPartition(topic string, p int32) (*partition.Partition, error)
	RaiseLeaderEpoch(topic string, p int32, atLeast int32) error
}

// DataPath moves records for mirror topics (internal/fetcher underneath).
// The manager owns the control plane and tells it what to do.
type DataPath interface {
	// Start begins or resumes filling every partition of the mirror topic
	// from the link's source; fresh marks a mirror just created (its
	// partitions start where mirror.start.offset.spec says).
	Start(link metadata.Link, topic metadata.Topic, fresh bool) error
	// Pause stops fetching but keeps the partitions' positions.
	Pause(topic string)
	// Stop stops fetching and forgets the topic.
	Stop(topic string)
	// Status reports the topic's partitions.
	Status(topic string) []PartitionStatus
	// StopLink stops every mirror of the link on the data path and
	// releases the link's connections, so that the next Start uses the
	// link's configs as they are then (positions live in the logs).
	StopLink(link string)
	Close()
}

// Manager owns the cluster links of this node and the state of their
// mirror topics. It is the only writer of metadata.Mirror: every change
// goes through the mirror state machine (mirrorfsm.go) under the mirror's
// lock, is persisted, and is then carried out on the data path. The
// broker hosts partitions (and their read-only flag) from metadata; REST,
// the CLI and metrics read the state through the Manager.
type Manager struct {
	store   metadata.Store
	cluster Cluster
	// enc encrypts sensitive link configs at rest (secrets.go); nil
	// without password.encoder.secret.
	enc    *pwenc.Encoder
	data   DataPath
	logger *slog.Logger
	now    func() time.Time

	mu    sync.Mutex // guards links and failed; taken before any runtime's mu
	links map[string]*runtime
	// failed holds the links that could not start (no runtime), with why:
	// stored secrets that do not decrypt, security configs that no longer
	// work. They are described as FAILED with that error.
	failed map[string]error
	wg     sync.WaitGroup

	// mirrorLocks serialises the transitions of each mirror topic (one
	// *sync.Mutex per topic name): REST operations and link tasks. Held
	// across the data path's drain and a promote's source check; taken
	// before Manager.mu and any runtime's mu.
	mirrorLocks sync.Map

	ends sourceEnds

	// groups is the local group coordinator (consumer offset sync and
	// the clamp of offsets on stop); nil when the Cluster has none.
	groups GroupCoordinator

	// transitionErrs keeps, per mirror topic, the last errors of
	// transitions the Manager ran on its own (recovery, a pending stop
	// retried, a failure it could not persist): Confluent's mirror state
	// transition errors. Guarded by transitionMu, a leaf.
	transitionMu   sync.Mutex
	transitionErrs map[string][]TransitionError

	stopWatch func()

	// durableWait bounds how long a stop waits for a mirror's last
	// records to be durable before it syncs or clamps consumer offsets
	// (awaitDurable).
	durableWait time.Duration

	// rev: source-initiated links (reverse_*.go).
	rev reverseState

	// testCrashBefore, set by tests, abandons a transition before an
	// effect (as a crash there would) when it returns true.
	testCrashBefore func(topic string, ev mirrorEvent, e mirrorEffect) bool
	// testCrashRestore, set by tests, abandons a restore's truncation
	// before partition p when it returns true.
	testCrashRestore func(topic string, p int32) bool
	// linkIDMu: a link's id changes (a paired half adopting its peer's,
	// pairing.go) under the write lock; a mirror is bound to the id under
	// the read lock (CreateMirror). A leaf but for the store.
	linkIDMu sync.RWMutex
	// closed (under mu) is set by Close: no runtime starts after it.
	closed bool
}

// runtime is a link's live state: the client to its source, its
// availability and its tasks.
type runtime struct {
	// link is the stored link with its sensitive configs decrypted: it
	// never goes back to the store, REST or logs.
	link   metadata.Link
	sec    security
	watch  *authWatch
	client *kgo.Client
	adm    *kadm.Client
	ctx    context.Context
	cancel context.CancelFunc
	tasks  []*task
	// src is a SOURCE half's dialing side (reverse_source.go); nil on
	// every other kind of half.
	src *sourceHalf

	mu              sync.Mutex
	state           string
	errCode, errMsg string
	failures        int
	// offsetLags: what the last consumer offset sync found; coords: the
	// source's group coordinators it found.
	offsetLags offsetLags
	coords     sourceCoordinators
	// missingSince: source topics the link's last look did not find,
	// since when (cluster.link.retry.timeout.ms counts from it).
	missingSince map[string]time.Time
	// peer is a paired half's view of its peer half (pairing.go);
	// idFixed is metadata.Link.IDFixed as it is now, adopting is set
	// while the peer's id is being adopted.
	peer     peerView
	idFixed  bool
	adopting bool

	// running counts the link's task goroutines (DeleteLink waits for
	// them to end).
	running sync.WaitGroup
}

func (rt *runtime) condition() linkCondition {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	switch rt.state {
	case LinkPaused:
		return linkCondPaused
	case LinkUnavailable:
		return linkCondUnavailable
	case LinkFailed:
		return linkCondFailed
	}
	return linkOK
}

func (rt *runtime) currentState() string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.state
}

// NewManager loads the persisted links, finishes what a restart
// interrupted (link deletions, pending stops) and starts the links.
func NewManager(store metadata.Store, cluster Cluster, data DataPath, logger *slog.Logger, opts ...Option) (*Manager, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{store: store, cluster: cluster, data: data, logger: logger, now: time.Now, links: map[string]*runtime{},
		failed: map[string]error{}, durableWait: defaultDurableWait}
	for _, o := range opts {
		o(m)
	}
	if m.rev.sessions == nil {
		m.rev.sessions = NewSessions(logger)
	}
	m.groups = groupsOf(cluster)
	m.ends.init()
	// Mirrors whose link is gone (a deletion interrupted by a crash, or a
	// link re-created under the same name) are detached first.
	for _, t := range cluster.Topics() {
		if t.Mirror != nil && !m.owns(t) {
			m.detach(t)
		}
	}
	for _, l := range store.Links() {
		if err := m.startLink(l); err != nil {
			m.logger.Error("starting cluster link", "link", l.Name, "err", err)
		}
	}
	m.watchDeletions()
	return m, nil
}

// owns reports whether a mirror belongs to a link that exists: same name
// and, when the mirror records one, the same link id (mirrors created
// before link ids were recorded are adopted by the link of their name).
func (m *Manager) owns(t metadata.Topic) bool {
	l, ok := m.store.Link(t.Mirror.Link)
	return ok && (t.Mirror.LinkID == ([16]byte{}) || t.Mirror.LinkID == l.ID)
}

// watchDeletions stops the data path of mirror topics deleted by anyone
// (the broker deletes topics in metadata; the Manager notices here, so
// the broker never calls up into the link).
func (m *Manager) watchDeletions() {
	ch, cancel := m.store.Watch()
	m.stopWatch = cancel
	known := map[string]bool{}
	for _, t := range m.cluster.Topics() {
		if t.Mirror != nil {
			known[t.Name] = true
		}
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		for range ch {
			now := map[string]bool{}
			for _, t := range m.cluster.Topics() {
				if t.Mirror != nil {
					now[t.Name] = true
				}
			}
			for name := range known {
				if !now[name] {
					m.topicGone(name)
				}
			}
			known = now
		}
	}()
}

// topicGone removes a deleted mirror topic from the data path. Under the
// mirror's lock, and only if the name is still gone: a mirror created
// again under the name meanwhile (CreateMirror resets the data path under
// the same lock) is left alone.
func (m *Manager) topicGone(name string) {
	unlock := m.lockMirror(name)
	defer unlock()
	if _, err := m.cluster.TopicByName(name); err == nil {
		return
	}
	if m.data != nil {
		m.data.Stop(name)
	}
	m.ends.forget(name)
	m.forgetTransitionErrors(name)
}

// Close stops every link.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	rts := make([]*runtime, 0, len(m.links))
	for _, rt := range m.links {
		rts = append(rts, rt)
	}
	m.links = map[string]*runtime{}
	m.mu.Unlock()
	for _, rt := range rts {
		rt.stop()
	}
	m.rev.sessions.closeAll()
	if m.stopWatch != nil {
		m.stopWatch()
	}
	m.wg.Wait()
	if m.data != nil {
		m.data.Close()
	}
}

func (rt *runtime) stop() {
	rt.cancel()
	rt.client.Close()
	if rt.src != nil {
		rt.src.stop()
	}
}

// clientFor builds the franz-go client a link uses to reach its source
// (configs with their secrets in clear), with an authWatch hook that
// explains authentication failures. An INBOUND half's client dials through
// the link's control session (Sessions.ClientOpts).
func (m *Manager) clientFor(name string, configs map[string]string) (*kgo.Client, security, *authWatch, error) {
	opts, sec, err := m.rev.sessions.clientOpts(name, configs)
	if err != nil {
		return nil, sec, nil, err
	}
	w := &authWatch{}
	cl, err := kgo.NewClient(append(opts, kgo.WithHooks(w))...)
	return cl, sec, w, err
}

func (m *Manager) runtimeOf(name string) *runtime {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.links[name]
}

// startLink starts a stored link: its client, tasks and mirrors. A link
// that cannot start (its stored secrets do not decrypt, its
// security configs no longer work) is remembered as failed, with why, so
// that it is described as FAILED with that error.
func (m *Manager) startLink(l metadata.Link) (err error) {
	defer func() {
		if err != nil {
			m.mu.Lock()
			m.failed[l.Name] = err
			m.mu.Unlock()
		}
	}()
	configs, reseal, err := m.openConfigs(l.Name, l.Configs)
	if err != nil {
		return err
	}
	if reseal && m.enc == nil {
		m.logger.Warn("cluster link has sensitive configs stored in clear by an older version; set password.encoder.secret to encrypt them", "link", l.Name)
	}
	if reseal && m.enc != nil {
		// Secrets read with password.encoder.old.secret, or stored in
		// clear by an older version: store them under the current secret.
		if sealed, err := m.sealConfigs(l.Name, configs); err == nil {
			if err := m.store.SetLinkConfigs(l.Name, sealed); err != nil {
				m.logger.Warn("re-encrypting cluster link secrets", "link", l.Name, "err", err)
			} else if stored, ok := m.store.Link(l.Name); ok {
				l = stored
			}
		}
	}
	cl, sec, w, err := m.clientFor(l.Name, configs)
	if err != nil {
		return err
	}
	l.Configs = configs
	ctx, cancel := context.WithCancel(context.Background())
	rt := &runtime{link: l, sec: sec, watch: w, client: cl, adm: kadm.NewClient(cl), ctx: ctx, cancel: cancel, state: LinkActive,
		errCode: "NO_ERROR", missingSince: map[string]time.Time{}, idFixed: l.IDFixed}
	if b, _ := strconv.ParseBool(Value(l.Configs, "cluster.link.paused")); b {
		rt.state = LinkPaused
	}
	if dialsIn(l.Configs) {
		// A SOURCE half, or an OUTBOUND bidirectional one whose peer may
		// be INBOUND, dials its peer and serves its requests
		// (reverse_source.go).
		if rt.src, err = m.newSourceHalf(rt); err != nil {
			cancel()
			cl.Close()
			return err
		}
	}
	if Mirrors(l.Configs) {
		rt.tasks = m.linkTasks(rt)
	} else {
		// A SOURCE half has no mirrors and no mirror tasks.
		rt.tasks = m.sourceHalfTasks(rt)
	}
	// The goroutines below are counted under mu, with the runtime made
	// the link's: a Close (or DeleteLink) that comes after sees it and
	// stops it, one that came before (a runtime restarted by an
	// adoption, pairing.go, racing it) is not undone by it here.
	n := 0
	if rt.src != nil {
		n++
	}
	for _, tk := range rt.tasks {
		if tk.every > 0 {
			n++
		}
	}
	m.mu.Lock()
	if _, ok := m.store.Link(l.Name); m.closed || !ok {
		m.mu.Unlock()
		rt.stop()
		return nil
	}
	prev := m.links[l.Name]
	m.links[l.Name] = rt
	delete(m.failed, l.Name)
	m.wg.Add(n)
	rt.running.Add(n)
	m.mu.Unlock()
	if prev != nil {
		prev.stop() // two restarts raced: the later one stands
	}
	// Recover every mirror of the link: hand ACTIVE ones to the data path
	// (or pause them on a paused link), finish pending stops.
	for _, t := range m.mirrorsOf(l.Name) {
		if _, err := m.transition(ctx, rt, t.Name, evRecover, transitionArgs{}); err != nil {
			m.logger.Warn("recovering mirror", "link", l.Name, "topic", t.Name, "err", err)
			m.noteTransitionError(t.Name, err)
		}
	}
	if rt.src != nil {
		go func() {
			defer m.wg.Done()
			defer rt.running.Done()
			rt.src.run(ctx)
		}()
	}
	for _, tk := range rt.tasks {
		if tk.every > 0 {
			go func() {
				defer m.wg.Done()
				defer rt.running.Done()
				tk.loop(ctx, m.now)
			}()
		}
	}
	return nil
}

// CreateOption is an option of CreateLink.
type CreateOption func(*createOptions)

type createOptions struct{ linkID [16]byte }

// WithClusterLinkID creates the link with a given cluster_link_id: the
// second half of a paired link, with its peer's id (§4.2 of the
// reference; docs/design/links-bidirectional.md §2.1).
func WithClusterLinkID(id [16]byte) CreateOption {
	return func(o *createOptions) { o.linkID = id }
}

// CreateLink validates and persists a link, then starts it. With
// validateLink, the source must answer and (when given) have
// sourceClusterID (the remote cluster's id, whatever the link mode); with
// validateOnly nothing is stored. A paired kind of half created with
// validation asks its peer for the id of its half of the name: one given
// (WithClusterLinkID) must be it, and without one it is taken.
func (m *Manager) CreateLink(ctx context.Context, name, sourceClusterID string, configs map[string]string, validateOnly, validateLink bool, opts ...CreateOption) error {
	var o createOptions
	for _, opt := range opts {
		opt(&o)
	}
	if m == nil {
		return ErrDisabled
	}
	if err := validateLinkName(name); err != nil {
		return err
	}
	if err := ValidateConfigs(configs, nil, true); err != nil {
		return err
	}
	if _, ok := m.store.Link(name); ok {
		return usererr.New(metadata.ErrLinkExists, "cluster link '%s' already exists", name)
	}
	sealed, err := m.sealConfigs(name, configs)
	if err != nil {
		return err
	}
	cl, sec, w, err := m.clientFor(name, configs)
	if err != nil {
		return err
	}
	defer cl.Close()
	if ConnectionMode(configs) == ConnInbound {
		// Nothing to validate: the source dials this half once it exists.
		validateLink = false
	}
	if validateLink {
		cctx, cancel := context.WithTimeout(ctx, Millis(configs, "request.timeout.ms"))
		defer cancel()
		meta, err := kadm.NewClient(cl).BrokerMetadata(cctx)
		// What the other cluster is to this half (reference §1.1).
		other := "source"
		switch LinkMode(configs) {
		case ModeSource:
			other = "destination"
		case ModeBidirectional:
			other = "remote"
		}
		if aerr, ok := authFailure(err, sec, w); ok {
			return usererr.New(errors.Join(ErrSourceCluster, ErrAuthentication), "cannot connect to the %s cluster of cluster link '%s' at %s: %v; or create the link without validation",
				other, name, Value(configs, "bootstrap.servers"), aerr)
		}
		if err != nil {
			return usererr.New(ErrSourceCluster, "cannot reach the %s cluster of cluster link '%s' at %s: %v; check bootstrap.servers, or create the link without validation",
				other, name, Value(configs, "bootstrap.servers"), sourceError(err))
		}
		if sourceClusterID != "" && meta.Cluster != sourceClusterID {
			return usererr.New(ErrSourceCluster, "the %s cluster at %s has cluster id %s, not %s as given for cluster link '%s'",
				other, Value(configs, "bootstrap.servers"), meta.Cluster, sourceClusterID, name)
		}
		// The peer cluster's id (a SOURCE half's destination_cluster_id).
		sourceClusterID = meta.Cluster
		if meta.Cluster == m.cluster.ClusterID() {
			return usererr.New(ErrSourceCluster, "cluster link '%s' points at this cluster (%s); a link must read from another cluster", name, meta.Cluster)
		}
		if Paired(configs) {
			if err := m.pairAtCreate(cctx, name, configs, cl, &o); err != nil {
				return err
			}
		}
	}
	if validateOnly {
		return nil
	}
	l := metadata.Link{Name: name, ID: o.linkID, IDFixed: o.linkID != [16]byte{}, SourceClusterID: sourceClusterID, Configs: maps.Clone(sealed)}
	if err := m.store.CreateLink(l); err != nil {
		return err
	}
	l, _ = m.store.Link(name)
	return m.startLink(l)
}

var linkNameRE = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

func validateLinkName(name string) error {
	if !linkNameRE.MatchString(name) {
		return usererr.New(ErrInvalidConfig, "invalid cluster link name %q: use 1 to 249 ASCII letters, digits, '.', '_' and '-'", name)
	}
	return nil
}

// DeleteLink removes a link. It is refused while mirrors of the link that
// are not STOPPED exist, unless forced (Confluent CLUSTER_LINK_IN_USE).
//
// Forcing fails over those mirrors first (they become writable at the
// data they hold: a read-only topic whose link is gone could never be
// made writable again). Every mirror of the link is then detached — an
// ordinary topic that no link owns — so none is left behind in mirror
// listings, and none reappears under a new link of the same name.
// Confluent's behaviour for forced deletion is not documented
// (cluster-linking.md §1.4); this is Tandem's choice.
func (m *Manager) DeleteLink(name string, force, validateOnly bool) error {
	if m == nil {
		return ErrDisabled
	}
	if _, ok := m.store.Link(name); !ok {
		return errUnknownLink(name)
	}
	var active []string
	for _, t := range m.mirrorsOf(name) {
		if t.Mirror.State != MirrorStopped {
			active = append(active, t.Name)
		}
	}
	if len(active) > 0 && !force {
		return usererr.New(ErrLinkInUse, "cluster link '%s' has mirror topics that are not stopped (%s); promote or fail them over first, or delete the link with force",
			name, strings.Join(active, ", "))
	}
	if validateOnly {
		return nil
	}
	rt := m.runtimeOf(name)
	mirrors := m.mirrorsOf(name)
	// The link record goes first: from here on no mirror of it is owned
	// (owns), so a crash part-way is finished by NewManager's detach.
	if _, err := m.store.DeleteLink(name); err != nil {
		return err
	}
	m.mu.Lock()
	if cur := m.links[name]; cur != nil {
		rt = cur // restarted since (an adoption, pairing.go): the old one is stopped
	}
	delete(m.links, name)
	delete(m.failed, name)
	m.mu.Unlock()
	if rt != nil {
		rt.stop()
	}
	m.rev.sessions.closeLink(name)
	for _, t := range mirrors {
		m.detach(t)
	}
	if rt != nil {
		// A task may have created a mirror since the list above (the
		// AutoCreateMirror task): once the tasks are gone, detach what
		// the deleted link left.
		rt.running.Wait()
		for _, t := range m.cluster.Topics() {
			if t.Mirror != nil && t.Mirror.Link == name && t.Mirror.LinkID == rt.link.ID && !m.owns(t) {
				m.detach(t)
			}
		}
	}
	if m.data != nil {
		m.data.StopLink(name) // its fetcher and connections
	}
	return nil
}

// detach makes a mirror whose link is gone an ordinary topic: a mirror
// not yet STOPPED is stopped first (failover semantics: writable at what
// it holds).
func (m *Manager) detach(t metadata.Topic) {
	unlock := m.lockMirror(t.Name)
	defer unlock()
	if m.data != nil {
		m.data.Stop(t.Name)
	}
	if t.Mirror.State == metadata.MirrorPendingRestore {
		// Finish the truncation the user asked for: a topic is never
		// left writable with some partitions truncated and others not.
		if err := m.truncatePlan(t); err != nil {
			m.logger.Error("finishing the truncate-and-restore of a mirror of a deleted link", "topic", t.Name, "err", err)
			return
		}
	}
	if t.Mirror.State != MirrorStopped {
		mm := *t.Mirror
		mm.StopOffsets = m.positions(t, nil)
		mm.State, mm.PendingOp, mm.PreviousState, mm.Error = MirrorStopped, "", "", "LINK_DELETED"
		if err := m.cluster.SetMirrorState(t.Name, mm); err != nil {
			m.logger.Error("stopping mirror of deleted link", "topic", t.Name, "err", err)
			return
		}
	}
	if err := m.cluster.ClearMirror(t.Name); err != nil {
		m.logger.Error("detaching mirror of deleted link", "topic", t.Name, "err", err)
		return
	}
	m.ends.forget(t.Name)
	m.logger.Info("mirror detached from deleted link", "topic", t.Name, "link", t.Mirror.Link)
}

// AlterLinkConfigs replaces a link's configs (validated as a whole) and
// restarts its runtime with them. A feature turned off loses its filters
// (clearFiltersTurnedOff).
func (m *Manager) AlterLinkConfigs(name string, configs map[string]string, validateOnly bool) error {
	if m == nil {
		return ErrDisabled
	}
	l, ok := m.store.Link(name)
	if !ok {
		return errUnknownLink(name)
	}
	// Sensitive values sent back unchanged are the stored ciphertext.
	configs, err := m.openAltered(name, configs, l.Configs)
	if err != nil {
		return err
	}
	configs = clearFiltersTurnedOff(l.Configs, configs)
	// Everything is checked (security configs included) before anything
	// is stored, as at creation: stored, a config the link cannot
	// connect with would stop the link.
	if err := ValidateConfigs(configs, l.Configs, false); err != nil {
		return err
	}
	sealed, err := m.sealConfigs(name, configs)
	if err != nil {
		return err
	}
	if validateOnly {
		return nil
	}
	if err := m.store.SetLinkConfigs(name, sealed); err != nil {
		return err
	}
	m.mu.Lock()
	rt := m.links[name]
	delete(m.links, name)
	delete(m.failed, name)
	m.mu.Unlock()
	if rt != nil {
		rt.stop()
	}
	if m.data != nil {
		// New client configs (bootstrap servers, fetch sizes, timeouts)
		// take effect: the data path reconnects with them. What its
		// fetches learned of the source's ends is kept for lag.
		for _, t := range m.mirrorsOf(name) {
			for _, st := range m.data.Status(t.Name) {
				m.ends.observeStatus(t.Name, st)
			}
		}
		m.data.StopLink(name)
	}
	l, _ = m.store.Link(name)
	// The new runtime's recovery re-derives every mirror's data path
	// from its state and the link's (cluster.link.paused pauses ACTIVE
	// mirrors, unpausing resumes them).
	return m.startLink(l)
}

// mirrorsOf lists the mirror topics the link owns.
func (m *Manager) mirrorsOf(link string) []metadata.Topic {
	var out []metadata.Topic
	for _, t := range m.cluster.Topics() {
		if t.Mirror != nil && t.Mirror.Link == link && m.owns(t) {
			out = append(out, t)
		}
	}
	return out
}

// LinkInfo is a link as the API describes it.
type LinkInfo struct {
	Link               metadata.Link
	State              string
	ErrorCode          string
	ErrorMessage       string
	TopicNames         []string
	MirrorPartsByState map[metadata.MirrorState]int
	Tasks              []TaskStatus
	// Remote is a paired half's view of its peer half (remote link
	// state); nil for a kind of half that does not pair.
	Remote *RemoteLink
}

// Links describes every link, sorted by name.
func (m *Manager) Links() []LinkInfo {
	if m == nil {
		return nil
	}
	var out []LinkInfo
	for _, l := range m.store.Links() {
		out = append(out, m.describe(l))
	}
	return out
}

// Link describes one link.
func (m *Manager) Link(name string) (LinkInfo, error) {
	if m == nil {
		return LinkInfo{}, ErrDisabled
	}
	l, ok := m.store.Link(name)
	if !ok {
		return LinkInfo{}, errUnknownLink(name)
	}
	return m.describe(l), nil
}

func (m *Manager) describe(l metadata.Link) LinkInfo {
	info := LinkInfo{Link: l, State: LinkUnavailable, ErrorCode: "UNKNOWN", MirrorPartsByState: map[metadata.MirrorState]int{}}
	rt := m.runtimeOf(l.Name)
	cond := linkCondUnavailable
	if rt != nil {
		rt.mu.Lock()
		info.State, info.ErrorCode, info.ErrorMessage = rt.state, rt.errCode, rt.errMsg
		rt.mu.Unlock()
		cond = rt.condition()
		info.Tasks = taskStatuses(rt)
		info.Remote = rt.remote()
	} else if err := m.startFailure(l.Name); err != nil {
		info.State, info.ErrorCode, info.ErrorMessage = LinkFailed, "UNKNOWN", err.Error()
		if errors.Is(err, ErrSecrets) || errors.Is(err, ErrAuthentication) {
			info.ErrorCode = "AUTHENTICATION_ERROR"
		}
		cond = linkCondFailed
	}
	for _, t := range m.mirrorsOf(l.Name) {
		info.TopicNames = append(info.TopicNames, t.Name)
		info.MirrorPartsByState[reported(t.Mirror.State, cond)] += int(t.Partitions)
	}
	sort.Strings(info.TopicNames)
	return info
}

// startFailure is why link name could not start, or nil.
func (m *Manager) startFailure(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.failed[name]
}

// errUnknownLink is metadata.ErrUnknownLink naming the link.
func errUnknownLink(name string) error {
	return usererr.New(metadata.ErrUnknownLink, "cluster link '%s' does not exist", name)
}
