package link

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/group"
	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/usererr"
)

// Consumer offset sync (cluster-linking.md §3.1). The ConsumerOffsetSync
// task copies, every consumer.offset.sync.ms, the committed offsets of the
// source's consumer groups that consumer.offset.group.filters selects, for
// the partitions of this link's mirror topics that are still mirroring.
// Offsets are copied as they are (a mirror's offsets are its source's),
// with their leader epoch and metadata, under the group's name (with
// cluster.link.prefix in front when consumer.group.prefix.enable is set).
// An offset the mirror does not have yet is clamped to the mirror
// partition's high watermark (where what a consumer can read ends: records
// past it are not durable yet). They are written through the local group
// coordinator as an admin client's offset commit (generation -1, no
// member: Kafka's alterConsumerGroupOffsets), which only an empty group
// accepts: a group active on this cluster is left alone.
//
// When a mirror stops (failover, promote), every group's committed offset
// on its partitions is clamped to the partition's high watermark, at most
// its final log end (effClampOffsets), so a consumer that moves here never
// starts past the data it can read: an offset past the high watermark
// would point at records a crash could still take away, and the consumer
// would reset by its auto.offset.reset policy instead of resuming. A promote first runs a final sync of the
// mirror's offsets and requires zero offset lag.

// GroupCoordinator is what offset sync needs of the local group
// coordinator (*group.Coordinator; the broker exposes it as Groups()).
type GroupCoordinator interface {
	ListGroups(ctx context.Context, req *kmsg.ListGroupsRequest) *kmsg.ListGroupsResponse
	OffsetFetch(ctx context.Context, req *kmsg.OffsetFetchRequest) *kmsg.OffsetFetchResponse
	OffsetCommit(ctx context.Context, req *kmsg.OffsetCommitRequest) *kmsg.OffsetCommitResponse
}

// groupsOf finds the local group coordinator of a Cluster that has one.
func groupsOf(c Cluster) GroupCoordinator {
	if gc, ok := c.(interface{ LinkGroups() GroupCoordinator }); ok {
		return gc.LinkGroups() // tests' Clusters
	}
	if gc, ok := c.(interface{ Groups() *group.Coordinator }); ok {
		if g := gc.Groups(); g != nil {
			return g
		}
	}
	return nil
}

// errNoGroupFilters: offset sync is on but no group is selected.
var errNoGroupFilters = fmt.Errorf("%w: consumer.offset.group.filters is not set: no consumer group is synced", ErrInvalidConfig)

// ParseGroupFilters parses consumer.offset.group.filters,
// {"groupFilters":[…]}, with the name-filter rules auto-create shares
// (filters.go). An empty value is no filters (no group synced).
func ParseGroupFilters(v string) (NameFilters, error) {
	return ParseNameFilters(v, "groupFilters")
}

func validGroupFilters(v string) error {
	_, err := ParseGroupFilters(v)
	return err
}

// offsetSyncEnabled reports consumer.offset.sync.enable.
func offsetSyncEnabled(configs map[string]string) bool {
	b, _ := strconv.ParseBool(Value(configs, "consumer.offset.sync.enable"))
	return b
}

// localGroupName is the name a source group is synced under.
func localGroupName(configs map[string]string, group string) string {
	if b, _ := strconv.ParseBool(Value(configs, "consumer.group.prefix.enable")); b {
		return Value(configs, "cluster.link.prefix") + group
	}
	return group
}

// GroupOffsetLag is one synced group's offset on one mirror partition, as
// the last sync (or a promote's final sync) saw it.
type GroupOffsetLag struct {
	Group       string // the local (destination) group name
	SourceGroup string
	Topic       string // the mirror topic
	Partition   int32
	// SourceOffset is the offset committed on the source, LocalOffset the
	// one committed here (-1: none). Lag is SourceOffset − LocalOffset.
	SourceOffset, LocalOffset, Lag int64
	// Status is OffsetSynced, OffsetGroupActive (the group has members
	// here and is left alone) or OffsetClampedToMirrorEnd (the mirror
	// does not have the source's offset yet: its high watermark was
	// written).
	Status string
	// SyncedAt is when the sync that found this ran.
	SyncedAt time.Time
}

// GroupOffsetLag statuses.
const (
	OffsetSynced             = "SYNCED"
	OffsetGroupActive        = "GROUP_ACTIVE"
	OffsetClampedToMirrorEnd = "CLAMPED_TO_MIRROR_END"
)

