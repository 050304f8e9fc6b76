package link

import (
	"testing"

	"github.com/tandem-streaming/tandem/internal/wire"
)

// The software version a link's client sends must match KIP-511's
// pattern, or the peer answers ApiVersions with INVALID_REQUEST.
func TestLinkClientVersionMatchesKIP511(t *testing.T) {
	for in, want := range map[string]string{
		"v1.2.3":                            "v1.2.3",
		"devel+0123456789ab-dirty (2026-1)": "devel-0123456789ab-dirty--2026-1",
		"":                                  "dev",
		"+++":                               "dev",
		"v0.0.0-20260101-abcdef.":           "v0.0.0-20260101-abcdef",
	} {
		if got := kip511Version(in); got != want {
			t.Errorf("kip511Version(%q) = %q, want %q", in, got, want)
		}
	}
	if v := linkClientVersion(); !softwareVersionRE.MatchString(v) {
		t.Fatalf("linkClientVersion() = %q", v)
	}
	mv := linkMaxVersions()
	for _, key := range []int16{wire.LinkPeerKey, wire.LinkReverseKey, wire.LinkMirrorOpKey, wire.LinkFetchKey} {
		if v, ok := mv.LookupMaxKeyVersion(key); !ok || v != 0 {
			t.Fatalf("key %d: max %d %v", key, v, ok)
		}
	}
	if v, _ := mv.LookupMaxKeyVersion(18); v > linkApiVersionsMax {
		t.Fatalf("ApiVersions v%d: a Tandem peer would never read the software name", v)
	}
}
