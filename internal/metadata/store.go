// Package metadata is the cluster metadata store: cluster id, topics (with
// topic ids, partition counts and leader epochs), dynamic topic configs and
// dynamic broker configs.
//
// A single node keeps it in an embedded bbolt database (OpenBolt); a
// multi-node cluster will put an etcd-backed implementation behind the same
// Store interface, so the interface is small, free of storage types, and
// every method is one atomic change. Reads are served from an immutable
// in-memory snapshot, so Metadata requests never touch disk; writes reach
// disk (fsynced) before the snapshot is replaced.
//
// # Revisions and compare-and-set
//
// The store has one revision, as etcd has: a counter that every committed
// write raises by one, persisted with the write. Each topic and link
// records the revision of its last change (ModRevision, etcd's
// mod_revision). Read-modify-write callers pass back the ModRevision they
// read (CompareAndSetTopic, DeleteTopicIf, CompareAndSetLink) and get
// ErrConflict when something else changed the record meanwhile; UpdateTopic
// and UpdateLink wrap that in a retry loop. Watchers (WatchRevision) learn
// the revision they have been told about, so a reconciler can compare it
// with the revision it last applied and stay level-triggered.
//
// # Mapping to etcd
//
// Each record is one key: topics/<name>, links/<name>,
// broker_configs/<node>, meta/next_producer_id, scram_credentials/<user>
// (scram.go), acls/<binding> (one key per ACL, named by the whole binding;
// acls.go). Every Store method is one
// etcd transaction (Txn: If compares, Then puts/deletes, Else reads back),
// so an etcd implementation needs no lock of its own:
//
//	CreateTopic        If(Version(topics/<name>) = 0) Then(Put topics/<name>)
//	                   (topic-id uniqueness: a second key topic_ids/<id>
//	                   in the same Txn, compared the same way)
//	DeleteTopic        Then(Delete topics/<name>, topic_ids/<id>)
//	DeleteTopicIf      If(ModRevision(topics/<name>) = rev) Then(Delete …)
//	CompareAndSetTopic If(ModRevision(topics/<name>) = t.ModRevision)
//	                   Then(Put topics/<name>) Else(Get topics/<name>)
//	AddPartitions, SetTopicConfigs, SetMirror, SetLeaderEpochs
//	                   Get topics/<name>, then CompareAndSetTopic with the
//	                   read ModRevision, retried on conflict (UpdateTopic)
//	CreateLink         If(Version(links/<name>) = 0) Then(Put links/<name>)
//	CompareAndSetLink  If(ModRevision(links/<name>) = l.ModRevision) Then(Put)
//	SetLinkConfigs     Get, then CompareAndSetLink, retried (UpdateLink)
//	DeleteLink         Then(Delete links/<name>)
//	SetBrokerConfigs   Then(Put or Delete broker_configs/<node>)
//	CompareAndSetBrokerConfigs
//	                   If(ModRevision(broker_configs/<node>) = rev)
//	                   Then(Put or Delete broker_configs/<node>)
//	AllocateProducerIDs Get meta/next_producer_id, first = max(read,
//	                   atLeast), then If(ModRevision = read)
//	                   Then(Put first+n), retried
//	AlterScramCredentials
//	                   Then(Put or Delete scram_credentials/<user>) for
//	                   every user changed, in one Txn
//	ScramCredentials   Range scram_credentials/ (prefix)
//	Revision           the header revision of any response
//	Topics, ListTopics Range topics/ (prefix); ListTopics returns the
//	                   response header's revision with them
//	CreateACLs         Range acls/ (or Get each new key), then
//	                   If(Version(acls/<binding>) = 0 for each new one)
//	                   Then(Put acls/<binding> …), retried; a binding
//	                   that exists is not written again
//	DeleteACLs         Range acls/, match the filters, then
//	                   If(ModRevision(acls/<binding>) = read for each
//	                   match) Then(Delete them all), retried
//	ACLs, ACLRevision  Range acls/ (prefix); the revision of the last
//	                   ACL change is the highest mod_revision there, or
//	                   a watch on the prefix
//	Watch, WatchRevision  one Watch on the whole keyspace from the
//	                   revision of the initial Range + 1; each event's
//	                   header revision is what WatchRevision delivers
//
// The new ModRevision of a written record is the Txn response header's
// revision, which is also the store revision after the write, as here.
package metadata