// offsetLags keeps a link's last sync results per mirror topic.
type offsetLags struct {
	mu sync.Mutex // leaf
	m  map[string][]GroupOffsetLag
}

func (o *offsetLags) set(topic string, lags []GroupOffsetLag) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = map[string][]GroupOffsetLag{}
	}
	o.m[topic] = lags
}

// retain forgets the mirrors not named (stopped, deleted).
func (o *offsetLags) retain(names []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for t := range o.m {
		if !slices.Contains(names, t) {
			delete(o.m, t)
		}
	}
}

func (o *offsetLags) all() []GroupOffsetLag {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []GroupOffsetLag
	for _, l := range o.m {
		out = append(out, l...)
	}
	slices.SortFunc(out, func(a, b GroupOffsetLag) int {
		if c := strings.Compare(a.Group, b.Group); c != 0 {
			return c
		}
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	return out
}

// GroupOffsetLags reports, per synced group and mirror partition of link,
// the offsets on both sides as the last offset sync saw them.
func (m *Manager) GroupOffsetLags(link string) ([]GroupOffsetLag, error) {
	if m == nil {
		return nil, ErrDisabled
	}
	rt := m.runtimeOf(link)
	if rt == nil {
		if _, ok := m.store.Link(link); !ok {
			return nil, fmt.Errorf("%w: %s", metadata.ErrUnknownLink, link)
		}
		return nil, nil
	}
	return rt.offsetLags.all(), nil
}

// ConsumerOffsetLags sums, per mirror and partition of link, the offset
// lag of the synced groups that are not active here (source minus
// destination, as the last sync found them); on reports whether the link
// syncs consumer offsets at all.
func (m *Manager) ConsumerOffsetLags(link string) (lags map[string]map[int32]int64, on bool) {
	if m == nil {
		return nil, false
	}
	rt := m.runtimeOf(link)
	if rt == nil || !offsetSyncEnabled(rt.link.Configs) {
		return nil, false
	}
	out := map[string]map[int32]int64{}
	for _, l := range rt.offsetLags.all() {
		if l.Status == OffsetGroupActive {
			continue
		}
		if out[l.Topic] == nil {
			out[l.Topic] = map[int32]int64{}
		}
		out[l.Topic][l.Partition] += max(l.Lag, 0)
	}
	return out, true
}

// sourceCoordinators caches the source's group coordinators for offset
// sync: which broker coordinates each group (FindCoordinator is asked
// only of groups new to the cache, or whose coordinator moved), and
// whether the source is too old for OffsetFetch v8.
type sourceCoordinators struct {
	mu  sync.Mutex // leaf
	m   map[string]int32
	old bool
}

// byBroker groups the groups by coordinator, asking the source for the
// ones it does not know; the groups it cannot place are in the error.
func (c *sourceCoordinators) byBroker(ctx context.Context, adm *kadm.Client, groups []string) (map[int32][]string, error) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]int32{}
	}
	var missing []string
	for _, g := range groups {
		if _, ok := c.m[g]; !ok {
			missing = append(missing, g)
		}
	}
	c.mu.Unlock()
	var errs []error
	if len(missing) > 0 {
		found := adm.FindGroupCoordinators(ctx, missing...)
		c.mu.Lock()
		for _, g := range missing {
			switch r, ok := found[g]; {
			case !ok:
				errs = append(errs, fmt.Errorf("%w: finding the coordinator of source group %s: no answer", errSourceUnreachable, g))
			case r.Err != nil:
				errs = append(errs, fmt.Errorf("%w: finding the coordinator of source group %s: %w", errSourceUnreachable, g, r.Err))
			default:
				c.m[g] = r.NodeID
			}
		}
		c.mu.Unlock()
	}
	out := map[int32][]string{}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, g := range groups {
		if b, ok := c.m[g]; ok {
			out[b] = append(out[b], g)
		}
	}
	return out, errors.Join(errs...)
}

func (c *sourceCoordinators) forget(groups ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, g := range groups {
		delete(c.m, g)
	}
}

func (c *sourceCoordinators) tooOld() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.old
}

// coordinatorMoved reports group errors that a new FindCoordinator fixes.
func coordinatorMoved(code int16) bool {
	return code == kerr.NotCoordinator.Code || code == kerr.CoordinatorNotAvailable.Code
}

