package link

import (
	"context"

	"github.com/tandem-streaming/tandem/internal/wire"
)

// LinkPeer answers a peer half's LinkPeer request (the broker has checked
// the caller may DESCRIBE the cluster): the half of that name, if any,
// with its id, modes, state and mirrors. The request is the asker's view
// of the link and is recorded as this half's view of its peer (§3.4). A
// request with no link id is a probe (a half being created, CreateLink):
// answered, not recorded.
func (m *Manager) LinkPeer(ctx context.Context, req *wire.LinkPeerRequest) *wire.LinkPeerResponse {
	resp := &wire.LinkPeerResponse{Version: req.Version}
	if m == nil {
		return resp // linking is disabled here: no half of any name
	}
	resp.ClusterID = m.cluster.ClusterID()
	rt := m.runtimeOf(req.LinkName)
	if rt != nil && Paired(rt.link.Configs) && req.LinkID != ([16]byte{}) {
		m.observePeer(rt, peerAnswer{found: true, linkID: req.LinkID, clusterID: req.ClusterID, mode: req.LinkMode,
			conn: req.ConnectionMode, state: req.LinkState, mirrors: req.Mirrors})
	}
	l, ok := m.store.Link(req.LinkName)
	if !ok {
		return resp
	}
	resp.Found, resp.LinkID = true, l.ID
	if rt != nil && rt.link.ID == l.ID {
		// Adopting the asker's id: show it already (presentedID).
		resp.LinkID = rt.presentedID()
	}
	resp.LinkMode, resp.ConnectionMode = LinkMode(l.Configs), ConnectionMode(l.Configs)
	resp.Mirrors = m.halfMirrors(l.Name)
	resp.LinkState = LinkUnavailable
	if rt := m.runtimeOf(l.Name); rt != nil {
		resp.LinkState = rt.currentState()
	} else if m.startFailure(l.Name) != nil {
		resp.LinkState = LinkFailed
	}
	return resp
}
