package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/tandem-streaming/tandem/internal/record"
)

const (
	scanChunk     = 64 << 10 // read-ahead window for header scans
	maxScanWindow = 1 << 20  // batches up to this size are served from the window
)

// scanStop says why a scan ended.
type scanStop int

const (
	scanEOF     scanStop = iota // clean end: the next batch would start at the limit
	scanTorn                    // a partial batch runs past the limit (torn tail)
	scanCorrupt                 // framing is broken (length or magic)
)

// batchScanner walks the batches of one segment file from a position up
// to a limit, reading ahead in chunks. It checks framing only (length
// field, magic); callers verify CRCs with verifyCRC when recovering.
type batchScanner struct {
	r      io.ReaderAt
	limit  int64
	pos    int64 // position of the next batch
	buf    []byte
	bufPos int64

	// Current batch, valid after next returns true.
	hdr      record.Batch // header view: only the first BatchHeaderSize bytes are valid
	batchPos int64
	batchLen int64

	stop    scanStop
	stopErr error // I/O error or framing detail
}

func newScanner(r io.ReaderAt, start, limit int64) *batchScanner {
	return &batchScanner{r: r, pos: start, limit: limit}
}

// window returns bytes [pos, pos+n), reading as needed. n <= maxScanWindow.
func (s *batchScanner) window(pos int64, n int) ([]byte, error) {
	if pos >= s.bufPos && pos+int64(n) <= s.bufPos+int64(len(s.buf)) {
		off := pos - s.bufPos
		return s.buf[off : off+int64(n)], nil
	}
	want := max(n, scanChunk)
	if rem := s.limit - pos; int64(want) > rem {
		want = int(rem)
	}
	if want < n {
		return nil, io.ErrUnexpectedEOF
	}
	if cap(s.buf) < want {
		s.buf = make([]byte, want)
	}
	s.buf = s.buf[:want]
	m, err := s.r.ReadAt(s.buf, pos)
	s.bufPos = pos
	s.buf = s.buf[:m]
	if m < n {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return s.buf[:n], nil
}

// next advances to the next batch. It returns false at the limit, at a
// torn tail or at broken framing (see stop/stopErr).
func (s *batchScanner) next() bool {
	if s.stopErr != nil {
		return false
	}
	if s.hdr != nil {
		s.pos = s.batchPos + s.batchLen
		s.hdr = nil
	}
	rem := s.limit - s.pos
	if rem <= 0 {
		s.stop = scanEOF
		return false
	}
	if rem < record.BatchHeaderSize {
		s.stop, s.stopErr = scanTorn, fmt.Errorf("%d trailing bytes at position %d, less than a batch header", rem, s.pos)
		return false
	}
	h, err := s.window(s.pos, record.BatchHeaderSize)
	if err != nil {
		s.stop, s.stopErr = scanTorn, fmt.Errorf("reading batch header at position %d: %w", s.pos, err)
		return false
	}
	length := int64(int32(binary.BigEndian.Uint32(h[8:])))
	if length < record.MinLength {
		s.stop, s.stopErr = scanCorrupt, fmt.Errorf("batch at position %d has length %d", s.pos, length)
		return false
	}
	if m := int8(h[16]); m != record.MagicV2 {
		s.stop, s.stopErr = scanCorrupt, fmt.Errorf("batch at position %d has magic %d", s.pos, m)
		return false
	}
	total := record.LogOverhead + length
	if total > rem {
		s.stop, s.stopErr = scanTorn, fmt.Errorf("batch at position %d needs %d bytes, %d remain", s.pos, total, rem)
		return false
	}
	s.hdr = record.Batch(h)
	s.batchPos, s.batchLen = s.pos, total
	return true
}

// full returns the whole current batch. Small batches alias the window
// (valid until the next call); large ones are read into a fresh buffer.
func (s *batchScanner) full() (record.Batch, error) {
	if s.batchLen <= maxScanWindow {
		b, err := s.window(s.batchPos, int(s.batchLen))
		if err == nil {
			// Re-point hdr at the refreshed window.
			s.hdr = record.Batch(b[:record.BatchHeaderSize])
		}
		return record.Batch(b), err
	}
	b := make([]byte, s.batchLen)
	if _, err := s.r.ReadAt(b, s.batchPos); err != nil {
		return nil, err
	}
	return record.Batch(b), nil
}

// verifyCRC checks the current batch's CRC without holding it all in
// memory at once.
func (s *batchScanner) verifyCRC() error {
	if s.batchLen <= maxScanWindow {
		b, err := s.full()
		if err != nil {
			return err
		}
		return b.VerifyCRC()
	}
	want := s.hdr.CRC()
	base := s.hdr.BaseOffset()
	crc := uint32(0)
	tab := crc32.MakeTable(crc32.Castagnoli)
	buf := make([]byte, scanChunk)
	for p, end := s.batchPos+21, s.batchPos+s.batchLen; p < end; {
		n := min(int64(len(buf)), end-p)
		if _, err := s.r.ReadAt(buf[:n], p); err != nil {
			return err
		}
		crc = crc32.Update(crc, tab, buf[:n])
		p += n
	}
	if crc != want {
		return record.CorruptErrorf("CRC mismatch at base offset %d: stored %#08x, computed %#08x", base, want, crc)
	}
	return nil
}
