package link

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/partition"
)

// More sentinels of the control plane.
var (
	ErrLinkInUse       = errors.New("link: cluster link has mirror topics")
	ErrSourceCluster   = errors.New("link: source cluster")
	ErrNotMirror       = errors.New("link: not a mirror topic of this link")
	ErrMirrorState     = errors.New("link: mirror state does not allow this")
	ErrMirrorName      = errors.New("link: invalid mirror topic name")
	ErrPromoteNotReady = errors.New("link: mirror is not caught up")
	ErrDisabled        = errors.New("link: cluster linking is disabled")
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
	SetMirrorState(topic string, m metadata.Mirror) error
	SetMirrorConfigs(topic string, configs map[string]string) error
	AddMirrorPartitions(topic string, total int32) error
	// LogEndOffsets returns each partition's log end offset.
	LogEndOffsets(topic string) (map[int32]int64, error)
}

// PartitionStatus is the data path's view of one mirror partition.
type PartitionStatus struct {
	Partition             int32
	LastSourceFetchOffset int64 // -1 before the first fetch
	SourceHighWatermark   int64 // -1 before the first fetch
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
}

// Lag is the source high watermark minus the local end offset (-1 when
// nothing was fetched yet).
func (s PartitionStatus) Lag() int64 {
	if s.SourceHighWatermark < 0 {
		return -1
	}
	return max(s.SourceHighWatermark-s.LocalEndOffset, 0)
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
	Close()
}

// Manager owns the cluster links of this node.
type Manager struct {
	store   metadata.Store
	cluster Cluster
	data    DataPath
	logger  *slog.Logger
	now     func() time.Time

	mu    sync.Mutex // guards links; taken before any runtime's mu
	links map[string]*runtime
	wg    sync.WaitGroup
}

// runtime is a link's live state: the client to its source and its
// availability.
type runtime struct {
	link   metadata.Link
	client *kgo.Client
	adm    *kadm.Client
	cancel context.CancelFunc

	mu               sync.Mutex
	state            string
	errCode, errMsg  string
	failures         int
	lastConfigSyncMs int64
}

// NewManager loads the persisted links and starts them.
func NewManager(store metadata.Store, cluster Cluster, data DataPath, logger *slog.Logger) (*Manager, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{store: store, cluster: cluster, data: data, logger: logger, now: time.Now, links: map[string]*runtime{}}
	for _, l := range store.Links() {
		if err := m.startLink(l); err != nil {
			m.logger.Error("starting cluster link", "link", l.Name, "err", err)
		}
	}
	return m, nil
}

// Close stops every link.
func (m *Manager) Close() {
	m.mu.Lock()
	rts := make([]*runtime, 0, len(m.links))
	for _, rt := range m.links {
		rts = append(rts, rt)
	}
	m.links = map[string]*runtime{}
	m.mu.Unlock()
	for _, rt := range rts {
		rt.cancel()
		rt.client.Close()
	}
	m.wg.Wait()
	if m.data != nil {
		m.data.Close()
	}
}

// clientFor builds the franz-go client a link uses to reach its source.
// Only PLAINTEXT connects today; other protocols are stored and refused
// here with a clear error.
func clientFor(name string, configs map[string]string) (*kgo.Client, error) {
	opts, err := ClientOpts(name, configs)
	if err != nil {
		return nil, err
	}
	return kgo.NewClient(opts...)
}

func (m *Manager) startLink(l metadata.Link) error {
	cl, err := clientFor(l.Name, l.Configs)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	rt := &runtime{link: l, client: cl, adm: kadm.NewClient(cl), cancel: cancel, state: LinkActive, errCode: "NO_ERROR"}
	if b, _ := strconv.ParseBool(Value(l.Configs, "cluster.link.paused")); b {
		rt.state = LinkPaused
	}
	m.mu.Lock()
	m.links[l.Name] = rt
	m.mu.Unlock()
	m.wg.Add(1)
	go m.loop(ctx, rt)
	if rt.state != LinkPaused {
		m.startMirrors(l)
	}
	return nil
}

