package mirror_test

import (
	"fmt"
	"io"
	"maps"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/link"
	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
	"github.com/tandem-streaming/tandem/internal/tlsconf/tlstest"
)

// cutProxy forwards TCP connections to a target; Cut closes every
// connection through it, as a network cut would.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() { _ = ln.Close(); p.Cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", p.target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[u] = struct{}{}, struct{}{}
			p.mu.Unlock()
			pipe := func(dst, src net.Conn) {
				_, _ = io.Copy(dst, src)
				_ = dst.Close()
				_ = src.Close()
				p.mu.Lock()
				delete(p.conns, dst)
				delete(p.conns, src)
				p.mu.Unlock()
			}
			go pipe(c, u)
			go pipe(u, c)
		}
	}()
	return p
}

func (p *cutProxy) Addr() string { return p.ln.Addr().String() }

// Cut closes every connection through the proxy; it returns how many.
func (p *cutProxy) Cut() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.conns)
	for c := range p.conns {
		_ = c.Close()
	}
	p.conns = map[net.Conn]struct{}{}
	return n
}

// TestSourceInitiatedLink is issue #12's source-initiated link in one
// process: the destination's half is INBOUND (no bootstrap, no
// credentials), the source's half dials the destination through a proxy
// (SASL SCRAM-SHA-512 to the destination; local.* SASL SCRAM-SHA-256 to
// its own LINK listener), and a mirror fills byte for byte over the reversed
// connection; it survives the control connection being cut and either
// side restarting. A Produce sent through the relay closes that data
// connection, and nothing is written to the source.
func TestSourceInitiatedLink(t *testing.T) {
	t.Parallel()
	// The source: an operator's listener and the SASL listener its link
	// half reads its own cluster through (local.listener.name=LINK).
	src, srcLogs := tandemtest.StartLogged(t, tandemtest.Config("listeners", "INTERNAL://127.0.0.1:0,LINK://127.0.0.1:0"),
		tandemtest.Config("listener.security.protocol.map", "INTERNAL:PLAINTEXT,LINK:SASL_PLAINTEXT"),
		tandemtest.Config("sasl.enabled.mechanisms", "SCRAM-SHA-256"),
		tandemtest.Config("password.encoder.secret", "src-secret"))
	scl := newClient(t, src.ListenerAddr("INTERNAL"))
	if _, err := kadm.NewClient(scl).AlterUserSCRAMs(ctxT(t), nil, []kadm.UpsertSCRAM{
		{User: "reader", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "reader-secret"}}); err != nil {
		t.Fatal(err)
	}
	createTopics(t, scl, 3, "orders")
	produceN(t, scl, "orders", 300)

	// The destination: the source half authenticates to its SASL
	// listener as "east-link".
	dst := tandemtest.Start(t, tandemtest.Config("listeners", "INTERNAL://127.0.0.1:0,EXTERNAL://127.0.0.1:0"),
		tandemtest.Config("listener.security.protocol.map", "INTERNAL:PLAINTEXT,EXTERNAL:SASL_PLAINTEXT"),
		tandemtest.Config("sasl.enabled.mechanisms", "SCRAM-SHA-512"))
	dcl := newClient(t, dst.ListenerAddr("INTERNAL"))
	if _, err := kadm.NewClient(dcl).AlterUserSCRAMs(ctxT(t), nil, []kadm.UpsertSCRAM{
		{User: "east-link", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "link-secret"}}); err != nil {
		t.Fatal(err)
	}
	proxy := startCutProxy(t, dst.ListenerAddr("EXTERNAL"))

	dlm := dst.Node.Links()
	if err := dlm.CreateLink(ctxT(t), "si", "", map[string]string{"link.mode": "DESTINATION", "connection.mode": "INBOUND",
		"availability.check.ms": "300", "availability.check.consecutive.failure.threshold": "2",
		"replica.fetch.wait.max.ms": "100", "metadata.max.age.ms": "1000", "reconnect.backoff.max.ms": "200"}, false, true); err != nil {
		t.Fatal(err)
	}
	if _, err := dlm.SourceClientOpts("si"); err != nil {
		t.Fatal(err)
	}
	srcHalf := saslLinkConfigs(proxy.Addr(), "SCRAM-SHA-512", "east-link", "link-secret")
	delete(srcHalf, "replica.fetch.wait.max.ms")
	delete(srcHalf, "metadata.max.age.ms")
	srcHalf["link.mode"], srcHalf["connection.mode"] = "SOURCE", "OUTBOUND"
	srcHalf["availability.check.ms"], srcHalf["reconnect.backoff.max.ms"] = "300", "200"
	srcHalf["local.listener.name"], srcHalf["local.security.protocol"], srcHalf["local.sasl.mechanism"] = "LINK", "SASL_PLAINTEXT", "SCRAM-SHA-256"
	srcHalf["local.sasl.jaas.config"] = `org.apache.kafka.common.security.scram.ScramLoginModule required username="reader" password="reader-secret";`
	slm := src.Node.Links()
	if err := slm.CreateLink(ctxT(t), "si", "", srcHalf, false, true); err != nil {
		t.Fatal(err)
	}
	// Healthy: both halves ACTIVE, each seeing the other ACTIVE (pairing
	// over the reversed connection: the destination asks LinkPeer on the
	// session), with one cluster_link_id.
	active := func(what string) {
		t.Helper()
		waitUntil(t, 30*time.Second, what+": both halves ACTIVE and paired", func() bool {
			d, err1 := dlm.Link("si")
			s, err2 := src.Node.Links().Link("si")
			return err1 == nil && err2 == nil && d.State == link.LinkActive && s.State == link.LinkActive &&
				d.Remote != nil && d.Remote.State == link.LinkActive && s.Remote != nil && s.Remote.State == link.LinkActive &&
				d.Link.ID == s.Link.ID && src.Node.Links().PeerClusterID("si") == dst.Node.Broker().ClusterID()
		})
	}
	active("created")
	// A SOURCE half the destination refuses the credentials of is FAILED
	// with AUTHENTICATION_ERROR, as an OUTBOUND link is.
	bad := maps.Clone(srcHalf)
	bad["sasl.jaas.config"] = `org.apache.kafka.common.security.scram.ScramLoginModule required username="east-link" password="wrong";`
	if err := slm.CreateLink(ctxT(t), "si-bad", "", bad, false, false); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "SOURCE half with a wrong password FAILED", func() bool {
		l, _ := slm.Link("si-bad")
		return l.State == link.LinkFailed && l.ErrorCode == "AUTHENTICATION_ERROR" && strings.Contains(l.ErrorMessage, "authentication failed")
	})
	// local.listener.name decides which endpoints the destination sees:
	// the LINK listener's, not INTERNAL's.
	viaSession, err := dlm.SourceClientOpts("si")
	if err != nil {
		t.Fatal(err)
	}
	meta, err := kadm.NewClient(newClient(t, "", viaSession...)).BrokerMetadata(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(meta.Brokers) != 1 || net.JoinHostPort(meta.Brokers[0].Host, fmt.Sprint(meta.Brokers[0].Port)) != src.ListenerAddr("LINK") {
		t.Errorf("the destination sees brokers %+v, want the LINK listener %s", meta.Brokers, src.ListenerAddr("LINK"))
	}
	if err := dlm.CreateMirror(ctxT(t), "si", "orders", "", nil, false); err != nil {
		t.Fatal(err)
	}
	sameBytes(t, scl, dcl, "orders", "orders")
	if d, _ := dlm.Link("si"); d.Link.SourceClusterID != src.Node.Broker().ClusterID() {
		t.Errorf("the INBOUND half records source cluster %q, want %q", d.Link.SourceClusterID, src.Node.Broker().ClusterID())
	}

	// The network cuts the control connection and every data connection.
	if n := proxy.Cut(); n == 0 {
		t.Fatal("no connection through the proxy to cut")
	}
	produceN(t, scl, "orders", 200)
	sameBytes(t, scl, dcl, "orders", "orders")

	// The destination restarts: the source half dials again.
	dst.Restart()
	dlm = dst.Node.Links()
	dcl = newClient(t, dst.ListenerAddr("INTERNAL"))
	produceN(t, scl, "orders", 200)
	sameBytes(t, scl, dcl, "orders", "orders")
	active("destination restarted")

	// The source restarts.
	src.Restart()
	scl = newClient(t, src.ListenerAddr("INTERNAL"))
	produceN(t, scl, "orders", 200)
	sameBytes(t, scl, dcl, "orders", "orders")
	active("source restarted")

	// The relay carries only what a destination link reads: a Produce
	// through it closes the connection with a WARN, and the source topic
	// gets nothing.
	before, err := kadm.NewClient(scl).ListEndOffsets(ctxT(t), "orders")
	if err != nil {
		t.Fatal(err)
	}
	opts, err := dlm.SourceClientOpts("si") // the restarted destination's
	if err != nil {
		t.Fatal(err)
	}
	pcl := newClient(t, "", append(opts, kgo.RecordRetries(2), kgo.RecordDeliveryTimeout(5*time.Second), kgo.DisableIdempotentWrite(), kgo.RequiredAcks(kgo.LeaderAck()))...)
	if err := pcl.ProduceSync(ctxT(t), &kgo.Record{Topic: "orders", Value: []byte("from the destination")}).FirstErr(); err == nil {
		t.Fatal("a Produce through the relay succeeded")
	}
	after, err := kadm.NewClient(scl).ListEndOffsets(ctxT(t), "orders")
	if err != nil {
		t.Fatal(err)
	}
	before.Each(func(o kadm.ListedOffset) {
		if a, _ := after.Lookup("orders", o.Partition); a.Offset != o.Offset {
			t.Errorf("orders-%d grew from %d to %d through the relay", o.Partition, o.Offset, a.Offset)
		}
	})
	if lines := srcLogs.Lines("closing a data connection"); len(lines) == 0 || !strings.Contains(strings.Join(lines, "\n"), "api=Produce") {
		t.Errorf("no WARN for the refused Produce; logged: %q", lines)
	}
	// Nor does it connect anywhere but to its own cluster's brokers: a
	// dial the destination asks for another address (here the
	// destination's own listener, which the source can reach) is refused.
	ocl := newClient(t, "", append(opts, kgo.SeedBrokers(dst.ListenerAddr("INTERNAL")), kgo.RequestRetries(0))...)
	if _, err := kadm.NewClient(ocl).BrokerMetadata(ctxT(t)); err == nil || !strings.Contains(err.Error(), "is not a broker of this cluster") {
		t.Fatalf("a dial to an address outside the source cluster: %v", err)
	}
	sameBytes(t, scl, dcl, "orders", "orders")
}

