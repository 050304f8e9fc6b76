package link

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/usererr"
	"github.com/tandem-streaming/tandem/internal/wire"
)

// Pairing of link halves (docs/design/links-bidirectional.md §2; issue #12
// points 1, 2 and 4). A paired kind of half (Paired: SOURCE and its
// INBOUND DESTINATION, two BIDIRECTIONAL halves) asks its peer the
// Tandem-private LinkPeer question at every availability check, over
// peerFor (the OUTBOUND half's client, or an INBOUND half's control
// session). Both the asking and the answering half record what the other
// told (§3.4: the request carries the asker's view, the response the
// answerer's), so a half that only answers (a SOURCE half whose
// destination asks over the session) knows its peer as well.
//
// What a half keeps of its peer (runtime.peer): the remote link state
// (§2.3), when it was last heard of, its cluster id and its mirrors of
// this link, which make the loop rules exact (loops.go, §6).

// Remote link states besides the peer's own link state (§2.3).
const (
	// RemoteLinkNotFound: the peer has no half of this name, or one with
	// another cluster_link_id or a mode that does not pair, or it is not
	// a Tandem cluster (Confluent's "Remote link state:
	// REMOTE_LINK_NOT_FOUND", reference §4.2).
	RemoteLinkNotFound = "REMOTE_LINK_NOT_FOUND"
	// RemoteLinkUnknown: no answer yet since this half started.
	RemoteLinkUnknown = "UNKNOWN"
)

// ErrRemoteLinkNotFound: the operation needs the link's peer half, and the
// two halves do not pair (task error REMOTE_LINK_NOT_FOUND_ERROR).
var ErrRemoteLinkNotFound = errors.New("cluster link has no peer half (remote link state REMOTE_LINK_NOT_FOUND)")

// adoptAfter: an unfixed half that keeps seeing the same other link id on
// its peer adopts it after this many availability checks' time, even when
// the tie-break (the greater id adopts) says the peer should adopt ours:
// the peer's id is then fixed (given at its creation, or confirmed by an
// earlier incarnation of this half). Time, not exchanges: both halves ask
// and answer, so exchanges come faster than either half's checks, and the
// peer must have had its own checks to adopt first.
const adoptAfter = 3

// peerView is this half's view of its peer (runtime.peer, under rt.mu).
type peerView struct {
	state     string    // "" until the first answer (UNKNOWN)
	at        time.Time // when the peer last answered or asked
	msg       string    // why the state is REMOTE_LINK_NOT_FOUND
	clusterID string
	// mirrors are the peer's mirrors of its half of this name, known
	// (mirrorsKnown) whenever the peer has one, paired or not: a mirror of
	// the peer's half L is a copy of this cluster's data whatever the two
	// halves' ids say, so the loop rules use it as soon as it is known.
	mirrors      []wire.LinkPeerMirror
	mirrorsKnown bool
	// otherID is a link id the peer showed that is not ours, first seen
	// at otherSince (adoptAfter).
	otherID    [16]byte
	otherSince time.Time
	// adoptTo is the peer's id this half is adopting (while
	// runtime.adopting): the id it presents (presentedID).
	adoptTo [16]byte
}

// RemoteLink is a paired half's view of its peer, as link describe shows
// it.
type RemoteLink struct {
	// State is the peer's link state (ACTIVE, PAUSED, FAILED, ...),
	// REMOTE_LINK_NOT_FOUND or UNKNOWN.
	State string
	// Message says why the state is REMOTE_LINK_NOT_FOUND ("" otherwise).
	Message string
	// Time is when the peer last answered or asked (zero while UNKNOWN):
	// a peer that is down keeps its last state with an ageing time.
	Time time.Time
	// ClusterID is the peer's cluster id, as it last said.
	ClusterID string
}

