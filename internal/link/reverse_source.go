package link

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/usererr"
	"github.com/tandem-streaming/tandem/internal/wire"
)

// The SOURCE half of a source-initiated link (docs/source-initiated-links.md):
// it dials the destination with the link's security, reverses the
// connection with LinkReverse CONTROL, then answers the destination's
// requests on it — DIAL (open a data connection: to one of this cluster's
// brokers with local.* security, and to the destination), PING, LinkPeer
// and LinkMirrorOp — and relays each data connection's requests, the few a
// destination link needs, to its own broker.

// dialsIn says whether a half of this kind opens reversed connections to
// its peer: a SOURCE half, and an OUTBOUND BIDIRECTIONAL half (whose peer
// may be INBOUND, design §4; it stops when the peer says it is not).
func dialsIn(configs map[string]string) bool {
	switch LinkMode(configs) {
	case ModeSource:
		return true
	case ModeBidirectional:
		return ConnectionMode(configs) == ConnOutbound
	}
	return false
}

// sourceHalf is the dialing side of a SOURCE half (or of an OUTBOUND
// BIDIRECTIONAL half: bidi).
type sourceHalf struct {
	bidi   bool
	m      *Manager
	rt     *runtime
	name   string
	addrs  []string // bootstrap.servers: the destination's listeners
	local  security // local.*: how this half reads its own cluster
	target string   // local.listener.name ("" for the first listener)

	setup               time.Duration // socket.connection.setup.timeout.ms
	backoff, backoffMax time.Duration
	reqTimeout          time.Duration
	heartbeat           time.Duration // until the destination says
	logger              *slog.Logger

	mu sync.Mutex
	// up counts the control sessions that are up (pinged at least once):
	// several while one is renewed (KIP-368) or with one per destination
	// broker (design §3.3).
	up      int
	peer    string // the destination's cluster id, from the last session
	lastErr error
	conns   map[net.Conn]struct{} // control and relayed connections
	stopped bool
	// brokers are the addresses of this cluster's brokers on the local
	// listener, as its Metadata last said: the only ones a DIAL may
	// name (allowedTarget).
	brokers map[string]bool

	// Several destination brokers (design §3.3): keepers holds one
	// session keeper per destination broker the destination listed, once
	// it listed more than one (or sent this half elsewhere); with none,
	// the bootstrap keeper (run) keeps the one session. While a keeper
	// can reach its broker, the bootstrap keeper does not dial (it would
	// replace a keeper's session); changed wakes it.
	keepCtx context.Context
	keepers map[int32]*keeper
	changed chan struct{}
	kwg     sync.WaitGroup
}

// keeper keeps a control session to one destination broker.
type keeper struct {
	node   int32
	addr   string
	cancel context.CancelFunc
	// failures counts attempts without a session since the last one
	// (s.mu): a keeper that failed keeperFailures times in a row no
	// longer holds the bootstrap keeper back (a listed address this
	// cluster cannot reach, where the configured one works).
	failures int
}

const keeperFailures = 3

func (m *Manager) newSourceHalf(rt *runtime) (*sourceHalf, error) {
	c := rt.link.Configs
	local, err := parseSecurity(localConfigs(c))
	if err != nil {
		return nil, usererr.New(ErrInvalidConfig, "cluster link '%s': invalid local.* configs: %v", rt.link.Name, err)
	}
	s := &sourceHalf{bidi: LinkMode(c) == ModeBidirectional, m: m, rt: rt, name: rt.link.Name, local: local, target: strings.TrimSpace(Value(c, "local.listener.name")),
		setup: Millis(c, "socket.connection.setup.timeout.ms"), backoff: Millis(c, "reconnect.backoff.ms"),
		backoffMax: Millis(c, "reconnect.backoff.max.ms"), reqTimeout: Millis(c, "request.timeout.ms"),
		heartbeat: Millis(c, "availability.check.ms"), logger: m.logger.With("link", rt.link.Name),
		conns: map[net.Conn]struct{}{}, keepers: map[int32]*keeper{}, changed: make(chan struct{}, 1)}
	for _, a := range strings.Split(Value(c, "bootstrap.servers"), ",") {
		if a = strings.TrimSpace(a); a != "" {
			s.addrs = append(s.addrs, a)
		}
	}
	if len(s.addrs) == 0 {
		return nil, usererr.New(ErrInvalidConfig, "cluster link '%s': a link.mode=SOURCE half needs bootstrap.servers (the destination's listeners)", rt.link.Name)
	}
	if s.target != "" && len(m.rev.listeners) > 0 && m.ownAddr(s.target) == "" {
		names := make([]string, len(m.rev.listeners))
		for i, l := range m.rev.listeners {
			names[i] = l.Name
		}
		return nil, usererr.New(ErrInvalidConfig, "invalid cluster link config local.listener.name=%s: this broker has no such listener (its listeners: %s)",
			s.target, strings.Join(names, ", "))
	}
	return s, nil
}

