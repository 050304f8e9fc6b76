package mirror_test

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/tandem-streaming/tandem/internal/link"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// TestSourceInitiatedReauth: KIP-368 on reversed connections (design
// §3.3). The destination's SASL listener has connections.max.reauth.ms=
// 3000; after the hand-off the source half cannot re-authenticate, so the
// destination bounds every handed-off connection by its SASL session's
// expiry and the source half opens its next control session before it
// ends (renewAfter: here at half the lifetime, as a set-up may take up to
// socket.connection.setup.timeout.ms). Across several lifetimes the mirror stays byte for byte,
// every control session is replaced before it expires (none is closed by
// its expiry), data connections are closed at theirs and redialed, and
// every handed-off connection carried its bound.
func TestSourceInitiatedReauth(t *testing.T) {
	t.Parallel()
	src, srcLogs := tandemtest.StartLogged(t, tandemtest.Config("password.encoder.secret", "src-secret"))
	scl := newClient(t, src.Addr())
	createTopics(t, scl, 3, "orders")
	produceN(t, scl, "orders", 200)

	dst, dstLogs := tandemtest.StartLogged(t, tandemtest.Config("listeners", "INTERNAL://127.0.0.1:0,EXTERNAL://127.0.0.1:0"),
		tandemtest.Config("listener.security.protocol.map", "INTERNAL:PLAINTEXT,EXTERNAL:SASL_PLAINTEXT"),
		tandemtest.Config("sasl.enabled.mechanisms", "SCRAM-SHA-512"),
		tandemtest.Config("listener.name.external.connections.max.reauth.ms", "3000"))
	dcl := newClient(t, dst.ListenerAddr("INTERNAL"))
	if _, err := kadm.NewClient(dcl).AlterUserSCRAMs(ctxT(t), nil, []kadm.UpsertSCRAM{
		{User: "east-link", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "link-secret"}}); err != nil {
		t.Fatal(err)
	}
	dlm := dst.Node.Links()
	if err := dlm.CreateLink(ctxT(t), "si", "", map[string]string{"link.mode": "DESTINATION", "connection.mode": "INBOUND",
		"availability.check.ms": "300", "replica.fetch.wait.max.ms": "100", "metadata.max.age.ms": "1000",
		"reconnect.backoff.max.ms": "200"}, false, true); err != nil {
		t.Fatal(err)
	}
	srcHalf := saslLinkConfigs(dst.ListenerAddr("EXTERNAL"), "SCRAM-SHA-512", "east-link", "link-secret")
	delete(srcHalf, "replica.fetch.wait.max.ms")
	delete(srcHalf, "metadata.max.age.ms")
	srcHalf["link.mode"], srcHalf["connection.mode"] = "SOURCE", "OUTBOUND"
	srcHalf["availability.check.ms"], srcHalf["reconnect.backoff.max.ms"] = "300", "200"
	slm := src.Node.Links()
	if err := slm.CreateLink(ctxT(t), "si", "", srcHalf, false, true); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "both halves ACTIVE and paired over the session", func() bool {
		d, _ := dlm.Link("si")
		s, _ := slm.Link("si")
		return d.State == link.LinkActive && s.State == link.LinkActive &&
			d.Remote != nil && d.Remote.State == link.LinkActive && s.Remote != nil && s.Remote.State == link.LinkActive
	})
	if err := dlm.CreateMirror(ctxT(t), "si", "orders", "", nil, false); err != nil {
		t.Fatal(err)
	}
	sameBytes(t, scl, dcl, "orders", "orders")

	// Keep the mirror busy until three control sessions were replaced
	// and a data connection reached its expiry (about 3 lifetimes).
	deadline := time.Now().Add(40 * time.Second)
	for {
		produceN(t, scl, "orders", 100)
		sameBytes(t, scl, dcl, "orders", "orders")
		st := dlm.ReverseSessionStats()
		if st.Replaced >= 3 && st.DataExpired >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 40 s: %+v, want 3 control sessions replaced and a data connection expired", st)
		}
	}
	st := dlm.ReverseSessionStats()
	t.Logf("handed-off connections: %+v", st)
	if st.ControlExpired != 0 {
		t.Logf("source:\n%s\ndestination:\n%s", strings.Join(srcLogs.Lines("source-initiated"), "\n"), strings.Join(dstLogs.Lines("source-initiated"), "\n"))
		t.Errorf("%d control session(s) reached their SASL session expiry: the source half did not renew in time (%+v)", st.ControlExpired, st)
	}
	if st.Bounded != st.HandedOff || st.HandedOff < st.Sessions+st.DataExpired {
		t.Errorf("handed-off connections without the bound of their SASL session: %+v", st)
	}
	d, _ := dlm.Link("si")
	s, _ := slm.Link("si")
	if d.State != link.LinkActive || s.State != link.LinkActive {
		t.Errorf("after the renewals: destination half %s, source half %s, want both ACTIVE", d.State, s.State)
	}
	produceN(t, scl, "orders", 100)
	sameBytes(t, scl, dcl, "orders", "orders")
}
