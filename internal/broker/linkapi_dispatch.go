package broker

// Dispatch of the Tandem-private link requests (wire/linkapi.go,
// docs/design/links-bidirectional.md §2.4).
//
// They are kept out of the registry: the registry is kmsg's keys, from
// which ApiVersions is generated for every client, and the private keys
// are listed only to a connection whose ApiVersions v3+ request named the
// client software wire.LinkClientSoftwareName (a Tandem link's client).
// Otherwise they go the way of every request: the SASL gate refuses them
// before authentication (they are not ApiVersions/SaslHandshake/
// SaslAuthenticate), a version outside the range closes the connection,
// and the body is pre-scanned against the decode budget before decoding.
// Any client may send them once authenticated (the listing only keeps
// ordinary clients from being offered them); the handlers check the
// cluster ACL.

import (
	"fmt"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/wire"
)

// privateRegistry holds the handlers of the private link requests, by key.
var privateRegistry = map[int16]apiDef{}

// registerPrivate records the handler of a private link request.
func registerPrivate(key int16, min, max int16, fn handlerFunc) {
	if !wire.IsLinkAPIKey(key) || wire.LinkAPIMaxVersion(key) < max {
		panic(fmt.Sprintf("broker: wire cannot encode private key %d at v%d", key, max))
	}
	if _, dup := privateRegistry[key]; dup {
		panic("broker: duplicate handler for " + wire.NameForKey(key))
	}
	privateRegistry[key] = apiDef{key: key, min: min, max: max, advMin: min, fn: fn}
}

// PrivateVersions lists the private link requests as ApiVersions
// advertises them to a Tandem link's client, sorted by key.
func PrivateVersions() []VersionRange {
	out := make([]VersionRange, 0, len(privateRegistry))
	for _, key := range wire.LinkAPIKeys() {
		if d, ok := privateRegistry[key]; ok {
			out = append(out, VersionRange{d.key, d.advMin, d.max})
		}
	}
	return out
}

// linkAPIHolder boxes the LinkAPI for an atomic pointer.
type linkAPIHolder struct{ api LinkAPI }

// SetLinkAPI wires the link manager that answers the private requests;
// nil (cluster.link.enable=false) makes them answer INVALID_REQUEST. Safe
// to call while serving.
func (b *Broker) SetLinkAPI(api LinkAPI) {
	if api == nil {
		b.linkAPI.Store(nil)
		return
	}
	b.linkAPI.Store(&linkAPIHolder{api})
}

func (b *Broker) linkAPIOf() LinkAPI {
	if h := b.linkAPI.Load(); h != nil {
		return h.api
	}
	return nil
}

// linkAPIPointer is the Broker field SetLinkAPI writes.
type linkAPIPointer = atomic.Pointer[linkAPIHolder]

// msgLinkingDisabled answers the private requests of a broker without a
// link manager.
const msgLinkingDisabled = "cluster linking is disabled on this cluster (cluster.link.enable=false)"

// LinkClient reports whether the connection's client named itself a
// Tandem link (ApiVersions v3+ ClientSoftwareName
// wire.LinkClientSoftwareName): its ApiVersions answers list the private
// link requests.
func (c *Conn) LinkClient() bool { return c.linkClient }

// linkAPIFor checks that r's principal may perform op on the cluster and
// that a link manager is wired: it returns the LinkAPI to ask, or nil and
// the top-level error code and message to answer.
func (b *Broker) linkAPIFor(r *Request, op kmsg.ACLOperation) (LinkAPI, int16, *string) {
	if !b.authorizedCluster(r, op) {
		return nil, kerr.ClusterAuthorizationFailed.Code, kmsg.StringPtr(msgClusterAuthorizationFailed)
	}
	api := b.linkAPIOf()
	if api == nil {
		return nil, kerr.InvalidRequest.Code, kmsg.StringPtr(msgLinkingDisabled)
	}
	return api, 0, nil
}

// noLinkAnswer is the top-level error of a LinkAPI method that returned no
// response (a bug in the manager): the peer gets an error, not a hang.
func noLinkAnswer(link string) (int16, *string) {
	return kerr.UnknownServerError.Code, kmsg.StringPtr("cluster link '" + link + "' gave no answer")
}
