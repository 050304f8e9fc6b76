package broker

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// handlerFunc answers one decoded request. It runs on the connection's
// request goroutine, in request order, and must not block on anything but
// local state: anything that waits (acks=all, long-poll fetch) goes into the
// Reply's Wait func, which the connection's writer runs in order.
type handlerFunc func(b *Broker, r *Request) Reply

type apiDef struct {
	key      int16
	min, max int16
	// advMin is the minimum advertised in ApiVersions; it differs from
	// min only for Produce (see 00_produce.go, KAFKA-18659).
	advMin int16
	fn     handlerFunc
}

// registry is the single source of truth for what this broker speaks:
// ApiVersions is generated from it (architecture.md §1.7 rule 1) and a
// version outside a registered range is refused before decoding.
var registry = map[int16]apiDef{}

// register records a handler and its supported versions. It is called from
// the init func of each handler file, next to the code whose semantics the
// range promises.
func register(key kmsg.Key, min, max int16, fn handlerFunc) {
	if _, dup := registry[int16(key)]; dup {
		panic("broker: duplicate handler for " + kmsg.NameForKey(int16(key)))
	}
	if req := kmsg.RequestForKey(int16(key)); req == nil || req.MaxVersion() < max {
		panic("broker: kmsg cannot encode " + kmsg.NameForKey(int16(key)) + " at the registered max version")
	}
	registry[int16(key)] = apiDef{key: int16(key), min: min, max: max, advMin: min, fn: fn}
}

// advertiseFrom lowers the minimum version ApiVersions advertises for key
// without serving the versions below the real minimum. Only for client
// bugs that make this necessary; each use must cite the bug.
func advertiseFrom(key kmsg.Key, advMin int16) {
	d := registry[int16(key)]
	d.advMin = advMin
	registry[int16(key)] = d
}

// Supported reports whether key at version is served.
func Supported(key, version int16) bool {
	d, ok := registry[key]
	return ok && version >= d.min && version <= d.max
}

// VersionRange is one entry of the ApiVersions table.
type VersionRange struct{ Key, Min, Max int16 }

// Versions lists the APIs as ApiVersions advertises them, sorted by key.
func Versions() []VersionRange {
	out := make([]VersionRange, 0, len(registry))
	for _, d := range registry {
		out = append(out, VersionRange{d.key, d.advMin, d.max})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
