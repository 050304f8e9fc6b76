package server

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/log"
)

// errPlaceholder means an encoded response did not hold a placeholder
// where broker.Files said it would: a bug, answered by closing the
// connection rather than sending a frame the client would misread.
var errPlaceholder = errors.New("server: record placeholder not found in encoded response")

// splicePoint is where one file slice replaces a placeholder: the frame
// bytes [prefix, end) — the length prefix and the placeholder — give way
// to the slice's own length prefix and bytes.
type splicePoint struct {
	prefix, end int
	slice       *log.FileSlice
}

// findSplices locates each placeholder of refs, in order, in frame (a
// response frame from wire.AppendResponse). Each must sit right after the
// length prefix kmsg writes for a placeholder-sized bytes field: an int32
// (NullableBytes) or, in flexible versions, a uvarint of length+1
// (CompactNullableBytes).
func findSplices(frame []byte, refs []broker.FileRef, flexible bool) ([]splicePoint, error) {
	if len(frame) < 4 {
		return nil, fmt.Errorf("%w: %d-byte frame", errPlaceholder, len(frame))
	}
	pts := make([]splicePoint, 0, len(refs))
	from := 4 // the frame size
	for i, r := range refs {
		at := bytes.Index(frame[from:], r.Placeholder)
		if at < 0 {
			return nil, fmt.Errorf("%w: slice %d of %d", errPlaceholder, i+1, len(refs))
		}
		at += from
		prefix := at - 4
		ok := prefix >= from && binary.BigEndian.Uint32(frame[prefix:]) == broker.PlaceholderSize
		if flexible {
			prefix = at - 1
			ok = prefix >= from && frame[prefix] == broker.PlaceholderSize+1
		}
		if !ok {
			return nil, fmt.Errorf("%w: slice %d of %d has no length prefix", errPlaceholder, i+1, len(refs))
		}
		pts = append(pts, splicePoint{prefix: prefix, end: at + broker.PlaceholderSize, slice: r.Slice})
		from = at + broker.PlaceholderSize
	}
	return pts, nil
}

// appendLength appends the length prefix of an n-byte bytes field.
func appendLength(dst []byte, n int64, flexible bool) []byte {
	if flexible {
		return binary.AppendUvarint(dst, uint64(n)+1)
	}
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}

// splicedSize is the size field of frame once pts are spliced in.
func splicedSize(frame []byte, pts []splicePoint, flexible bool) int64 {
	var scratch [binary.MaxVarintLen64]byte
	size := int64(len(frame) - 4)
	for _, p := range pts {
		size += int64(len(appendLength(scratch[:0], p.slice.Len, flexible))) + p.slice.Len - int64(p.end-p.prefix)
	}
	return size
}

// writeSpliced writes frame with each splice point's slice in place of its
// placeholder: the encoded bytes go through bw, the slices straight from
// the page cache to the socket (sendFile). It returns the bytes written.
func (c *conn) writeSpliced(bw *bufio.Writer, frame []byte, pts []splicePoint, flexible bool) (int64, error) {
	size := splicedSize(frame, pts, flexible)
	if size > 1<<31-1 {
		return 0, fmt.Errorf("server: spliced response of %d bytes exceeds a frame", size)
	}
	var scratch [binary.MaxVarintLen64]byte
	_, _ = bw.Write(binary.BigEndian.AppendUint32(scratch[:0], uint32(size)))
	from := 4
	for _, p := range pts {
		_, _ = bw.Write(frame[from:p.prefix])
		_, _ = bw.Write(appendLength(scratch[:0], p.slice.Len, flexible))
		if err := bw.Flush(); err != nil {
			return 0, err
		}
		if err := sendFile(c.nc, p.slice.File(), p.slice.Pos, p.slice.Len); err != nil {
			return 0, err
		}
		from = p.end
	}
	_, err := bw.Write(frame[from:])
	return size + 4, err
}
