package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/tandem-streaming/tandem/internal/usererr"
)

// xerialHeader starts snappy payloads framed by snappy-java's
// SnappyOutputStream, which the Java producer uses (Kafka SnappyFactory):
// magic "\x82SNAPPY\x00", then int32 version and int32 min-compatible
// version, then blocks of [int32 compressed length][raw snappy block].
var xerialHeader = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderLen = 16

// zstdMaxWindow bounds the memory one zstd frame may demand. Producers at
// their default levels use windows of a few MiB (level 19 uses 8 MiB); a
// frame asking for more than this is rejected rather than allowed to
// allocate.
const zstdMaxWindow = 64 << 20

var (
	gzipPool sync.Pool // *gzip.Reader
	lz4Pool  = sync.Pool{New: func() any { return lz4.NewReader(nil) }}
	zstdPool = sync.Pool{New: func() any {
		d, err := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			panic(err) // only on invalid options
		}
		return d
	}}
)

// Decompress inflates a records payload compressed with codec c, refusing to
// produce more than limit bytes (ErrDecompressedTooLarge). Malformed input
// matches ErrCorrupt.
func Decompress(c Codec, src []byte, limit int) ([]byte, error) {
	if limit < 0 {
		limit = 0
	}
	var (
		out []byte
		err error
	)
	switch c {
	case None:
		if len(src) > limit {
			return nil, tooLarge(limit)
		}
		return src, nil
	case Gzip:
		out, err = gunzip(src, limit)
	case Snappy:
		out, err = unsnappy(src, limit)
	case LZ4:
		r := lz4Pool.Get().(*lz4.Reader)
		r.Reset(bytes.NewReader(src))
		out, err = readLimited(r, limit, len(src))
		r.Reset(nil)
		lz4Pool.Put(r)
	case Zstd:
		d := zstdPool.Get().(*zstd.Decoder)
		if err = d.Reset(bytes.NewReader(src)); err == nil {
			out, err = readLimited(d, limit, len(src))
		}
		_ = d.Reset(nil)
		zstdPool.Put(d)
	default:
		return nil, invalidf("unknown compression codec id %d", int8(c))
	}
	if err != nil {
		if err == errTooLarge {
			return nil, tooLarge(limit)
		}
		return nil, CorruptErrorf("%s payload: %w", c, err)
	}
	return out, nil
}

var errTooLarge = fmt.Errorf("too large")

func tooLarge(limit int) error {
	return usererr.New(errors.Join(ErrDecompressedTooLarge, ErrInvalidRecord), "invalid record: decompressed size exceeds the limit of %d bytes", limit)
}

// readLimited reads r to EOF, failing with errTooLarge beyond limit bytes.
func readLimited(r io.Reader, limit, hint int) ([]byte, error) {
	size := 4 * hint
	if size < 512 {
		size = 512
	}
	if size > limit+1 {
		size = limit + 1
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	n, err := buf.ReadFrom(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if n > int64(limit) {
		return nil, errTooLarge
	}
	return buf.Bytes(), nil
}

func gunzip(src []byte, limit int) ([]byte, error) {
	var r *gzip.Reader
	if v := gzipPool.Get(); v != nil {
		r = v.(*gzip.Reader)
		if err := r.Reset(bytes.NewReader(src)); err != nil {
			return nil, err
		}
	} else {
		var err error
		if r, err = gzip.NewReader(bytes.NewReader(src)); err != nil {
			return nil, err
		}
	}
	defer gzipPool.Put(r)
	return readLimited(r, limit, len(src))
}

// unsnappy handles both encodings found in Kafka batches: xerial framing
// (Java producer) and a single raw snappy block (librdkafka, franz-go).
func unsnappy(src []byte, limit int) ([]byte, error) {
	if !bytes.HasPrefix(src, xerialHeader) {
		return snappyBlock(nil, src, limit)
	}
	if len(src) < xerialHeaderLen {
		return nil, fmt.Errorf("short xerial header")
	}
	var out []byte
	for rest := src[xerialHeaderLen:]; len(rest) > 0; {
		if len(rest) < 4 {
			return nil, fmt.Errorf("short xerial chunk header")
		}
		n := binary.BigEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(n) > uint64(len(rest)) {
			return nil, fmt.Errorf("xerial chunk of %d bytes exceeds the %d remaining", n, len(rest))
		}
		var err error
		if out, err = snappyBlock(out, rest[:n], limit); err != nil {
			return nil, err
		}
		rest = rest[n:]
	}
	return out, nil
}

// snappyBlock decodes one raw snappy block and appends it to dst, checking
// the declared length against limit before allocating.
func snappyBlock(dst, block []byte, limit int) ([]byte, error) {
	n, err := s2.DecodedLen(block)
	if err != nil {
		return nil, err
	}
	if n > limit-len(dst) {
		return nil, errTooLarge
	}
	start := len(dst)
	dst = slices.Grow(dst, n)[:start+n]
	// s2.Decode writes into its dst argument when it is long enough.
	if out, err := s2.Decode(dst[start:], block); err != nil {
		return nil, err
	} else if len(out) != n {
		return nil, fmt.Errorf("snappy block decoded to %d bytes, header said %d", len(out), n)
	}
	return dst, nil
}

// Compress compresses a records section with codec c, producing what Kafka's
// Java producer produces: gzip, xerial-framed snappy, LZ4 frame, zstd frame.
func Compress(c Codec, src []byte) ([]byte, error) {
	var buf bytes.Buffer
	switch c {
	case None:
		return append([]byte(nil), src...), nil
	case Gzip:
		w := gzip.NewWriter(&buf)
		if _, err := w.Write(src); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
	case Snappy:
		buf.Write(xerialHeader)
		buf.Write([]byte{0, 0, 0, 1, 0, 0, 0, 1}) // version 1, min compatible 1
		const chunk = 32 << 10                    // snappy-java's default block size
		for len(src) > 0 {
			n := min(chunk, len(src))
			blk := s2.EncodeSnappy(nil, src[:n])
			var l [4]byte
			binary.BigEndian.PutUint32(l[:], uint32(len(blk)))
			buf.Write(l[:])
			buf.Write(blk)
			src = src[n:]
		}
	case LZ4:
		w := lz4.NewWriter(&buf)
		if _, err := w.Write(src); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
	case Zstd:
		w, err := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20))
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(src); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
	default:
		return nil, invalidf("unknown compression codec id %d", int8(c))
	}
	return buf.Bytes(), nil
}