// track registers a connection to close when the half stops; false when
// it already stopped (the connection is closed).
func (s *sourceHalf) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		_ = c.Close()
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *sourceHalf) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	_ = c.Close()
}

// stop closes the control and relayed connections (the link was deleted,
// changed or the broker stops); run's context is cancelled by the caller.
func (s *sourceHalf) stop() {
	s.mu.Lock()
	s.stopped = true
	conns := s.conns
	s.conns = map[net.Conn]struct{}{}
	s.mu.Unlock()
	for c := range conns {
		_ = c.Close()
	}
}

func (s *sourceHalf) status() (up bool, peer string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.up > 0, s.peer, s.lastErr
}

// signal wakes the bootstrap keeper (s.mu held or not).
func (s *sourceHalf) signal() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// run keeps control sessions up until ctx ends: the bootstrap keeper
// (keep with no broker) and, when the destination lists several brokers,
// one keeper per broker (setBrokers).
func (s *sourceHalf) run(ctx context.Context) {
	if s.bidi && !s.peerInbound(ctx) {
		return
	}
	s.mu.Lock()
	s.keepCtx = ctx
	s.mu.Unlock()
	defer s.kwg.Wait()
	s.keep(ctx, nil)
}

// setBrokers applies the destination's list of brokers that run work of
// the link (a LinkReverse answer, each PING; design §3.3): one keeper per
// listed broker, dialing it directly; a broker no longer listed loses its
// keeper and session. One broker listed while no keeper runs leaves the
// bootstrap session alone (it is that broker's, reached by the configured
// address, which may be a proxy's or a load balancer's), unless moveOn:
// the broker dialed does not host the link (NOT_LEADER_OR_FOLLOWER). An
// empty list changes nothing.
func (s *sourceHalf) setBrokers(list []wire.LinkReverseBroker, moveOn bool) {
	if len(list) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || s.keepCtx == nil || s.keepCtx.Err() != nil {
		return
	}
	if len(list) == 1 && len(s.keepers) == 0 && !moveOn {
		return
	}
	want := make(map[int32]string, len(list))
	for _, b := range list {
		want[b.NodeID] = net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
	}
	for id, k := range s.keepers {
		if a, ok := want[id]; !ok || a != k.addr {
			s.logger.Info("source-initiated link: the destination no longer lists a broker; closing its control session", "broker", id, "destination", k.addr)
			k.cancel()
			delete(s.keepers, id)
		}
	}
	for id, a := range want {
		if s.keepers[id] != nil {
			continue
		}
		ctx, cancel := context.WithCancel(s.keepCtx)
		k := &keeper{node: id, addr: a, cancel: cancel}
		s.keepers[id] = k
		s.logger.Info("source-initiated link: the destination lists a broker; opening a control session to it", "broker", id, "destination", a)
		s.kwg.Add(1)
		go func() {
			defer s.kwg.Done()
			defer cancel()
			s.keep(ctx, k)
		}()
	}
	s.signal()
}

