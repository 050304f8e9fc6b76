package link

import (
	"strconv"
	"strings"

	"github.com/tandem-streaming/tandem/internal/usererr"
)

// Link modes and connection modes (cluster-linking.md §1.2, §4;
// docs/design/links-bidirectional.md).
const (
	ModeDestination   = "DESTINATION"
	ModeSource        = "SOURCE"
	ModeBidirectional = "BIDIRECTIONAL"
	ConnOutbound      = "OUTBOUND"
	ConnInbound       = "INBOUND"
)

// LinkMode is the link's link.mode, upper-cased.
func LinkMode(configs map[string]string) string {
	return strings.ToUpper(strings.TrimSpace(Value(configs, "link.mode")))
}

// ConnectionMode is the link's connection.mode, upper-cased.
func ConnectionMode(configs map[string]string) string {
	return strings.ToUpper(strings.TrimSpace(Value(configs, "connection.mode")))
}

// Paired says whether a half of this kind has a peer half to pair with (a
// SOURCE half and its INBOUND DESTINATION, or two BIDIRECTIONAL halves).
// An ordinary DESTINATION/OUTBOUND link reads any Kafka and pairs with
// nothing.
func Paired(configs map[string]string) bool {
	switch LinkMode(configs) {
	case ModeSource, ModeBidirectional:
		return true
	}
	return ConnectionMode(configs) == ConnInbound
}

// Mirrors says whether this half can hold mirror topics: every kind but
// SOURCE (whose cluster is only read).
func Mirrors(configs map[string]string) bool { return LinkMode(configs) != ModeSource }

// localConfigs returns the local.* configs with the prefix removed, so
// that parseSecurity reads them as it reads the link's own.
func localConfigs(configs map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range configs {
		if rest, ok := strings.CutPrefix(k, "local."); ok && rest != "listener.name" {
			out[rest] = v
		}
	}
	return out
}

// sourceHalfKeys are the configs a SOURCE half may carry: how to reach the
// destination, how to read its own cluster, and connection tuning. Every
// behavioural config (prefix, offset sync, ACL sync, auto-create, fetch
// sizes) belongs on the DESTINATION half (§4.1: "All behavioural configs
// go here").
func sourceHalfKey(k string) bool {
	switch k {
	case "bootstrap.servers", "link.mode", "connection.mode", "security.protocol",
		"availability.check.ms", "availability.check.consecutive.failure.threshold",
		"request.timeout.ms", "retry.backoff.ms", "reconnect.backoff.ms", "reconnect.backoff.max.ms",
		"socket.connection.setup.timeout.ms", "socket.connection.setup.timeout.max.ms", "metadata.max.age.ms":
		return true
	}
	return strings.HasPrefix(k, "sasl.") || strings.HasPrefix(k, "ssl.") || strings.HasPrefix(k, "local.")
}

// connectionKey says whether k says how to reach the peer: an INBOUND half
// has no such key (the peer dials in).
func connectionKey(k string) bool {
	return k == "bootstrap.servers" || k == "security.protocol" ||
		strings.HasPrefix(k, "sasl.") || strings.HasPrefix(k, "ssl.")
}

// validateModes checks the combinations of link.mode and connection.mode
// and the keys each kind of half may carry.
func validateModes(configs map[string]string) error {
	mode, conn := LinkMode(configs), ConnectionMode(configs)
	if mode == ModeSource && conn != ConnOutbound {
		return usererr.New(ErrInvalidConfig, "invalid cluster link config connection.mode=%s: a link.mode=SOURCE half dials the destination, so it needs connection.mode=OUTBOUND (create the DESTINATION half with connection.mode=INBOUND first)", conn)
	}
	for k := range configs {
		switch {
		case conn == ConnInbound && connectionKey(k):
			return usererr.New(ErrInvalidConfig, "invalid cluster link config %s: a connection.mode=INBOUND half is dialed by its peer and has no bootstrap servers or credentials; set them on the peer's OUTBOUND half", k)
		case mode == ModeSource && !sourceHalfKey(k):
			return usererr.New(ErrInvalidConfig, "invalid cluster link config %s: a link.mode=SOURCE half carries only how to reach the destination and its own cluster (bootstrap.servers, security, local.*); set %s on the DESTINATION half", k, k)
		case strings.HasPrefix(k, "local.") && !(conn == ConnOutbound && (mode == ModeSource || mode == ModeBidirectional)):
			return usererr.New(ErrInvalidConfig, "invalid cluster link config %s: local.* configs are for link.mode=SOURCE and OUTBOUND BIDIRECTIONAL halves, which read their own cluster when the peer drives them", k)
		}
	}
	if conn == ConnOutbound {
		if _, ok := configs["bootstrap.servers"]; !ok {
			what := "the source cluster's host:port list"
			switch mode {
			case ModeSource:
				what = "the destination cluster's host:port list (a SOURCE half dials the destination)"
			case ModeBidirectional:
				what = "the remote cluster's host:port list"
			}
			return usererr.New(ErrInvalidConfig, "cluster link config bootstrap.servers is required: %s", what)
		}
	}
	if b, _ := strconv.ParseBool(Value(configs, "consumer.group.prefix.enable")); b && mode == ModeBidirectional {
		// As Confluent: a bidirectional link syncs a group's offsets in
		// both directions under one name.
		return usererr.New(ErrInvalidConfig, "invalid cluster link config consumer.group.prefix.enable=true: not supported with link.mode=BIDIRECTIONAL (offsets are synced both ways under the groups' own names)")
	}
	if mode == ModeSource || (mode == ModeBidirectional && conn == ConnOutbound) {
		if _, err := parseSecurity(localConfigs(configs)); err != nil {
			return usererr.New(ErrInvalidConfig, "invalid local.* configs (how this link reads its own cluster): %v", err)
		}
	}
	return nil
}
