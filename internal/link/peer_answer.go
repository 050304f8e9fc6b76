package link

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tandem-streaming/tandem/internal/wire"
)

// LinkPeer answers a peer half's LinkPeer request (the broker has checked
// the caller may DESCRIBE the cluster).
func (m *Manager) LinkPeer(ctx context.Context, req *wire.LinkPeerRequest) *wire.LinkPeerResponse {
	msg := "LinkPeer is not answered yet"
	return &wire.LinkPeerResponse{Version: req.Version, ErrorCode: kerr.UnsupportedVersion.Code, ErrorMessage: &msg}
}