// sourceOffsetFetch sends req (many groups, topics named by name and ID)
// to the groups' coordinators on the source, one request a coordinator
// on its broker handle, and retries once the groups whose coordinator
// moved. A broker handle, because franz-go's sharded OffsetFetch resolves
// the topic names of every group of the response with a Metadata request
// that names each topic once per group (megabytes a round with 10,000
// groups). A source too old for v8, or a mirror that did not record its
// source topic's ID, goes through the client's sharding instead (which
// splits the request into one per group for an old source).
func sourceOffsetFetch(ctx context.Context, rt *runtime, req *kmsg.OffsetFetchRequest) ([]*kmsg.OffsetFetchResponse, []error) {
	ids := !rt.coords.tooOld()
	for _, t := range req.Groups[0].Topics {
		ids = ids && t.TopicID != [16]byte{}
	}
	if !ids {
		return shardedOffsetFetch(ctx, rt, req)
	}
	groups := make(map[string]kmsg.OffsetFetchRequestGroup, len(req.Groups))
	names := make([]string, 0, len(req.Groups))
	for _, g := range req.Groups {
		groups[g.Group] = g
		names = append(names, g.Group)
	}
	var (
		out  []*kmsg.OffsetFetchResponse
		errs []error
	)
	for attempt := 0; attempt < 2 && len(names) > 0; attempt++ {
		byBroker, err := rt.coords.byBroker(ctx, rt.adm, names)
		names = nil
		if err != nil {
			if attempt == 0 {
				// The groups not placed are asked for again.
				placed := map[string]bool{}
				for _, gs := range byBroker {
					for _, g := range gs {
						placed[g] = true
					}
				}
				for g := range groups {
					if !placed[g] {
						names = append(names, g)
					}
				}
			} else {
				errs = append(errs, err)
			}
		}
		for _, b := range slices.Sorted(maps.Keys(byBroker)) {
			sub := *req
			sub.Groups = nil
			for _, g := range byBroker[b] {
				sub.Groups = append(sub.Groups, groups[g])
			}
			resp, err := sub.RequestWith(ctx, rt.client.Broker(int(b)))
			if err != nil {
				rt.coords.forget(byBroker[b]...)
				errs = append(errs, fmt.Errorf("%w: fetching offsets of source consumer groups from broker %d: %w", errSourceUnreachable, b, err))
				continue
			}
			if resp.Version < 8 {
				rt.coords.mu.Lock()
				rt.coords.old = true
				rt.coords.mu.Unlock()
				return shardedOffsetFetch(ctx, rt, req)
			}
			kept := resp.Groups[:0]
			for _, g := range resp.Groups {
				if attempt == 0 && coordinatorMoved(g.ErrorCode) {
					rt.coords.forget(g.Group)
					names = append(names, g.Group)
					continue
				}
				kept = append(kept, g)
			}
			resp.Groups = kept
			out = append(out, resp)
		}
	}
	return out, errs
}

// shardedOffsetFetch is sourceOffsetFetch through the client's sharding.
func shardedOffsetFetch(ctx context.Context, rt *runtime, req *kmsg.OffsetFetchRequest) ([]*kmsg.OffsetFetchResponse, []error) {
	var (
		out  []*kmsg.OffsetFetchResponse
		errs []error
	)
	for _, shard := range rt.client.RequestSharded(ctx, req) {
		if shard.Err != nil {
			errs = append(errs, fmt.Errorf("%w: fetching offsets of source consumer groups: %w", errSourceUnreachable, shard.Err))
			continue
		}
		out = append(out, shard.Resp.(*kmsg.OffsetFetchResponse))
	}
	return out, errs
}

// sourceTopicAsked is a source topic whose groups' offsets are fetched:
// the partitions asked for (0 to partitions-1) and the topic's ID (zero
// when the mirror did not record it).
type sourceTopicAsked struct {
	partitions int32
	id         [16]byte
}

// sourceGroupOffsets are the source's committed offsets of the selected
// groups for the source topics asked for: group → topic → partition.
type sourceGroupOffsets map[string]map[string]map[int32]kadm.Offset

