// Package wire frames Kafka requests and responses on a byte stream.
//
// A request is an int32 size followed by a request header (api key, api
// version, correlation id, nullable client id, and — for flexible versions,
// KIP-482 — a tagged-field section) and the body. A response is an int32 size,
// the correlation id, a tagged-field section for flexible versions (response
// header v1) and the body. The ApiVersions response always uses header v0 so
// that a client that sent a version the broker does not know can still parse
// it (KIP-511; Kafka ApiVersionsResponse.json).
//
// The codecs themselves come from franz-go's kmsg: this package only reads
// and writes the frame and the header, so that the broker can decide what to
// do with a request before its body is decoded (unknown keys, unsupported
// versions, oversized frames).
package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var (
	// ErrFrameTooLarge is returned for a frame whose declared size exceeds
	// the configured maximum (socket.request.max.bytes). Kafka closes the
	// connection in that case (InvalidReceiveException); so do we.
	ErrFrameTooLarge = errors.New("wire: frame exceeds socket.request.max.bytes")
	// ErrMalformed is returned for a frame too short to hold a header, or
	// whose header cannot be parsed.
	ErrMalformed = errors.New("wire: malformed request")
)

// ReadFrame reads one size-prefixed frame. A negative or oversized size is
// an error and nothing past the size is read, so a hostile client cannot make
// the broker allocate more than max bytes.
func ReadFrame(r *bufio.Reader, max int32) ([]byte, error) {
	return ReadFrameWith(r, max, nil)
}

// frameGrowFrom is the largest frame whose buffer is allocated whole as
// soon as its size is read. A larger frame is first received into pooled
// 1 MiB chunks, and its buffer is allocated only once a quarter of it has
// arrived, so memory follows what a client sends, not what it declares: a
// frame declared at socket.request.max.bytes (100 MiB) and then never sent
// holds 1 MiB, not 100 MiB, for as long as the connection's read timeout
// lets it wait (issue #9), and holding a frame's buffer takes sending a
// quarter of it. The cost is one extra copy of that quarter; the chunks
// are recycled, so a stream of large Produce requests allocates nothing
// more than before.
const (
	frameGrowFrom = 1 << 20
	frameChunk    = 1 << 20
)

var frameChunks = sync.Pool{New: func() any { b := make([]byte, frameChunk); return &b }}

