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

	"github.com/tandem-streaming/tandem/internal/fetcher"
)

// Sentinel errors; handlers map them to Kafka / REST error codes.
var (
	ErrUnknownConfig = errors.New("link: unknown cluster link config")
	ErrInvalidConfig = errors.New("link: invalid cluster link config")
	// ErrNotSupported: a config or mode Tandem validates and stores but
	// cannot act on yet (TLS/SASL to the source, source-initiated or
	// bidirectional links, offset/ACL sync, auto-create).
	ErrNotSupported = errors.New("link: not supported yet")
	// ErrCreateOnly: a config that can only be set when the link is
	// created (cluster.link.prefix, link.mode, connection.mode).
	ErrCreateOnly = errors.New("link: config can only be set at link creation")
)

// ConfigSource values, as Confluent's REST API reports them.
const (
	SourceDynamic = "DYNAMIC_CLUSTER_LINK_CONFIG"
	SourceDefault = "DEFAULT_CONFIG"
)

// ConfigDef defines one link config (cluster-linking.md §1.2).
type ConfigDef struct {
	Name       string
	Default    string // "" with HasDefault false: null
	HasDefault bool
	Sensitive  bool
	// CreateOnly configs are fixed at creation.
	CreateOnly bool
	Validate   func(v string) error
	Doc        string
}

var defs = map[string]ConfigDef{}

func def(d ConfigDef) { defs[d.Name] = d }

func intAtLeast(min int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
		if n < min {
			return fmt.Errorf("%d is below the minimum %d", n, min)
		}
		return nil
	}
}

func oneOf(values ...string) func(string) error {
	return func(v string) error {
		for _, x := range values {
			if strings.EqualFold(v, x) {
				return nil
			}
		}
		return fmt.Errorf("%q is not one of %s", v, strings.Join(values, ", "))
	}
}

func boolean(v string) error {
	if _, err := strconv.ParseBool(v); err != nil {
		return fmt.Errorf("%q is not a boolean", v)
	}
	return nil
}

// onlyFalse accepts a feature switch only while it is off: the feature is
// validated but not built yet, and an accepted config must do what it says.
func onlyFalse(feature string) func(string) error {
	return func(v string) error {
		if err := boolean(v); err != nil {
			return err
		}
		if b, _ := strconv.ParseBool(v); b {
			return fmt.Errorf("%w: %s", ErrNotSupported, feature)
		}
		return nil
	}
}

