package link

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/tandem-streaming/tandem/internal/wire"
)

// Test hooks for the external link_test package (two real brokers).

// DirectPeer is a peerCaller that calls another Manager's answers
// directly, standing in for the private requests' wire transport; Down
// makes it fail as an unreachable peer would.
type DirectPeer struct {
	M      *Manager
	Down   atomic.Bool
	before atomic.Pointer[func()]
}

// SetBefore makes f (nil: nothing) run before each LinkMirrorOp.
func (p *DirectPeer) SetBefore(f func()) {
	if f == nil {
		p.before.Store(nil)
		return
	}
	p.before.Store(&f)
}

var errTestPeerDown = errors.New("dial tcp 127.0.0.1:1: connect: connection refused (test)")

func (p *DirectPeer) LinkPeer(ctx context.Context, req *wire.LinkPeerRequest) (*wire.LinkPeerResponse, error) {
	if p.Down.Load() {
		return nil, errTestPeerDown
	}
	return p.M.LinkPeer(ctx, req), nil
}

func (p *DirectPeer) LinkMirrorOp(ctx context.Context, req *wire.LinkMirrorOpRequest) (*wire.LinkMirrorOpResponse, error) {
	if f := p.before.Load(); f != nil {
		(*f)()
	}
	if p.Down.Load() {
		return nil, errTestPeerDown
	}
	return p.M.LinkMirrorOp(ctx, req), nil
}

// SetTestPeer makes m reach the peer half of every link through p.
func SetTestPeer(m *Manager, p *DirectPeer) {
	testPeers.Store(m, func(string) (peerCaller, error) { return p, nil })
}

// CrashBeforeReverse makes m's next reverse of topic stop right before
// it persists PENDING_STOPPED (as a crash there would), once.
func CrashBeforeReverse(m *Manager, topic string) {
	var once atomic.Bool
	m.testCrashBefore = func(name string, ev mirrorEvent, e mirrorEffect) bool {
		return name == topic && (ev == evReverseStart || ev == evReversePause) && e == effPersist && once.CompareAndSwap(false, true)
	}
}

// BeforeRestoreTruncate calls f before a restore truncates each partition
// (the topic is PENDING_RESTORE then; earlier partitions are truncated).
func BeforeRestoreTruncate(m *Manager, f func(topic string, p int32)) {
	m.testCrashRestore = func(topic string, p int32) bool { f(topic, p); return false }
}