import (
	"errors"
	"maps"
	"slices"

	"github.com/tandem-streaming/tandem/internal/acl"
)

// Sentinel errors, mapped to Kafka codes by the handlers. Those a user can
// read have no package prefix, and the code that returns them names the
// topic or link (usererr.New; docs/HACKING.md "Errors users read").
var (
	ErrTopicExists  = errors.New("topic already exists")
	ErrUnknownTopic = errors.New("topic does not exist")
	// ErrInvalidPartitions: AddPartitions to a total not above the current
	// count, or a topic created with fewer than one partition.
	ErrInvalidPartitions = errors.New("invalid partition count")
	// ErrInvalidTopic: a topic that breaks the store's invariants (empty
	// name, replication factor < 1, leader epochs not one per partition,
	// topic id already used).
	ErrInvalidTopic = errors.New("invalid topic")
	// ErrClosed: a write after Close.
	ErrClosed = errors.New("the metadata store is closed (the broker is shutting down)")
	// ErrMetaProperties: meta.properties disagrees with the configuration
	// or the metadata database; the broker must not start (Kafka refuses
	// too).
	ErrMetaProperties = errors.New("meta.properties does not match this broker")
	// ErrLinkExists and ErrUnknownLink: cluster link names.
	ErrLinkExists  = errors.New("cluster link already exists")
	ErrUnknownLink = errors.New("cluster link does not exist")
	// ErrConflict: a compare-and-set write whose record changed since it
	// was read (its ModRevision is not the expected one). Re-read and retry.
	ErrConflict = errors.New("concurrent update: the record changed since it was read; retry")
)

// Topic is one topic's metadata.
type Topic struct {
	Name              string
	ID                [16]byte // random version 4 UUID, never all-zero
	Partitions        int32
	ReplicationFactor int16
	// Configs holds the dynamic topic overrides only; defaults come from the
	// broker layers (config.ResolveTopic).
	Configs map[string]string
	// LeaderEpochs has one entry per partition, starting at 0. On a single
	// node this node always leads; the epochs keep the data model ready for
	// many nodes.
	LeaderEpochs []int32
	Leader       int32 // node id
	CreatedMs    int64
	// Mirror is set for a mirror topic of a cluster link: its data comes
	// from the source topic, byte for byte, and clients may not write to
	// it until it is promoted or failed over (then its state is STOPPED
	// and it is an ordinary topic that remembers where it came from).
	Mirror *Mirror
	// ModRevision is the store revision of the topic's last change (etcd's
	// mod_revision); set by the store, ignored by CreateTopic, compared by
	// CompareAndSetTopic and DeleteTopicIf.
	ModRevision int64
}

// MirrorState is a mirror topic's state (cluster-linking.md §2.3), spelled
// as Confluent spells mirror_status. It is defined here, with the persisted
// record, so that every reader (broker, REST, CLI, metrics) uses one
// spelling; transitions belong to internal/link, the only writer.
type MirrorState string

// Persisted mirror states.
const (
	MirrorActive         MirrorState = "ACTIVE"
	MirrorPaused         MirrorState = "PAUSED"
	MirrorPendingStopped MirrorState = "PENDING_STOPPED"
	MirrorStopped        MirrorState = "STOPPED"
	MirrorFailed         MirrorState = "FAILED"
	// MirrorPendingRestore: truncate-and-restore's local half is
	// truncating the topic to the remote's stop offsets (Mirror.Restore);
	// read-only, not fetching. Confluent's PENDING_RESTORE
	// (cluster-linking.md §2.3).
	MirrorPendingRestore MirrorState = "PENDING_RESTORE"
	// MirrorPendingSetupForRestore: the remote half of a reverse fenced
	// this topic (read-only, not fetching) and will turn it into its
	// mirror; Confluent's PENDING_SETUP_FOR_RESTORE
	// (docs/design/links-bidirectional.md §5.3).
	MirrorPendingSetupForRestore MirrorState = "PENDING_SETUP_FOR_RESTORE"
)

