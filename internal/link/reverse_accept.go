package link

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/usererr"
	"github.com/tandem-streaming/tandem/internal/wire"
)

// The destination (INBOUND) side of source-initiated links
// (docs/source-initiated-links.md): control sessions the SOURCE halves
// opened, the dials this broker's link clients ask of them, and the data
// connections that answer those dials.

// reverseState is the Manager's part of source-initiated links.
type reverseState struct {
	sessions *Sessions
	// nodeID and listeners are this broker's (WithListeners): the SOURCE
	// half's relay connects to the listener local.listener.name names,
	// and the INBOUND half lists this broker in its LinkReverse answers.
	nodeID    int32
	listeners []ListenerAddr
	// brokersOf, when set, lists the brokers of this cluster that run
	// work of a link (design §3.3 "Several destination brokers"): the
	// seam for a cluster of several brokers. Unset: this broker, for a
	// link it runs, and none otherwise (clusters are one node today).
	brokersOf func(link string) []wire.LinkReverseBroker
}

// ListenerAddr is one Kafka listener of this broker: its name and the
// address it advertises (host:port), which is where a SOURCE half's relay
// connects and hence which endpoints the destination's Metadata shows
// (local.listener.name).
type ListenerAddr struct {
	Name string
	Addr string
}

// WithListeners gives the Manager this broker's node id and Kafka
// listeners (in configuration order; the first is the default for
// local.listener.name).
func WithListeners(nodeID int32, ls []ListenerAddr) Option {
	return func(m *Manager) { m.rev.nodeID, m.rev.listeners = nodeID, ls }
}

// WithSessions makes the Manager use sessions (shared with the data path,
// whose INBOUND clients dial through them: Sessions.ClientOpts).
func WithSessions(s *Sessions) Option { return func(m *Manager) { m.rev.sessions = s } }

// Sessions holds the control sessions of the INBOUND link halves of one
// broker: one live session per link; a newer one replaces an older one
// (design §3.3). A nil *Sessions has none (a Manager built without
// NewManager, in tests).
type Sessions struct {
	logger   *slog.Logger
	mu       sync.Mutex
	byLink   map[string]*revSession
	counters sessionCounters
}

// NewSessions returns an empty registry.
func NewSessions(logger *slog.Logger) *Sessions {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Sessions{logger: logger, byLink: map[string]*revSession{}}
}

func (ss *Sessions) get(link string) *revSession {
	if ss == nil {
		return nil
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.byLink[link]
}

// put makes s the live session of its link and closes the one it
// replaces, whose pending dials then fail at once (their clients retry
// through s).
func (ss *Sessions) put(s *revSession) {
	ss.mu.Lock()
	old := ss.byLink[s.link]
	ss.byLink[s.link] = s
	ss.mu.Unlock()
	ss.counters.sessions.Add(1)
	if old != nil {
		if old.closed() == nil && (old.expiry.IsZero() || time.Now().Before(old.expiry)) {
			ss.counters.replaced.Add(1)
		}
		old.close(errors.New("replaced by a newer session of the same link"))
	}
}

func (ss *Sessions) remove(s *revSession) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.byLink[s.link] == s {
		delete(ss.byLink, s.link)
	}
}

// closeLink ends the session of a link (deleted, or its configs changed).
func (ss *Sessions) closeLink(link string) {
	if s := ss.get(link); s != nil {
		s.close(fmt.Errorf("cluster link '%s' was deleted or changed", link))
	}
}

// Connected says whether link has a live control session.
func (ss *Sessions) Connected(link string) bool { return ss.get(link) != nil }

// revSeedHost is the seed broker of an INBOUND half's clients, which have
// no bootstrap.servers: the SOURCE half maps a DIAL to it to its own
// listener (local.listener.name). ".invalid" is reserved (RFC 2606): it
// can never be a real host.
const revSeedHost = "source-bootstrap.link.invalid"

