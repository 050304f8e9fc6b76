package server_test

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// These tests speak the SASL exchange by hand (kmsg frames on a raw
// socket) to check the broker's side of it: what is served before
// authentication, the pre-authentication bounds, re-authentication
// (KIP-368) and the raw-token framing of SaslHandshake v0.

const plainJAAS = auth.PlainLoginModule + ` required user_alice="alice-secret" user_bob="bob-secret";`

func saslProps(kv ...string) map[string]string {
	p := map[string]string{
		"sasl.enabled.mechanisms":                             "PLAIN,SCRAM-SHA-256",
		"listener.name.sasl_plaintext.plain.sasl.jaas.config": plainJAAS,
	}
	for i := 0; i+1 < len(kv); i += 2 {
		p[kv[i]] = kv[i+1]
	}
	return p
}

type rawClient struct {
	t  *testing.T
	nc net.Conn
	id int32
}

func dialSASL(t *testing.T, addr string) *rawClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawClient{t: t, nc: nc}
}

// send writes r and reads its response; an error means the broker closed
// the connection instead of answering.
func (c *rawClient) send(r kmsg.Request) (kmsg.Response, error) {
	c.id++
	_ = c.nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.nc.Write(formatter.AppendRequest(nil, r, c.id)); err != nil {
		return nil, err
	}
	body, err := c.readFrame()
	if err != nil {
		return nil, err
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != c.id {
		c.t.Fatalf("correlation id %d, want %d", got, c.id)
	}
	body = body[4:]
	resp := r.ResponseKind()
	if resp.IsFlexible() && r.Key() != int16(kmsg.ApiVersions) {
		body = body[1:] // empty tagged fields of the response header
	}
	if err := resp.ReadFrom(body); err != nil {
		c.t.Fatalf("decoding %T: %v", resp, err)
	}
	return resp, nil
}

func (c *rawClient) readFrame() ([]byte, error) {
	var sz [4]byte
	if _, err := io.ReadFull(c.nc, sz[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(sz[:]))
	_, err := io.ReadFull(c.nc, body)
	return body, err
}

// closed reports whether the broker closed the connection.
func (c *rawClient) closed() bool {
	_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.nc.Read(make([]byte, 1))
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || err != nil && strings.Contains(err.Error(), "reset")
}

func (c *rawClient) handshake(mech string, version int16) *kmsg.SASLHandshakeResponse {
	c.t.Helper()
	r := kmsg.NewPtrSASLHandshakeRequest()
	r.Version, r.Mechanism = version, mech
	resp, err := c.send(r)
	if err != nil {
		c.t.Fatalf("SaslHandshake: %v", err)
	}
	return resp.(*kmsg.SASLHandshakeResponse)
}

func (c *rawClient) authenticate(token string, version int16) *kmsg.SASLAuthenticateResponse {
	c.t.Helper()
	r := kmsg.NewPtrSASLAuthenticateRequest()
	r.Version, r.SASLAuthBytes = version, []byte(token)
	resp, err := c.send(r)
	if err != nil {
		c.t.Fatalf("SaslAuthenticate: %v", err)
	}
	return resp.(*kmsg.SASLAuthenticateResponse)
}

func (c *rawClient) plainLogin(user, pass string) *kmsg.SASLAuthenticateResponse {
	c.t.Helper()
	if hs := c.handshake("PLAIN", 1); hs.ErrorCode != 0 {
		c.t.Fatalf("handshake error %d", hs.ErrorCode)
	}
	return c.authenticate("\x00"+user+"\x00"+pass, 2)
}

func metadataReq() kmsg.Request {
	r := kmsg.NewPtrMetadataRequest()
	r.Version = 9
	return r
}

func waitLog(t *testing.T, logs *tandemtest.Logs, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no log line %q in:\n%s", want, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSASLGating(t *testing.T) {
	b := tandemtest.StartSASL(t, saslProps())

	// Before authentication: ApiVersions is served, anything else closes.
	c := dialSASL(t, b.Addr)
	if _, err := c.send(apiVersions()); err != nil {
		t.Fatalf("ApiVersions before authentication: %v", err)
	}
	if _, err := c.send(metadataReq()); err == nil {
		t.Fatal("Metadata before authentication was answered")
	}
	waitLog(t, b.Logs, "SASL authentication required")

	// SaslAuthenticate before SaslHandshake closes.
	c = dialSASL(t, b.Addr)
	r := kmsg.NewPtrSASLAuthenticateRequest()
	r.SASLAuthBytes = []byte("\x00alice\x00alice-secret")
	if _, err := c.send(r); err == nil {
		t.Fatal("SaslAuthenticate before SaslHandshake was answered")
	}

	// A mechanism that is not enabled: the enabled ones, then close.
	c = dialSASL(t, b.Addr)
	hs := c.handshake("SCRAM-SHA-512", 1)
	if hs.ErrorCode != kerr.UnsupportedSaslMechanism.Code || strings.Join(hs.SupportedMechanisms, ",") != "PLAIN,SCRAM-SHA-256" {
		t.Fatalf("handshake: %+v", hs)
	}
	if !c.closed() {
		t.Fatal("connection open after an unsupported mechanism")
	}

	// Wrong password: SASL_AUTHENTICATION_FAILED with Kafka's message, close,
	// one log line without the password.
	c = dialSASL(t, b.Addr)
	start := time.Now()
	resp := c.plainLogin("alice", "not-her-password")
	if d := time.Since(start); d < 90*time.Millisecond {
		t.Errorf("failed authentication answered after %v, before connection.failed.authentication.delay.ms (100)", d)
	}
	if resp.ErrorCode != kerr.SaslAuthenticationFailed.Code || resp.ErrorMessage == nil ||
		*resp.ErrorMessage != "Authentication failed: Invalid username or password" {
		t.Fatalf("wrong password: %+v", resp)
	}
	if !c.closed() {
		t.Fatal("connection open after a failed authentication")
	}
	waitLog(t, b.Logs, "failed authentication")
	if strings.Contains(b.Logs.String(), "not-her-password") || strings.Contains(b.Logs.String(), "alice-secret") {
		t.Fatalf("a password reached the log:\n%s", b.Logs.String())
	}

	// The right one: everything is served, as the user.
	c = dialSASL(t, b.Addr)
	if resp := c.plainLogin("alice", "alice-secret"); resp.ErrorCode != 0 || resp.SessionLifetimeMillis != 0 {
		t.Fatalf("login: %+v", resp)
	}
	if _, err := c.send(metadataReq()); err != nil {
		t.Fatalf("Metadata after authentication: %v", err)
	}
	// A handshake on the authenticated connection without a session
	// lifetime is a re-authentication, which works too.
	if resp := c.plainLogin("alice", "alice-secret"); resp.ErrorCode != 0 {
		t.Fatalf("re-authentication: %+v", resp)
	}
	metrics := tandemtest.Get(t, "http://"+b.Node.HTTPAddr()+"/metrics")
	for _, want := range []string{
		`tandem_authentication_total{listener="SASL_PLAINTEXT",mechanism="PLAIN",result="failure"} 1`,
		`tandem_authentication_total{listener="SASL_PLAINTEXT",mechanism="PLAIN",result="success"} 2`,
		`tandem_authentication_total{listener="SASL_PLAINTEXT",mechanism="SCRAM-SHA-512",result="failure"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestSASLPreauthLimits(t *testing.T) {
	b := tandemtest.StartSASL(t, saslProps("sasl.server.max.receive.size", "1000",
		"connections.authentication.timeout.ms", "300"))

	// A frame over sasl.server.max.receive.size before authentication.
	c := dialSASL(t, b.Addr)
	big := kmsg.NewPtrSASLAuthenticateRequest()
	c.handshake("PLAIN", 1)
	big.SASLAuthBytes = make([]byte, 2000)
	if _, err := c.send(big); err == nil {
		t.Fatal("an oversized frame before authentication was answered")
	}

	// An authenticated connection may send more.
	c = dialSASL(t, b.Addr)
	c.plainLogin("bob", "bob-secret")
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 9
	md.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr(strings.Repeat("t", 1500))}}
	if _, err := c.send(md); err != nil {
		t.Fatalf("a large request after authentication: %v", err)
	}

	// connections.authentication.timeout.ms: a client that keeps talking
	// but never authenticates is closed; an authenticated one is not.
	idle := dialSASL(t, b.Addr)
	start := time.Now()
	if _, err := idle.send(apiVersions()); err != nil {
		t.Fatal(err)
	}
	if !idle.closed() {
		t.Fatal("unauthenticated connection still open")
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 4*time.Second {
		t.Fatalf("closed after %v, want about 300ms", d)
	}
	time.Sleep(100 * time.Millisecond) // past the timeout of c, which authenticated
	if _, err := c.send(apiVersions()); err != nil {
		t.Fatalf("authenticated connection closed: %v", err)
	}
}

func TestSASLReauthentication(t *testing.T) {
	b := tandemtest.StartSASL(t, saslProps("listener.name.sasl_plaintext.plain.connections.max.reauth.ms", "600"))

	// SessionLifetimeMs is returned; after it, the next request closes.
	c := dialSASL(t, b.Addr)
	resp := c.plainLogin("alice", "alice-secret")
	if resp.ErrorCode != 0 || resp.SessionLifetimeMillis != 600 {
		t.Fatalf("login: %+v", resp)
	}
	time.Sleep(650 * time.Millisecond)
	if _, err := c.send(metadataReq()); err == nil {
		t.Fatal("request after the session expired was answered")
	}

	// Re-authenticating in time (or even late, as long as the next request
	// is the re-authentication) keeps the connection.
	c = dialSASL(t, b.Addr)
	c.plainLogin("alice", "alice-secret")
	time.Sleep(650 * time.Millisecond)
	if resp := c.plainLogin("alice", "alice-secret"); resp.ErrorCode != 0 || resp.SessionLifetimeMillis != 600 {
		t.Fatalf("re-authentication: %+v", resp)
	}
	if _, err := c.send(metadataReq()); err != nil {
		t.Fatalf("request after re-authentication: %v", err)
	}

	// Another principal may not take over the connection.
	resp = c.plainLogin("bob", "bob-secret")
	if resp.ErrorCode != kerr.SaslAuthenticationFailed.Code || resp.ErrorMessage == nil ||
		*resp.ErrorMessage != "Cannot change principals during re-authentication from User:alice: User:bob" {
		t.Fatalf("principal change: %+v", resp)
	}
	if !c.closed() {
		t.Fatal("connection open after a principal change")
	}

	// A session of SaslAuthenticate v0 cannot re-authenticate (KIP-368).
	c = dialSASL(t, b.Addr)
	c.handshake("PLAIN", 1)
	if resp := c.authenticate("\x00alice\x00alice-secret", 0); resp.ErrorCode != 0 {
		t.Fatalf("v0 login: %+v", resp)
	}
	if hs := c.handshake("PLAIN", 1); hs.ErrorCode != kerr.IllegalSaslState.Code {
		t.Fatalf("re-authentication of a v0 session: %+v", hs)
	}
}

// TestSASLHandshakeV0 runs the pre-KIP-152 framing: after SaslHandshake v0
// the SASL tokens travel as bare size-prefixed frames.
func TestSASLHandshakeV0(t *testing.T) {
	b := tandemtest.StartSASL(t, saslProps())
	c := dialSASL(t, b.Addr)
	if hs := c.handshake("PLAIN", 0); hs.ErrorCode != 0 {
		t.Fatalf("handshake: %+v", hs)
	}
	tok := []byte("\x00alice\x00alice-secret")
	if _, err := c.nc.Write(binary.BigEndian.AppendUint32(nil, uint32(len(tok)))); err != nil {
		t.Fatal(err)
	}
	if _, err := c.nc.Write(tok); err != nil {
		t.Fatal(err)
	}
	if resp, err := c.readFrame(); err != nil || len(resp) != 0 {
		t.Fatalf("raw PLAIN answer %q, %v", resp, err)
	}
	if _, err := c.send(metadataReq()); err != nil {
		t.Fatalf("Metadata after raw authentication: %v", err)
	}

	// A failed raw exchange can only be told by closing.
	c = dialSASL(t, b.Addr)
	c.handshake("PLAIN", 0)
	tok = []byte("\x00alice\x00wrong")
	_, _ = c.nc.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(tok))), tok...))
	if !c.closed() {
		t.Fatal("connection open after a failed raw exchange")
	}
}

// TestSASLOnPlaintextListener: the SASL APIs answer ILLEGAL_SASL_STATE on a
// listener without SASL, as Kafka's KafkaApis does.
func TestSASLOnPlaintextListener(t *testing.T) {
	b := tandemtest.Start(t)
	c := dialSASL(t, b.Addr())
	if hs := c.handshake("PLAIN", 1); hs.ErrorCode != kerr.IllegalSaslState.Code {
		t.Fatalf("handshake: %+v", hs)
	}
	if resp := c.authenticate("x", 1); resp.ErrorCode != kerr.IllegalSaslState.Code {
		t.Fatalf("authenticate: %+v", resp)
	}
	if _, err := c.send(metadataReq()); err != nil {
		t.Fatal(err)
	}
}