// keeperAddrs lists the destination brokers this half keeps a session to
// (node id → address; empty while the bootstrap session is the only one).
func (s *sourceHalf) keeperAddrs() map[int32]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int32]string, len(s.keepers))
	for id, k := range s.keepers {
		out[id] = k.addr
	}
	return out
}

// waitKeepers blocks the bootstrap keeper while a broker keeper reaches
// its broker; false when ctx ended.
func (s *sourceHalf) waitKeepers(ctx context.Context) bool {
	for {
		s.mu.Lock()
		held := false
		for _, k := range s.keepers {
			held = held || k.failures < keeperFailures
		}
		s.mu.Unlock()
		if !held {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-s.changed:
		}
	}
}

// keep keeps one control session up until ctx ends: to broker k, or
// (k nil, the bootstrap keeper) to the destination's configured addresses
// in turn while no broker keeper has a session. It backs off from
// reconnect.backoff.ms to reconnect.backoff.max.ms (±20%) between failed
// attempts, each session with a new id (design §3.3), and opens the next
// session at once when the current one nears the end of its SASL session
// lifetime (KIP-368: renewed, the old one still serving meanwhile).
func (s *sourceHalf) keep(ctx context.Context, k *keeper) {
	wait := s.backoff
	logged := "" // the last failure logged at WARN: the same one again is DEBUG
	for i := 0; ctx.Err() == nil; {
		if k == nil && !s.waitKeepers(ctx) {
			return
		}
		addr := s.addrs[i%len(s.addrs)]
		if k != nil {
			addr = k.addr
		}
		established, renewed, err := s.session(ctx, addr)
		if ctx.Err() != nil {
			return
		}
		if renewed {
			wait, logged = s.backoff, ""
			s.logger.Info("source-initiated link: renewing the control session before its SASL session lifetime ends", "destination", addr)
			continue
		}
		i++
		s.mu.Lock()
		s.lastErr = err
		if k != nil {
			if established {
				k.failures = 0
			} else {
				k.failures++
			}
		}
		s.mu.Unlock()
		s.signal()
		switch {
		case established:
			wait, logged = s.backoff, ""
			s.logger.Info("source-initiated link: control session to the destination ended; reconnecting", "destination", addr, "err", err)
		case k == nil && s.bidi && errors.Is(err, errPeerOutbound):
			// The peer bidirectional half dials this cluster itself:
			// nothing to reverse.
			s.logger.Info("bidirectional link: the peer half is connection.mode=OUTBOUND; no reversed connection is needed", "peer", addr)
			s.mu.Lock()
			s.lastErr = nil
			s.mu.Unlock()
			return
		default:
			if msg := err.Error(); msg != logged {
				s.logger.Warn("source-initiated link: cannot open a control session to the destination", "destination", addr, "err", err)
				logged = msg
			} else {
				s.logger.Debug("source-initiated link: cannot open a control session to the destination", "destination", addr, "err", err)
			}
			if errors.Is(err, errRefused) {
				// The destination refused this half (no such link, ids or
				// clusters that do not pair): that does not heal quickly.
				wait = s.backoffMax
			}
		}
		if sleepCtx(ctx, time.Duration(float64(wait)*(0.8+0.4*rand.Float64()))) != nil {
			return
		}
		if !established {
			wait = min(wait*2, max(s.backoffMax, s.backoff))
		}
	}
}

// peerInbound waits until an OUTBOUND bidirectional half's peer answers
// LinkPeer (over the half's own client) and says whether that peer is
// INBOUND: only then does this half open reversed connections to it. A
// peer that is not Tandem is never sent LinkReverse.
func (s *sourceHalf) peerInbound(ctx context.Context) bool {
	every := Millis(s.rt.link.Configs, "availability.check.ms")
	for {
		pc, err := s.m.peerCaller(s.name)
		if err == nil {
			cctx, cancel := context.WithTimeout(ctx, min(every, s.reqTimeout))
			var resp *wire.LinkPeerResponse
			resp, err = pc.LinkPeer(cctx, &wire.LinkPeerRequest{LinkName: s.name, ClusterID: s.m.cluster.ClusterID(),
				LinkMode: ModeBidirectional, ConnectionMode: ConnOutbound})
			cancel()
			switch {
			case err != nil && notTandem(err):
				return false
			case err == nil && resp.ErrorCode == 0 && resp.Found:
				return resp.ConnectionMode == ConnInbound
			}
		}
		if sleepCtx(ctx, every) != nil {
			return false
		}
	}
}