// startOffsetSpec accepts what the data path will parse: one parser
// (fetcher.ParseStartSpec) for mirror.start.offset.spec, so a value the
// link accepts is one the mirror can start from (earliest, latest, or an
// ISO-8601 timestamp, with or without a zone).
func startOffsetSpec(v string) error {
	_, err := fetcher.ParseStartSpec(v)
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

func init() {
	def(ConfigDef{Name: "bootstrap.servers", Validate: bootstrap,
		Doc: "The source cluster's bootstrap servers (host:port, comma-separated)."})
	def(ConfigDef{Name: "link.mode", Default: "DESTINATION", HasDefault: true, CreateOnly: true,
		Validate: func(v string) error {
			if err := oneOf("DESTINATION", "SOURCE", "BIDIRECTIONAL")(v); err != nil {
				return err
			}
			if !strings.EqualFold(v, "DESTINATION") {
				return fmt.Errorf("%w: link.mode=%s (only DESTINATION links)", ErrNotSupported, v)
			}
			return nil
		},
		Doc: "DESTINATION: this cluster mirrors from the source. SOURCE and BIDIRECTIONAL are not supported yet."})
	def(ConfigDef{Name: "connection.mode", Default: "OUTBOUND", HasDefault: true, CreateOnly: true,
		Validate: func(v string) error {
			if err := oneOf("OUTBOUND", "INBOUND")(v); err != nil {
				return err
			}
			if !strings.EqualFold(v, "OUTBOUND") {
				return fmt.Errorf("%w: connection.mode=%s (only OUTBOUND links)", ErrNotSupported, v)
			}
			return nil
		},
		Doc: "OUTBOUND: this cluster connects to the source. INBOUND is not supported yet."})
	def(ConfigDef{Name: "cluster.link.prefix", CreateOnly: true, Validate: prefix,
		Doc: "Prefix of the names of mirror topics created by this link; fixed at creation."})
	def(ConfigDef{Name: "mirror.start.offset.spec", Default: "earliest", HasDefault: true, Validate: startOffsetSpec,
		Doc: "Where a new mirror starts: earliest, latest, or an ISO-8601 timestamp."})
	def(ConfigDef{Name: "cluster.link.paused", Default: "false", HasDefault: true, Validate: boolean,
		Doc: "Pause all mirroring on the link."})
	def(ConfigDef{Name: "topic.config.sync.ms", Default: "5000", HasDefault: true, Validate: intAtLeast(1000),
		Doc: "How often source topic configs are re-read and applied to the mirrors, in milliseconds."})
	def(ConfigDef{Name: "availability.check.ms", Default: "60000", HasDefault: true, Validate: intAtLeast(1),
		Doc: "How often the link checks that the source cluster is reachable, in milliseconds."})
	def(ConfigDef{Name: "availability.check.consecutive.failure.threshold", Default: "5", HasDefault: true, Validate: intAtLeast(1),
		Doc: "Consecutive failed checks before the link and its mirrors are SOURCE_UNAVAILABLE."})
	def(ConfigDef{Name: "cluster.link.retry.timeout.ms", Default: "300000", HasDefault: true, Validate: intAtLeast(0),
		Doc: "How long retriable partition failures are retried before the mirror partition fails."})
	for name, d := range map[string]string{
		"replica.fetch.max.bytes":          "1048576",
		"replica.fetch.min.bytes":          "1",
		"replica.fetch.wait.max.ms":        "500",
		"replica.fetch.response.max.bytes": "10485760",
		"replica.fetch.backoff.ms":         "1000",
		"metadata.max.age.ms":              "300000",
		"request.timeout.ms":               "30000",
		"retry.backoff.ms":                 "100",
		// Kafka client defaults; the reference has no link-specific ones.
		"reconnect.backoff.ms":                   "50",
		"reconnect.backoff.max.ms":               "1000",
		"socket.connection.setup.timeout.ms":     "10000",
		"socket.connection.setup.timeout.max.ms": "30000",
	} {
		min := int64(0)
		if name == "replica.fetch.max.bytes" || name == "replica.fetch.response.max.bytes" || name == "replica.fetch.min.bytes" {
			min = 1
		}
		def(ConfigDef{Name: name, Default: d, HasDefault: true, Validate: intAtLeast(min),
			Doc: "Client setting used to fetch from the source (Kafka's meaning)."})
	}
	// Kafka's num.replica.fetchers is 1 (a follower's path is a LAN); a
	// link defaults to 8 fetch sessions per source broker so that their
	// windows and round trips overlap across a WAN (docs/mirroring.md,
	// "Throughput across a WAN"; docs/benchmarks.md, "WAN mirroring").
	def(ConfigDef{Name: "num.replica.fetchers", Default: "8", HasDefault: true, Validate: intAtLeast(1),
		Doc: "Fetch sessions (connections) per source broker, Kafka's meaning; Tandem's default for links is 8, not Kafka's 1."})
	def(ConfigDef{Name: "security.protocol", Default: "PLAINTEXT", HasDefault: true,
		Validate: oneOf("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"),
		Doc:      "How to reach the source. Only PLAINTEXT connects today; the others are stored and fail clearly."})
	def(ConfigDef{Name: "sasl.mechanism", Default: "GSSAPI", HasDefault: true,
		Validate: oneOf("GSSAPI", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"),
		Doc:      "SASL mechanism for the source."})
	def(ConfigDef{Name: "sasl.jaas.config", Sensitive: true, Doc: "JAAS login for the source (sensitive)."})
	for _, k := range []string{"ssl.truststore.certificates", "ssl.keystore.certificate.chain",
		"ssl.truststore.type", "ssl.keystore.type", "ssl.endpoint.identification.algorithm",
		"ssl.enabled.protocols", "ssl.protocol", "ssl.cipher.suites", "ssl.truststore.location", "ssl.keystore.location"} {
		def(ConfigDef{Name: k, Doc: "TLS setting for the source."})
	}
	for _, k := range []string{"ssl.keystore.key", "ssl.key.password", "ssl.keystore.password", "ssl.truststore.password"} {
		def(ConfigDef{Name: k, Sensitive: true, Doc: "TLS secret for the source (sensitive)."})
	}
	// Features of the link that come later: accepted only while off.
	def(ConfigDef{Name: "consumer.offset.sync.enable", Default: "false", HasDefault: true,
		Validate: onlyFalse("consumer.offset.sync.enable"), Doc: "Consumer offset sync (not supported yet)."})
	def(ConfigDef{Name: "acl.sync.enable", Default: "false", HasDefault: true,
		Validate: onlyFalse("acl.sync.enable"), Doc: "ACL sync (not supported yet)."})
	def(ConfigDef{Name: "auto.create.mirror.topics.enable", Default: "false", HasDefault: true,
		Validate: onlyFalse("auto.create.mirror.topics.enable"), Doc: "Auto-create mirrors (not supported yet)."})
}

// Lookup returns a config's definition.
func Lookup(name string) (ConfigDef, bool) {
	d, ok := defs[name]
	return d, ok
}

// Names lists every link config, sorted.
func Names() []string {
	out := make([]string, 0, len(defs))
	for n := range defs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

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
		d, ok := defs[k]
		if !ok {
			return fmt.Errorf("%w: %s", ErrUnknownConfig, k)
		}
		v := configs[k]
		if d.CreateOnly && !creating && previous[k] != v {
			return fmt.Errorf("%w: %s", ErrCreateOnly, k)
		}
		if d.Validate != nil {
			if err := d.Validate(v); err != nil {
				if errors.Is(err, ErrNotSupported) {
					return fmt.Errorf("%s: %w", k, err)
				}
				return fmt.Errorf("%w: %s: %v", ErrInvalidConfig, k, err)
			}
		}
	}
	if _, ok := configs["bootstrap.servers"]; !ok {
		return fmt.Errorf("%w: bootstrap.servers is required", ErrInvalidConfig)
	}
	if !creating {
		// A create-only key may not be removed either.
		for k, d := range defs {
			if _, had := previous[k]; had && d.CreateOnly {
				if _, has := configs[k]; !has {
					return fmt.Errorf("%w: %s", ErrCreateOnly, k)
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
	out := make([]Entry, 0, len(defs))
	for _, n := range Names() {
		d := defs[n]
		e := Entry{Name: n, Sensitive: d.Sensitive, ReadOnly: d.CreateOnly}
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
	return defs[name].Default
}

// Int returns an integer link config's effective value.
func Int(configs map[string]string, name string) int64 {
	n, _ := strconv.ParseInt(Value(configs, name), 10, 64)
	return n
}

// Millis returns a millisecond link config as a duration.
func Millis(configs map[string]string, name string) time.Duration {
	return time.Duration(Int(configs, name)) * time.Millisecond
}