// TestSourceInitiatedUnpaired: the INBOUND half without its SOURCE half
// becomes UNAVAILABLE (and says the source has not connected); a SOURCE
// half whose destination has no link of its name keeps retrying, says
// why, and reports remote link state REMOTE_LINK_NOT_FOUND.
func TestSourceInitiatedUnpaired(t *testing.T) {
	t.Parallel()
	dst := tandemtest.Start(t)
	if err := dst.Node.Links().CreateLink(ctxT(t), "lonely", "", map[string]string{"link.mode": "DESTINATION", "connection.mode": "INBOUND",
		"availability.check.ms": "200", "availability.check.consecutive.failure.threshold": "2"}, false, true); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "INBOUND half UNAVAILABLE", func() bool {
		l, _ := dst.Node.Links().Link("lonely")
		return l.State == link.LinkUnavailable && strings.Contains(l.ErrorMessage, "has not connected")
	})
	src := tandemtest.Start(t)
	err := src.Node.Links().CreateLink(ctxT(t), "other", "", map[string]string{"link.mode": "SOURCE", "connection.mode": "OUTBOUND",
		"bootstrap.servers": dst.Addr(), "availability.check.ms": "200", "availability.check.consecutive.failure.threshold": "2"}, false, true)
	if err != nil {
		t.Fatal(err)
	}
	// A local.listener.name this broker does not have: the half cannot
	// start, and says so.
	err = src.Node.Links().CreateLink(ctxT(t), "nolistener", "", map[string]string{"link.mode": "SOURCE", "connection.mode": "OUTBOUND",
		"bootstrap.servers": dst.Addr(), "local.listener.name": "INTERNAL"}, false, false)
	if err == nil || !strings.Contains(err.Error(), "local.listener.name=INTERNAL: this broker has no such listener (its listeners: PLAINTEXT)") {
		t.Fatalf("unknown local.listener.name: %v", err)
	}
	if l, _ := src.Node.Links().Link("nolistener"); l.State != link.LinkFailed {
		t.Errorf("a SOURCE half with an unknown local.listener.name is %s, want FAILED", l.State)
	}
	waitUntil(t, 20*time.Second, "SOURCE half UNAVAILABLE", func() bool {
		l, _ := src.Node.Links().Link("other")
		return l.State == link.LinkUnavailable && strings.Contains(l.ErrorMessage, "cluster link 'other' does not exist") &&
			l.Remote != nil && l.Remote.State == link.RemoteLinkNotFound
	})
}