// errRefused: the destination answered LinkReverse with an error;
// errPeerOutbound, with INVALID_CONFIG: its half is not INBOUND;
// errNotHosting, with NOT_LEADER_OR_FOLLOWER: that broker does not run
// the link (its answer lists those that do, design §3.3).
var (
	errRefused      = errors.New("the destination refused the control session")
	errPeerOutbound = errors.New("the peer half is not connection.mode=INBOUND")
	errNotHosting   = errors.New("the destination broker does not run the link")
)

// sourceLinkID is the cluster_link_id a SOURCE half sends: its id once it
// is fixed (given at creation or confirmed by pairing, metadata
// Link.IDFixed), else zero, which the destination takes as "not known
// yet": pairing (pairing.go, over LinkPeer on the session) then adopts one
// of the two (design §2.1).
func (m *Manager) sourceLinkID(rt *runtime) [16]byte {
	if l, ok := m.store.Link(rt.link.Name); ok && l.IDFixed {
		return l.ID
	}
	return [16]byte{}
}

// session opens one control session to addr (a keeper's broker, or a
// bootstrap address) and serves it until it ends.
// established says whether the destination accepted it; renewed, that it
// returned early, near the end of the SASL session lifetime the
// destination gave (renewAfter, KIP-368), while the session goes on
// serving until the destination replaces it with the next one or closes
// it at its expiry.
func (s *sourceHalf) session(ctx context.Context, addr string) (established, renewed bool, err error) {
	k, err := connectAuthenticated(ctx, addr, s.rt.sec, s.setup)
	if err != nil {
		if aerr, ok := authFailure(err, s.rt.sec, nil); ok {
			return false, false, aerr
		}
		return false, false, fmt.Errorf("connecting to the destination at %s: %w", addr, err)
	}
	if !s.track(k.conn) {
		return false, false, ctx.Err()
	}
	handedOff := false
	defer func() {
		if !handedOff {
			s.untrack(k.conn)
		}
	}()
	sid := newSessionID()
	own := s.m.cluster.ClusterID()
	rctx, cancel := context.WithTimeout(ctx, s.reqTimeout)
	resp, err := k.linkReverse(rctx, &wire.LinkReverseRequest{LinkName: s.name, LinkID: s.m.sourceLinkID(s.rt),
		ClusterID: own, Role: wire.LinkReverseControl, SessionID: sid})
	cancel()
	if err != nil {
		return false, false, fmt.Errorf("LinkReverse with the destination at %s: %w", addr, err)
	}
	if resp.ErrorCode != 0 {
		msg := kerr.ErrorForCode(resp.ErrorCode).Error()
		if resp.ErrorMessage != nil {
			msg = *resp.ErrorMessage
		}
		if resp.ErrorCode == kerr.NotLeaderForPartition.Code {
			// Design §3.3: move on to the brokers that run the link.
			s.setBrokers(resp.Brokers, true)
			return false, false, fmt.Errorf("%w: %s (at %s; it lists %d broker(s) that do)", errNotHosting, msg, addr, len(resp.Brokers))
		}
		// No half there pairs with this one (no such link, not INBOUND,
		// another link id): its remote link state says so (design §2.3).
		if resp.ErrorCode == kerr.InvalidConfig.Code {
			if s.bidi {
				// Its own LinkPeer exchanges tell the remote link state.
				return false, false, fmt.Errorf("%w: %w: %s", errRefused, errPeerOutbound, msg)
			}
		}
		s.m.observePeer(s.rt, peerAnswer{clusterID: resp.ClusterID, refused: "the destination refused the connection: " + msg})
		return false, false, fmt.Errorf("%w: %s (at %s)", errRefused, msg, addr)
	}
	if resp.ClusterID == own {
		return false, false, fmt.Errorf("%w: the destination at %s is this cluster (%s)", errRefused, addr, own)
	}
	if l, ok := s.m.store.Link(s.name); ok && l.SourceClusterID != "" && l.SourceClusterID != resp.ClusterID {
		return false, false, fmt.Errorf("%w: the destination at %s is cluster %s, this half is paired with %s", errRefused, addr, resp.ClusterID, l.SourceClusterID)
	} else if ok && l.SourceClusterID == "" {
		s.m.recordPeerCluster(s.name, resp.ClusterID)
	}
	heartbeat := s.heartbeat
	if resp.HeartbeatMillis > 0 {
		heartbeat = time.Duration(resp.HeartbeatMillis) * time.Millisecond
	}
	s.mu.Lock()
	s.peer = resp.ClusterID
	s.mu.Unlock()
	s.logger.Info("source-initiated link: control session up", "destination", addr, "destination_cluster_id", resp.ClusterID,
		"session", fmtUUID(sid), "heartbeat", heartbeat, "lifetime", k.lifetime)
	handedOff = true
	done := make(chan error, 1)
	go func() {
		defer s.untrack(k.conn)
		done <- s.serve(ctx, k.buffered(), sid, addr, heartbeat)
	}()
	s.setBrokers(resp.Brokers, false)
	var renew <-chan time.Time
	if k.lifetime > 0 {
		// KIP-368 (design §3.3): this side cannot re-authenticate a
		// reversed connection; the next session takes over before the
		// destination closes this one at the end of its lifetime.
		t := time.NewTimer(renewAfter(k.lifetime, s.setup))
		defer t.Stop()
		renew = t.C
	}
	select {
	case err := <-done:
		return true, false, err
	case <-renew:
		return true, true, nil
	}
}