// startMirrors hands the link's active mirrors to the data path.
func (m *Manager) startMirrors(l metadata.Link) {
	if m.data == nil {
		return
	}
	for _, t := range m.cluster.Topics() {
		if t.Mirror != nil && t.Mirror.Link == l.Name && t.Mirror.State == MirrorActive {
			if err := m.data.Start(l, t, false); err != nil {
				m.logger.Error("starting mirror", "link", l.Name, "topic", t.Name, "err", err)
			}
		}
	}
}

// loop checks the source's availability and syncs topic configs and
// partition counts on the link's intervals.
func (m *Manager) loop(ctx context.Context, rt *runtime) {
	defer m.wg.Done()
	check := time.NewTicker(Millis(rt.link.Configs, "availability.check.ms"))
	defer check.Stop()
	sync := time.NewTicker(Millis(rt.link.Configs, "topic.config.sync.ms"))
	defer sync.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-check.C:
			m.checkAvailability(ctx, rt)
		case <-sync.C:
			m.syncMirrors(ctx, rt)
		}
	}
}

func (m *Manager) checkAvailability(ctx context.Context, rt *runtime) {
	cctx, cancel := context.WithTimeout(ctx, Millis(rt.link.Configs, "request.timeout.ms"))
	defer cancel()
	meta, err := rt.adm.BrokerMetadata(cctx)
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.state == LinkPaused {
		return
	}
	if err != nil {
		rt.failures++
		if int64(rt.failures) >= Int(rt.link.Configs, "availability.check.consecutive.failure.threshold") && rt.state != LinkUnavailable {
			rt.state, rt.errCode, rt.errMsg = LinkUnavailable, "TIMEOUT_ERROR", err.Error()
			m.logger.Warn("cluster link source unavailable", "link", rt.link.Name, "err", err)
		}
		return
	}
	if rt.link.SourceClusterID != "" && meta.Cluster != rt.link.SourceClusterID {
		rt.state, rt.errCode = LinkFailed, "UNKNOWN"
		rt.errMsg = fmt.Sprintf("source cluster id is %s, the link was created for %s", meta.Cluster, rt.link.SourceClusterID)
		return
	}
	rt.failures = 0
	if rt.state == LinkUnavailable {
		m.logger.Info("cluster link source available again", "link", rt.link.Name)
	}
	rt.state, rt.errCode, rt.errMsg = LinkActive, "NO_ERROR", ""
}

// syncMirrors copies source topic configs to the link's active mirrors and
// grows mirrors whose source gained partitions; a source with fewer
// partitions fails the mirror (SOURCE_PARTITIONS_DECREASED).
func (m *Manager) syncMirrors(ctx context.Context, rt *runtime) {
	var mirrors []metadata.Topic
	for _, t := range m.cluster.Topics() {
		if t.Mirror != nil && t.Mirror.Link == rt.link.Name && t.Mirror.State != MirrorStopped && t.Mirror.State != MirrorFailed {
			mirrors = append(mirrors, t)
		}
	}
	if len(mirrors) == 0 {
		return
	}
	sources := make([]string, 0, len(mirrors))
	for _, t := range mirrors {
		sources = append(sources, t.Mirror.SourceTopic)
	}
	cctx, cancel := context.WithTimeout(ctx, Millis(rt.link.Configs, "request.timeout.ms"))
	defer cancel()
	details, err := rt.adm.ListTopics(cctx, sources...)
	if err != nil {
		return // the availability check reports it
	}
	configs, err := rt.adm.DescribeTopicConfigs(cctx, sources...)
	if err != nil {
		return
	}
	for _, t := range mirrors {
		d, ok := details[t.Mirror.SourceTopic]
		switch {
		case !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition):
			m.failMirror(t, "SOURCE_TOPIC_MAY_BE_DELETED")
			continue
		case d.Err != nil:
			continue
		case t.Mirror.SourceTopicID != ([16]byte{}) && [16]byte(d.ID) != ([16]byte{}) && [16]byte(d.ID) != t.Mirror.SourceTopicID:
			m.failMirror(t, "SOURCE_TOPIC_ID_CHANGED")
			continue
		}
		n := int32(len(d.Partitions))
		if n < t.Partitions {
			m.failMirror(t, "SOURCE_PARTITIONS_DECREASED")
			continue
		}
		if n > t.Partitions {
			if err := m.cluster.AddMirrorPartitions(t.Name, n); err != nil {
				m.logger.Warn("growing mirror", "topic", t.Name, "err", err)
			} else if m.data != nil && t.Mirror.State == MirrorActive {
				if nt, err := m.cluster.TopicByName(t.Name); err == nil {
					_ = m.data.Start(rt.link, nt, false)
				}
			}
		}
		if m.data != nil && t.Mirror.State == MirrorActive {
			if code, why := m.partitionFailure(t, rt); code != "" {
				m.logger.Warn("mirror partition failed", "topic", t.Name, "err", why)
				m.failMirror(t, code)
				continue
			}
		}
		if rc, err := configs.On(t.Mirror.SourceTopic, nil); err == nil && rc.Err == nil {
			want, _ := mirrorConfigs(rc)
			if !maps.Equal(want, t.Configs) {
				if err := m.cluster.SetMirrorConfigs(t.Name, want); err != nil {
					m.logger.Warn("syncing mirror configs", "topic", t.Name, "err", err)
				}
			}
		}
	}
	rt.mu.Lock()
	rt.lastConfigSyncMs = m.now().UnixMilli()
	rt.mu.Unlock()
}