// TestSourceInitiatedOverTLS: the source half reaches the destination's
// SSL listener with a client certificate (mutual TLS), and its own
// cluster's SSL listener with local.ssl.*; the connections handed over
// by the destination's server are TLS connections, and the mirror still
// fills byte for byte.
func TestSourceInitiatedOverTLS(t *testing.T) {
	t.Parallel()
	ca := tlstest.NewCA(t)
	src := tandemtest.Start(t, append(tandemtest.TLS(t, ca, "required"),
		tandemtest.Config("listeners", "INTERNAL://127.0.0.1:0,LINK://127.0.0.1:0"),
		tandemtest.Config("listener.security.protocol.map", "INTERNAL:PLAINTEXT,LINK:SSL"),
		tandemtest.Config("password.encoder.secret", "src-secret"))...)
	scl := newClient(t, src.ListenerAddr("INTERNAL"))
	createTopics(t, scl, 2, "orders")
	produceN(t, scl, "orders", 200)
	dst := tandemtest.Start(t, append(tandemtest.TLS(t, ca, "required"),
		tandemtest.Config("listeners", "INTERNAL://127.0.0.1:0,EXTERNAL://127.0.0.1:0"),
		tandemtest.Config("listener.security.protocol.map", "INTERNAL:PLAINTEXT,EXTERNAL:SSL"))...)
	dcl := newClient(t, dst.ListenerAddr("INTERNAL"))
	dlm := dst.Node.Links()
	if err := dlm.CreateLink(ctxT(t), "si", "", map[string]string{"link.mode": "DESTINATION", "connection.mode": "INBOUND",
		"availability.check.ms": "300", "replica.fetch.wait.max.ms": "100", "metadata.max.age.ms": "1000"}, false, true); err != nil {
		t.Fatal(err)
	}
	toDst, toSrc := ca.Client(t, "plant-link"), ca.Client(t, "link-reader")
	if err := src.Node.Links().CreateLink(ctxT(t), "si", "", map[string]string{"link.mode": "SOURCE", "connection.mode": "OUTBOUND",
		"bootstrap.servers": dst.ListenerAddr("EXTERNAL"), "availability.check.ms": "300",
		"security.protocol": "SSL", "ssl.truststore.type": "PEM", "ssl.truststore.certificates": string(ca.CertPEM),
		"ssl.keystore.type": "PEM", "ssl.keystore.certificate.chain": string(toDst.CertPEM), "ssl.keystore.key": string(toDst.KeyPEM),
		"local.listener.name": "LINK", "local.security.protocol": "SSL", "local.ssl.truststore.type": "PEM",
		"local.ssl.truststore.certificates": string(ca.CertPEM), "local.ssl.keystore.type": "PEM",
		"local.ssl.keystore.certificate.chain": string(toSrc.CertPEM), "local.ssl.keystore.key": string(toSrc.KeyPEM)}, false, true); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "both halves ACTIVE and paired over the session", func() bool {
		d, _ := dlm.Link("si")
		s, _ := src.Node.Links().Link("si")
		return d.State == link.LinkActive && s.State == link.LinkActive &&
			d.Remote != nil && d.Remote.State == link.LinkActive && s.Remote != nil && s.Remote.State == link.LinkActive
	})
	if err := dlm.CreateMirror(ctxT(t), "si", "orders", "", nil, false); err != nil {
		t.Fatal(err)
	}
	produceN(t, scl, "orders", 200)
	sameBytes(t, scl, dcl, "orders", "orders")
}