// renewAfter is when a control session of the given SASL session
// lifetime is renewed (KIP-368, design §3.3): at 90% of it, as Kafka's
// clients re-authenticate, but early enough that a whole set-up (bounded
// by socket.connection.setup.timeout.ms) fits before the end — and never
// before half of it, so a short lifetime is not renewed in a loop.
func renewAfter(lifetime, setup time.Duration) time.Duration {
	return max(min(lifetime*9/10, lifetime-setup), lifetime/2)
}

// serve answers the destination's requests on a reversed control
// connection until it ends, or until it has not been pinged for 3
// heartbeat periods (a NAT that dropped the flow silently, design §3.3).
// Answers go out as they are ready, matched by correlation id.
func (s *sourceHalf) serve(ctx context.Context, conn net.Conn, sid [16]byte, addr string, heartbeat time.Duration) error {
	var lastPing atomic.Int64
	lastPing.Store(time.Now().UnixNano())
	var whyMu sync.Mutex
	var why error // the first reason the connection was ended here
	end := func(err error) {
		whyMu.Lock()
		if why == nil {
			why = err
		}
		whyMu.Unlock()
		_ = conn.Close()
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(heartbeat)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				end(ctx.Err())
				return
			case <-t.C:
				if since := time.Since(time.Unix(0, lastPing.Load())); since > 3*heartbeat {
					end(fmt.Errorf("not pinged for %v (3 heartbeats of %v)", since.Round(time.Millisecond), heartbeat))
					return
				}
			}
		}
	}()
	var wmu sync.Mutex
	counted := false // this session counts in s.up
	var inflight sync.WaitGroup
	defer inflight.Wait()
	rd := bufio.NewReader(conn)
	for {
		frame, err := wire.ReadFrame(rd, revMaxFrame)
		if err != nil {
			whyMu.Lock()
			defer whyMu.Unlock()
			if why != nil {
				return why
			}
			return err
		}
		h, body, err := wire.ParseHeader(frame)
		if err != nil {
			end(err)
			continue
		}
		if h.Key == wire.LinkReverseKey {
			lastPing.Store(time.Now().UnixNano())
			// Up from the destination's first request (a PING at once):
			// it has registered the session, so its clients can dial.
			if !counted {
				counted = true
				s.mu.Lock()
				s.up++
				s.lastErr = nil
				s.mu.Unlock()
				// Report ACTIVE now, not at the next check.
				s.rt.pokeTask(TaskAvailabilityCheck)
				defer func() {
					s.mu.Lock()
					s.up--
					s.mu.Unlock()
				}()
			}
		}
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			resp, err := s.answer(ctx, h, body, sid, addr)
			if err != nil {
				s.logger.Warn("source-initiated link: closing the control session: bad request from the destination", "destination", addr, "api_key", h.Key, "err", err)
				end(err)
				return
			}
			out := wire.AppendResponse(nil, h.CorrelationID, resp)
			wmu.Lock()
			defer wmu.Unlock()
			_ = conn.SetWriteDeadline(time.Now().Add(s.reqTimeout))
			if _, err := conn.Write(out); err != nil {
				end(err)
			}
		}()
	}
}