// fetchSourceOffsets lists the source's groups, keeps those the filters
// select, and fetches their committed offsets on the given source topics
// (topic → partitions asked for) with one OffsetFetch request per
// coordinator for all its groups (v8+, KIP-709; sourceOffsetFetch; a
// request per group for a source older than that): a round costs the
// source one ListGroups per broker and one OffsetFetch per coordinator,
// whatever the number of groups, and the source answers only for the
// mirrored topics.
func fetchSourceOffsets(ctx context.Context, rt *runtime, filters NameFilters, topics map[string]sourceTopicAsked) (sourceGroupOffsets, error) {
	listed, err := rt.adm.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: listing source consumer groups: %w", errSourceUnreachable, err)
	}
	var names []string
	for g := range listed {
		if filters.Match(g) {
			names = append(names, g)
		}
	}
	slices.Sort(names)
	out := sourceGroupOffsets{}
	if len(names) == 0 || len(topics) == 0 {
		return out, nil
	}
	// Every group asks for the same topics and partitions, named both
	// ways (v10+ names topics by ID): with the ID given, franz-go does
	// not resolve the name again for every group (one Metadata request
	// naming the topic once per group).
	var asked []kmsg.OffsetFetchRequestGroupTopic
	byID := map[[16]byte]string{}
	for _, t := range slices.Sorted(maps.Keys(topics)) {
		rt := kmsg.NewOffsetFetchRequestGroupTopic()
		rt.Topic, rt.TopicID = t, topics[t].id
		for p := range topics[t].partitions {
			rt.Partitions = append(rt.Partitions, p)
		}
		asked = append(asked, rt)
		byID[topics[t].id] = t
	}
	req := kmsg.NewPtrOffsetFetchRequest()
	for _, g := range names {
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group, rg.Topics = g, asked
		req.Groups = append(req.Groups, rg)
	}
	resps, errs := sourceOffsetFetch(ctx, rt, req)
	for _, resp := range resps {
		for _, g := range resp.Groups {
			if err := kerr.ErrorForCode(g.ErrorCode); err != nil {
				if !errors.Is(err, kerr.GroupIDNotFound) {
					errs = append(errs, fmt.Errorf("%w: fetching offsets of source group %s: %w", errSourceUnreachable, g.Group, err))
				}
				continue
			}
			for _, t := range g.Topics {
				if t.Topic == "" {
					t.Topic = byID[t.TopicID]
				}
				if _, ok := topics[t.Topic]; !ok {
					continue
				}
				for _, p := range t.Partitions {
					if p.ErrorCode != 0 || p.Offset < 0 {
						continue
					}
					if out[g.Group] == nil {
						out[g.Group] = map[string]map[int32]kadm.Offset{}
					}
					if out[g.Group][t.Topic] == nil {
						out[g.Group][t.Topic] = map[int32]kadm.Offset{}
					}
					md := ""
					if p.Metadata != nil {
						md = *p.Metadata
					}
					out[g.Group][t.Topic][p.Partition] = kadm.Offset{At: p.Offset, LeaderEpoch: p.LeaderEpoch, Metadata: md}
				}
			}
		}
	}
	return out, errors.Join(errs...)
}

// localGroupStates lists the local groups and their states.
func localGroupStates(ctx context.Context, gc GroupCoordinator) (map[string]string, error) {
	req := kmsg.NewPtrListGroupsRequest()
	req.Version = 4
	resp := gc.ListGroups(ctx, req)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("listing local consumer groups: %w", err)
	}
	out := make(map[string]string, len(resp.Groups))
	for _, g := range resp.Groups {
		out[g.Group] = g.GroupState
	}
	return out, nil
}

// groupActive: a group in any state but Empty (or Dead) has members.
func groupActive(state string) bool {
	return state != "" && state != "Empty" && state != "Dead"
}

// localOffset is a committed offset of a local group.
type localOffset struct {
	offset   int64
	epoch    int32
	metadata string
}

// localGroupOffsets are local groups' committed offsets: group → topic →
// partition.
type localGroupOffsets map[string]map[string]map[int32]localOffset

