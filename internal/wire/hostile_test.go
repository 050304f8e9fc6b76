package wire

import (
	"encoding/binary"
	"testing"
	"time"
)

// hostileTagFrame returns a request (without its size prefix) whose header
// is the flexible header v2 of key/version and whose body is prefix
// followed by a tagged-field count of 2^32-1 (uvarint ff ff ff ff 0f) and
// nothing else: the shape of issue #9's 22-byte ApiVersions v3 frame.
func hostileTagFrame(key, version int16, prefix ...byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, 1) // correlation id
	b = append(b, 0xff, 0xff)               // null client id
	b = append(b, 0)                        // no header tags
	b = append(b, prefix...)
	return append(b, 0xff, 0xff, 0xff, 0xff, 0x0f)
}

// hostileApiVersions is issue #9's frame: ApiVersions v3 with empty
// client software name and version and 2^32-1 body tags. With its size
// prefix it is 22 bytes.
func hostileApiVersions() []byte { return hostileTagFrame(18, 3, 1, 1) }

// hostileMetadata is the FuzzDecode finding: Metadata v12 with null
// topics, two false booleans and 2^32-1 body tags.
func hostileMetadata() []byte { return hostileTagFrame(3, 12, 0, 0, 0) }

// TestHostileTagCountIsCheap: kmsg v1.15.0 looped over the forged count
// after the input ran out (~70 s of CPU per frame). Decoding must fail at
// once now; the bound is generous for a slow CI machine, and the old
// behaviour takes minutes.
func TestHostileTagCountIsCheap(t *testing.T) {
	if n := len(hostileApiVersions()) + 4; n != 22 {
		t.Fatalf("ApiVersions frame is %d bytes, want 22", n)
	}
	for _, tt := range []struct {
		name  string
		frame []byte
	}{
		{"ApiVersions v3", hostileApiVersions()},
		{"Metadata v12", hostileMetadata()},
		{"Metadata v12, 2^28-1 tags (6.5 s with kmsg v1.15.0)", slowMetadata()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, body, err := ParseHeader(tt.frame)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = DecodeRequest(h, body)
			if took := time.Since(start); took > 100*time.Millisecond {
				t.Fatalf("decode took %v", took)
			}
			if err == nil {
				t.Fatal("decoded a frame that claims 2^32-1 tags")
			}
		})
	}
}
