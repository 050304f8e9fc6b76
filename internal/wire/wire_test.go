package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func frame(b []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

func TestReadFrame(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		max     int32
		want    []byte
		wantErr error
	}{
		{"ok", frame([]byte("abc")), 10, []byte("abc"), nil},
		{"empty body", frame(nil), 10, []byte{}, nil},
		{"too large", frame(make([]byte, 11)), 10, nil, ErrFrameTooLarge},
		{"negative size", []byte{0xff, 0xff, 0xff, 0xff}, 10, nil, ErrMalformed},
		{"truncated body", frame([]byte("abcdef"))[:6], 10, nil, io.ErrUnexpectedEOF},
		{"truncated size", []byte{0, 0}, 10, nil, io.ErrUnexpectedEOF},
		{"eof", nil, 10, nil, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadFrame(bufio.NewReader(bytes.NewReader(tt.in)), tt.max)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && !bytes.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestReadFrameWith: the allocator sees the frame's size and API key
// (-1 when the frame cannot hold one) and its buffer is what is returned.
func TestReadFrameWith(t *testing.T) {
	tests := []struct {
		in   []byte
		size int32
		key  int16
	}{
		{frame([]byte{0, 0, 1, 2, 3}), 5, 0},
		{frame([]byte{0, 11, 9}), 3, 11},
		{frame([]byte{7}), 1, -1},
		{frame(nil), 0, -1},
	}
	for _, tt := range tests {
		var gotSize int32
		var gotKey int16 = -2
		var buf []byte
		got, err := ReadFrameWith(bufio.NewReader(bytes.NewReader(tt.in)), 10, func(n int32, key int16) []byte {
			gotSize, gotKey = n, key
			buf = make([]byte, n)
			return buf
		})
		if err != nil {
			t.Fatal(err)
		}
		if gotSize != tt.size || gotKey != tt.key {
			t.Errorf("%x: alloc saw size %d key %d, want %d %d", tt.in, gotSize, gotKey, tt.size, tt.key)
		}
		if !bytes.Equal(got, tt.in[4:]) || (len(got) > 0 && &got[0] != &buf[0]) {
			t.Errorf("%x: got %x, not the allocated buffer holding the body", tt.in, got)
		}
	}
}

// encodeRequest builds a request frame body the way a client does.
func encodeRequest(req kmsg.Request, corr int32, clientID *string) []byte {
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID(derefOr(clientID, "")))
	return f.AppendRequest(nil, req, corr)[4:] // drop the size
}

func derefOr(s *string, d string) string {
	if s == nil {
		return d
	}
	return *s
}

func TestParseHeaderAndDecodeRoundTrip(t *testing.T) {
	for _, version := range []int16{0, 3, 4, 9, 12, 17} {
		req := kmsg.NewPtrFetchRequest()
		req.Version = version
		req.MaxWaitMillis = 500
		req.MinBytes = 1
		req.MaxBytes = 1 << 20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "t"
		rt.TopicID = [16]byte{1}
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset = 3, 42
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		cid := "client-1"
		body := encodeRequest(req, 7, &cid)

		h, rest, err := ParseHeader(body)
		if err != nil {
			t.Fatalf("v%d: %v", version, err)
		}
		if h.Key != 1 || h.Version != version || h.CorrelationID != 7 || h.ClientID != cid || h.Flexible != (version >= 12) {
			t.Fatalf("v%d: header %+v", version, h)
		}
		got, err := DecodeRequest(h, rest)
		if err != nil {
			t.Fatalf("v%d decode: %v", version, err)
		}
		gf := got.(*kmsg.FetchRequest)
		if gf.Topics[0].Partitions[0].FetchOffset != 42 || gf.MaxWaitMillis != 500 {
			t.Fatalf("v%d: decoded %+v", version, gf)
		}
	}
}

func TestParseHeaderErrors(t *testing.T) {
	for _, in := range [][]byte{
		nil,
		{0, 1},
		{0, 1, 0, 4, 0, 0, 0, 1},            // missing client id length
		{0, 1, 0, 4, 0, 0, 0, 1, 0, 9, 'a'}, // client id longer than frame
	} {
		if _, _, err := ParseHeader(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseHeader(%v) = %v, want ErrMalformed", in, err)
		}
	}
	// A flexible header whose tag count claims 2^32-1 tags must fail fast.
	in := []byte{0, 1, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f}
	if _, _, err := ParseHeader(in); !errors.Is(err, ErrMalformed) {
		t.Errorf("forged tag count: err = %v, want ErrMalformed", err)
	}
}

func TestAppendResponseHeaders(t *testing.T) {
	// ApiVersions is always answered with header v0 (no tag section),
	// even at flexible versions (KIP-511).
	av := kmsg.NewPtrApiVersionsResponse()
	av.Version = 3
	out := AppendResponse(nil, 9, av)
	body := av.AppendTo(nil)
	if got := int(binary.BigEndian.Uint32(out)); got != 4+len(body) {
		t.Fatalf("ApiVersions size %d, want %d", got, 4+len(body))
	}
	// Other flexible responses carry an empty tag section.
	md := kmsg.NewPtrMetadataResponse()
	md.Version = 12
	out = AppendResponse(nil, 9, md)
	body = md.AppendTo(nil)
	if got := int(binary.BigEndian.Uint32(out)); got != 4+1+len(body) {
		t.Fatalf("Metadata size %d, want %d", got, 5+len(body))
	}
	if binary.BigEndian.Uint32(out[4:]) != 9 || out[8] != 0 {
		t.Fatalf("bad header bytes %v", out[:9])
	}
}

// FuzzDecode feeds arbitrary bytes through header parsing, the pre-scan
// and request decoding for every API key kmsg knows, and the private link
// keys: nothing may panic, decoding must be quick, the pre-scan must
// accept whatever kmsg decodes (or refuse it only for its budget), and
// what it accepts kmsg must decode within its element count. Seeds include issue #9's tag-count and
// array-count shapes (testdata/fuzz/FuzzDecode holds the Metadata v12 input
// that took 6.5 s with kmsg v1.15.0).
func FuzzDecode(f *testing.F) {
	req := kmsg.NewPtrProduceRequest()
	req.Version = 9
	f.Add(encodeRequest(req, 1, nil))
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 12
	f.Add(encodeRequest(md, 2, nil))
	f.Add([]byte{0, 18, 0, 3, 0, 0, 0, 1, 0, 0, 0})
	f.Add(encodeRequest(&LinkMirrorOpRequest{LinkName: "l", Topics: []LinkMirrorOpTopic{{Topic: "t"}}}, 3, nil))
	f.Add(encodeRequest(&LinkFetchRequest{SessionID: 1, Topics: []LinkFetchTopic{{Partitions: []LinkFetchPartition{{FetchOffset: LinkFetchContinue}}}}}, 4, nil))
	for _, b := range hostileShapes() {
		f.Add(b)
	}
	const budget = 64 << 20
	f.Fuzz(func(t *testing.T, b []byte) {
		h, rest, err := ParseHeader(b)
		if err != nil {
			return
		}
		if kreq := RequestForKey(h.Key); kreq == nil || h.Version < 0 || h.Version > kreq.MaxVersion() {
			return
		}
		scan, scanErr := Prescan(h, rest, budget)
		start := time.Now()
		got, err := DecodeRequest(h, rest)
		if took := time.Since(start); took > time.Second {
			t.Fatalf("decoding %d bytes took %v", len(rest), took)
		}
		if err == nil && scanErr != nil && !errors.Is(scanErr, ErrDecodeBudget) {
			t.Fatalf("kmsg decodes what the pre-scan refuses: %v", scanErr)
		}
		if err == nil && scanErr == nil {
			if n := countElements(reflect.ValueOf(got)); n > scan.Elements {
				t.Fatalf("kmsg decoded %d elements, the pre-scan counted %d", n, scan.Elements)
			}
		}
	})
}

// slowMetadata is the Metadata v12 shape with a 4-byte tag count of
// 2^28-1: about 6.5 s of CPU with kmsg v1.15.0 (the FuzzDecode finding).
func slowMetadata() []byte {
	b := hostileMetadata()
	return append(b[:len(b)-5], 0xff, 0xff, 0xff, 0x7f)
}

// hostileShapes are issue #9's shapes: tagged-field counts and array
// counts far past the bytes that follow them.
func hostileShapes() [][]byte {
	fetch := func(topics, partitions uint32) []byte {
		b := hostileTagFrame(1, 4)[:10] // header v1 (no tag section)
		b = binary.BigEndian.AppendUint32(b, 0xffffffff)
		b = append(b, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0x10, 0, 0, 0)
		b = binary.BigEndian.AppendUint32(b, topics)
		b = append(b, 0, 1, 't')
		return binary.BigEndian.AppendUint32(b, partitions)
	}
	return [][]byte{
		hostileApiVersions(),
		hostileMetadata(),
		slowMetadata(),
		hostileTagFrame(0, 9, 0, 0, 1, 0, 0, 0x03, 0xe8, 0), // produce v9, null txn id
		fetch(1, 0x7fffffff),
		fetch(0x7fffffff, 1),
		// Metadata v12: compact topics array claiming 2^31-2 entries.
		append(hostileTagFrame(3, 12)[:11], 0xff, 0xff, 0xff, 0xff, 0x07, 0, 0),
	}
}

// A frame larger than frameGrowFrom is read into a buffer that grows as its
// bytes arrive; alloc is called once, for the whole frame, and its buffer
// is what is returned.
func TestReadFrameWithGrows(t *testing.T) {
	for _, n := range []int{frameGrowFrom + 1, 3 << 20, 5<<20 + 7, 8 << 20} {
		body := make([]byte, n)
		for i := range body {
			body[i] = byte(i * 7)
		}
		body[0], body[1] = 0, 0 // Produce
		calls := 0
		var buf []byte
		got, err := ReadFrameWith(bufio.NewReader(bytes.NewReader(frame(body))), 16<<20, func(size int32, key int16) []byte {
			calls++
			if int(size) != n || key != 0 {
				t.Errorf("alloc(%d, %d), want (%d, 0)", size, key, n)
			}
			buf = make([]byte, size)
			return buf
		})
		if err != nil {
			t.Fatal(err)
		}
		if calls != 1 || !bytes.Equal(got, body) || &got[0] != &buf[0] {
			t.Errorf("%d-byte frame: %d alloc calls, equal=%v", n, calls, bytes.Equal(got, body))
		}
	}
}

// A client that declares a frame of socket.request.max.bytes and sends
// only a few bytes of it makes the broker hold about frameGrowFrom, not the
// declared size (issue #9).
func TestDeclaredFrameCostsOnlyWhatArrives(t *testing.T) {
	pr, pw := io.Pipe()
	allocated := make(chan int32, 1)
	done := make(chan error, 1)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	go func() {
		_, err := ReadFrameWith(bufio.NewReader(pr), 100<<20, func(size int32, _ int16) []byte {
			allocated <- size
			return make([]byte, size)
		})
		done <- err
	}()
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], 100<<20)
	if _, err := pw.Write(append(hdr[:], 0, 0, 0, 9, 0, 0, 0, 1, 0xff, 0xff)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the reader waits for the rest
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 4<<20 {
		t.Errorf("a 100 MiB frame with 10 bytes sent allocated %d bytes", grew)
	}
	select {
	case n := <-allocated:
		t.Errorf("alloc(%d) called before the frame arrived", n)
	default:
	}
	pw.Close()
	if err := <-done; !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("err = %v, want unexpected EOF", err)
	}
}