// TestBidirectionalOneInbound: a bidirectional link whose half on A is
// INBOUND (created first; A cannot reach B) and whose half on B is
// OUTBOUND. B dials A: its client mirrors A's topic directly, and A's
// mirror of B's topic fetches through the connections B opens into A.
// With cluster.link.prefix on each side, same-named topics are mirrored
// both ways, byte for byte, and the halves pair over the one link.
func TestBidirectionalOneInbound(t *testing.T) {
	t.Parallel()
	a := tandemtest.Start(t)
	b := tandemtest.Start(t)
	acl, bcl := newClient(t, a.Addr()), newClient(t, b.Addr())
	for _, cl := range []*kgo.Client{acl, bcl} {
		createTopics(t, cl, 2, "clicks")
		produceN(t, cl, "clicks", 150)
	}
	common := map[string]string{"link.mode": "BIDIRECTIONAL", "availability.check.ms": "300",
		"replica.fetch.wait.max.ms": "100", "metadata.max.age.ms": "1000", "reconnect.backoff.max.ms": "200"}
	cfg := func(kv ...string) map[string]string {
		c := map[string]string{}
		for k, v := range common {
			c[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			c[kv[i]] = kv[i+1]
		}
		return c
	}
	alm, blm := a.Node.Links(), b.Node.Links()
	if err := alm.CreateLink(ctxT(t), "bi", "", cfg("connection.mode", "INBOUND", "cluster.link.prefix", "b."), false, true); err != nil {
		t.Fatal(err)
	}
	if err := blm.CreateLink(ctxT(t), "bi", "", cfg("connection.mode", "OUTBOUND", "bootstrap.servers", a.Addr(), "cluster.link.prefix", "a."), false, true); err != nil {
		t.Fatal(err)
	}
	// Paired is not connected: A hears from B over B's own client (B asks
	// LinkPeer directly) before B has opened the session A's clients dial
	// through; A's availability check succeeds only through it.
	waitUntil(t, 30*time.Second, "both halves ACTIVE and paired, A's session up", func() bool {
		al, err1 := alm.Link("bi")
		bl, err2 := blm.Link("bi")
		return err1 == nil && err2 == nil && al.State == link.LinkActive && bl.State == link.LinkActive &&
			al.Remote != nil && al.Remote.State == link.LinkActive && bl.Remote != nil && bl.Remote.State == link.LinkActive &&
			al.Link.ID == bl.Link.ID && lastCheckOK(al)
	})
	for _, c := range []struct {
		lm     *link.Manager
		mirror string
	}{{alm, "b.clicks"}, {blm, "a.clicks"}} {
		if err := c.lm.CreateMirror(ctxT(t), "bi", "clicks", c.mirror, nil, false); err != nil {
			t.Fatalf("mirror %s: %v", c.mirror, err)
		}
	}
	produceN(t, acl, "clicks", 100)
	produceN(t, bcl, "clicks", 100)
	sameBytes(t, bcl, acl, "clicks", "b.clicks") // through the connections B opened
	sameBytes(t, acl, bcl, "clicks", "a.clicks") // B's own client
}

// lastCheckOK says whether a link's last availability check succeeded
// (an INBOUND half's reaches its source through the control session).
func lastCheckOK(l link.LinkInfo) bool {
	for _, ts := range l.Tasks {
		if ts.Name == link.TaskAvailabilityCheck {
			return ts.Runs > 0 && ts.ErrorCode == "" && ts.LastSuccess.Equal(ts.LastRun)
		}
	}
	return false
}

// TestSourceInitiatedDeleteHalf: deleting either half stops replication
// (reference §4.1). Without its SOURCE half the destination's link is
// UNAVAILABLE and its mirror SOURCE_UNAVAILABLE; a SOURCE half created
// again resumes it byte for byte; without its DESTINATION half the SOURCE
// half is UNAVAILABLE with REMOTE_LINK_NOT_FOUND.
func TestSourceInitiatedDeleteHalf(t *testing.T) {
	t.Parallel()
	src, dst := tandemtest.Start(t), tandemtest.Start(t)
	scl, dcl := newClient(t, src.Addr()), newClient(t, dst.Addr())
	createTopics(t, scl, 1, "orders")
	produceN(t, scl, "orders", 100)
	dlm, slm := dst.Node.Links(), src.Node.Links()
	if err := dlm.CreateLink(ctxT(t), "si", "", map[string]string{"link.mode": "DESTINATION", "connection.mode": "INBOUND",
		"availability.check.ms": "200", "availability.check.consecutive.failure.threshold": "2",
		"replica.fetch.wait.max.ms": "100", "metadata.max.age.ms": "1000"}, false, true); err != nil {
		t.Fatal(err)
	}
	srcHalf := map[string]string{"link.mode": "SOURCE", "connection.mode": "OUTBOUND", "bootstrap.servers": dst.Addr(),
		"availability.check.ms": "200", "availability.check.consecutive.failure.threshold": "2", "reconnect.backoff.max.ms": "200"}
	paired := func(what string) {
		t.Helper()
		waitUntil(t, 30*time.Second, what+": paired", func() bool {
			d, _ := dlm.Link("si")
			s, _ := slm.Link("si")
			return d.State == link.LinkActive && d.Remote != nil && d.Remote.State == link.LinkActive &&
				s.State == link.LinkActive && s.Remote != nil && s.Remote.State == link.LinkActive
		})
	}
	if err := slm.CreateLink(ctxT(t), "si", "", srcHalf, false, true); err != nil {
		t.Fatal(err)
	}
	paired("created")
	if err := dlm.CreateMirror(ctxT(t), "si", "orders", "", nil, false); err != nil {
		t.Fatal(err)
	}
	sameBytes(t, scl, dcl, "orders", "orders")

	if err := slm.DeleteLink("si", false, false); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "destination UNAVAILABLE, mirror SOURCE_UNAVAILABLE", func() bool {
		d, _ := dlm.Link("si")
		mi, err := dlm.Mirror("si", "orders")
		return d.State == link.LinkUnavailable && strings.Contains(d.ErrorMessage, "has not connected") &&
			err == nil && mi.State == metadata.MirrorSourceUnavailable
	})
	produceN(t, scl, "orders", 100)
	if err := slm.CreateLink(ctxT(t), "si", "", srcHalf, false, true); err != nil {
		t.Fatal(err)
	}
	paired("SOURCE half created again")
	sameBytes(t, scl, dcl, "orders", "orders")

	if err := dlm.DeleteLink("si", true, false); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "SOURCE half UNAVAILABLE, REMOTE_LINK_NOT_FOUND", func() bool {
		s, _ := slm.Link("si")
		return s.State == link.LinkUnavailable && strings.Contains(s.ErrorMessage, "cluster link 'si' does not exist") &&
			s.Remote != nil && s.Remote.State == link.RemoteLinkNotFound
	})
}