// answer answers one request of the destination on a control session.
func (s *sourceHalf) answer(ctx context.Context, h wire.Header, body []byte, sid [16]byte, addr string) (kmsg.Response, error) {
	if !wire.IsLinkAPIKey(h.Key) {
		return nil, fmt.Errorf("request %s (key %d) is not one a destination sends on a control session", kmsg.NameForKey(h.Key), h.Key)
	}
	r, err := wire.DecodeRequest(h, body)
	if err != nil {
		return nil, err
	}
	switch req := r.(type) {
	case *wire.LinkReverseRequest:
		switch req.Role {
		case wire.LinkReversePing:
			s.setBrokers(req.Brokers, false)
			return &wire.LinkReverseResponse{Version: h.Version, ClusterID: s.m.cluster.ClusterID()}, nil
		case wire.LinkReverseDial:
			return s.dial(ctx, sid, addr, req), nil
		}
		return nil, fmt.Errorf("LinkReverse role %d on a control session", req.Role)
	case *wire.LinkPeerRequest:
		return s.m.LinkPeer(ctx, req), nil
	case *wire.LinkMirrorOpRequest:
		return s.m.LinkMirrorOp(ctx, req), nil
	}
	return nil, fmt.Errorf("request key %d on a control session", h.Key)
}

// dial answers a DIAL: connect to this cluster's broker with local.*
// security, then to the destination with the link's, offer that
// connection as the dial's data connection, and relay it. The answer is
// sent once the data connection was offered, or with why it could not be.
func (s *sourceHalf) dial(ctx context.Context, sid [16]byte, ctrlAddr string, req *wire.LinkReverseRequest) *wire.LinkReverseResponse {
	resp := &wire.LinkReverseResponse{Version: req.Version, ClusterID: s.m.cluster.ClusterID()}
	fail := func(err error) *wire.LinkReverseResponse {
		msg := err.Error()
		resp.ErrorCode, resp.ErrorMessage = kerr.NetworkException.Code, &msg
		s.logger.Warn("source-initiated link: cannot open a data connection for the destination", "dial_id", req.DialID, "broker", net.JoinHostPort(req.Host, strconv.Itoa(int(req.Port))), "err", err)
		return resp
	}
	target := net.JoinHostPort(req.Host, strconv.Itoa(int(req.Port)))
	if req.Host == revSeedHost {
		// The destination's clients have no bootstrap of their own:
		// their seed is this cluster's listener (local.listener.name).
		if target = s.m.ownAddr(s.target); target == "" {
			return fail(fmt.Errorf("this broker has no Kafka listener named %q (local.listener.name)", s.target))
		}
	}
	if req.Host != revSeedHost {
		if err := s.allowedTarget(ctx, target); err != nil {
			return fail(err)
		}
	}
	local, err := connectAuthenticated(ctx, target, s.local, s.setup)
	if err != nil {
		return fail(fmt.Errorf("connecting to this cluster's broker %s with the local.* security: %w", target, err))
	}
	remote, err := connectAuthenticated(ctx, ctrlAddr, s.rt.sec, s.setup)
	if err != nil {
		_ = local.conn.Close()
		return fail(fmt.Errorf("connecting to the destination at %s: %w", ctrlAddr, err))
	}
	rctx, cancel := context.WithTimeout(ctx, s.reqTimeout)
	dr, err := remote.linkReverse(rctx, &wire.LinkReverseRequest{LinkName: s.name, LinkID: s.m.sourceLinkID(s.rt),
		ClusterID: s.m.cluster.ClusterID(), Role: wire.LinkReverseData, SessionID: sid, DialID: req.DialID})
	cancel()
	if err == nil && dr.ErrorCode != 0 {
		err = kerr.ErrorForCode(dr.ErrorCode)
		if dr.ErrorMessage != nil {
			err = fmt.Errorf("%s: %w", *dr.ErrorMessage, err)
		}
	}
	if err != nil {
		_ = local.conn.Close()
		_ = remote.conn.Close()
		return fail(fmt.Errorf("offering the data connection: %w", err))
	}
	lc, rc := local.buffered(), remote.buffered()
	if !s.track(lc) || !s.track(rc) {
		_ = lc.Close()
		_ = rc.Close()
		return fail(errors.New("the link is stopping"))
	}
	go s.relay(rc, lc, target)
	return resp
}

