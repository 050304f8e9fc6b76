package link

import (
	"context"
	"fmt"
	"regexp"
	"runtime/debug"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/tandem-streaming/tandem/internal/wire"
)

// kgoPeer sends the private requests (wire/linkapi.go) over an OUTBOUND
// half's client, to the peer's Kafka listener. The client names itself
// wire.LinkClientSoftwareName in ApiVersions (clientOpts), so a Tandem
// peer lists the private keys and franz-go sends them; a peer that does
// not list them (not Tandem) fails the request with franz-go's
// "broker is too old" error, which callers report as the peer not
// answering (docs/design/links-bidirectional.md §2.3).
//
// Only transport failures are errors here; the response's own error
// codes are the caller's to read.
type kgoPeer struct{ cl *kgo.Client }

func (p kgoPeer) LinkPeer(ctx context.Context, req *wire.LinkPeerRequest) (*wire.LinkPeerResponse, error) {
	resp, err := p.cl.Request(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("LinkPeer to the peer half of cluster link '%s': %w", req.LinkName, err)
	}
	r, ok := resp.(*wire.LinkPeerResponse)
	if !ok {
		return nil, fmt.Errorf("LinkPeer: unexpected response %T", resp)
	}
	return r, nil
}

func (p kgoPeer) LinkMirrorOp(ctx context.Context, req *wire.LinkMirrorOpRequest) (*wire.LinkMirrorOpResponse, error) {
	resp, err := p.cl.Request(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("LinkMirrorOp to the peer half of cluster link '%s': %w", req.LinkName, err)
	}
	r, ok := resp.(*wire.LinkMirrorOpResponse)
	if !ok {
		return nil, fmt.Errorf("LinkMirrorOp: unexpected response %T", resp)
	}
	return r, nil
}

// linkApiVersionsMax caps the ApiVersions version a link's client sends.
// franz-go's default is v5 (KIP-1242); Tandem serves up to v4 and answers
// v5 with UNSUPPORTED_VERSION and its whole table, which franz-go then
// uses as is without asking again: the ClientSoftwareName in the v5
// request is never read, and the peer never offers the private keys.
// v5 only adds the cluster/node id check, which a link does not need.
const linkApiVersionsMax = 4

// linkMaxVersions is franz-go's default (kversion.Stable) plus the private
// keys (franz-go refuses to send a key its MaxVersions does not list,
// whatever the broker advertises), with ApiVersions capped at
// linkApiVersionsMax.
func linkMaxVersions() *kversion.Versions {
	v := kversion.Stable()
	for _, key := range wire.LinkAPIKeys() {
		v.SetMaxKeyVersion(key, wire.LinkAPIMaxVersion(key))
	}
	if cur, ok := v.LookupMaxKeyVersion(int16(kmsg.ApiVersions)); ok && cur > linkApiVersionsMax {
		v.SetMaxKeyVersion(int16(kmsg.ApiVersions), linkApiVersionsMax)
	}
	return v
}

// softwareVersionRE is KIP-511's pattern for ClientSoftwareVersion; a
// Kafka broker (and Tandem, 18_api_versions.go) answers INVALID_REQUEST
// to a version that does not match it.
var softwareVersionRE = regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$`)

// linkClientVersion is the ClientSoftwareVersion a link's client sends
// with wire.LinkClientSoftwareName: the module version Go stamped into
// the binary (`go install ...@v1.2.3`), else the VCS revision, else
// "dev", made to match KIP-511's pattern (cmd/tandem's "devel+rev"
// versions carry '+' and spaces, which it refuses).
func linkClientVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = ""
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v = "dev-" + s.Value[:12]
			}
		}
	}
	return kip511Version(v)
}

// kip511Version maps v onto KIP-511's pattern: characters outside it
// become '-', and leading or trailing punctuation is dropped; "dev" if
// nothing is left.
func kip511Version(v string) string {
	v = strings.Map(func(r rune) rune {
		if r < 0x80 && (r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return r
		}
		return '-'
	}, v)
	v = strings.Trim(v, "-.")
	if !softwareVersionRE.MatchString(v) {
		return "dev"
	}
	return v
}