// ReadFrameWith is ReadFrame with the frame's buffer from alloc, which is
// told the frame size and API key (-1 when the frame is too short to hold
// one) and returns a buffer of exactly size bytes; nil alloc allocates.
// The key lets a server pool the buffers of requests whose bytes it knows
// are not retained once answered (Produce), and only those. For a frame
// larger than frameGrowFrom, alloc is called once a quarter of the frame
// has arrived.
func ReadFrameWith(r *bufio.Reader, max int32, alloc func(size int32, key int16) []byte) ([]byte, error) {
	var sz [4]byte
	if _, err := io.ReadFull(r, sz[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(sz[:]))
	if n < 0 {
		return nil, fmt.Errorf("%w: negative frame size %d", ErrMalformed, n)
	}
	if n > max {
		return nil, fmt.Errorf("%w: %d > %d", ErrFrameTooLarge, n, max)
	}
	key := int16(-1)
	if n >= 2 {
		if k, err := r.Peek(2); err == nil {
			key = int16(binary.BigEndian.Uint16(k))
		} else if n > frameGrowFrom {
			return nil, unexpectedEOF(err)
		}
	}
	final := func() []byte {
		if alloc == nil {
			return make([]byte, n)
		}
		return alloc(n, key)
	}
	got := 0
	var body []byte
	if n <= frameGrowFrom {
		body = final()
	} else {
		var chunks []*[]byte
		release := func() {
			for _, c := range chunks {
				frameChunks.Put(c)
			}
		}
		for got < int(n)/4 {
			c := frameChunks.Get().(*[]byte)
			chunks = append(chunks, c)
			k, err := io.ReadFull(r, (*c)[:min(frameChunk, int(n)-got)])
			got += k
			if err != nil {
				release()
				return nil, unexpectedEOF(err)
			}
		}
		body = final()
		off := 0
		for _, c := range chunks {
			off += copy(body[off:got], *c)
		}
		release()
	}
	if _, err := io.ReadFull(r, body[got:]); err != nil {
		return nil, unexpectedEOF(err)
	}
	return body, nil
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Header is a parsed request header (v1 or v2).
type Header struct {
	Key           int16
	Version       int16
	CorrelationID int32
	// ClientID is "" for a null client id, as Kafka treats them alike.
	ClientID string
	// Flexible reports whether the request uses header v2 (tagged fields).
	Flexible bool
}

// ParseHeader parses the request header and returns it with the remaining
// body bytes. For API keys kmsg does not know, Flexible is false and the
// body is returned undecoded; the caller answers or closes as Kafka does.
// The Tandem-private link keys (linkapi.go) use header v2 at every
// version, as their bodies are flexible from v0.
func ParseHeader(frame []byte) (Header, []byte, error) {
	if len(frame) < 8 {
		return Header{}, nil, fmt.Errorf("%w: %d-byte frame is shorter than a request header", ErrMalformed, len(frame))
	}
	rd := kbin.Reader{Src: frame}
	h := Header{Key: rd.Int16(), Version: rd.Int16(), CorrelationID: rd.Int32()}
	cid := rd.NullableString()
	if err := rd.Complete(); err != nil {
		// Complete reports a read past the end; any other state is fine.
		return h, nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	if cid != nil {
		h.ClientID = *cid
	}
	if req := RequestForKey(h.Key); req != nil && h.Version >= 0 {
		req.SetVersion(h.Version)
		h.Flexible = req.IsFlexible()
	}
	if h.Flexible {
		skipTags(&rd)
		if !rd.Ok() {
			return h, nil, fmt.Errorf("%w: header tagged fields", ErrMalformed)
		}
	}
	return h, rd.Src, nil
}

// DecodeRequest decodes body as the request h names. The version must
// already have been checked against what the broker supports.
func DecodeRequest(h Header, body []byte) (kmsg.Request, error) {
	req := RequestForKey(h.Key)
	if req == nil {
		return nil, fmt.Errorf("%w: unknown api key %d", ErrMalformed, h.Key)
	}
	req.SetVersion(h.Version)
	if err := req.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("%w: %s v%d: %v", ErrMalformed, NameForKey(h.Key), h.Version, err)
	}
	return req, nil
}

// AppendResponse appends a complete response frame (size, header, body) to
// dst. resp's version must be set to the request's.
func AppendResponse(dst []byte, correlationID int32, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(correlationID))
	// ApiVersions (key 18) always answers with response header v0.
	if resp.IsFlexible() && resp.Key() != int16(kmsg.ApiVersions) {
		dst = append(dst, 0) // empty tagged-field section
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// ParseResponse splits a response frame (without its size) into the
// correlation id and the body: response header v1 (with a tagged-field
// section) when flexible, else v0. A client reading answers calls it with
// flexible = the request's IsFlexible, except for ApiVersions, which
// always answers with header v0 (KIP-511).
func ParseResponse(frame []byte, flexible bool) (correlationID int32, body []byte, err error) {
	rd := kbin.Reader{Src: frame}
	correlationID = rd.Int32()
	if flexible {
		skipTags(&rd)
	}
	if !rd.Ok() {
		return 0, nil, fmt.Errorf("%w: response header of %d bytes", ErrMalformed, len(frame))
	}
	return correlationID, rd.Src, nil
}

// skipTags skips a tagged-field section. Unlike kmsg.SkipTags it stops as
// soon as the reader runs dry, so a forged count of 2^32-1 tags costs nothing.
func skipTags(rd *kbin.Reader) {
	for n := rd.Uvarint(); n > 0 && rd.Ok(); n-- {
		rd.Uvarint() // tag
		rd.Span(int(rd.Uvarint()))
	}
}
