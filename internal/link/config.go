// Package link implements cluster links: persisted link objects, their
// configuration, and (with internal/fetcher) the mirror topics they fill.
package link

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/internal/config"
	"github.com/tandem-streaming/tandem/internal/fetcher"
	"github.com/tandem-streaming/tandem/internal/usererr"
)

// Sentinel errors; handlers map them to Kafka / REST error codes. Their
// text reaches users, so it has no package prefix (docs/HACKING.md).
var (
	ErrUnknownConfig = errors.New("unknown cluster link config")
	ErrInvalidConfig = errors.New("invalid cluster link config")
	// ErrNotSupported: a config Tandem validates but cannot act on yet
	// (GSSAPI and OAUTHBEARER to the source); it is refused, never
	// stored.
	ErrNotSupported = errors.New("not supported by Tandem yet")
	// ErrCreateOnly: a config that can only be set when the link is
	// created (cluster.link.prefix, link.mode, connection.mode).
	ErrCreateOnly = errors.New("cluster link config can only be set when the link is created")
)

// ConfigSource values, as Confluent's REST API reports them.
const (
	SourceDynamic = "DYNAMIC_CLUSTER_LINK_CONFIG"
	SourceDefault = "DEFAULT_CONFIG"
)

// Link configs are defined like every other config in Tandem: one
// config.Def each (type, default, validator, sensitivity) in one
// config.Registry, parsed and validated by internal/config. A create-only
// key (fixed when the link is created: cluster.link.prefix, link.mode,
// connection.mode) is a Def with ReadOnly set, which is also how the REST
// API reports it.
var registry = config.NewRegistry(linkDefs()...)

// anyCase accepts values of a OneOf validator in any case (Kafka's
// security.protocol and the link modes are matched case-insensitively).
func anyCase(v func(string) error) func(string) error {
	return func(s string) error { return v(strings.ToUpper(strings.TrimSpace(s))) }
}

func boolean(v string) error {
	if _, err := strconv.ParseBool(strings.TrimSpace(v)); err != nil {
		return fmt.Errorf("%q is not a boolean", v)
	}
	return nil
}

// startOffsetSpec accepts what the data path will parse: one parser
// (fetcher.ParseStartSpec) for mirror.start.offset.spec, so a value the
// link accepts is one the mirror can start from (earliest, latest, or an
// ISO-8601 timestamp, with or without a zone).
func startOffsetSpec(v string) error {
	_, err := fetcher.ParseStartSpec(v)
	return err
}

// topicFilters validates auto.create.mirror.topics.filters.
func topicFilters(v string) error {
	_, err := ParseNameFilters(v, "topicFilters")
	return err
}

func bootstrap(v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("bootstrap.servers must list at least one host:port")
	}
	for _, hp := range strings.Split(v, ",") {
		hp = strings.TrimSpace(hp)
		i := strings.LastIndexByte(hp, ':')
		if i <= 0 || i == len(hp)-1 {
			return fmt.Errorf("%q is not host:port", hp)
		}
		if _, err := strconv.ParseUint(hp[i+1:], 10, 16); err != nil {
			return fmt.Errorf("%q has an invalid port", hp)
		}
	}
	return nil
}

// prefix validates cluster.link.prefix: characters legal in topic names,
// at most 12 of them (a limit Confluent documents).
func prefix(v string) error {
	if len(v) > 12 {
		return fmt.Errorf("%q is longer than 12 characters", v)
	}
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%q contains a character not allowed in topic names", v)
		}
	}
	return nil
}