// Reported mirror states derived from the link's condition over an ACTIVE
// mirror; never persisted.
const (
	MirrorLinkPaused        MirrorState = "LINK_PAUSED"
	MirrorSourceUnavailable MirrorState = "SOURCE_UNAVAILABLE"
)

// MirrorStates lists every mirror state, persisted and reported, in the
// order metrics and documentation list them.
var MirrorStates = []MirrorState{MirrorActive, MirrorPaused, MirrorPendingStopped, MirrorStopped,
	MirrorFailed, MirrorPendingRestore, MirrorPendingSetupForRestore, MirrorSourceUnavailable, MirrorLinkPaused}

// Mirror is the persisted part of a mirror topic's state.
type Mirror struct {
	Link          string // link name
	SourceTopic   string
	SourceTopicID [16]byte
	// State is the mirror's lifecycle state (ACTIVE, PAUSED,
	// PENDING_STOPPED, STOPPED, FAILED); transient states derived from
	// the link (SOURCE_UNAVAILABLE, LINK_PAUSED) are not persisted.
	State       MirrorState
	StateTimeMs int64
	// Error is the reason for FAILED (or the last transition error).
	Error string
	// LinkID binds the mirror to one incarnation of its link: a link
	// deleted and re-created under the same name is another link and
	// does not own this mirror.
	LinkID [16]byte
	// PendingOp is the operation a PENDING_STOPPED mirror is completing
	// ("promote" or "failover"), and PreviousState the state it left (an
	// aborted promote returns there). Persisted so that a restart in the
	// middle of a stop finishes it.
	PendingOp     string
	PreviousState MirrorState
	// StopOffsets records, per partition, where the mirror stood when it
	// stopped (or, while PENDING_STOPPED, when the stop was requested):
	// what promote/failover report and a STOPPED mirror describes.
	StopOffsets []MirrorPartitionOffsets
	// Restore is the truncation plan of the last truncate-and-restore,
	// per partition: persisted with PENDING_RESTORE before anything is
	// truncated (a restart redoes the truncation from it, and still
	// reports what the first attempt found), kept after it for describe.
	Restore []MirrorRestorePartition
	// RemoteOp is a failback step this cluster still owes the peer half
	// (docs/design/links-bidirectional.md §5.3), retried by the link's
	// pending-operations task until the peer answers: "reverse-and-start"
	// / "reverse-and-pause" (a reverse asked for here: fence the peer's
	// topic, then stop this mirror), "restore" / "restore-paused" (this
	// topic is STOPPED by a reverse: turn the peer's topic into its
	// mirror, targets StopOffsets[].LogEndOffset), "unfence" (a reverse
	// that did not happen: make the peer's topic writable again).
	RemoteOp string
}

// MirrorRestorePartition is one partition of a truncate-and-restore plan.
// Its JSON form is also its stored form.
type MirrorRestorePartition struct {
	Partition int32 `json:"partition"`
	// Target is the offset asked for: the remote stopped mirror's log
	// end offset at its stop.
	Target int64 `json:"target"`
	// TruncatedTo is Confluent's offset_truncated_to: where the local log
	// ends after the truncation (Target, or the base of the batch Target
	// falls inside, or the log end offset when it is below Target).
	TruncatedTo int64 `json:"offset_truncated_to"`
	// LogEndOffset is the local log end offset before the truncation.
	LogEndOffset int64 `json:"log_end_offset"`
	// Records is Confluent's messages_truncated: the data records removed
	// (log.TruncationPlan.Records), and FirstOffset/LastOffset bound them
	// (-1 when none).
	Records     int64 `json:"messages_truncated"`
	FirstOffset int64 `json:"first_offset"`
	LastOffset  int64 `json:"last_offset"`
}

// MirrorPartitionOffsets is one mirror partition's position at a stop.
// Its JSON form is also its stored form (internal/metadata/bolt.go).
type MirrorPartitionOffsets struct {
	Partition    int32 `json:"partition"`
	LogEndOffset int64 `json:"log_end_offset"` // the mirror's log end offset
	// SourceEndOffset is the last known source high watermark (-1 when
	// never learned) and SourceEndTimeMs when it was learned.
	SourceEndOffset int64 `json:"source_end_offset"`
	SourceEndTimeMs int64 `json:"source_end_time_ms"`
}

