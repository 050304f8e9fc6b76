package link

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/wire"
)

// The framing of a source-initiated link's connections
// (docs/source-initiated-links.md "The reversal protocol"): Kafka's own —
// a 4-byte size, request header v1/v2, response header v0/v1 — written and
// read here without a franz-go client, because a reversed connection
// changes roles after its first exchange, which no Kafka client can do.

// revMaxFrame bounds a frame read on a reversed control connection or
// relayed from the destination: requests of a destination link are small
// (Fetch requests carry no records); Kafka's socket.request.max.bytes
// default.
const revMaxFrame = 100 << 20

// revClientID is the client id of the SOURCE half's own requests.
const revClientID = "tandem-cluster-link-source"

// revFormatter frames the requests the link sends on connections it drives
// itself (a SOURCE half's set-up, an INBOUND half's control session):
// size, request header (v2 when flexible, else v1), body.
var revFormatter = kmsg.NewRequestFormatter(kmsg.FormatterClientID(revClientID))

// appendRequest appends a whole request frame.
func appendRequest(dst []byte, corr int32, req kmsg.Request) []byte {
	return revFormatter.AppendRequest(dst, req, corr)
}

// kconn is the client end of one connection during its set-up: one request
// at a time, in order (ApiVersions, SASL, then LinkReverse).
type kconn struct {
	conn net.Conn
	rd   *bufio.Reader
	corr int32
	// lifetime is the SessionLifetimeMs of the last SaslAuthenticate
	// answer (zero: the session never expires, KIP-368).
	lifetime time.Duration
}

func newKconn(c net.Conn) *kconn { return &kconn{conn: c, rd: bufio.NewReaderSize(c, 4096)} }

// do sends req and returns its answer.
func (k *kconn) do(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = k.conn.SetDeadline(dl)
		defer func() { _ = k.conn.SetDeadline(time.Time{}) }()
	}
	k.corr++
	if _, err := k.conn.Write(appendRequest(nil, k.corr, req)); err != nil {
		return nil, err
	}
	frame, err := wire.ReadFrame(k.rd, revMaxFrame)
	if err != nil {
		return nil, err
	}
	// ApiVersions answers with header v0 whatever its version.
	corr, body, err := wire.ParseResponse(frame, req.IsFlexible() && req.Key() != int16(kmsg.ApiVersions))
	if err != nil {
		return nil, err
	}
	if corr != k.corr {
		return nil, fmt.Errorf("%w: response correlation id %d, want %d", wire.ErrMalformed, corr, k.corr)
	}
	return decodeResponse(req, body)
}

// decodeResponse decodes body as the answer to req.
func decodeResponse(req kmsg.Request, body []byte) (kmsg.Response, error) {
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	return resp, resp.ReadFrom(body)
}

// buffered returns the connection with whatever the set-up's reader read
// ahead (nothing, as a Kafka peer answers one request at a time, but a
// peer that sends early must not lose bytes).
func (k *kconn) buffered() net.Conn {
	if k.rd.Buffered() == 0 {
		return k.conn
	}
	return &prefixConn{Conn: k.conn, r: io.MultiReader(k.rd, k.conn)}
}

// prefixConn reads from r (buffered bytes, then the connection).
type prefixConn struct {
	net.Conn
	r io.Reader
}

func (c *prefixConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// ReadFrom hands copies into c to the connection's own ReadFrom: the
// relay's io.Copy of fetch answers into the destination's data connection
// (often a prefixConn: the destination's first request arrives with the
// answer to LinkReverse DATA) then moves them with splice(2) between the
// two TCP sockets instead of through a 32 KiB user-space buffer, which
// took twice the relay's CPU (docs/benchmarks.md, source-initiated links).
func (c *prefixConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// connectAuthenticated dials addr and completes a Kafka client's set-up
// with sec: TLS, ApiVersions (as a Tandem link, so the private keys are
// offered: wire.LinkClientSoftwareName), then SASL when configured. It is
// how the SOURCE half reaches the destination (the link's own security) and
// its own brokers (local.*), within timeout (socket.connection.setup.timeout.ms
// covers the whole set-up, as in the link's dialer).
func connectAuthenticated(ctx context.Context, addr string, sec security, timeout time.Duration) (*kconn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	raw, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := raw
	if sec.tls != nil {
		tc := tls.Client(raw, tlsFor(sec.tls, addr))
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = raw.Close()
			return nil, &errTLSHandshake{addr: addr, err: err}
		}
		c = tc
	}
	k := newKconn(c)
	if err := k.setup(ctx, sec, addr); err != nil {
		_ = c.Close()
		return nil, err
	}
	return k, nil
}

// setup sends ApiVersions and authenticates with SASL (KIP-152's
// SaslHandshake v1 then SaslAuthenticate, franz-go's mechanisms doing the
// exchanges, as its client does).
func (k *kconn) setup(ctx context.Context, sec security, addr string) error {
	av := kmsg.NewPtrApiVersionsRequest()
	av.Version = 3
	av.ClientSoftwareName = wire.LinkClientSoftwareName
	av.ClientSoftwareVersion = "1"
	r, err := k.do(ctx, av)
	if err != nil {
		return fmt.Errorf("ApiVersions with %s: %w", addr, err)
	}
	if err := kerr.ErrorForCode(r.(*kmsg.ApiVersionsResponse).ErrorCode); err != nil {
		return fmt.Errorf("ApiVersions with %s: %w", addr, err)
	}
	if sec.sasl == nil {
		return nil
	}
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version = 1
	hs.Mechanism = sec.sasl.Name()
	r, err = k.do(ctx, hs)
	if err != nil {
		return fmt.Errorf("SaslHandshake with %s: %w", addr, err)
	}
	if err := kerr.ErrorForCode(r.(*kmsg.SASLHandshakeResponse).ErrorCode); err != nil {
		return fmt.Errorf("SaslHandshake with %s: %w", addr, err)
	}
	session, write, err := sec.sasl.Authenticate(ctx, addr)
	if err != nil {
		return err
	}
	for done := false; !done; {
		req := kmsg.NewPtrSASLAuthenticateRequest()
		req.Version = 2
		req.SASLAuthBytes = write
		r, err := k.do(ctx, req)
		if err != nil {
			return fmt.Errorf("SaslAuthenticate with %s: %w", addr, err)
		}
		resp := r.(*kmsg.SASLAuthenticateResponse)
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			if resp.ErrorMessage != nil {
				return fmt.Errorf("SaslAuthenticate with %s: %s: %w", addr, *resp.ErrorMessage, err)
			}
			return fmt.Errorf("SaslAuthenticate with %s: %w", addr, err)
		}
		k.lifetime = time.Duration(resp.SessionLifetimeMillis) * time.Millisecond
		if done, write, err = session.Challenge(resp.SASLAuthBytes); err != nil {
			return err
		}
		if done && len(write) > 0 {
			return fmt.Errorf("SASL %s with %s: a final client message is not supported", sec.sasl.Name(), addr)
		}
	}
	return nil
}

// linkReverse sends a LinkReverse request on the set-up connection.
func (k *kconn) linkReverse(ctx context.Context, req *wire.LinkReverseRequest) (*wire.LinkReverseResponse, error) {
	resp, err := k.do(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*wire.LinkReverseResponse), nil
}