// ClientOpts is ClientOpts for every kind of half: an INBOUND half's
// clients dial through the link's control session (DIAL, then the data
// connection the source opens), seeded with revSeedHost.
func (ss *Sessions) ClientOpts(name string, configs map[string]string) ([]kgo.Opt, error) {
	opts, _, err := ss.clientOpts(name, configs)
	return opts, err
}

func (ss *Sessions) clientOpts(name string, configs map[string]string) ([]kgo.Opt, security, error) {
	if ss == nil || ConnectionMode(configs) != ConnInbound {
		return clientOpts(name, configs)
	}
	return clientOptsVia(name, configs, func(ctx context.Context, addr string, timeout time.Duration) (net.Conn, error) {
		s := ss.get(name)
		if s == nil {
			return nil, fmt.Errorf("%w: cluster link '%s' is connection.mode=INBOUND and its SOURCE half has not connected", errSourceNotConnected, name)
		}
		return s.dial(ctx, addr, timeout)
	})
}

// errSourceNotConnected: an INBOUND half has no control session.
var errSourceNotConnected = errors.New("source not connected")

// revSession is one control session on the destination: the connection
// the SOURCE half opened and reversed. This side sends requests (DIAL,
// PING, LinkPeer, LinkMirrorOp) and reads their answers, matched by
// correlation id (a DIAL can take a while; a PING must not wait behind it).
type revSession struct {
	ss        *Sessions
	link      string
	id        [16]byte
	cluster   string // the source's cluster id
	conn      net.Conn
	heartbeat time.Duration
	timeout   time.Duration // request.timeout.ms: a PING unanswered by then ends the session
	logger    *slog.Logger
	// expiry is the end of the SASL session of the connection (zero:
	// none): conn is closed then (reverse_expiry.go, KIP-368).
	expiry time.Time
	// onUp, when set, runs once the source half answered the first PING.
	onUp func()
	// brokers lists the destination brokers of the link, sent with each
	// PING (design §3.3); nil sends none.
	brokers func() []wire.LinkReverseBroker

	wmu sync.Mutex // serialises writes

	mu       sync.Mutex
	corr     int32
	calls    map[int32]chan []byte
	dials    map[int64]*pendingDial
	nextDial int64
	err      error
	done     chan struct{}
}

type pendingDial struct {
	conn   chan net.Conn // buffered: the data connection
	failed chan error    // buffered: the source's DIAL answer, when an error
}

func newRevSession(ss *Sessions, link string, id [16]byte, cluster string, conn net.Conn, heartbeat, timeout time.Duration) *revSession {
	return &revSession{ss: ss, link: link, id: id, cluster: cluster, conn: conn, heartbeat: heartbeat, timeout: timeout,
		logger: ss.logger.With("link", link), calls: map[int32]chan []byte{}, dials: map[int64]*pendingDial{}, done: make(chan struct{})}
}

// run reads answers until the connection ends, and pings every heartbeat.
func (s *revSession) run() {
	go s.ping()
	rd := newKconn(s.conn).rd
	for {
		frame, err := wire.ReadFrame(rd, revMaxFrame)
		if err != nil {
			s.close(fmt.Errorf("control connection: %w", err))
			return
		}
		// Every request sent here is a private one: flexible, response
		// header v1.
		corr, body, err := wire.ParseResponse(frame, true)
		if err != nil {
			s.close(err)
			return
		}
		s.mu.Lock()
		ch := s.calls[corr]
		delete(s.calls, corr)
		sent := corr >= 0 && corr < s.corr
		s.mu.Unlock()
		switch {
		case ch != nil:
			ch <- body
		case !sent:
			s.close(fmt.Errorf("%w: answer to no request (correlation id %d)", wire.ErrMalformed, corr))
			return
		}
		// Else the answer to a call that gave up (its context ended; a
		// DIAL whose data connection came first): dropped.
	}
}