// allowedTarget checks that a DIAL names a broker of this cluster on the
// local listener (an address its Metadata returns there, re-read when an
// unknown one is asked for): the relay carries the local.* principal's
// authority, and a destination must not make it connect anywhere else in
// the source's network.
func (s *sourceHalf) allowedTarget(ctx context.Context, addr string) error {
	s.mu.Lock()
	ok := s.brokers[addr]
	s.mu.Unlock()
	if ok {
		return nil
	}
	own := s.m.ownAddr(s.target)
	if own == "" {
		return fmt.Errorf("this broker has no Kafka listener named %q (local.listener.name)", s.target)
	}
	k, err := connectAuthenticated(ctx, own, s.local, s.setup)
	if err != nil {
		return fmt.Errorf("reading this cluster's brokers from %s with the local.* security: %w", own, err)
	}
	defer k.conn.Close()
	req := kmsg.NewPtrMetadataRequest()
	req.Version, req.Topics = 4, []kmsg.MetadataRequestTopic{}
	cctx, cancel := context.WithTimeout(ctx, s.reqTimeout)
	resp, err := k.do(cctx, req)
	cancel()
	if err != nil {
		return fmt.Errorf("reading this cluster's brokers from %s: %w", own, err)
	}
	known := map[string]bool{own: true}
	for _, b := range resp.(*kmsg.MetadataResponse).Brokers {
		known[net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))] = true
	}
	s.mu.Lock()
	s.brokers = known
	s.mu.Unlock()
	if !known[addr] {
		return fmt.Errorf("%s is not a broker of this cluster on its listener %s: the relay connects only to its own cluster's brokers", addr, s.listenerName())
	}
	return nil
}

// listenerName is the local listener's name, for messages.
func (s *sourceHalf) listenerName() string {
	if s.target != "" {
		return s.target
	}
	if len(s.m.rev.listeners) > 0 {
		return s.m.rev.listeners[0].Name
	}
	return "(the first listener)"
}

// relayAllowed says whether the destination may send request h (body is
// its body) through a data connection: only what a destination link reads
// of a source (design §3.2 step 4). The destination borrows the local.*
// principal's authority; whatever could change the source — Produce,
// deletes, commits, a SASL exchange of its own — ends the connection.
func relayAllowed(h wire.Header, body []byte) bool {
	switch kmsg.Key(h.Key) {
	case kmsg.ApiVersions, kmsg.Metadata, kmsg.Fetch, kmsg.ListOffsets, kmsg.OffsetForLeaderEpoch, kmsg.DescribeConfigs,
		kmsg.DescribeCluster, kmsg.FindCoordinator, kmsg.OffsetFetch, kmsg.ListGroups, kmsg.DescribeGroups, kmsg.DescribeACLs,
		kmsg.Key(wire.LinkFetchKey): // read-only: the pipelined fetch of a Tandem source
		return true
	case kmsg.AlterConfigs:
		// The mirror probe (autocreate.go): validate_only, changes nothing.
		req, err := wire.DecodeRequest(h, body)
		if err != nil {
			return false
		}
		return req.(*kmsg.AlterConfigsRequest).ValidateOnly
	}
	return false
}