// fetchLocalOffsets fetches the local groups' committed offsets on the
// given topics, with one request.
func fetchLocalOffsets(ctx context.Context, gc GroupCoordinator, groups, topics []string) (localGroupOffsets, error) {
	out := localGroupOffsets{}
	if len(groups) == 0 {
		return out, nil
	}
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 8
	for _, g := range groups {
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = g
		rg.Topics = nil // every topic; filtered below
		req.Groups = append(req.Groups, rg)
	}
	wanted := make(map[string]bool, len(topics))
	for _, t := range topics {
		wanted[t] = true
	}
	resp := gc.OffsetFetch(ctx, req)
	for _, g := range resp.Groups {
		if err := kerr.ErrorForCode(g.ErrorCode); err != nil {
			if errors.Is(err, kerr.GroupIDNotFound) {
				continue
			}
			return nil, fmt.Errorf("fetching local offsets of group %s: %w", g.Group, err)
		}
		for _, t := range g.Topics {
			if !wanted[t.Topic] {
				continue
			}
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 || p.Offset < 0 {
					continue
				}
				if out[g.Group] == nil {
					out[g.Group] = map[string]map[int32]localOffset{}
				}
				if out[g.Group][t.Topic] == nil {
					out[g.Group][t.Topic] = map[int32]localOffset{}
				}
				md := ""
				if p.Metadata != nil {
					md = *p.Metadata
				}
				out[g.Group][t.Topic][p.Partition] = localOffset{offset: p.Offset, epoch: p.LeaderEpoch, metadata: md}
			}
		}
	}
	return out, nil
}

// defaultClampTimeout bounds a stop's clamp of the local offsets (the
// local coordinator answers at once unless it is loading).
const defaultClampTimeout = 30 * time.Second

// errGroupActive: a local commit refused because the group has members.
var errGroupActive = errors.New("consumer group is active on this cluster")

// commitLocal commits offsets of one topic for a local group as an admin
// client does: generation -1 and no member, which the coordinator accepts
// only while the group is empty.
func commitLocal(ctx context.Context, gc GroupCoordinator, grp, topic string, offs map[int32]localOffset) error {
	if len(offs) == 0 {
		return nil
	}
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version = 9
	req.Group, req.Generation, req.MemberID = grp, -1, ""
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	for _, p := range slices.Sorted(maps.Keys(offs)) {
		o := offs[p]
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch = p, o.offset, o.epoch
		rp.Metadata = kmsg.StringPtr(o.metadata)
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp := gc.OffsetCommit(ctx, req)
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			err := kerr.ErrorForCode(p.ErrorCode)
			switch {
			case err == nil:
			case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.IllegalGeneration),
				errors.Is(err, kerr.RebalanceInProgress), errors.Is(err, kerr.FencedInstanceID):
				return fmt.Errorf("%w: %s", errGroupActive, grp)
			default:
				return fmt.Errorf("committing offsets of group %s on %s-%d: %w", grp, topic, p.Partition, err)
			}
		}
	}
	return nil
}

// SyncConsumerOffsets runs one consumer offset sync of link now, the
// round the ConsumerOffsetSync task runs every consumer.offset.sync.ms
// (`tandem bench offset-sync` times rounds with it).
func (m *Manager) SyncConsumerOffsets(ctx context.Context, link string) error {
	if m == nil {
		return ErrDisabled
	}
	rt := m.runtimeOf(link)
	if rt == nil {
		return errUnknownLink(link)
	}
	if !offsetSyncEnabled(rt.link.Configs) {
		return usererr.New(ErrInvalidConfig, "cluster link '%s' does not sync consumer offsets; set consumer.offset.sync.enable=true", link)
	}
	return m.syncOffsets(ctx, rt)
}

// syncOffsets is the ConsumerOffsetSync task: one sync of every mirror of
// the link that is still mirroring.
func (m *Manager) syncOffsets(ctx context.Context, rt *runtime) error {
	if rt.condition() == linkCondPaused {
		return nil // cluster.link.paused pauses offset sync too
	}
	// A paired kind of half syncs only while paired (design §2.3: what
	// needs pairing fails with REMOTE_LINK_NOT_FOUND_ERROR; the data
	// still flows).
	if err := m.requirePeer(rt); err != nil {
		return err
	}
	var names []string
	for _, t := range m.mirrorsOf(rt.link.Name) {
		if t.Mirror.State == MirrorActive || t.Mirror.State == MirrorPaused {
			names = append(names, t.Name)
		}
	}
	rt.offsetLags.retain(names)
	_, err := m.syncMirrorOffsets(ctx, rt, names, true, false)
	return err
}