// ping pings at once (the source half counts its session as up from the
// first request it gets: this broker has registered it) and then every
// heartbeat.
func (s *revSession) ping() {
	t := time.NewTicker(s.heartbeat)
	defer t.Stop()
	for first := true; ; first = false {
		if !first {
			select {
			case <-s.done:
				return
			case <-t.C:
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		ping := &wire.LinkReverseRequest{LinkName: s.link, LinkID: s.id, Role: wire.LinkReversePing, SessionID: s.id}
		if s.brokers != nil {
			ping.Brokers = s.brokers()
		}
		resp, err := s.reverse(ctx, ping)
		cancel()
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		if err != nil {
			s.close(fmt.Errorf("heartbeat: %w", err))
			return
		}
		if first && s.onUp != nil {
			s.onUp()
		}
	}
}

// close ends the session (idempotent): pending calls and dials fail.
func (s *revSession) close(err error) {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	if !s.expiry.IsZero() && !time.Now().Before(s.expiry) {
		s.ss.counters.controlExpired.Add(1)
		err = fmt.Errorf("%w: %w", errSessionLifetime, err)
	}
	s.err = err
	close(s.done)
	dials := s.dials
	s.dials = map[int64]*pendingDial{}
	s.mu.Unlock()
	_ = s.conn.Close()
	s.ss.remove(s)
	for _, pd := range dials {
		select { // never blocks: the DIAL's own failure may be there first
		case pd.failed <- fmt.Errorf("%w: the control session ended: %w", errSourceNotConnected, err):
		default:
		}
	}
	s.logger.Info("source-initiated link: control session ended", "session", fmtUUID(s.id), "source_cluster_id", s.cluster, "err", err)
}

func (s *revSession) closed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// call sends one private request and returns its answer.
func (s *revSession) call(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	ch := make(chan []byte, 1)
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: %w", errSourceNotConnected, err)
	}
	corr := s.corr
	s.corr++
	s.calls[corr] = ch
	s.mu.Unlock()
	forget := func() {
		s.mu.Lock()
		delete(s.calls, corr)
		s.mu.Unlock()
	}
	frame := appendRequest(nil, corr, req)
	s.wmu.Lock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.timeout))
	_, err := s.conn.Write(frame)
	s.wmu.Unlock()
	if err != nil {
		forget()
		s.close(fmt.Errorf("control connection: %w", err))
		return nil, err
	}
	select {
	case body := <-ch:
		return decodeResponse(req, body)
	case <-s.done:
		forget()
		return nil, fmt.Errorf("%w: %w", errSourceNotConnected, s.closed())
	case <-ctx.Done():
		forget()
		return nil, ctx.Err()
	}
}

func (s *revSession) reverse(ctx context.Context, req *wire.LinkReverseRequest) (*wire.LinkReverseResponse, error) {
	resp, err := s.call(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*wire.LinkReverseResponse), nil
}

// dial asks the source for a data connection to addr (a broker of its
// cluster, or revSeedHost) and waits for it, at most timeout.
func (s *revSession) dial(ctx context.Context, addr string, timeout time.Duration) (net.Conn, error) {
	host, portS, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseInt(portS, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("dial %s: bad port: %w", addr, err)
	}
	pd := &pendingDial{conn: make(chan net.Conn, 1), failed: make(chan error, 1)}
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: %w", errSourceNotConnected, err)
	}
	s.nextDial++
	id := s.nextDial
	s.dials[id] = pd
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.dials, id)
		s.mu.Unlock()
		// A data connection delivered after the dial gave up.
		select {
		case c := <-pd.conn:
			_ = c.Close()
		default:
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	go func() {
		resp, err := s.reverse(ctx, &wire.LinkReverseRequest{LinkName: s.link, LinkID: s.id, Role: wire.LinkReverseDial,
			SessionID: s.id, DialID: id, Host: host, Port: int32(port)})
		if err == nil && resp.ErrorCode != 0 {
			err = kerr.ErrorForCode(resp.ErrorCode)
			if resp.ErrorMessage != nil {
				err = fmt.Errorf("%s: %w", *resp.ErrorMessage, err)
			}
		}
		if err != nil {
			select {
			case pd.failed <- err:
			default:
			}
		}
	}()
	select {
	case c := <-pd.conn:
		return c, nil
	case err := <-pd.failed:
		if errors.Is(err, errSourceNotConnected) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: the source could not open a connection to %s: %w", errSourceUnreachable, addr, err)
	case <-ctx.Done():
		// The data connection may have arrived as the deadline passed.
		select {
		case c := <-pd.conn:
			return c, nil
		default:
		}
		return nil, fmt.Errorf("%w: no connection to %s through the source's session within %v: %w", errSourceUnreachable, addr, timeout, ctx.Err())
	}
}

