package link

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tandem-streaming/tandem/internal/wire"
)

// LinkMirrorOp executes a peer half's LinkMirrorOp request on this
// cluster's topics (the broker has checked the caller may ALTER the
// cluster).
func (m *Manager) LinkMirrorOp(ctx context.Context, req *wire.LinkMirrorOpRequest) *wire.LinkMirrorOpResponse {
	msg := "LinkMirrorOp is not answered yet"
	return &wire.LinkMirrorOpResponse{Version: req.Version, ErrorCode: kerr.UnsupportedVersion.Code, ErrorMessage: &msg}
}