// TestSourceInitiatedReportsAtOnce: with the default availability.check.ms
// (a minute), both halves of a source-initiated pair report ACTIVE, their
// peer ACTIVE and a healthy availability check within seconds of the
// control session coming up — also when the SOURCE half, created first,
// adopts the destination's cluster_link_id and restarts its session — not
// a minute later at the next periodic check.
func TestSourceInitiatedReportsAtOnce(t *testing.T) {
	t.Parallel()
	src, dst := tandemtest.Start(t), tandemtest.Start(t)
	if err := src.Node.Links().CreateLink(ctxT(t), "plant", "", map[string]string{"link.mode": "SOURCE",
		"bootstrap.servers": dst.Addr(), "reconnect.backoff.max.ms": "200"}, false, true); err != nil {
		t.Fatal(err)
	}
	if err := dst.Node.Links().CreateLink(ctxT(t), "plant", "", map[string]string{"connection.mode": "INBOUND"}, false, true); err != nil {
		t.Fatal(err)
	}
	healthy := func(m *link.Manager) bool {
		l, err := m.Link("plant")
		if err != nil || l.State != link.LinkActive || l.Remote == nil || l.Remote.State != link.LinkActive {
			return false
		}
		for _, tk := range l.Tasks {
			if tk.Name == link.TaskAvailabilityCheck && tk.State != link.TaskActive {
				return false
			}
		}
		return true
	}
	waitUntil(t, 15*time.Second, "both halves ACTIVE with their peer ACTIVE", func() bool {
		return healthy(src.Node.Links()) && healthy(dst.Node.Links())
	})
	s, _ := src.Node.Links().Link("plant")
	d, _ := dst.Node.Links().Link("plant")
	if s.Link.ID != d.Link.ID {
		t.Errorf("the halves have different cluster_link_ids: %x and %x", s.Link.ID, d.Link.ID)
	}
}