// ReadOnly reports whether clients may not write the topic: a mirror its
// link still owns (every state but STOPPED, which promote and failover
// reach).
func (t Topic) ReadOnly() bool {
	return t.Mirror != nil && t.Mirror.State != MirrorStopped
}

// Clone returns a deep copy, sharing nothing with t.
func (t Topic) Clone() Topic {
	t.Configs = maps.Clone(t.Configs)
	t.LeaderEpochs = slices.Clone(t.LeaderEpochs)
	if t.Mirror != nil {
		m := *t.Mirror
		m.StopOffsets = slices.Clone(m.StopOffsets)
		m.Restore = slices.Clone(m.Restore)
		t.Mirror = &m
	}
	return t
}

// Link is a cluster link: a connection from this cluster to a source
// cluster whose topics it mirrors. Configs holds every link config set
// explicitly, sensitive ones included (the HTTP API never returns those).
type Link struct {
	Name            string
	ID              [16]byte // cluster_link_id
	SourceClusterID string
	Configs         map[string]string
	CreatedMs       int64
	// ModRevision is the store revision of the link's last change; see
	// Topic.ModRevision.
	ModRevision int64
	// SyncedACLs are the ACL bindings of this cluster the link's ACL sync
	// created (internal/link aclsync.go): the only ones it may delete, so
	// ACLs made here by an operator are never touched. Kept with the link
	// (CompareAndSetLink), sorted; SetLinkConfigs leaves them as they are.
	SyncedACLs []acl.Binding
	// IDFixed says the link's ID is the one both halves of a paired link
	// carry (docs/design/links-bidirectional.md §2.1): it was given at
	// creation (cluster_link_id), adopted from the peer half, or confirmed
	// by it. A fixed ID never changes; a half whose peer shows another
	// one reports the mismatch.
	IDFixed bool
}

// Clone returns a deep copy.
func (l Link) Clone() Link {
	l.Configs = maps.Clone(l.Configs)
	l.SyncedACLs = slices.Clone(l.SyncedACLs)
	return l
}