// syncMirrorOffsets syncs the committed offsets of the selected groups on
// the named mirrors (each under its lock unless locked, which says the
// caller holds the lock of the only one) and returns what it found. With
// write false it only compares (a promote's validate-only check).
func (m *Manager) syncMirrorOffsets(ctx context.Context, rt *runtime, names []string, write, locked bool) ([]GroupOffsetLag, error) {
	if m.groups == nil {
		return nil, fmt.Errorf("%w: consumer offset sync: this broker has no group coordinator", ErrNotSupported)
	}
	filters, err := ParseGroupFilters(Value(rt.link.Configs, "consumer.offset.group.filters"))
	if err != nil {
		return nil, fmt.Errorf("%w: consumer.offset.group.filters: %w", ErrInvalidConfig, err)
	}
	if len(filters) == 0 {
		return nil, errNoGroupFilters
	}
	if len(names) == 0 {
		return nil, nil
	}
	// The source topics of the mirrors named, and their partitions.
	sources := map[string]sourceTopicAsked{}
	for _, n := range names {
		if t, err := m.cluster.TopicByName(n); err == nil && t.Mirror != nil {
			a := sources[t.Mirror.SourceTopic]
			a.partitions, a.id = max(a.partitions, t.Partitions), t.Mirror.SourceTopicID
			sources[t.Mirror.SourceTopic] = a
		}
	}
	cctx, cancel := context.WithTimeout(ctx, Millis(rt.link.Configs, "request.timeout.ms"))
	defer cancel()
	src, err := fetchSourceOffsets(cctx, rt, filters, sources)
	if err != nil && len(src) == 0 {
		return nil, err
	}
	// The local side once for every mirror: the groups' states and their
	// offsets on the mirrors. A group that becomes active after this is
	// still left alone (the coordinator refuses the commit).
	states, err2 := localGroupStates(cctx, m.groups)
	if err2 != nil {
		return nil, errors.Join(err, err2)
	}
	var localNames []string
	for g := range src {
		localNames = append(localNames, localGroupName(rt.link.Configs, g))
	}
	slices.Sort(localNames)
	local, err2 := fetchLocalOffsets(cctx, m.groups, localNames, names)
	if err2 != nil {
		return nil, errors.Join(err, err2)
	}
	var (
		all  []GroupOffsetLag
		errs = []error{err}
	)
	for _, n := range names {
		lags, err := m.syncTopicOffsets(cctx, rt, n, src, states, local, write, locked)
		if err != nil {
			errs = append(errs, err)
		}
		all = append(all, lags...)
	}
	return all, errors.Join(errs...)
}

// syncTopicOffsets writes one mirror's offsets.
func (m *Manager) syncTopicOffsets(ctx context.Context, rt *runtime, name string, src sourceGroupOffsets, states map[string]string, local localGroupOffsets, write, locked bool) ([]GroupOffsetLag, error) {
	if !locked {
		unlock := m.lockMirror(name)
		defer unlock()
	}
	t, err := m.cluster.TopicByName(name)
	if err != nil || t.Mirror == nil || t.Mirror.Link != rt.link.Name {
		return nil, nil // gone meanwhile
	}
	if t.Mirror.State != MirrorActive && t.Mirror.State != MirrorPaused && !(locked && t.Mirror.State == MirrorPendingStopped) {
		return nil, nil // stopped: its offsets were clamped and are the consumers' now
	}
	ends, err := m.cluster.HighWatermarks(name)
	if err != nil {
		return nil, err
	}
	srcTopic := t.Mirror.SourceTopic
	var (
		groups   []string
		bySource = map[string]string{}
	)
	for g, topics := range src {
		if len(topics[srcTopic]) > 0 {
			lg := localGroupName(rt.link.Configs, g)
			groups = append(groups, lg)
			bySource[lg] = g
		}
	}
	slices.Sort(groups)
	// What each group needs, then the commits (a few at a time), then
	// the lags as they are after them.
	now := m.now()
	syncs := make([]groupSync, 0, len(groups))
	for _, lg := range groups {
		sg := bySource[lg]
		gs := groupSync{group: lg, active: groupActive(states[lg]), want: map[int32]localOffset{}}
		for _, p := range slices.Sorted(maps.Keys(src[sg][srcTopic])) {
			if p >= t.Partitions {
				continue // a partition the mirror does not have yet
			}
			so := src[sg][srcTopic][p]
			gl := GroupOffsetLag{Group: lg, SourceGroup: sg, Topic: name, Partition: p, SourceOffset: so.At, LocalOffset: -1, Status: OffsetSynced, SyncedAt: now}
			cur, has := local[lg][name][p]
			if has {
				gl.LocalOffset = cur.offset
			}
			o := localOffset{offset: so.At, epoch: so.LeaderEpoch, metadata: so.Metadata}
			if end, ok := ends[p]; ok && o.offset > end {
				// The mirror does not have these records yet.
				o.offset, o.epoch = end, -1
				gl.Status = OffsetClampedToMirrorEnd
			}
			switch {
			case gs.active:
				gl.Status = OffsetGroupActive
			case !has || cur != o:
				gs.want[p] = o
			}
			gs.lags = append(gs.lags, gl)
		}
		syncs = append(syncs, gs)
	}
	var errs []error
	if write {
		errs = m.commitGroups(ctx, name, syncs)
	}
	var lags []GroupOffsetLag
	for _, gs := range syncs {
		for i := range gs.lags {
			if gs.lags[i].LocalOffset >= 0 {
				gs.lags[i].Lag = gs.lags[i].SourceOffset - gs.lags[i].LocalOffset
			} else {
				gs.lags[i].Lag = gs.lags[i].SourceOffset
			}
		}
		lags = append(lags, gs.lags...)
	}
	if write {
		rt.offsetLags.set(name, lags)
	}
	return lags, errors.Join(errs...)
}

