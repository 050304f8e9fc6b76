package link

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
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

// appendRequest appends a whole request frame: size, header (v2 when
// flexible, else v1), body.
func appendRequest(dst []byte, corr int32, req kmsg.Request) []byte {
	key, version := req.Key(), req.GetVersion()
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint16(dst, uint16(key))
	dst = binary.BigEndian.AppendUint16(dst, uint16(version))
	dst = binary.BigEndian.AppendUint32(dst, uint32(corr))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(revClientID)))
	dst = append(dst, revClientID...)
	if req.IsFlexible() {
		dst = append(dst, 0)
	}
	dst = req.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// responseBody strips a response frame's header (v1 when flexible, else
// v0) and returns its correlation id and body.
func responseBody(frame []byte, flexible bool) (int32, []byte, error) {
	if len(frame) < 4 {
		return 0, nil, fmt.Errorf("%w: %d-byte response", wire.ErrMalformed, len(frame))
	}
	corr := int32(binary.BigEndian.Uint32(frame))
	body := frame[4:]
	if flexible {
		// Tagged fields of the header: a count (0 from every broker we
		// talk to) then tag/size/bytes.
		n, k := binary.Uvarint(body)
		if k <= 0 {
			return corr, nil, fmt.Errorf("%w: response header tags", wire.ErrMalformed)
		}
		body = body[k:]
		for ; n > 0; n-- {
			_, k1 := binary.Uvarint(body)
			if k1 <= 0 {
				return corr, nil, fmt.Errorf("%w: response header tags", wire.ErrMalformed)
			}
			sz, k2 := binary.Uvarint(body[k1:])
			if k2 <= 0 || uint64(len(body)) < uint64(k1+k2)+sz {
				return corr, nil, fmt.Errorf("%w: response header tags", wire.ErrMalformed)
			}
			body = body[uint64(k1+k2)+sz:]
		}
	}
	return corr, body, nil
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
	corr, body, err := responseBody(frame, req.IsFlexible() && req.Key() != int16(kmsg.ApiVersions))
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