// deliver hands a data connection to its pending dial; false when that
// dial is gone (it gave up, or the session ended).
func (s *revSession) deliver(dialID int64, c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	pd := s.dials[dialID]
	if pd == nil {
		return false
	}
	delete(s.dials, dialID)
	pd.conn <- c
	return true
}

func (s *revSession) hasDial(dialID int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dials[dialID] != nil
}

// LinkReverse answers a SOURCE half's LinkReverse request (CONTROL or
// DATA) on the INBOUND half's broker (the broker has checked the caller
// may ALTER the cluster). When take is non-nil the server writes resp and
// then hands the connection to take: it is no longer the broker's.
//
// expiry is the end of the SASL session of the connection (zero: none):
// the connection taken is closed then, as the broker would close a client
// that did not re-authenticate (KIP-368; the SOURCE half, now the server,
// cannot). The SOURCE half renews its control session before (design
// §3.3).
func (m *Manager) LinkReverse(ctx context.Context, req *wire.LinkReverseRequest, expiry time.Time) (resp *wire.LinkReverseResponse, take func(net.Conn)) {
	resp = &wire.LinkReverseResponse{Version: req.Version, ClusterID: m.cluster.ClusterID()}
	fail := func(code int16, format string, args ...any) (*wire.LinkReverseResponse, func(net.Conn)) {
		msg := fmt.Sprintf(format, args...)
		resp.ErrorCode, resp.ErrorMessage = code, &msg
		m.logger.Info("source-initiated link: refused a LinkReverse request", "link", req.LinkName, "role", req.Role, "source_cluster_id", req.ClusterID, "err", msg)
		return resp, nil
	}
	l, ok := m.store.Link(req.LinkName)
	if !ok {
		return fail(kerr.InvalidRequest.Code, "cluster link '%s' does not exist", req.LinkName)
	}
	if ConnectionMode(l.Configs) != ConnInbound {
		// INVALID_CONFIG, not INVALID_REQUEST: an OUTBOUND bidirectional
		// half stops dialing on it (its peer dials it itself).
		return fail(kerr.InvalidConfig.Code, "cluster link '%s' on cluster %s is not connection.mode=INBOUND: it does not accept connections from its peer", req.LinkName, m.cluster.ClusterID())
	}
	resp.LinkID = l.ID
	switch req.Role {
	case wire.LinkReverseControl:
	case wire.LinkReverseData:
		s := m.rev.sessions.get(req.LinkName)
		if s == nil || s.id != req.SessionID {
			return fail(kerr.InvalidRequest.Code, "cluster link '%s': session %s is not the link's live control session", req.LinkName, fmtUUID(req.SessionID))
		}
		if !s.hasDial(req.DialID) {
			return fail(kerr.InvalidRequest.Code, "cluster link '%s': no pending dial %d (it timed out or its session ended)", req.LinkName, req.DialID)
		}
		return resp, func(c net.Conn) {
			c = m.rev.bound(c, expiry, &m.rev.sessions.counters.dataExpired)
			if !s.deliver(req.DialID, c) {
				_ = c.Close()
			}
		}
	default:
		return fail(kerr.InvalidRequest.Code, "LinkReverse role %d is sent by the destination on a control session, not to it", req.Role)
	}
	rt := m.runtimeOf(req.LinkName)
	if rt == nil {
		// Design §3.3: a broker that does not host the link answers with
		// the brokers that do, and the SOURCE half moves on to them.
		resp.Brokers = m.linkBrokers(req.LinkName)
		return fail(kerr.NotLeaderForPartition.Code, "cluster link '%s' is not running on this broker: %v", req.LinkName, m.startFailure(req.LinkName))
	}
	// Pairing (design §2.1): a SOURCE half sends its id once it is fixed
	// (sourceLinkID). Two fixed ids that differ never pair: one half was
	// re-created. Otherwise the session is accepted and pairing, over it,
	// adopts one id.
	if req.LinkID != ([16]byte{}) && req.LinkID != l.ID && l.IDFixed {
		return fail(kerr.InvalidRequest.Code, "cluster link '%s' on cluster %s has id %s, the SOURCE half has id %s: one of them was re-created; delete and re-create the SOURCE half (it adopts this id)",
			req.LinkName, m.cluster.ClusterID(), fmtUUID(l.ID), fmtUUID(req.LinkID))
	}
	if req.ClusterID == "" || req.ClusterID == m.cluster.ClusterID() {
		return fail(kerr.InvalidRequest.Code, "cluster link '%s': the SOURCE half's cluster id %q is empty or this cluster's", req.LinkName, req.ClusterID)
	}
	if l.SourceClusterID != "" && req.ClusterID != l.SourceClusterID {
		return fail(kerr.InvalidRequest.Code, "cluster link '%s' reads cluster %s, not %s (the cluster of the SOURCE half that connected)", req.LinkName, l.SourceClusterID, req.ClusterID)
	}
	resp.HeartbeatMillis = int32(min(Millis(rt.link.Configs, "availability.check.ms"), time.Duration(1<<31-1)*time.Millisecond) / time.Millisecond)
	resp.Brokers = m.linkBrokers(req.LinkName)
	id := req.SessionID
	heartbeat := time.Duration(resp.HeartbeatMillis) * time.Millisecond
	timeout := Millis(rt.link.Configs, "request.timeout.ms")
	return resp, func(c net.Conn) {
		if l.SourceClusterID == "" {
			m.recordPeerCluster(req.LinkName, req.ClusterID)
		}
		// Closed at its expiry, the connection ends the session (counted
		// as expired by close): the SOURCE half should have replaced it
		// before.
		c = m.rev.bound(c, expiry, nil)
		s := newRevSession(m.rev.sessions, req.LinkName, id, req.ClusterID, c, heartbeat, timeout)
		s.expiry = expiry
		s.brokers = func() []wire.LinkReverseBroker { return m.linkBrokers(req.LinkName) }
		m.rev.sessions.put(s)
		s.logger.Info("source-initiated link: control session up", "session", fmtUUID(id), "source_cluster_id", req.ClusterID, "remote", c.RemoteAddr())
		// Once the source half answered the first PING, check the source
		// (through the session) and ask the peer now, not at the next
		// availability check: the link's state, task error and remote
		// link state change with this session.
		s.onUp = func() {
			if rt := m.runtimeOf(req.LinkName); rt != nil {
				rt.pokeTask(TaskAvailabilityCheck)
			}
		}
		go s.run()
	}
}