// groupSync is one group's part of a mirror's sync: its offsets on the
// mirror's partitions (lags) and the ones to commit here (want).
type groupSync struct {
	group  string
	active bool
	want   map[int32]localOffset
	lags   []GroupOffsetLag
}

// localCommitConcurrency bounds the local offset commits a sync has in
// flight. Each commit is answered once its __consumer_offsets record is
// durable; one at a time, a round that changes 10,000 groups waits for
// 10,000 fsync rounds, while commits in flight together share one. With
// 32 in flight a first sync of 10,000 groups took 4.8–5.0 s on the
// benchmark machine, with 128 1.9–3.2 s (docs/benchmarks.md).
const localCommitConcurrency = 128

// commitGroups commits what each group of syncs wants on topic, some at
// once, and updates the group's lags: the committed offsets, or
// GROUP_ACTIVE for a group found active. It returns the other failures.
func (m *Manager) commitGroups(ctx context.Context, topic string, syncs []groupSync) []error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, localCommitConcurrency)
	)
	for i := range syncs {
		gs := &syncs[i]
		if gs.active || len(gs.want) == 0 {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			err := commitLocal(ctx, m.groups, gs.group, topic, gs.want)
			switch {
			case errors.Is(err, errGroupActive):
				for i := range gs.lags {
					gs.lags[i].Status = OffsetGroupActive
				}
			case err != nil:
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			default:
				for i := range gs.lags {
					if o, ok := gs.want[gs.lags[i].Partition]; ok {
						gs.lags[i].LocalOffset = o.offset
					}
				}
			}
		})
	}
	wg.Wait()
	// In the groups' order, whatever order the commits finished in, and
	// a few: the task's error is read by people (a coordinator that
	// fails fails every commit, thousands a round).
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	if len(errs) > maxCommitErrors {
		more := fmt.Errorf("and %d more commits failed", len(errs)-maxCommitErrors)
		errs = append(errs[:maxCommitErrors:maxCommitErrors], more)
	}
	return errs
}

// maxCommitErrors bounds the commit failures a sync reports per mirror.
const maxCommitErrors = 5