// TestParseResponse: response header v0 and v1 (tags skipped), and a
// header cut short is malformed, not a panic.
func TestParseResponse(t *testing.T) {
	resp := kmsg.NewPtrMetadataResponse()
	resp.Version = 12 // flexible
	frame := AppendResponse(nil, 42, resp)[4:]
	corr, body, err := ParseResponse(frame, true)
	if err != nil || corr != 42 {
		t.Fatalf("flexible: corr %d, err %v", corr, err)
	}
	got := kmsg.NewPtrMetadataResponse()
	got.Version = 12
	if err := got.ReadFrom(body); err != nil {
		t.Fatalf("flexible body: %v", err)
	}
	// A header tag (tag 1, 2 bytes) before the body is skipped.
	tagged := append([]byte{0, 0, 0, 42, 1, 1, 2, 0xAA, 0xBB}, frame[5:]...)
	if corr, body2, err := ParseResponse(tagged, true); err != nil || corr != 42 || string(body2) != string(body) {
		t.Fatalf("tagged header: corr %d, err %v", corr, err)
	}
	resp.Version = 5 // not flexible
	frame = AppendResponse(nil, 7, resp)[4:]
	if corr, body, err := ParseResponse(frame, false); err != nil || corr != 7 || len(body) != len(frame)-4 {
		t.Fatalf("v0 header: corr %d, %d body bytes, err %v", corr, len(body), err)
	}
	for _, short := range [][]byte{nil, {0, 0}, {0, 0, 0, 1}, {0, 0, 0, 1, 1, 1, 9}} {
		if _, _, err := ParseResponse(short, true); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseResponse(%x): %v, want ErrMalformed", short, err)
		}
	}
}