// bound makes a handed-off connection stop at the end of its SASL session
// (reverse_expiry.go); expired, when non-nil, counts those it closes.
func (r *reverseState) bound(c net.Conn, expiry time.Time, expired *atomic.Int64) net.Conn {
	r.sessions.counters.handedOff.Add(1)
	if expiry.IsZero() {
		return c
	}
	r.sessions.counters.bounded.Add(1)
	return withExpiry(c, expiry, func() {
		if expired != nil {
			expired.Add(1)
		}
	})
}

// linkBrokers lists the brokers of this cluster that run work of link,
// as LinkReverse answers and PINGs carry them (design §3.3): this broker
// (its first listener's address) when it runs the link.
func (m *Manager) linkBrokers(link string) []wire.LinkReverseBroker {
	if m.rev.brokersOf != nil {
		return m.rev.brokersOf(link)
	}
	if m.runtimeOf(link) == nil {
		return nil
	}
	if a := m.ownAddr(""); a != "" {
		if host, port, err := net.SplitHostPort(a); err == nil {
			p, _ := strconv.Atoi(port)
			return []wire.LinkReverseBroker{{NodeID: m.rev.nodeID, Host: host, Port: int32(p)}}
		}
	}
	return nil
}

// recordPeerCluster persists the peer cluster's id of link (its
// source_cluster_id on a DESTINATION half, destination_cluster_id on a
// SOURCE half, both kept in metadata.Link.SourceClusterID) the first time
// it is learned: from then on a session from another cluster is refused.
func (m *Manager) recordPeerCluster(link, cluster string) {
	for range 5 {
		l, ok := m.store.Link(link)
		if !ok || l.SourceClusterID != "" {
			return
		}
		l.SourceClusterID = cluster
		_, err := m.store.CompareAndSetLink(l)
		if err == nil {
			return
		}
		if !errors.Is(err, metadata.ErrConflict) {
			m.logger.Warn("recording the peer cluster of a link", "link", link, "err", err)
			return
		}
	}
}

