package node

import (
	"errors"
	"testing"

	"github.com/tandem-streaming/tandem/internal/link"
)

// TestParseLinkID: a half's cluster_link_id may be given as link describe
// shows it, either as cluster_link_id (base64) or as its ID (dashed hex);
// both name the same id.
func TestParseLinkID(t *testing.T) {
	want := [16]byte{0x6a, 0x4c, 0x07, 0xa6, 0x0e, 0xca, 0x4e, 0xfc, 0x94, 0x9d, 0xfd, 0x50, 0xf5, 0x98, 0x37, 0xf6}
	for _, s := range []string{linkID(want), "6a4c07a6-0eca-4efc-949d-fd50f59837f6", "6A4C07A6-0ECA-4EFC-949D-FD50F59837F6"} {
		got, err := parseLinkID(s)
		if err != nil || got != want {
			t.Errorf("parseLinkID(%q) = %x, %v; want %x", s, got, err, want)
		}
	}
	for _, s := range []string{"", "x", "6a4c07a60eca4efc949dfd50f59837f6", "6a4c07a6-0eca-4efc-949d-fd50f59837f", "00000000-0000-0000-0000-000000000000", "AAAAAAAAAAAAAAAAAAAAAA"} {
		if _, err := parseLinkID(s); !errors.Is(err, link.ErrInvalidConfig) {
			t.Errorf("parseLinkID(%q): err %v, want %v", s, err, link.ErrInvalidConfig)
		}
	}
}