func linkDefs() []config.Def {
	var defs []config.Def
	def := func(d config.Def) { defs = append(defs, d) }
	def(config.Def{Name: "bootstrap.servers", Type: config.TypeList, Validate: bootstrap,
		Doc: "The source cluster's bootstrap servers (host:port, comma-separated)."})
	def(config.Def{Name: "link.mode", Type: config.TypeString, Default: "DESTINATION", HasDefault: true, ReadOnly: true,
		Validate: anyCase(config.OneOf(ModeDestination, ModeSource, ModeBidirectional)),
		Doc:      "DESTINATION: this cluster mirrors from the other. SOURCE: the source half of a source-initiated link (it dials the destination and serves it its own cluster). BIDIRECTIONAL: both clusters mirror from each other over one link (docs/design/links-bidirectional.md)."})
	def(config.Def{Name: "connection.mode", Type: config.TypeString, Default: "OUTBOUND", HasDefault: true, ReadOnly: true,
		Validate: anyCase(config.OneOf(ConnOutbound, ConnInbound)),
		Doc:      "OUTBOUND: this cluster opens the connection to the other (bootstrap.servers). INBOUND: the other cluster's half dials in (no bootstrap.servers); create the INBOUND half first."})
	def(config.Def{Name: "cluster.link.prefix", Type: config.TypeString, ReadOnly: true, Validate: prefix,
		Doc: "Prefix of the names of mirror topics created by this link; fixed at creation."})
	def(config.Def{Name: "mirror.start.offset.spec", Type: config.TypeString, Default: "earliest", HasDefault: true, Validate: startOffsetSpec,
		Doc: "Where a new mirror starts: earliest, latest, or an ISO-8601 timestamp."})
	def(config.Def{Name: "cluster.link.paused", Type: config.TypeBoolean, Default: "false", HasDefault: true,
		Doc: "Pause all mirroring on the link."})
	def(config.Def{Name: "topic.config.sync.ms", Type: config.TypeLong, Default: "5000", HasDefault: true, Validate: config.AtLeast(1000),
		Doc: "How often source topic configs (and partition counts) are re-read and applied to the mirrors, in milliseconds."})
	def(config.Def{Name: "availability.check.ms", Type: config.TypeLong, Default: "60000", HasDefault: true, Validate: config.AtLeast(1),
		Doc: "How often the link checks that the source cluster is reachable, in milliseconds."})
	def(config.Def{Name: "availability.check.consecutive.failure.threshold", Type: config.TypeInt, Default: "5", HasDefault: true, Validate: config.AtLeast(1),
		Doc: "Consecutive failed checks before the link and its mirrors are SOURCE_UNAVAILABLE."})
	def(config.Def{Name: "cluster.link.retry.timeout.ms", Type: config.TypeLong, Default: "300000", HasDefault: true, Validate: config.AtLeast(0),
		Doc: "How long retriable partition failures are retried before the mirror partition fails."})
	for _, c := range []struct {
		name, def string
		typ       config.Type
		min       int64
	}{
		{"replica.fetch.max.bytes", "1048576", config.TypeInt, 1},
		{"replica.fetch.min.bytes", "1", config.TypeInt, 1},
		{"replica.fetch.wait.max.ms", "500", config.TypeInt, 0},
		{"replica.fetch.response.max.bytes", "10485760", config.TypeInt, 1},
		{"replica.fetch.backoff.ms", "1000", config.TypeInt, 0},
		{"metadata.max.age.ms", "300000", config.TypeLong, 0},
		{"request.timeout.ms", "30000", config.TypeInt, 0},
		{"retry.backoff.ms", "100", config.TypeLong, 0},
		// Kafka client defaults; the reference has no link-specific ones.
		{"reconnect.backoff.ms", "50", config.TypeLong, 0},
		{"reconnect.backoff.max.ms", "1000", config.TypeLong, 0},
		{"socket.connection.setup.timeout.ms", "10000", config.TypeLong, 0},
		{"socket.connection.setup.timeout.max.ms", "30000", config.TypeLong, 0},
	} {
		def(config.Def{Name: c.name, Type: c.typ, Default: c.def, HasDefault: true, Validate: config.AtLeast(c.min),
			Doc: "Client setting used to fetch from the source (Kafka's meaning)."})
	}
	// Kafka's num.replica.fetchers is 1 (a follower's path is a LAN); a
	// link defaults to 8 fetch sessions per source broker so that their
	// windows and round trips overlap across a WAN (docs/mirroring.md,
	// "Throughput across a WAN"; docs/benchmarks.md, "WAN mirroring").
	def(config.Def{Name: "num.replica.fetchers", Type: config.TypeInt, Default: "8", HasDefault: true, Validate: config.AtLeast(1),
		Doc: "Fetch sessions (connections) per source broker, Kafka's meaning; Tandem's default for links is 8, not Kafka's 1."})
	// Tandem-only: LinkFetch (pipelined fetches from a Tandem source,
	// docs/mirroring.md "Pipelined fetch from a Tandem source").
	def(config.Def{Name: "fetch.pipelining.enable", Type: config.TypeBoolean, Default: "true", HasDefault: true, Validate: boolean,
		Doc: "Tandem-only. With a Tandem source, keep several fetches in flight per fetcher (LinkFetch): replication latency about half a round trip lower across a WAN. false: Kafka's one fetch at a time. Other sources always get Kafka's fetch."})
	def(config.Def{Name: "security.protocol", Type: config.TypeString, Default: "PLAINTEXT", HasDefault: true,
		Validate: anyCase(config.OneOf("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")),
		Doc:      "How to reach the source: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."})
	def(config.Def{Name: "sasl.mechanism", Type: config.TypeString, Default: "GSSAPI", HasDefault: true,
		Validate: anyCase(config.OneOf("GSSAPI", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")),
		Doc:      "SASL mechanism for the source."})
	def(config.Def{Name: "sasl.jaas.config", Type: config.TypePassword, Sensitive: true, Doc: "JAAS login for the source (sensitive)."})
	for _, k := range []string{"ssl.truststore.certificates", "ssl.keystore.certificate.chain",
		"ssl.protocol", "ssl.truststore.location", "ssl.keystore.location"} {
		def(config.Def{Name: k, Type: config.TypeString, Doc: "TLS setting for the source."})
	}
	// Kafka's client defaults (tlsconf applies the same when unset).
	for _, k := range []string{"ssl.truststore.type", "ssl.keystore.type"} {
		def(config.Def{Name: k, Type: config.TypeString, Default: "JKS", HasDefault: true,
			Validate: anyCase(config.OneOf("JKS", "PKCS12", "PEM")), Doc: "TLS store format for the source."})
	}
	def(config.Def{Name: "ssl.endpoint.identification.algorithm", Type: config.TypeString, Default: "https", HasDefault: true,
		Validate: func(v string) error {
			if v != "" && !strings.EqualFold(strings.TrimSpace(v), "https") {
				return fmt.Errorf("%q: want https (verify the source's host name) or empty (do not)", v)
			}
			return nil
		},
		Doc: "https: verify the source's host name against its certificate; empty: do not."})
	for _, k := range []string{"ssl.enabled.protocols", "ssl.cipher.suites"} {
		def(config.Def{Name: k, Type: config.TypeList, Doc: "TLS setting for the source."})
	}
	for _, k := range []string{"ssl.keystore.key", "ssl.key.password", "ssl.keystore.password", "ssl.truststore.password"} {
		def(config.Def{Name: k, Type: config.TypePassword, Sensitive: true, Doc: "TLS secret for the source (sensitive)."})
	}
	// local.*: how a SOURCE half, or an OUTBOUND bidirectional half,
	// reaches its own cluster when the peer drives it (the relay of a
	// source-initiated link, a failback's remote steps). Every security
	// key above has a local.* twin with the same type, default and
	// validation (cluster-linking.md §1.2, §4.1), and local.listener.name
	// picks which of this cluster's listeners the link reads through
	// (hence the endpoints a reversed connection's Metadata returns).
	for _, d := range append([]config.Def(nil), defs...) {
		if d.Name == "security.protocol" || strings.HasPrefix(d.Name, "sasl.") || strings.HasPrefix(d.Name, "ssl.") {
			d.Name = "local." + d.Name
			d.Doc = strings.Replace(d.Doc, "the source", "this link's own cluster", 1)
			defs = append(defs, d)
		}
	}
	def(config.Def{Name: "local.listener.name", Type: config.TypeString,
		Doc: "The listener of this cluster the link reads its own cluster through (SOURCE and OUTBOUND BIDIRECTIONAL halves); its endpoints are what a reversed connection's Metadata returns. Default: the first listener of `listeners`."})
	// Consumer offset sync (offsetsync.go; cluster-linking.md §3.1).
	def(config.Def{Name: "consumer.offset.sync.enable", Type: config.TypeBoolean, Default: "false", HasDefault: true, Validate: boolean,
		Doc: "Copy the committed offsets of the source's consumer groups selected by consumer.offset.group.filters to this cluster."})
	def(config.Def{Name: "consumer.offset.sync.ms", Type: config.TypeLong, Default: "30000", HasDefault: true, Validate: config.AtLeast(1000),
		Doc: "How often consumer offsets are synced, in milliseconds."})
	def(config.Def{Name: "consumer.offset.group.filters", Type: config.TypeString, Validate: validGroupFilters,
		Doc: "JSON filter of the consumer groups whose offsets are synced; empty syncs none."})
	def(config.Def{Name: "consumer.group.prefix.enable", Type: config.TypeBoolean, Default: "false", HasDefault: true, Validate: boolean,
		Doc: "Add cluster.link.prefix to the names of synced consumer groups."})
	// Auto-created mirror topics (autocreate.go).
	def(config.Def{Name: "auto.create.mirror.topics.enable", Type: config.TypeBoolean, Default: "false", HasDefault: true, Validate: boolean,
		Doc: "Create mirror topics for the source topics auto.create.mirror.topics.filters selects (the AutoCreateMirror task)."})
	def(config.Def{Name: "auto.create.mirror.topics.filters", Type: config.TypeString, Validate: topicFilters,
		Doc: `JSON topic filters of auto-create: {"topicFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}]}; empty selects nothing.`})
	def(config.Def{Name: "auto.create.mirror.topics.interval.ms", Type: config.TypeLong, Default: "300000", HasDefault: true, Validate: config.AtLeast(100),
		Doc: "Tandem-specific: how often the source's topics are listed for auto-create, in milliseconds."})
	// ACL sync (aclsync.go; cluster-linking.md §3.2).
	def(config.Def{Name: "acl.sync.enable", Type: config.TypeBoolean, Default: "false", HasDefault: true, Validate: boolean,
		Doc: "Create on this cluster the source's ACLs that acl.filters selects, and delete those the link created once they are gone at the source (the AclSync task)."})
	def(config.Def{Name: "acl.sync.ms", Type: config.TypeLong, Default: "5000", HasDefault: true, Validate: config.AtLeast(100),
		Doc: "How often ACLs are synced, in milliseconds."})
	def(config.Def{Name: "acl.filters", Type: config.TypeString, Validate: validACLFilters,
		Doc: `JSON filters of the source ACLs synced: {"aclFilters":[{"resourceFilter":{…},"accessFilter":{…}}]}.`})
	return defs
}

// Lookup returns a config's definition.
func Lookup(name string) (config.Def, bool) { return registry.Lookup(name) }

// Names lists every link config, sorted.
func Names() []string { return registry.Names() }

// ValidateConfigs checks a complete set of link configs. creating says
// whether this is the link's creation (create-only keys allowed).
// previous holds the link's current configs (nil at creation), so that a
// create-only key may be repeated unchanged.
func ValidateConfigs(configs, previous map[string]string, creating bool) error {
	names := make([]string, 0, len(configs))
	for k := range configs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := configs[k]
		if err := registry.Validate(k, v); err != nil {
			switch {
			case errors.Is(err, config.ErrUnknownConfig):
				return usererr.New(ErrUnknownConfig, "unknown cluster link config '%s'", k)
			case errors.Is(err, ErrNotSupported):
				if ke, ok := errors.AsType[*config.KeyError](err); ok && ke.Cause != nil {
					return usererr.New(errors.Join(ErrNotSupported, err), "cluster link config %v", ke.Cause)
				}
				return usererr.New(errors.Join(ErrNotSupported, err), "cluster link config %s", keyDetail(k, err))
			}
			return usererr.New(errors.Join(ErrInvalidConfig, err), "invalid cluster link config %s", keyDetail(k, err))
		}
		if d, _ := registry.Lookup(k); d.ReadOnly && !creating && previous[k] != v {
			return errCreateOnly(k)
		}
	}
	if err := validateModes(configs); err != nil {
		return err
	}
	if b, _ := strconv.ParseBool(Value(configs, "consumer.group.prefix.enable")); b && Value(configs, "cluster.link.prefix") == "" {
		return fmt.Errorf("%w: consumer.group.prefix.enable=true needs cluster.link.prefix", ErrInvalidConfig)
	}
	if err := filtersLoop(configs); err != nil {
		return err
	}
	if aclSyncEnabled(configs) {
		// Confluent refuses both together (reference §3.2): ACLs name
		// resources as the source does, mirrors here would carry the prefix.
		if Value(configs, "cluster.link.prefix") != "" {
			return usererr.New(ErrInvalidConfig, "invalid cluster link config acl.sync.enable=true: ACL sync cannot be combined with cluster.link.prefix (ACLs name resources as the source does); create a link without a prefix for it")
		}
		// As Confluent's 2020 code: "ACL migration is enabled but
		// acl.filters is not set".
		if f, _ := ParseACLFilters(Value(configs, "acl.filters")); len(f) == 0 {
			return usererr.New(ErrInvalidConfig, "invalid cluster link config acl.sync.enable=true: acl.filters is not set; set it to the JSON of the ACLs to sync ({\"aclFilters\":[...]})")
		}
	}
	// The security configs together (security.go): a link that could not
	// connect is refused here, at the REST call, not later in a fetcher.
	if _, err := parseSecurity(configs); err != nil {
		return err
	}
	if !creating {
		// A create-only key may not be removed either.
		for k := range previous {
			if d, _ := registry.Lookup(k); d.ReadOnly {
				if _, has := configs[k]; !has {
					return errCreateOnly(k)
				}
			}
		}
	}
	return nil
}

// Entry is one resolved link config, as the REST API shows it.
type Entry struct {
	Name, Value string
	IsNull      bool
	IsDefault   bool
	ReadOnly    bool
	Sensitive   bool
	Source      string
}

// Describe resolves every link config: set values are
// DYNAMIC_CLUSTER_LINK_CONFIG, the rest DEFAULT_CONFIG; sensitive values
// are never returned.
func Describe(configs map[string]string) []Entry {
	out := make([]Entry, 0, len(Names()))
	for _, n := range Names() {
		d, _ := registry.Lookup(n)
		e := Entry{Name: n, Sensitive: d.Sensitive, ReadOnly: d.ReadOnly}
		if v, ok := configs[n]; ok {
			e.Value, e.Source = v, SourceDynamic
		} else if d.HasDefault {
			e.Value, e.Source, e.IsDefault = d.Default, SourceDefault, true
		} else {
			e.IsNull, e.Source, e.IsDefault = true, SourceDefault, true
		}
		if d.Sensitive {
			e.Value, e.IsNull = "", true
		}
		out = append(out, e)
	}
	return out
}

// Value returns the effective value of a link config.
func Value(configs map[string]string, name string) string {
	if v, ok := configs[name]; ok {
		return v
	}
	d, _ := registry.Lookup(name)
	return d.Default
}

// Int returns an integer link config's effective value.
func Int(configs map[string]string, name string) int64 {
	n, _ := strconv.ParseInt(Value(configs, name), 10, 64)
	return n
}

// Bool returns a boolean link config's effective value.
func Bool(configs map[string]string, name string) bool {
	b, _ := strconv.ParseBool(Value(configs, name))
	return b
}

// Millis returns a millisecond link config as a duration.
func Millis(configs map[string]string, name string) time.Duration {
	return time.Duration(Int(configs, name)) * time.Millisecond
}

// errCreateOnly is ErrCreateOnly naming the key.
func errCreateOnly(k string) error {
	return usererr.New(ErrCreateOnly, "cluster link config %s can only be set when the link is created; delete and re-create the link to change it", k)
}

// keyDetail is a config.KeyError's key, value (unless sensitive) and cause
// without its sentinel's words, which the caller replaces.
func keyDetail(k string, err error) string {
	ke, ok := errors.AsType[*config.KeyError](err)
	if !ok {
		return k + ": " + err.Error()
	}
	s := ke.Key
	if ke.Value != "" {
		s += "=" + strconv.Quote(ke.Value)
	}
	if ke.Cause != nil {
		s += ": " + ke.Cause.Error()
	}
	return s
}