// reverseCaller returns the peer caller of an INBOUND half: its live
// control session.
func (m *Manager) reverseCaller(name string) (peerCaller, error) {
	s := m.rev.sessions.get(name)
	if s == nil {
		return nil, usererr.New(errors.Join(ErrNoPeer, errNoSession), "cluster link '%s' is connection.mode=INBOUND and its SOURCE half has not connected", name)
	}
	return sessionPeer{s}, nil
}

// sessionPeer sends LinkPeer and LinkMirrorOp over a control session.
type sessionPeer struct{ s *revSession }

func (p sessionPeer) LinkPeer(ctx context.Context, req *wire.LinkPeerRequest) (*wire.LinkPeerResponse, error) {
	resp, err := p.s.call(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*wire.LinkPeerResponse), nil
}

func (p sessionPeer) LinkMirrorOp(ctx context.Context, req *wire.LinkMirrorOpRequest) (*wire.LinkMirrorOpResponse, error) {
	resp, err := p.s.call(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*wire.LinkMirrorOpResponse), nil
}

// ownAddr is the address of this broker's listener named name (the first
// listener when name is empty), "" when unknown.
func (m *Manager) ownAddr(name string) string {
	for _, l := range m.rev.listeners {
		if name == "" || strings.EqualFold(l.Name, name) {
			return l.Addr
		}
	}
	return ""
}

func newSessionID() [16]byte {
	var id [16]byte
	_, _ = rand.Read(id[:])
	return id
}

func fmtUUID(id [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", id[0:4], id[4:6], id[6:8], id[8:10], id[10:16])
}

// SourceClientOpts are the franz-go options with which link name's
// clients reach its source, as the link itself dials (an INBOUND half:
// through its control session): for tools and tests that read the source
// as the link does. The options carry the link's credentials.
func (m *Manager) SourceClientOpts(name string) ([]kgo.Opt, error) {
	rt := m.runtimeOf(name)
	if rt == nil {
		return nil, errUnknownLink(name)
	}
	return m.rev.sessions.ClientOpts(name, rt.link.Configs)
}

// closeAll ends every session (the broker stops: handed-off connections
// are no longer the server's to close).
func (ss *Sessions) closeAll() {
	if ss == nil {
		return
	}
	ss.mu.Lock()
	all := make([]*revSession, 0, len(ss.byLink))
	for _, s := range ss.byLink {
		all = append(all, s)
	}
	ss.mu.Unlock()
	for _, s := range all {
		s.close(errors.New("the broker is stopping"))
	}
}
