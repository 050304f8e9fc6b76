package broker

// ApiVersions: v0-4
//
// Behaviour:
//   - The ApiKeys table is generated from the handler registry, so it lists
//     exactly the keys and versions whose semantics this broker implements.
//   - A request at a version above 4 is answered in v0 format with
//     UNSUPPORTED_VERSION and the full table (KIP-511), letting the client
//     downgrade; Handle does that before decoding.
//   - v3+: ClientSoftwareName/Version are validated with Kafka's pattern
//     [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])? → INVALID_REQUEST otherwise.
//   - The Tandem-private link requests (32001-32003, linkapi_dispatch.go)
//     are listed only once the connection's ApiVersions v3+ named the
//     client software wire.LinkClientSoftwareName ("tandem-link"), which
//     the connection remembers (Conn.LinkClient).
//   - No features (KIP-584) are advertised: transaction.version and
//     group.version stay unset until KIP-890 / KIP-848 semantics exist.
//
// Version notes:
//   - v1: ThrottleMillis
//   - v3: flexible; client software name/version
//   - v4: same as v3 (KIP-896 marks it the 4.0 baseline)

import (
	"regexp"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/wire"
)

func init() { register(kmsg.ApiVersions, 0, 4, (*Broker).handleApiVersions) }

var softwareNameRE = regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$`)

func (b *Broker) handleApiVersions(r *Request) Reply {
	req := r.Req.(*kmsg.ApiVersionsRequest)
	code := int16(0)
	if req.Version >= 3 && (!softwareNameRE.MatchString(req.ClientSoftwareName) || !softwareNameRE.MatchString(req.ClientSoftwareVersion)) {
		code = kerr.InvalidRequest.Code
	}
	if req.Version >= 3 && code == 0 && req.ClientSoftwareName == wire.LinkClientSoftwareName && r.Conn != nil {
		r.Conn.linkClient = true
	}
	resp := b.apiVersionsResponse(req.Version, code)
	if r.Conn != nil && r.Conn.linkClient {
		for _, v := range PrivateVersions() {
			k := kmsg.NewApiVersionsResponseApiKey()
			k.ApiKey, k.MinVersion, k.MaxVersion = v.Key, v.Min, v.Max
			resp.ApiKeys = append(resp.ApiKeys, k)
		}
	}
	return now(resp)
}

func (b *Broker) apiVersionsResponse(version int16, code int16) *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = version
	resp.ErrorCode = code
	for _, v := range Versions() {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = v.Key, v.Min, v.Max
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	return resp
}