// partitionFailure reports a mirror partition the data path gave up on, or
// one whose errors have lasted longer than cluster.link.retry.timeout.ms.
func (m *Manager) partitionFailure(t metadata.Topic, rt *runtime) (code string, why error) {
	timeout := Millis(rt.link.Configs, "cluster.link.retry.timeout.ms")
	now := m.now()
	for _, s := range m.data.Status(t.Name) {
		code := s.ErrorCode
		if code == "" {
			code = "UNKNOWN"
		}
		if s.Failed {
			return code, s.Err
		}
		if s.Err != nil && !s.ErrorSince.IsZero() && now.Sub(s.ErrorSince) > timeout {
			return code, fmt.Errorf("partition %d failing since %v (cluster.link.retry.timeout.ms=%v): %w",
				s.Partition, s.ErrorSince.Format(time.RFC3339), timeout, s.Err)
		}
	}
	return "", nil
}

func (m *Manager) failMirror(t metadata.Topic, reason string) {
	if m.data != nil {
		m.data.Stop(t.Name)
	}
	mm := *t.Mirror
	mm.State, mm.Error = MirrorFailed, reason
	if err := m.cluster.SetMirrorState(t.Name, mm); err != nil {
		m.logger.Error("failing mirror", "topic", t.Name, "err", err)
		return
	}
	m.logger.Warn("mirror failed", "topic", t.Name, "reason", reason)
}

// CreateLink validates and persists a link, then starts it. With
// validateLink, the source must answer and (when given) have
// sourceClusterID; with validateOnly nothing is stored.
func (m *Manager) CreateLink(ctx context.Context, name, sourceClusterID string, configs map[string]string, validateOnly, validateLink bool) error {
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
		return fmt.Errorf("%w: %s", metadata.ErrLinkExists, name)
	}
	cl, err := clientFor(name, configs)
	if err != nil {
		return err
	}
	defer cl.Close()
	if validateLink {
		cctx, cancel := context.WithTimeout(ctx, Millis(configs, "request.timeout.ms"))
		defer cancel()
		meta, err := kadm.NewClient(cl).BrokerMetadata(cctx)
		if err != nil {
			return fmt.Errorf("%w: cannot reach %s: %v", ErrSourceCluster, Value(configs, "bootstrap.servers"), err)
		}
		if sourceClusterID != "" && meta.Cluster != sourceClusterID {
			return fmt.Errorf("%w: expected cluster id %s, the source is %s", ErrSourceCluster, sourceClusterID, meta.Cluster)
		}
		sourceClusterID = meta.Cluster
		if meta.Cluster == m.cluster.ClusterID() {
			return fmt.Errorf("%w: a link cannot point at its own cluster", ErrSourceCluster)
		}
	}
	if validateOnly {
		return nil
	}
	l := metadata.Link{Name: name, SourceClusterID: sourceClusterID, Configs: maps.Clone(configs)}
	if err := m.store.CreateLink(l); err != nil {
		return err
	}
	l, _ = m.store.Link(name)
	return m.startLink(l)
}