// finalOffsetSync is a promote's last offset sync of mirror t (whose lock
// the caller holds): it syncs (unless validateOnly) and requires zero
// offset lag for every synced group that is not active here. A link
// without offset sync has nothing to check.
func (m *Manager) finalOffsetSync(ctx context.Context, rt *runtime, t metadata.Topic, validateOnly bool) error {
	if rt == nil || !offsetSyncEnabled(rt.link.Configs) {
		return nil
	}
	m.awaitDurable(ctx, t.Name)
	lags, err := m.syncMirrorOffsets(ctx, rt, []string{t.Name}, !validateOnly, true)
	if errors.Is(err, errNoGroupFilters) {
		return nil // no group is synced: no offset lag
	}
	if err != nil {
		if errors.Is(err, errSourceUnreachable) {
			return fmt.Errorf("%w: %w: cannot promote %s: the final consumer offset sync failed: %v", ErrPromoteNotReady, errSourceUnreachable, t.Name, err)
		}
		return fmt.Errorf("%w: cannot promote %s: the final consumer offset sync failed: %v", ErrPromoteNotReady, t.Name, err)
	}
	var behind []string
	for _, l := range lags {
		if l.Status == OffsetGroupActive || l.Lag == 0 {
			continue
		}
		behind = append(behind, fmt.Sprintf("%s %s-%d (offset lag %d)", l.Group, l.Topic, l.Partition, l.Lag))
	}
	if len(behind) > 0 {
		return fmt.Errorf("%w: consumer offsets of %s are not synced: %s; use failover to stop now", ErrPromoteNotReady, t.Name, strings.Join(behind, ", "))
	}
	return nil
}

// clampOffsets lowers every local group's committed offset on the
// partitions of a stopping mirror to the partition's high watermark, and
// at most its final log end (effClampOffsets; the mirror is not writable
// yet, so the high watermark can only be at or below that end). A group
// active here cannot be written and is left as it is (logged).
// Coordinator failures are returned: the stop stays PENDING_STOPPED and
// is retried.
func (m *Manager) clampOffsets(ctx context.Context, name string, final []metadata.MirrorPartitionOffsets) error {
	if m.groups == nil || len(final) == 0 {
		return nil
	}
	m.awaitDurable(ctx, name)
	hws, err := m.cluster.HighWatermarks(name)
	if err != nil {
		return fmt.Errorf("clamping consumer offsets of %s: %w", name, err)
	}
	ends := map[int32]int64{}
	for _, o := range final {
		ends[o.Partition] = o.LogEndOffset
		if hw, ok := hws[o.Partition]; ok {
			ends[o.Partition] = min(hw, o.LogEndOffset)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, defaultClampTimeout)
	defer cancel()
	states, err := localGroupStates(cctx, m.groups)
	if err != nil {
		return fmt.Errorf("clamping consumer offsets of %s: %w", name, err)
	}
	groups := slices.Sorted(maps.Keys(states))
	local, err := fetchLocalOffsets(cctx, m.groups, groups, []string{name})
	if err != nil {
		return fmt.Errorf("clamping consumer offsets of %s: %w", name, err)
	}
	var errs []error
	for _, g := range groups {
		want := map[int32]localOffset{}
		for p, o := range local[g][name] {
			if end, ok := ends[p]; ok && o.offset > end {
				want[p] = localOffset{offset: end, epoch: -1, metadata: o.metadata}
			}
		}
		if len(want) == 0 {
			continue
		}
		err := commitLocal(cctx, m.groups, g, name, want)
		switch {
		case errors.Is(err, errGroupActive):
			m.logger.Warn("consumer group is active: its committed offsets past the topic's end were not lowered (an active group's offsets cannot be written; its consumers find the end themselves)", "group", g, "topic", name, "partitions", len(want))
		case err != nil:
			errs = append(errs, fmt.Errorf("clamping consumer offsets of %s: %w", name, err))
		default:
			m.logger.Info("consumer offsets clamped to the mirror's end", "group", g, "topic", name, "partitions", len(want))
		}
	}
	return errors.Join(errs...)
}

// defaultDurableWait is Manager.durableWait: a log makes its appends
// durable within milliseconds (one fsync round).
const defaultDurableWait = 5 * time.Second

// awaitDurable waits, at most m.durableWait, until every partition of a
// stopping mirror (which appends nothing more) has its high watermark at
// its log end: the records fetched last are durable and readable, so a
// promote's final sync finds no offset lag because of them and the clamp
// does not send consumers back over them. Past the bound the high
// watermark is taken as it is.
func (m *Manager) awaitDurable(ctx context.Context, name string) {
	deadline := time.Now().Add(m.durableWait)
	for {
		hws, err := m.cluster.HighWatermarks(name)
		if err != nil {
			return
		}
		leos, err := m.cluster.LogEndOffsets(name)
		if err != nil {
			return
		}
		durable := true
		for p, leo := range leos {
			durable = durable && hws[p] >= leo
		}
		if durable || !time.Now().Before(deadline) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}