// relay copies the destination's requests (those relayAllowed) to this
// cluster's broker and the answers back, until either side closes.
func (s *sourceHalf) relay(remote, local net.Conn, target string) {
	defer s.untrack(remote)
	defer s.untrack(local)
	go func() {
		_, _ = io.Copy(remote, local)
		_ = remote.Close()
		_ = local.Close()
	}()
	rd := bufio.NewReader(remote)
	var size [4]byte
	for {
		frame, err := wire.ReadFrame(rd, revMaxFrame)
		if err != nil {
			return
		}
		h, body, err := wire.ParseHeader(frame)
		if err != nil || !relayAllowed(h, body) {
			s.logger.Warn("source-initiated link: closing a data connection: the destination sent a request a destination link never sends to its source",
				"api_key", h.Key, "api", kmsg.NameForKey(h.Key), "broker", target, "err", err)
			return
		}
		binary.BigEndian.PutUint32(size[:], uint32(len(frame)))
		if _, err := (&net.Buffers{size[:], frame}).WriteTo(local); err != nil {
			return
		}
	}
}

// sourceHalfTasks are a SOURCE half's tasks: only the availability
// check, which reports the control session (design §3.4).
func (m *Manager) sourceHalfTasks(rt *runtime) []*task {
	tk := &task{name: TaskAvailabilityCheck, every: Millis(rt.link.Configs, "availability.check.ms"), atStart: true,
		run: func(ctx context.Context) error { return m.checkSourceHalf(rt) }}
	tk.st.Name, tk.st.State = tk.name, TaskActive
	return []*task{tk}
}

// checkSourceHalf: a SOURCE half is ACTIVE while a control session is up,
// FAILED at once when the destination refused its credentials, and
// UNAVAILABLE after availability.check.consecutive.failure.threshold
// checks without a session; it recovers with the next session.
func (m *Manager) checkSourceHalf(rt *runtime) error {
	up, _, lastErr := rt.src.status()
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if up {
		if rt.state != LinkActive {
			m.logger.Info("source-initiated link: connected to the destination", "link", rt.link.Name)
		}
		rt.failures = 0
		rt.state, rt.errCode, rt.errMsg = LinkActive, "NO_ERROR", ""
		return nil
	}
	rt.failures++
	err := lastErr
	if err == nil {
		// A SOURCE half's peer is the destination: say so, not "source".
		err = errors.New("destination cluster unreachable: no control session to the destination (" + Value(rt.link.Configs, "bootstrap.servers") + ") yet")
	}
	if errors.Is(err, ErrAuthentication) {
		rt.state, rt.errCode, rt.errMsg = LinkFailed, "AUTHENTICATION_ERROR", err.Error()
		return err
	}
	if int64(rt.failures) >= Int(rt.link.Configs, "availability.check.consecutive.failure.threshold") {
		rt.state, rt.errCode, rt.errMsg = LinkUnavailable, "TIMEOUT_ERROR", err.Error()
	}
	return err
}

// PeerClusterID is the cluster id of the other half of a paired link as
// last seen (a SOURCE half: its destination's, from its control session);
// "" when unknown.
func (m *Manager) PeerClusterID(name string) string {
	rt := m.runtimeOf(name)
	if rt == nil {
		return ""
	}
	if rt.src != nil {
		if _, peer, _ := rt.src.status(); peer != "" {
			return peer
		}
	}
	if s := m.rev.sessions.get(name); s != nil {
		return s.cluster
	}
	l, _ := m.store.Link(name)
	return l.SourceClusterID
}