// Store is the cluster metadata store. All methods are safe for concurrent
// use. Values returned are copies the caller may modify; values passed in
// are copied.
type Store interface {
	// ClusterID is the Kafka-style cluster id (22 characters of URL-safe
	// base64), fixed when the store was first created.
	ClusterID() string
	// Revision is the store revision: raised by one by every committed
	// write, never reused, persisted (etcd's header revision).
	Revision() int64
	// Topics lists all topics, sorted by name.
	Topics() []Topic
	// ListTopics is Topics together with the store revision they are
	// current at (one consistent read).
	ListTopics() ([]Topic, int64)
	Topic(name string) (Topic, bool)
	TopicByID(id [16]byte) (Topic, bool)
	// CreateTopic adds a topic (ErrTopicExists if the name is taken). A zero
	// ID is replaced by a new random one, nil LeaderEpochs by zeros and a
	// zero CreatedMs by the current time; read the topic back to see them.
	CreateTopic(t Topic) error
	// DeleteTopic removes a topic and returns what it was (ErrUnknownTopic).
	DeleteTopic(name string) (Topic, error)
	// DeleteTopicIf removes a topic only if its ModRevision is still
	// modRevision (ErrConflict otherwise).
	DeleteTopicIf(name string, modRevision int64) (Topic, error)
	// CompareAndSetTopic replaces the stored topic t.Name with t if the
	// stored ModRevision equals t.ModRevision (ErrConflict otherwise) and
	// returns the new record, with its new ModRevision. The name, ID and
	// CreatedMs cannot change; partitions only grow, with one leader
	// epoch each, and epochs never decrease (ErrInvalidTopic,
	// ErrInvalidPartitions).
	CompareAndSetTopic(t Topic) (Topic, error)
	// AddPartitions grows a topic to total partitions, new ones at leader
	// epoch 0 (ErrInvalidPartitions when total <= current).
	AddPartitions(name string, total int32) error
	// SetTopicConfigs replaces the topic's overrides (nil or empty clears).
	SetTopicConfigs(name string, configs map[string]string) error
	// BrokerConfigs returns the dynamic configs of a node; node -1 is the
	// cluster-wide default. Nil when none are set.
	BrokerConfigs(node int32) map[string]string
	// SetBrokerConfigs replaces them (nil or empty clears).
	SetBrokerConfigs(node int32, configs map[string]string) error
	// BrokerConfigsRev is BrokerConfigs with the ModRevision of the
	// node's configs (0 when none are set, as etcd compares a missing
	// key).
	BrokerConfigsRev(node int32) (map[string]string, int64)
	// CompareAndSetBrokerConfigs is SetBrokerConfigs that succeeds only if
	// the node's configs are still at modRevision (ErrConflict otherwise);
	// it returns the new ModRevision (0 when cleared).
	CompareAndSetBrokerConfigs(node int32, configs map[string]string, modRevision int64) (int64, error)
	// Watch subscribes to changes: after any change, a value is sent on the
	// channel unless one is already pending (notifications coalesce, so
	// re-read the store after each). The cancel func, or Close, closes
	// the channel.
	Watch() (<-chan struct{}, func())
	// WatchRevision is Watch carrying the store revision: after each
	// write the channel holds the newest revision (older undelivered ones
	// are replaced, never queued). A watcher that has applied the state of
	// ListTopics' revision r can ignore values <= r.
	WatchRevision() (<-chan int64, func())
	// SetMirror replaces a topic's mirror state (nil makes it an ordinary
	// topic).
	SetMirror(topic string, m *Mirror) error
	// SetLeaderEpochs replaces a topic's partition leader epochs (one per
	// partition; an epoch never decreases).
	SetLeaderEpochs(topic string, epochs []int32) error
	// Links lists the cluster links, sorted by name.
	Links() []Link
	Link(name string) (Link, bool)
	// CreateLink adds a link (ErrLinkExists); a zero ID is replaced by a
	// random one and a zero CreatedMs by now.
	CreateLink(l Link) error
	// SetLinkConfigs replaces a link's configs.
	SetLinkConfigs(name string, configs map[string]string) error
	// CompareAndSetLink replaces link l.Name with l if its ModRevision is
	// still l.ModRevision (ErrConflict otherwise); the name, ID and
	// CreatedMs cannot change.
	CompareAndSetLink(l Link) (Link, error)
	// DeleteLink removes a link and returns it (ErrUnknownLink).
	DeleteLink(name string) (Link, error)
	// SetLinkID gives link name the ID to (while its ID is still from,
	// else ErrConflict) and marks it fixed (Link.IDFixed); the mirrors
	// bound to from (Mirror.LinkID) are bound to to in the same write.
	// from == to only fixes the ID.
	SetLinkID(name string, from, to [16]byte) (Link, error)
	// AllocateProducerIDs durably reserves n producer ids, none below
	// atLeast, and returns the first: max(next unreserved id, atLeast).
	// Ids are never handed out twice, across restarts too (Kafka reserves
	// blocks in its metadata log the same way, KIP-730). atLeast skips
	// ids that are in use elsewhere: a mirror topic's data carries its
	// source cluster's producer ids (docs/mirroring.md, "Producer ids").
	AllocateProducerIDs(atLeast, n int64) (int64, error)
	// ACLs lists the ACL bindings (sorted by resource type, name, pattern
	// type, principal, host, operation, permission).
	ACLs() []acl.Binding
	// ACLRevision is the store revision of the last ACL change (0 when
	// none since the store opened with none), a cheap read: the
	// authorizer re-reads ACLs only when it moves.
	ACLRevision() int64
	// CreateACLs adds bindings atomically; ones that exist already are
	// left as they are (Kafka's createAcls is idempotent). A binding
	// that fails acl.Binding.Validate fails the call, before anything
	// is written (acl.ErrInvalidBinding).
	CreateACLs(bindings []acl.Binding) error
	// DeleteACLs removes, in one atomic change, every binding any filter
	// matches and returns, per filter, the bindings it matched (each
	// filter sees the ACLs as they were before the call). An invalid
	// filter (acl.Filter.Validate) fails the call before anything is
	// deleted.
	DeleteACLs(filters []acl.Filter) ([][]acl.Binding, error)
	// ScramCredentials returns every user's SCRAM credentials (scram.go),
	// by user, sorted by mechanism: a snapshot read.
	ScramCredentials() map[string][]ScramCredential
	// ScramCredential returns one user's credential for a mechanism.
	ScramCredential(user, mechanism string) (ScramCredential, bool)
	// AlterScramCredentials applies deletions, then upserts, as one
	// atomic write. The returned slice has one error per item, deletions
	// first then upserts, nil for each applied; a deletion of a missing
	// credential is ErrUnknownScramCredential, an upsert without user,
	// mechanism, salt or keys ErrInvalidScramCredential. The error is for
	// the write as a whole (nothing applied).
	AlterScramCredentials(upserts []ScramCredential, deletions []ScramDeletion) ([]error, error)
	// Close releases the store. Reads keep serving the last snapshot;
	// writes fail with ErrClosed.
	Close() error
}