// remote reports a paired half's view of its peer; nil for a kind of half
// that does not pair.
func (rt *runtime) remote() *RemoteLink {
	if !Paired(rt.link.Configs) {
		return nil
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	r := &RemoteLink{State: rt.peer.state, Message: rt.peer.msg, Time: rt.peer.at, ClusterID: rt.peer.clusterID}
	if r.State == "" {
		r.State = RemoteLinkUnknown
	}
	return r
}

// requirePeer fails what needs a paired peer (consumer offset sync of a
// paired kind of half, §2.3) while the halves do not pair.
func (m *Manager) requirePeer(rt *runtime) error {
	if !Paired(rt.link.Configs) {
		return nil
	}
	r := rt.remote()
	switch r.State {
	case RemoteLinkUnknown:
		return usererr.New(ErrRemoteLinkNotFound, "cluster link '%s' has not heard from its peer half yet (remote link state UNKNOWN)", rt.link.Name)
	case RemoteLinkNotFound:
		on := r.ClusterID
		if on == "" {
			on = "the remote cluster"
		} else {
			on = "cluster " + on
		}
		return usererr.New(ErrRemoteLinkNotFound, "Cluster link '%s' has no peer on %s (remote link state REMOTE_LINK_NOT_FOUND): %s", rt.link.Name, on, r.Message)
	}
	return nil
}

// refuseUnpaired refuses an operation on the peer (failback's
// LinkMirrorOp) while the halves are known not to pair (design §2.3: the
// operations answer "Cluster link 'L' has no peer on cluster X (remote
// link state REMOTE_LINK_NOT_FOUND)"). Before the first answer (UNKNOWN)
// the operation goes ahead: the peer checks the link id itself.
func (m *Manager) refuseUnpaired(name string) error {
	rt := m.runtimeOf(name)
	if rt == nil || !Paired(rt.link.Configs) {
		return nil
	}
	if r := rt.remote(); r.State != RemoteLinkNotFound {
		return nil
	}
	return m.requirePeer(rt)
}

// peerAnswer is what one exchange told of the peer: its answer to our
// LinkPeer, or its own LinkPeer request.
type peerAnswer struct {
	found                        bool
	linkID                       [16]byte
	clusterID, mode, conn, state string
	mirrors                      []wire.LinkPeerMirror
	// refused, when set, is why the peer gave no usable answer (an error
	// code, not a Tandem cluster): REMOTE_LINK_NOT_FOUND.
	refused string
}

// clusterLinkID renders a link id as Kafka renders ids (22 characters of
// URL-safe base64), as cluster_link_id shows it.
func clusterLinkID(id [16]byte) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// modesPair says whether a half of mode/conn pairs with a peer of
// theirMode/theirConn: SOURCE with an INBOUND DESTINATION, BIDIRECTIONAL
// with BIDIRECTIONAL (not both INBOUND: nobody would dial).
func modesPair(mode, conn, theirMode, theirConn string) bool {
	switch mode {
	case ModeBidirectional:
		return theirMode == ModeBidirectional && !(conn == ConnInbound && theirConn == ConnInbound)
	case ModeSource:
		return theirMode == ModeDestination && theirConn == ConnInbound
	case ModeDestination:
		return conn == ConnInbound && theirMode == ModeSource && theirConn == ConnOutbound
	}
	return false
}

// pairsWith describes the peers a half of mode/conn pairs with.
func pairsWith(mode, conn string) string {
	switch mode {
	case ModeBidirectional:
		if conn == ConnInbound {
			return "a link.mode=BIDIRECTIONAL, connection.mode=OUTBOUND half"
		}
		return "a link.mode=BIDIRECTIONAL half"
	case ModeSource:
		return "a link.mode=DESTINATION, connection.mode=INBOUND half"
	}
	return "a link.mode=SOURCE, connection.mode=OUTBOUND half"
}

// observePeer records one exchange with the peer: the remote link state
// (§2.3) and, for an id that is not ours, the cluster_link_id rules
// (§2.1): a half whose id is not fixed adopts the peer's (once; the
// greater id adopts the smaller when neither is fixed, and the peer's is
// adopted anyway after adoptAfter checks), a fixed one reports
// the mismatch. A half that finds no peer was created first and fixes its
// own id; one whose peer shows the same id fixes it too.
func (m *Manager) observePeer(rt *runtime, a peerAnswer) {
	name := rt.link.Name
	mode, conn := LinkMode(rt.link.Configs), ConnectionMode(rt.link.Configs)
	var (
		state, msg string
		fix, adopt bool
	)
	rt.mu.Lock()
	v := &rt.peer
	switch {
	case a.refused != "":
		state, msg = RemoteLinkNotFound, a.refused
	case !a.found:
		state = RemoteLinkNotFound
		msg = fmt.Sprintf("cluster link '%s' does not exist on cluster %s: the two halves of a link must have byte-identical names", name, a.clusterID)
		fix = !rt.idFixed
	case !modesPair(mode, conn, a.mode, a.conn):
		state = RemoteLinkNotFound
		msg = fmt.Sprintf("cluster link '%s' on cluster %s is a link.mode=%s, connection.mode=%s half; this half (link.mode=%s, connection.mode=%s) pairs only with %s",
			name, a.clusterID, a.mode, a.conn, mode, conn, pairsWith(mode, conn))
	case a.linkID != rt.link.ID:
		if v.otherID != a.linkID {
			v.otherID, v.otherSince = a.linkID, m.now()
		}
		waited := m.now().Sub(v.otherSince) >= adoptAfter*Millis(rt.link.Configs, "availability.check.ms")
		if !rt.idFixed && !rt.adopting && (bytes.Compare(rt.link.ID[:], a.linkID[:]) > 0 || waited) {
			adopt, rt.adopting, v.adoptTo = true, true, a.linkID
			state = a.state
			break
		}
		if rt.adopting {
			state = a.state // adopting it now
			break
		}
		state = RemoteLinkNotFound
		msg = fmt.Sprintf("cluster link '%s' on cluster %s has id %s, this half has id %s: one of them was re-created; delete and re-create this half with cluster_link_id=%s",
			name, a.clusterID, clusterLinkID(a.linkID), clusterLinkID(rt.link.ID), clusterLinkID(a.linkID))
	default:
		fix = !rt.idFixed
		v.otherID = [16]byte{}
		state = a.state
	}
	if state == "" {
		state = LinkActive
	}
	if state != v.state || msg != v.msg {
		level := m.logger.Info
		if state == RemoteLinkNotFound {
			level = m.logger.Warn
		}
		level("cluster link remote state", "link", name, "remote_link_state", state, "reason", msg)
	}
	v.state, v.msg, v.at = state, msg, m.now()
	if a.clusterID != "" {
		v.clusterID = a.clusterID
	}
	v.mirrors, v.mirrorsKnown = nil, a.found && a.refused == ""
	if v.mirrorsKnown {
		v.mirrors = slices.Clone(a.mirrors)
	}
	rt.mu.Unlock()
	switch {
	case adopt:
		m.adoptLinkID(rt, a.linkID)
	case fix:
		m.fixLinkID(rt)
	}
}

// fixLinkID marks the link's id as fixed (metadata.Link.IDFixed).
func (m *Manager) fixLinkID(rt *runtime) {
	if _, err := m.store.SetLinkID(rt.link.Name, rt.link.ID, rt.link.ID); err != nil {
		m.logger.Warn("recording the cluster link id as confirmed", "link", rt.link.Name, "err", err)
		return
	}
	rt.mu.Lock()
	rt.idFixed = true
	rt.mu.Unlock()
}

// adoptLinkID gives the link its peer's id (persisted with its mirrors'
// binding, metadata SetLinkID) and restarts the link's runtime under it.
func (m *Manager) adoptLinkID(rt *runtime, id [16]byte) {
	name := rt.link.Name
	m.linkIDMu.Lock()
	_, err := m.store.SetLinkID(name, rt.link.ID, id)
	m.linkIDMu.Unlock()
	if err != nil {
		m.logger.Warn("adopting the peer half's cluster link id", "link", name, "err", err)
		rt.mu.Lock()
		rt.adopting, rt.peer.adoptTo = false, [16]byte{}
		rt.mu.Unlock()
		return
	}
	m.logger.Info("cluster link adopted its peer half's cluster_link_id", "link", name,
		"from", clusterLinkID(rt.link.ID), "cluster_link_id", clusterLinkID(id))
	m.restartRuntime(rt)
}

// restartRuntime replaces the runtime rt of a link (if it is still the
// link's) by a new one built from the stored link, keeping its view of
// the peer. The data path keeps running: its mirrors are handed to it
// again by the new runtime's recovery.
func (m *Manager) restartRuntime(rt *runtime) {
	name := rt.link.Name
	m.mu.Lock()
	if m.links[name] != rt {
		m.mu.Unlock()
		return
	}
	delete(m.links, name)
	m.mu.Unlock()
	rt.stop()
	rt.mu.Lock()
	view := rt.peer
	rt.mu.Unlock()
	view.otherID, view.adoptTo = [16]byte{}, [16]byte{}
	l, ok := m.store.Link(name)
	if !ok {
		return
	}
	if err := m.startLink(l); err != nil {
		m.logger.Error("restarting cluster link", "link", name, "err", err)
		return
	}
	if nrt := m.runtimeOf(name); nrt != nil {
		nrt.mu.Lock()
		if nrt.peer.state == "" {
			nrt.peer = view
		}
		nrt.mu.Unlock()
	}
}

// halfMirrors lists this half's mirrors of link, as LinkPeer carries them.
func (m *Manager) halfMirrors(link string) []wire.LinkPeerMirror {
	var out []wire.LinkPeerMirror
	for _, t := range m.mirrorsOf(link) {
		out = append(out, wire.LinkPeerMirror{Topic: t.Name, SourceTopic: t.Mirror.SourceTopic, State: string(t.Mirror.State), TopicID: t.ID})
	}
	return out
}

// presentedID is the link id this half shows its peer (in LinkPeer
// requests and answers): the peer's id once it has decided to adopt it,
// though the store and the runtime still hold the old one until
// adoptLinkID is done. Else a peer whose own id is the smaller would keep
// seeing ours during a slow adoption and, after adoptAfter checks, adopt
// it: each half would end with the other's old id, both fixed, and never
// pair again (§2.1).
func (rt *runtime) presentedID() [16]byte {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.adopting {
		return rt.peer.adoptTo
	}
	return rt.link.ID
}

// peerRequest is this half's view of the link, as LinkPeer asks it.
func (m *Manager) peerRequest(rt *runtime) *wire.LinkPeerRequest {
	return &wire.LinkPeerRequest{LinkName: rt.link.Name, LinkID: rt.presentedID(), ClusterID: m.cluster.ClusterID(),
		LinkMode: LinkMode(rt.link.Configs), ConnectionMode: ConnectionMode(rt.link.Configs),
		LinkState: rt.currentState(), Mirrors: m.halfMirrors(rt.link.Name)}
}

// testPeers, set by tests only, replaces peerFor for a Manager (*Manager →
// func(link string) (peerCaller, error)): a fake caller that calls the
// other Manager directly. A sync.Map, not a field, so that a test can set
// it while the Manager's tasks run.
var testPeers sync.Map

// peerCaller is how this half reaches its peer: peerFor, or a test's fake.
func (m *Manager) peerCaller(name string) (peerCaller, error) {
	if f, ok := testPeers.Load(m); ok {
		return f.(func(string) (peerCaller, error))(name)
	}
	return m.peerFor(name)
}

// notTandem says whether a LinkPeer failure means the peer does not know
// the request (a non-Tandem or older cluster): franz-go refuses to send a
// request the broker's ApiVersions did not list.
func notTandem(err error) bool {
	return errors.Is(err, kerr.UnsupportedVersion) || strings.Contains(err.Error(), "broker is too old")
}

// askPeer sends LinkPeer to the peer half and records the answer. A peer
// that cannot be reached leaves the last view as it was (its time ages,
// §2.3); the availability check reports the connection itself.
func (m *Manager) askPeer(ctx context.Context, rt *runtime) {
	if !Paired(rt.link.Configs) {
		return
	}
	pc, err := m.peerCaller(rt.link.Name)
	if err != nil {
		return // an INBOUND half whose peer has not dialed in
	}
	cctx, cancel := context.WithTimeout(ctx, min(Millis(rt.link.Configs, "availability.check.ms"), Millis(rt.link.Configs, "request.timeout.ms")))
	defer cancel()
	resp, err := pc.LinkPeer(cctx, m.peerRequest(rt))
	if ctx.Err() != nil {
		return
	}
	switch {
	case err != nil && notTandem(err):
		m.observePeer(rt, peerAnswer{refused: fmt.Sprintf("the remote cluster does not answer LinkPeer (%v): it is not a Tandem cluster, or too old a one; mirroring keeps working, pairing does not", err)})
	case err != nil:
		m.logger.Debug("asking the peer half", "link", rt.link.Name, "err", err)
	case resp.ErrorCode != 0:
		why := kerr.ErrorForCode(resp.ErrorCode).Error()
		if resp.ErrorMessage != nil && *resp.ErrorMessage != "" {
			why += ": " + *resp.ErrorMessage
		}
		m.observePeer(rt, peerAnswer{clusterID: resp.ClusterID, refused: "the remote cluster refused LinkPeer: " + why})
	default:
		m.observePeer(rt, peerAnswer{found: resp.Found, linkID: resp.LinkID, clusterID: resp.ClusterID, mode: resp.LinkMode,
			conn: resp.ConnectionMode, state: resp.LinkState, mirrors: resp.Mirrors})
	}
}

// peerUnknown says whether a paired kind of half has not heard from its
// peer yet (remote link state UNKNOWN).
func (rt *runtime) peerUnknown() bool {
	if !Paired(rt.link.Configs) {
		return false
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.peer.state == ""
}

// peerMirrorSet is the peer's mirrors of this link that are still
// mirrors (not STOPPED: a stopped mirror is an ordinary, writable topic),
// asked afresh when fresh is set; ok is false when the peer has not told
// them (no answer, no half of this name there, not a Tandem cluster:
// then the loop rules fall back to what can be seen without the peer,
// loops.go).
func (m *Manager) peerMirrorSet(ctx context.Context, rt *runtime, fresh bool) (set map[string]bool, ok bool) {
	if rt == nil || !Paired(rt.link.Configs) {
		return nil, false
	}
	if fresh {
		m.askPeer(ctx, rt)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if !rt.peer.mirrorsKnown {
		return nil, false
	}
	set = map[string]bool{}
	for _, mi := range rt.peer.mirrors {
		if mi.State != string(MirrorStopped) {
			set[mi.Topic] = true
		}
	}
	return set, true
}

// probePeerID asks the peer, at link creation, for the id of its half of
// this name (a probe: the peer does not record it). It returns the zero
// id when the peer has no such half or does not answer LinkPeer.
func (m *Manager) probePeerID(ctx context.Context, pc peerCaller, name string, configs map[string]string) ([16]byte, string) {
	resp, err := pc.LinkPeer(ctx, &wire.LinkPeerRequest{LinkName: name, ClusterID: m.cluster.ClusterID(),
		LinkMode: LinkMode(configs), ConnectionMode: ConnectionMode(configs)})
	if err != nil || resp.ErrorCode != 0 || !resp.Found {
		return [16]byte{}, ""
	}
	return resp.LinkID, resp.ClusterID
}

// pairAtCreate asks the peer of a paired half being created (with
// validation) for the id of its half of the name: a given
// cluster_link_id must be it; without one the new half takes it.
func (m *Manager) pairAtCreate(ctx context.Context, name string, configs map[string]string, cl *kgo.Client, o *createOptions) error {
	if ConnectionMode(configs) != ConnOutbound {
		return nil // an INBOUND half is dialed: its peer is asked once it is
	}
	var pc peerCaller = kgoPeer{cl}
	if f, ok := testPeers.Load(m); ok {
		var err error
		if pc, err = f.(func(string) (peerCaller, error))(name); err != nil {
			return nil
		}
	}
	id, on := m.probePeerID(ctx, pc, name, configs)
	switch {
	case id == [16]byte{}:
		return nil // no half of this name there yet: this one is the first
	case o.linkID == [16]byte{}:
		o.linkID = id
	case o.linkID != id:
		return usererr.New(ErrSourceCluster, "cluster link '%s' on cluster %s has id %s, not the cluster_link_id given (%s); give its id, or none",
			name, on, clusterLinkID(id), clusterLinkID(o.linkID))
	}
	return nil
}

// fixedLinkID is the link's id once it is fixed (given at creation,
// adopted from the peer or confirmed by it: metadata.Link.IDFixed), else
// zero: what a half that must not impose a provisional id sends (a SOURCE
// half's LinkReverse, design §2.1).
func (rt *runtime) fixedLinkID() [16]byte {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if !rt.idFixed {
		return [16]byte{}
	}
	return rt.link.ID
}