var linkNameRE = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

func validateLinkName(name string) error {
	if !linkNameRE.MatchString(name) {
		return fmt.Errorf("%w: link name %q (ASCII letters, digits, '.', '_' and '-')", ErrInvalidConfig, name)
	}
	return nil
}

// DeleteLink removes a link; it is refused while mirrors of the link that
// are not STOPPED exist, unless forced (Confluent CLUSTER_LINK_IN_USE).
// Forcing fails those mirrors' data path; their topics stay.
func (m *Manager) DeleteLink(name string, force, validateOnly bool) error {
	if m == nil {
		return ErrDisabled
	}
	if _, ok := m.store.Link(name); !ok {
		return fmt.Errorf("%w: %s", metadata.ErrUnknownLink, name)
	}
	var active []string
	for _, t := range m.cluster.Topics() {
		if t.Mirror != nil && t.Mirror.Link == name && t.Mirror.State != MirrorStopped {
			active = append(active, t.Name)
		}
	}
	if len(active) > 0 && !force {
		return fmt.Errorf("%w: %s has mirror topics %s; stop them first or delete with force", ErrLinkInUse, name, strings.Join(active, ", "))
	}
	if validateOnly {
		return nil
	}
	for _, topic := range active {
		if t, err := m.cluster.TopicByName(topic); err == nil {
			m.failMirror(t, "LINK_DELETED")
		}
	}
	m.mu.Lock()
	rt := m.links[name]
	delete(m.links, name)
	m.mu.Unlock()
	if rt != nil {
		rt.cancel()
		rt.client.Close()
	}
	_, err := m.store.DeleteLink(name)
	return err
}

// AlterLinkConfigs replaces a link's configs (validated as a whole) and
// restarts its runtime with them.
func (m *Manager) AlterLinkConfigs(name string, configs map[string]string, validateOnly bool) error {
	if m == nil {
		return ErrDisabled
	}
	l, ok := m.store.Link(name)
	if !ok {
		return fmt.Errorf("%w: %s", metadata.ErrUnknownLink, name)
	}
	if err := ValidateConfigs(configs, l.Configs, false); err != nil {
		return err
	}
	if validateOnly {
		return nil
	}
	if err := m.store.SetLinkConfigs(name, configs); err != nil {
		return err
	}
	m.mu.Lock()
	rt := m.links[name]
	delete(m.links, name)
	m.mu.Unlock()
	if rt != nil {
		rt.cancel()
		rt.client.Close()
	}
	l, _ = m.store.Link(name)
	wasPaused := rt != nil && rt.currentState() == LinkPaused
	if p, _ := strconv.ParseBool(Value(configs, "cluster.link.paused")); p && !wasPaused && m.data != nil {
		for _, t := range m.mirrorsOf(name) {
			m.data.Pause(t.Name)
		}
	}
	return m.startLink(l)
}