// ClusterDefaultNode is the node id under which cluster-wide dynamic broker
// configs (DYNAMIC_DEFAULT_BROKER_CONFIG) are kept.
const ClusterDefaultNode int32 = -1

// snapshot is an immutable view of the metadata. It is replaced, never
// modified, so readers need no lock.
type snapshot struct {
	rev           int64   // store revision this snapshot is at
	topics        []Topic // sorted by name
	byName        map[string]int
	byID          map[[16]byte]int
	brokerConfigs map[int32]map[string]string
	brokerCfgRevs map[int32]int64 // ModRevision of each node's broker configs
	links         map[string]Link
	acls          *aclSet // acls.go; nil when there are none
}

func newSnapshot(topics []Topic, brokerConfigs map[int32]map[string]string) *snapshot {
	slices.SortFunc(topics, func(a, b Topic) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	s := &snapshot{
		topics:        topics,
		byName:        make(map[string]int, len(topics)),
		byID:          make(map[[16]byte]int, len(topics)),
		brokerConfigs: brokerConfigs,
	}
	for i, t := range topics {
		s.byName[t.Name] = i
		s.byID[t.ID] = i
	}
	return s
}

// withTopic returns a snapshot with t added or replaced. t must not be
// shared with anything else.
func (s *snapshot) withTopic(t Topic) *snapshot {
	topics := make([]Topic, 0, len(s.topics)+1)
	for _, old := range s.topics {
		if old.Name != t.Name {
			topics = append(topics, old)
		}
	}
	n := newSnapshot(append(topics, t), s.brokerConfigs)
	n.links = s.links
	n.acls = s.acls
	n.rev = s.rev
	return n
}

func (s *snapshot) withoutTopic(name string) *snapshot {
	topics := make([]Topic, 0, len(s.topics))
	for _, old := range s.topics {
		if old.Name != name {
			topics = append(topics, old)
		}
	}
	n := newSnapshot(topics, s.brokerConfigs)
	n.links = s.links
	n.acls = s.acls
	n.rev = s.rev
	return n
}

// withLink returns a snapshot with l added or replaced, or removed when
// remove is set.
func (s *snapshot) withLink(l Link, remove bool) *snapshot {
	links := maps.Clone(s.links)
	if links == nil {
		links = make(map[string]Link)
	}
	if remove {
		delete(links, l.Name)
	} else {
		links[l.Name] = l
	}
	n := *s
	n.links = links
	return &n
}

// withBrokerConfigs returns a snapshot with node's broker configs replaced
// (removed when empty), written at revision rev.
func (s *snapshot) withBrokerConfigs(node int32, configs map[string]string, rev int64) *snapshot {
	bc, revs := maps.Clone(s.brokerConfigs), maps.Clone(s.brokerCfgRevs)
	if bc == nil {
		bc = make(map[int32]map[string]string)
	}
	if revs == nil {
		revs = make(map[int32]int64)
	}
	if len(configs) == 0 {
		delete(bc, node)
		delete(revs, node)
	} else {
		bc[node], revs[node] = configs, rev
	}
	n := *s
	n.brokerConfigs, n.brokerCfgRevs = bc, revs
	return &n
}

func (s *snapshot) topic(name string) (Topic, bool) {
	i, ok := s.byName[name]
	if !ok {
		return Topic{}, false
	}
	return s.topics[i], true
}