func (m *Manager) mirrorsOf(link string) []metadata.Topic {
	var out []metadata.Topic
	for _, t := range m.cluster.Topics() {
		if t.Mirror != nil && t.Mirror.Link == link {
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
		return LinkInfo{}, fmt.Errorf("%w: %s", metadata.ErrUnknownLink, name)
	}
	return m.describe(l), nil
}

func (m *Manager) describe(l metadata.Link) LinkInfo {
	info := LinkInfo{Link: l, State: LinkUnavailable, ErrorCode: "UNKNOWN", MirrorPartsByState: map[metadata.MirrorState]int{}}
	m.mu.Lock()
	rt := m.links[l.Name]
	m.mu.Unlock()
	if rt != nil {
		rt.mu.Lock()
		info.State, info.ErrorCode, info.ErrorMessage = rt.state, rt.errCode, rt.errMsg
		rt.mu.Unlock()
	}
	for _, t := range m.mirrorsOf(l.Name) {
		info.TopicNames = append(info.TopicNames, t.Name)
		info.MirrorPartsByState[m.mirrorState(t, rt)] += int(t.Partitions)
	}
	sort.Strings(info.TopicNames)
	return info
}

// mirrorState is the state reported for a mirror: the persisted one, with
// the link's condition layered over a mirror that would be fetching.
func (m *Manager) mirrorState(t metadata.Topic, rt *runtime) metadata.MirrorState {
	s := t.Mirror.State
	if s != MirrorActive || rt == nil {
		return s
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	switch rt.state {
	case LinkPaused:
		return MirrorLinkPaused
	case LinkUnavailable:
		return MirrorSourceUnavailable
	}
	return s
}

// MirrorInfo describes one mirror topic.
type MirrorInfo struct {
	Topic      metadata.Topic
	State      metadata.MirrorState
	Partitions []PartitionStatus
}

// Mirrors lists the mirrors of link ("" for all links) in state status
// ("" for any), sorted by topic.
func (m *Manager) Mirrors(link, status string) ([]MirrorInfo, error) {
	if m == nil {
		return nil, ErrDisabled
	}
	if link != "" {
		if _, ok := m.store.Link(link); !ok {
			return nil, fmt.Errorf("%w: %s", metadata.ErrUnknownLink, link)
		}
	}
	var out []MirrorInfo
	for _, t := range m.cluster.Topics() {
		if t.Mirror == nil || (link != "" && t.Mirror.Link != link) {
			continue
		}
		mi := m.mirrorInfo(t)
		if status != "" && !strings.EqualFold(string(mi.State), status) {
			continue
		}
		out = append(out, mi)
	}
	return out, nil
}

// Mirror describes one mirror of link.
func (m *Manager) Mirror(link, topic string) (MirrorInfo, error) {
	if m == nil {
		return MirrorInfo{}, ErrDisabled
	}
	t, err := m.cluster.TopicByName(topic)
	if err != nil {
		return MirrorInfo{}, err
	}
	if t.Mirror == nil || t.Mirror.Link != link {
		return MirrorInfo{}, fmt.Errorf("%w: %s (link %s)", ErrNotMirror, topic, link)
	}
	return m.mirrorInfo(t), nil
}

func (m *Manager) mirrorInfo(t metadata.Topic) MirrorInfo {
	m.mu.Lock()
	rt := m.links[t.Mirror.Link]
	m.mu.Unlock()
	mi := MirrorInfo{Topic: t, State: m.mirrorState(t, rt)}
	if m.data != nil {
		mi.Partitions = m.data.Status(t.Name)
	}
	if len(mi.Partitions) == 0 {
		for p := int32(0); p < t.Partitions; p++ {
			mi.Partitions = append(mi.Partitions, PartitionStatus{Partition: p, LastSourceFetchOffset: -1, SourceHighWatermark: -1})
		}
	}
	return mi
}

// CreateMirror creates a mirror topic of link for sourceTopic. The mirror
// is named like the source, or prefix+source when the link has
// cluster.link.prefix; an explicit mirrorTopic must be that name.
func (m *Manager) CreateMirror(ctx context.Context, link, sourceTopic, mirrorTopic string, configs map[string]string, validateOnly bool) error {
	if m == nil {
		return ErrDisabled
	}
	l, ok := m.store.Link(link)
	if !ok {
		return fmt.Errorf("%w: %s", metadata.ErrUnknownLink, link)
	}
	if m.data == nil {
		// Never create a mirror that would not fill.
		return fmt.Errorf("%w: mirror topics (the mirror data path is not built into this version)", ErrNotSupported)
	}
	if sourceTopic == "" {
		sourceTopic = strings.TrimPrefix(mirrorTopic, Value(l.Configs, "cluster.link.prefix"))
	}
	want := Value(l.Configs, "cluster.link.prefix") + sourceTopic
	if mirrorTopic == "" {
		mirrorTopic = want
	}
	if mirrorTopic != want {
		return fmt.Errorf("%w: the mirror of %q on link %s must be named %q", ErrMirrorName, sourceTopic, link, want)
	}
	if len(configs) > 0 {
		keys := slices.Sorted(maps.Keys(configs))
		return fmt.Errorf("%w: %s: every topic config Tandem supports is synced from the source topic and cannot be set on a mirror",
			ErrInvalidConfig, strings.Join(keys, ", "))
	}
	if _, err := m.cluster.TopicByName(mirrorTopic); err == nil {
		return fmt.Errorf("%w: Topic '%s' already exists.", metadata.ErrTopicExists, mirrorTopic)
	}
	m.mu.Lock()
	rt := m.links[link]
	m.mu.Unlock()
	if rt == nil {
		return fmt.Errorf("%w: link %s is not running", ErrSourceCluster, link)
	}
	cctx, cancel := context.WithTimeout(ctx, Millis(l.Configs, "request.timeout.ms"))
	defer cancel()
	details, err := rt.adm.ListTopics(cctx, sourceTopic)
	if err != nil {
		return fmt.Errorf("%w: while fetching description for topic '%s' over cluster link '%s': %v", ErrSourceCluster, sourceTopic, link, err)
	}
	d, ok := details[sourceTopic]
	if !ok || d.Err != nil {
		err := d.Err
		if !ok || err == nil {
			err = kerr.UnknownTopicOrPartition
		}
		return fmt.Errorf("while fetching description for topic '%s' over cluster link '%s': %w", sourceTopic, link, err)
	}
	rcs, err := rt.adm.DescribeTopicConfigs(cctx, sourceTopic)
	if err != nil {
		return fmt.Errorf("%w: describing configs of %s: %v", ErrSourceCluster, sourceTopic, err)
	}
	rc, err := rcs.On(sourceTopic, nil)
	if err != nil || rc.Err != nil {
		return fmt.Errorf("%w: describing configs of %s: %v %v", ErrSourceCluster, sourceTopic, err, rc.Err)
	}
	synced, skipped := mirrorConfigs(rc)
	if len(skipped) > 0 {
		m.logger.Warn("source topic configs not mirrored (not supported here)", "topic", sourceTopic, "configs", skipped)
	}
	if validateOnly {
		return nil
	}
	t, err := m.cluster.CreateMirrorTopic(mirrorTopic, int32(len(d.Partitions)), synced, metadata.Mirror{
		Link: link, SourceTopic: sourceTopic, SourceTopicID: [16]byte(d.ID), State: MirrorActive,
	})
	if err != nil {
		return err
	}
	m.logger.Info("mirror topic created", "link", link, "topic", mirrorTopic, "source", sourceTopic, "partitions", t.Partitions)
	if m.data != nil && rt.currentState() != LinkPaused {
		return m.data.Start(l, t, true)
	}
	return nil
}

func (rt *runtime) currentState() string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.state
}

// AlterResult is one mirror's outcome of a batch operation.
type AlterResult struct {
	Topic string
	Err   error
	Info  MirrorInfo
}

// AlterMirrors applies op (pause, resume, failover, promote) to the named
// mirrors of link, or those whose names match pattern. Per-mirror errors
// are in the results (Confluent answers them inside a 200).
func (m *Manager) AlterMirrors(ctx context.Context, link, op string, names []string, pattern string, validateOnly bool) ([]AlterResult, error) {
	if m == nil {
		return nil, ErrDisabled
	}
	l, ok := m.store.Link(link)
	if !ok {
		return nil, fmt.Errorf("%w: %s", metadata.ErrUnknownLink, link)
	}
	switch op {
	case "pause", "resume", "failover", "promote":
	default:
		return nil, fmt.Errorf("%w: unknown mirror operation %q", ErrMirrorState, op)
	}
	if pattern != "" {
		re, err := regexp.Compile("^(?:" + pattern + ")$")
		if err != nil {
			return nil, fmt.Errorf("%w: mirror_topic_name_pattern: %v", ErrInvalidConfig, err)
		}
		for _, t := range m.mirrorsOf(link) {
			if re.MatchString(t.Name) {
				names = append(names, t.Name)
			}
		}
	}
	var out []AlterResult
	for _, name := range names {
		err := m.alterOne(ctx, l, op, name, validateOnly)
		r := AlterResult{Topic: name, Err: err}
		if t, terr := m.cluster.TopicByName(name); terr == nil && t.Mirror != nil {
			r.Info = m.mirrorInfo(t)
		}
		out = append(out, r)
	}
	return out, nil
}

func (m *Manager) alterOne(ctx context.Context, l metadata.Link, op, name string, validateOnly bool) error {
	t, err := m.cluster.TopicByName(name)
	if err != nil {
		return err
	}
	if t.Mirror == nil || t.Mirror.Link != l.Name {
		return fmt.Errorf("%w: %s (link %s)", ErrNotMirror, name, l.Name)
	}
	mm := *t.Mirror
	if mm.State == MirrorStopped {
		return fmt.Errorf("%w: Topic '%s' has already stopped its mirror from '%s'", ErrMirrorState, name, l.Name)
	}
	switch op {
	case "pause":
		if mm.State != MirrorActive {
			return fmt.Errorf("%w: %s is %s, not ACTIVE", ErrMirrorState, name, mm.State)
		}
		if validateOnly {
			return nil
		}
		if m.data != nil {
			m.data.Pause(name)
		}
		mm.State = MirrorPaused
		return m.cluster.SetMirrorState(name, mm)
	case "resume":
		if mm.State != MirrorPaused {
			return fmt.Errorf("%w: %s is %s, not PAUSED", ErrMirrorState, name, mm.State)
		}
		if validateOnly {
			return nil
		}
		mm.State = MirrorActive
		if err := m.cluster.SetMirrorState(name, mm); err != nil {
			return err
		}
		if m.data != nil {
			return m.data.Start(l, t, false)
		}
		return nil
	case "failover":
		// Stop now, whatever the lag: the DR operation for a source
		// that may be gone.
		if validateOnly {
			return nil
		}
		if m.data != nil {
			m.data.Stop(name)
		}
		mm.State, mm.Error = MirrorStopped, ""
		return m.cluster.SetMirrorState(name, mm)
	case "promote":
		// Planned cut-over: only when the source answers and every
		// partition has caught up with it.
		if err := m.caughtUp(ctx, l, t); err != nil {
			return err
		}
		if validateOnly {
			return nil
		}
		if m.data != nil {
			m.data.Stop(name)
		}
		// The data path stopped after the last fetch; check again that
		// nothing arrived at the source meanwhile.
		if err := m.caughtUp(ctx, l, t); err != nil {
			if m.data != nil && mm.State == MirrorActive {
				_ = m.data.Start(l, t, false)
			}
			return err
		}
		mm.State, mm.Error = MirrorStopped, ""
		return m.cluster.SetMirrorState(name, mm)
	}
	return nil
}

// caughtUp checks that every partition of mirror t ends where its source
// partition ends.
func (m *Manager) caughtUp(ctx context.Context, l metadata.Link, t metadata.Topic) error {
	m.mu.Lock()
	rt := m.links[l.Name]
	m.mu.Unlock()
	if rt == nil {
		return fmt.Errorf("%w: link %s is not running", ErrSourceCluster, l.Name)
	}
	cctx, cancel := context.WithTimeout(ctx, Millis(l.Configs, "request.timeout.ms"))
	defer cancel()
	ends, err := rt.adm.ListEndOffsets(cctx, t.Mirror.SourceTopic)
	if err != nil {
		return fmt.Errorf("%w: cannot promote %s while the source is unreachable: %v", ErrPromoteNotReady, t.Name, err)
	}
	local, err := m.cluster.LogEndOffsets(t.Name)
	if err != nil {
		return err
	}
	var behind []string
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil || local[o.Partition] < o.Offset {
			behind = append(behind, fmt.Sprintf("%d (lag %d)", o.Partition, o.Offset-local[o.Partition]))
		}
	})
	if len(behind) > 0 {
		return fmt.Errorf("%w: %s partitions %s; use failover to stop now", ErrPromoteNotReady, t.Name, strings.Join(behind, ", "))
	}
	return nil
}

// TopicDeleted stops the data path of a mirror topic about to be deleted.
func (m *Manager) TopicDeleted(topic string) {
	if m == nil || m.data == nil {
		return
	}
	if t, err := m.cluster.TopicByName(topic); err == nil && t.Mirror != nil {
		m.data.Stop(topic)
	}
}
