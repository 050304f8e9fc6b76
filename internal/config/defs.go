package config

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
)

// Sentinel errors. Every error about a key is a *KeyError wrapping one of
// these, so handlers map them to Kafka codes with errors.Is and can still
// print the key.
var (
	// ErrUnknownConfig: the key is not one Tandem defines. We only define
	// keys whose semantics we honour, so an unknown key is refused rather
	// than silently stored.
	ErrUnknownConfig = errors.New("unknown config")
	// ErrInvalidValue: the value does not parse or is out of range.
	ErrInvalidValue = errors.New("invalid value")
	// ErrReadOnly: the key needs a restart and cannot be altered
	// dynamically (Kafka's "read-only" update mode, KIP-226).
	ErrReadOnly = errors.New("read-only config: it cannot be altered dynamically; set it in the broker's properties and restart")
	// ErrNotSupported: a value Kafka accepts but Tandem does not implement
	// yet. Always reported together with ErrInvalidValue.
	ErrNotSupported = errors.New("not supported by Tandem yet")
)

// KeyError is an error about one config key.
type KeyError struct {
	Key   string
	Value string // omitted from the message for sensitive keys
	Err   error  // ErrUnknownConfig, ErrInvalidValue or ErrReadOnly
	Cause error  // detail from a validator; may wrap ErrNotSupported
}

func (e *KeyError) Error() string {
	var b strings.Builder
	b.WriteString(e.Err.Error())
	b.WriteString(": ")
	b.WriteString(e.Key)
	if e.Value != "" {
		b.WriteString("=")
		b.WriteString(strconv.Quote(e.Value))
	}
	if e.Cause != nil {
		b.WriteString(": ")
		b.WriteString(e.Cause.Error())
	}
	return b.String()
}

// Unwrap exposes both the sentinel and the validator's cause.
func (e *KeyError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}

// Type is a config value type, as in Kafka's ConfigDef.Type.
type Type int

// Config value types.
const (
	TypeBoolean Type = iota + 1
	TypeInt
	TypeLong
	TypeDouble
	TypeString
	TypeList
	TypePassword
)

// String returns Kafka's name for the type.
func (t Type) String() string {
	switch t {
	case TypeBoolean:
		return "BOOLEAN"
	case TypeInt:
		return "INT"
	case TypeLong:
		return "LONG"
	case TypeDouble:
		return "DOUBLE"
	case TypeString:
		return "STRING"
	case TypeList:
		return "LIST"
	case TypePassword:
		return "PASSWORD"
	}
	return "UNKNOWN"
}

// ConfigType maps the type to DescribeConfigs' ConfigType (KIP-569).
func (t Type) ConfigType() kmsg.ConfigType {
	switch t {
	case TypeBoolean:
		return kmsg.ConfigTypeBoolean
	case TypeInt:
		return kmsg.ConfigTypeInt
	case TypeLong:
		return kmsg.ConfigTypeLong
	case TypeDouble:
		return kmsg.ConfigTypeDouble
	case TypeString:
		return kmsg.ConfigTypeString
	case TypeList:
		return kmsg.ConfigTypeList
	case TypePassword:
		return kmsg.ConfigTypePassword
	}
	return kmsg.ConfigTypeUnknown
}

// Def defines one config key.
type Def struct {
	Name string
	Type Type
	// Default is the default value; with HasDefault false the default is
	// null (Kafka's `null` default, e.g. log.retention.ms).
	Default    string
	HasDefault bool
	Doc        string
	// Validate checks a value that already parses as Type; nil accepts any.
	Validate func(string) error
	// ReadOnly (broker keys): needs a restart; cannot be altered dynamically.
	ReadOnly  bool
	Sensitive bool
	// TopicName (broker keys): the topic-level config this key is the
	// default of (Kafka's LogConfig.TopicConfigSynonyms), or "".
	TopicName string
}

// synonym is one member of a group of broker keys that set the same thing,
// in precedence order within a layer (Kafka's brokerConfigSynonyms), e.g.
// log.retention.ms > log.retention.minutes > log.retention.hours.
type synonym struct {
	name string
	// scale converts a value to the unit of the group's first member
	// (milliseconds): 60000 for minutes, 3600000 for hours. 0 marks a pure
	// alias (broker.id for node.id, log.dir for log.dirs): same unit, and
	// not a Def of its own.
	scale int64
}

// Registry is a set of config definitions keyed by name.
type Registry struct {
	defs    map[string]*Def
	names   []string
	aliases map[string]string    // alias -> canonical name
	groups  map[string][]synonym // every member name -> its group
	// brokerSynonym (topic registry): topic key -> the first broker key of
	// the group that provides its default.
	brokerSynonym map[string]string
}

// Lookup returns the definition of name; an alias returns the definition of
// the key it stands for.
func (r *Registry) Lookup(name string) (Def, bool) {
	d, ok := r.defs[r.Canonical(name)]
	if !ok {
		return Def{}, false
	}
	return *d, true
}

// Canonical maps an alias (broker.id, log.dir) to the key it stands for and
// returns any other name unchanged.
func (r *Registry) Canonical(name string) string {
	if c, ok := r.aliases[name]; ok {
		return c
	}
	return name
}

// Names lists the defined keys, sorted, without aliases.
func (r *Registry) Names() []string { return append([]string(nil), r.names...) }

// Synonyms lists the keys that set the same thing as name, in precedence
// order (name itself included), e.g. log.retention.{ms,minutes,hours}.
func (r *Registry) Synonyms(name string) []string {
	g, ok := r.groups[name]
	if !ok {
		if _, known := r.defs[name]; !known {
			return nil
		}
		return []string{name}
	}
	out := make([]string, len(g))
	for i, s := range g {
		out[i] = s.name
	}
	return out
}

// Validate checks one key and value: ErrUnknownConfig for an undefined key,
// ErrInvalidValue for a value that does not parse or fails the validator.
func (r *Registry) Validate(name, value string) error {
	d, ok := r.Lookup(name)
	if !ok {
		return &KeyError{Key: name, Err: ErrUnknownConfig}
	}
	if err := checkType(d.Type, value); err == nil && d.Validate != nil {
		err = d.Validate(value)
		if err != nil {
			return d.invalid(name, value, err)
		}
	} else if err != nil {
		return d.invalid(name, value, err)
	}
	return nil
}

func (d *Def) invalid(name, value string, cause error) error {
	if d.Sensitive {
		value = ""
	}
	return &KeyError{Key: name, Value: value, Err: ErrInvalidValue, Cause: cause}
}

// BrokerDefs returns the broker config registry.
func BrokerDefs() *Registry { return brokerRegistry }

// TopicDefs returns the topic config registry.
func TopicDefs() *Registry { return topicRegistry }

// Parsing, following Kafka's ConfigDef.parseType: numbers and booleans are
// trimmed; lists split on commas with surrounding whitespace.

func checkType(t Type, v string) error {
	var err error
	switch t {
	case TypeBoolean:
		_, err = parseBool(v)
	case TypeInt:
		_, err = parseInt32(v)
	case TypeLong:
		_, err = parseInt64(v)
	case TypeDouble:
		_, err = strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			err = fmt.Errorf("expected value to be a double")
		}
	}
	return err
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("expected value to be either true or false")
}

func parseInt32(v string) (int32, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("not a number of type INT")
	}
	return int32(n), nil
}

func parseInt64(v string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("not a number of type LONG")
	}
	return n, nil
}

var listSep = regexp.MustCompile(`\s*,\s*`)

// parseList splits a LIST value; an empty (or blank) value is an empty list.
func parseList(v string) []string {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	return listSep.Split(v, -1)
}

// canonicalValue renders a valid value the way Kafka prints a parsed value
// (trimmed numbers, lower-case booleans, comma-joined lists).
func canonicalValue(t Type, v string) string {
	switch t {
	case TypeBoolean:
		if b, err := parseBool(v); err == nil {
			return strconv.FormatBool(b)
		}
	case TypeInt, TypeLong:
		if n, err := parseInt64(v); err == nil {
			return strconv.FormatInt(n, 10)
		}
	case TypeList:
		return strings.Join(parseList(v), ",")
	case TypeString, TypeDouble:
		return strings.TrimSpace(v)
	}
	return v
}

// Validators.

func atLeast(min int64) func(string) error {
	return func(v string) error {
		n, err := parseInt64(v)
		if err != nil {
			return err
		}
		if n < min {
			return fmt.Errorf("value must be at least %d", min)
		}
		return nil
	}
}

func between(min, max int64) func(string) error {
	return func(v string) error {
		n, err := parseInt64(v)
		if err != nil {
			return err
		}
		if n < min || n > max {
			return fmt.Errorf("value must be between %d and %d", min, max)
		}
		return nil
	}
}

// unlimitedOrPositive is KafkaConfig's rule for the broker retention keys:
// "must be unlimited (-1) or, equal or greater than 1".
func unlimitedOrPositive(v string) error {
	n, err := parseInt64(v)
	if err != nil {
		return err
	}
	if n != -1 && n < 1 {
		return fmt.Errorf("value must be unlimited (-1) or at least 1")
	}
	return nil
}

func oneOf(values ...string) func(string) error {
	return func(v string) error {
		v = strings.TrimSpace(v)
		for _, ok := range values {
			if v == ok {
				return nil
			}
		}
		return fmt.Errorf("string must be one of: %s", strings.Join(values, ", "))
	}
}

// The authorizer.class.name values Tandem accepts: Kafka's two built-in
// authorizers, KRaft's and the ZooKeeper-era one, whose ACL semantics are
// the same; both select internal/acl's StandardAuthorizer.
const (
	AuthorizerStandard = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
	AuthorizerACL      = "kafka.security.authorizer.AclAuthorizer"
)

func validAuthorizerClass(v string) error {
	switch strings.TrimSpace(v) {
	case "", AuthorizerStandard, AuthorizerACL:
		return nil
	}
	return fmt.Errorf("%w: Tandem has one built-in authorizer; set %s (or %s), or leave it empty for no authorization",
		ErrNotSupported, AuthorizerStandard, AuthorizerACL)
}

// validSuperUsers checks super.users as StandardAuthorizer.getConfiguredSuperUsers
// parses it: semicolon-separated "Type:Name" principals.
func validSuperUsers(v string) error {
	_, err := acl.ParseSuperUsers(v)
	return err
}

// validCompressionType accepts only "producer": Tandem stores batches as the
// producer sent them and never recompresses.
func validCompressionType(v string) error {
	switch v = strings.TrimSpace(v); v {
	case "producer":
		return nil
	case "uncompressed", "gzip", "snappy", "lz4", "zstd":
		return fmt.Errorf("compression.type %s is %w (Tandem never recompresses; use producer)", v, ErrNotSupported)
	}
	return fmt.Errorf("string must be one of: uncompressed, zstd, lz4, snappy, gzip, producer")
}

// validCleanupPolicy accepts Kafka's cleanup.policy values: delete,
// compact, or both (in either order).
func validCleanupPolicy(v string) error {
	items := parseList(v)
	if len(items) == 0 {
		return fmt.Errorf("cleanup.policy must not be empty")
	}
	seen := map[string]bool{}
	for _, p := range items {
		if p != "delete" && p != "compact" {
			return fmt.Errorf("invalid cleanup policy %q: must be one of [compact, delete]", p)
		}
		if seen[p] {
			return fmt.Errorf("cleanup policy %q appears twice", p)
		}
		seen[p] = true
	}
	return nil
}

// ratio accepts a DOUBLE in [0, 1] (min.cleanable.dirty.ratio).
func ratio(v string) error {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		return fmt.Errorf("expected value to be a double")
	}
	if !(f >= 0 && f <= 1) {
		return fmt.Errorf("value must be between 0 and 1")
	}
	return nil
}

func validListeners(v string) error { _, err := parseBoundListeners(v); return err }

// validAdvertisedListeners checks the syntax and the meta-address rule; that
// every name is one of listeners is checked by LoadBroker.
func validAdvertisedListeners(v string) error {
	ls, err := ParseListeners(v)
	if err != nil {
		return err
	}
	return checkAdvertised(ls, ls)
}

func validHTTPListeners(v string) error { _, err := ParseHTTPListeners(v); return err }

// validHTTPAuthenticationMethod checks http.authentication.method.
func validHTTPAuthenticationMethod(v string) error {
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "NONE", "BASIC", "MTLS":
		return nil
	}
	return fmt.Errorf("must be NONE, BASIC or MTLS")
}

// httpSSLDefs are the http.ssl.* keys of https http.listeners: the
// server-side ssl.* keys of the Kafka listeners (listenerDefList, which
// internal/tlsconf reads) with an http. prefix, the same types, defaults and
// checks, so an https HTTP listener is set up exactly like an SSL Kafka
// listener, with its own keystore if wanted.
func httpSSLDefs() []Def {
	var out []Def
	for _, d := range listenerDefList {
		// The endpoint identification algorithm is a client setting.
		if !strings.HasPrefix(d.Name, "ssl.") || d.Name == "ssl.endpoint.identification.algorithm" {
			continue
		}
		d.Doc = "Tandem-specific: " + d.Name + " for https http.listeners (docs/security.md). " + d.Doc
		d.Name = "http." + d.Name
		out = append(out, d)
	}
	return out
}

// validAllowedHosts checks http.allowed.hosts: bare host names (no scheme,
// port or path), optionally "*." followed by a domain, or "*" alone.
func validAllowedHosts(v string) error {
	for _, h := range parseList(v) {
		name := strings.TrimPrefix(h, "*.")
		if h == "*" {
			continue
		}
		if name == "" || strings.ContainsAny(name, "/:?#@ *[]") {
			return fmt.Errorf("allowed host %q: want a host name without scheme or port, \"*.domain\" or \"*\"", h)
		}
	}
	return nil
}

func validConnectionOverrides(v string) error { _, err := ParseConnectionOverrides(v); return err }

// ParseConnectionOverrides parses max.connections.per.ip.overrides: a
// comma-separated list of host:count or ip:count (Kafka's
// KafkaConfig.getMap). The count follows the last colon, so IPv6 addresses
// may be written bare or in brackets.
func ParseConnectionOverrides(v string) (map[string]int32, error) {
	out := map[string]int32{}
	for _, item := range parseList(v) {
		i := strings.LastIndexByte(item, ':')
		if i <= 0 {
			return nil, fmt.Errorf("%q is not host:count", item)
		}
		host := strings.TrimSpace(item[:i])
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		n, err := strconv.ParseInt(strings.TrimSpace(item[i+1:]), 10, 32)
		if err != nil || n < 0 || host == "" {
			return nil, fmt.Errorf("%q is not host:count with a count of at least 0", item)
		}
		if _, dup := out[host]; dup {
			return nil, fmt.Errorf("%s appears twice", host)
		}
		out[host] = int32(n)
	}
	return out, nil
}

func validLogDirs(v string) error {
	dirs := parseList(v)
	switch {
	case len(dirs) == 0:
		return fmt.Errorf("at least one log directory is required")
	case len(dirs) > 1:
		// JBOD (KIP-112/KIP-858) is not implemented.
		return fmt.Errorf("more than one log directory is %w", ErrNotSupported)
	}
	return nil
}

// Hours and minutes in milliseconds, for the retention and roll synonyms.
const (
	msPerMinute = 60 * 1000
	msPerHour   = 60 * msPerMinute
)

// brokerDefList holds every broker key Tandem honours, with Kafka's names and
// (unless noted) Kafka's defaults and ranges. No flush keys: Tandem fsyncs
// before every acknowledgement, so log.flush.* would be meaningless.
var brokerDefList = []Def{
	{Name: "node.id", Type: TypeInt, Default: "1", HasDefault: true, ReadOnly: true,
		Validate: between(0, math.MaxInt32),
		Doc:      "The node id of this server. broker.id is accepted as an alias. Kafka has no default; Tandem defaults to 1."},
	{Name: "listeners", Type: TypeList, Default: "PLAINTEXT://127.0.0.1:9092", HasDefault: true, ReadOnly: true,
		Validate: validListeners,
		Doc: "Comma-separated NAME://host:port addresses the Kafka protocol is served on. Each name's security protocol " +
			"(PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL) comes from listener.security.protocol.map."},
	{Name: "advertised.listeners", Type: TypeList, ReadOnly: true,
		Validate: validAdvertisedListeners,
		Doc: "Addresses given to clients in Metadata responses, as NAME://host:port per listener name: a client " +
			"connected to listener NAME is given NAME's address. A listener not listed advertises its own address."},
	{Name: "log.dirs", Type: TypeList, Default: "./tandem-data", HasDefault: true, ReadOnly: true,
		Validate: validLogDirs,
		Doc:      "The directory holding partition logs and cluster metadata (log.dir is an alias). Only one directory is supported."},
	{Name: "http.listeners", Type: TypeList, Default: "http://127.0.0.1:8090", HasDefault: true, ReadOnly: true,
		Validate: validHTTPListeners,
		Doc: "Tandem-specific: comma-separated http://host:port or https://host:port addresses for the REST API, " +
			"the console and metrics (https with the http.ssl.* keys). Empty disables HTTP."},
	{Name: "http.authentication.method", Type: TypeString, Default: "NONE", HasDefault: true, ReadOnly: true,
		Validate: validHTTPAuthenticationMethod,
		Doc: "Tandem-specific: how the HTTP API authenticates requests: NONE (every request is User:ANONYMOUS), " +
			"BASIC (HTTP Basic, checked against the SASL users: SCRAM credentials and PLAIN JAAS users) or MTLS " +
			"(the client certificate; needs an https http.listeners entry and http.ssl.client.auth=required). " +
			"The health probes stay open (docs/security.md)."},
	// The safe HTTP surface and the admin request caps (docs/operations.md).
	{Name: "http.allowed.hosts", Type: TypeList, ReadOnly: true,
		Validate: validAllowedHosts,
		Doc: "Tandem-specific: extra host names the HTTP API answers to (its Host header, without the port), besides " +
			"the http.listeners and advertised.listeners hosts, this machine's host name, localhost and IP addresses. " +
			"A name may start with \"*.\" to match every subdomain; \"*\" turns the check off. Guards against DNS rebinding."},
	{Name: "http.pprof.enable", Type: TypeBoolean, Default: "false", HasDefault: true, ReadOnly: true,
		Doc: "Tandem-specific: whether the HTTP listeners serve Go's profiler under /debug/pprof/."},
	// Consumer-group lag metrics (docs/metrics.md, "Consumer groups").
	{Name: "metrics.consumer.group.lag.max.groups", Type: TypeInt, Default: "1000", HasDefault: true, ReadOnly: true,
		Validate: between(0, math.MaxInt32),
		Doc: "Tandem-specific: the most consumer groups (the first in group id order) whose lag /metrics exports " +
			"(tandem_consumer_group_lag_total and _max, per group and topic); the rest are counted in " +
			"tandem_consumer_group_lag_groups_omitted. 0 exports none."},
	{Name: "metrics.consumer.group.partition.lag.enable", Type: TypeBoolean, Default: "false", HasDefault: true, ReadOnly: true,
		Doc: "Tandem-specific: whether /metrics also exports tandem_consumer_group_partition_lag, one series per group " +
			"and committed partition. Off by default: with many partitions that is many series."},
	{Name: "max.partitions.per.request", Type: TypeInt, Default: "10000", HasDefault: true, ReadOnly: true,
		Validate: between(1, math.MaxInt32),
		Doc: "Tandem-specific: the most partitions one CreateTopics, CreatePartitions (partitions added) or REST topic " +
			"creation may create, summed over its topics; more fails every topic of the request with POLICY_VIOLATION. " +
			"Kafka hard-codes 10000 (KAFKA-17870)."},
	{Name: "auto.create.topics.max.per.request", Type: TypeInt, Default: "100", HasDefault: true, ReadOnly: true,
		Validate: between(1, math.MaxInt32),
		Doc: "Tandem-specific: the most topics one Metadata request may auto-create (also bounded by " +
			"max.partitions.per.request); further unknown topics are answered LEADER_NOT_AVAILABLE, so the client " +
			"retries and they are created by its next requests. To turn auto-creation off, use auto.create.topics.enable."},
	{Name: "num.partitions", Type: TypeInt, Default: "1", HasDefault: true, ReadOnly: true,
		Validate: atLeast(1),
		Doc:      "The default number of partitions of a topic created without one."},
	{Name: "default.replication.factor", Type: TypeInt, Default: "1", HasDefault: true, ReadOnly: true,
		Validate: between(1, math.MaxInt16),
		Doc:      "The default replication factor of a topic created without one."},
	{Name: "auto.create.topics.enable", Type: TypeBoolean, Default: "true", HasDefault: true, ReadOnly: true,
		Doc: "Whether a Metadata request for an unknown topic creates it."},
	{Name: "delete.topic.enable", Type: TypeBoolean, Default: "true", HasDefault: true, ReadOnly: true,
		Doc: "Whether topics can be deleted."},
	// Authorization (docs/operations.md, "Authorization"; internal/acl).
	{Name: "authorizer.class.name", Type: TypeString, Default: "", HasDefault: true, ReadOnly: true,
		Validate: validAuthorizerClass,
		Doc: "The authorizer that checks every request against the ACLs. Empty (the default) turns authorization off. " +
			AuthorizerStandard + " and " + AuthorizerACL + " both select Tandem's built-in authorizer, which follows " +
			"StandardAuthorizer's rules over ACLs kept in the cluster metadata. Any other class is refused at startup."},
	{Name: "super.users", Type: TypeString, Default: "", HasDefault: true, ReadOnly: true,
		Validate: validSuperUsers,
		Doc:      "Principals allowed every operation whatever the ACLs say, separated by semicolons: User:admin;User:ops."},
	{Name: "allow.everyone.if.no.acl.found", Type: TypeBoolean, Default: "false", HasDefault: true, ReadOnly: true,
		Doc: "Whether an operation on a resource that no ACL names at all is allowed (with an authorizer configured)."},
	{Name: "message.max.bytes", Type: TypeInt, Default: "1048588", HasDefault: true, TopicName: "max.message.bytes",
		Validate: atLeast(0),
		Doc:      "The largest record batch size allowed, in bytes."},
	{Name: "log.sync.strategy", Type: TypeString, Default: "syncfs", HasDefault: true, ReadOnly: true,
		Validate: oneOf("syncfs", "fdatasync"),
		Doc: "Tandem-specific: how a group-commit round makes appended data durable before it is acknowledged. " +
			"syncfs: one syncfs(2) of the log directory's file system per round (one journal commit for all partitions; " +
			"best with the log directory on its own volume). fdatasync: fdatasync each dirty file (no effect on other data " +
			"on the same file system). Both fsync before every acks=all acknowledgement."},
	{Name: "socket.request.max.bytes", Type: TypeInt, Default: "104857600", HasDefault: true, ReadOnly: true,
		Validate: atLeast(1),
		Doc:      "The largest request accepted, in bytes."},
	// Decoded-memory budgets (issue #9; docs/operations.md "Request
	// limits"). Kafka has no equivalent: its nearest, queued.max.request.bytes,
	// bounds frame bytes and mutes sockets rather than refusing.
	{Name: "request.decoded.max.bytes", Type: TypeLong, Default: "67108864", HasDefault: true, ReadOnly: true,
		Validate: atLeast(1),
		Doc: "Tandem-specific: the most memory decoding one request may take, in bytes, estimated from the request " +
			"before it is decoded. A request over it is refused and its connection closed."},
	{Name: "request.decoded.total.max.bytes", Type: TypeLong, Default: "268435456", HasDefault: true, ReadOnly: true,
		Validate: atLeast(1),
		Doc: "Tandem-specific: the most memory all requests being decoded and handled at once may take, in bytes. " +
			"A request that would pass it is refused and its connection closed."},
	{Name: "log.segment.bytes", Type: TypeInt, Default: "1073741824", HasDefault: true, TopicName: "segment.bytes",
		Validate: atLeast(1 << 20), // KIP-1030 (Kafka 4.0): minimum 1 MiB.
		Doc:      "The maximum size of a single log segment file, in bytes."},
	{Name: "log.roll.ms", Type: TypeLong, TopicName: "segment.ms",
		Validate: atLeast(1),
		Doc:      "The maximum time before a new log segment is rolled out, in milliseconds. If not set, log.roll.hours is used."},
	{Name: "log.roll.hours", Type: TypeInt, Default: "168", HasDefault: true, TopicName: "segment.ms",
		Validate: atLeast(1),
		Doc:      "The maximum time before a new log segment is rolled out, in hours. Secondary to log.roll.ms."},
	{Name: "log.retention.ms", Type: TypeLong, TopicName: "retention.ms",
		Validate: unlimitedOrPositive,
		Doc:      "How long to keep a log segment before deleting it, in milliseconds; -1 keeps forever. If not set, log.retention.minutes is used."},
	{Name: "log.retention.minutes", Type: TypeInt, TopicName: "retention.ms",
		Validate: unlimitedOrPositive,
		Doc:      "How long to keep a log segment before deleting it, in minutes. Secondary to log.retention.ms; if not set, log.retention.hours is used."},
	{Name: "log.retention.hours", Type: TypeInt, Default: "168", HasDefault: true, TopicName: "retention.ms",
		Validate: unlimitedOrPositive,
		Doc:      "How long to keep a log segment before deleting it, in hours. Tertiary to log.retention.ms."},
	{Name: "log.retention.bytes", Type: TypeLong, Default: "-1", HasDefault: true, TopicName: "retention.bytes",
		Doc: "The maximum size of a partition log before old segments are deleted; negative means no limit."},
	{Name: "log.retention.check.interval.ms", Type: TypeLong, Default: "300000", HasDefault: true, ReadOnly: true,
		Validate: atLeast(1),
		Doc:      "How often, in milliseconds, logs are checked for segments eligible for deletion."},
	{Name: "log.index.interval.bytes", Type: TypeInt, Default: "4096", HasDefault: true, TopicName: "index.interval.bytes",
		Validate: atLeast(0),
		Doc:      "How many log bytes between two offset index entries."},
	{Name: "log.segment.delete.delay.ms", Type: TypeLong, Default: "60000", HasDefault: true, TopicName: "file.delete.delay.ms",
		Validate: atLeast(0),
		Doc:      "How long to wait before deleting a segment file removed from the log."},
	{Name: "log.message.timestamp.type", Type: TypeString, Default: "CreateTime", HasDefault: true, TopicName: "message.timestamp.type",
		Validate: oneOf("CreateTime", "LogAppendTime"),
		Doc:      "Whether record timestamps are the producer's create time or the log append time."},
	{Name: "log.message.timestamp.before.max.ms", Type: TypeLong, Default: strconv.FormatInt(math.MaxInt64, 10), HasDefault: true,
		TopicName: "message.timestamp.before.max.ms", Validate: atLeast(0),
		Doc: "How far a CreateTime timestamp may lie before the broker's time, in milliseconds (KIP-937)."},
	{Name: "log.message.timestamp.after.max.ms", Type: TypeLong, Default: "3600000", HasDefault: true,
		TopicName: "message.timestamp.after.max.ms", Validate: atLeast(0),
		Doc: "How far a CreateTime timestamp may lie after the broker's time, in milliseconds (KIP-937; 1 hour since Kafka 4.0)."},
	{Name: "log.cleanup.policy", Type: TypeList, Default: "delete", HasDefault: true, TopicName: "cleanup.policy",
		Validate: validCleanupPolicy,
		Doc: "The policy for old segments: delete (time and size retention), compact (keep the latest record of " +
			"each key) or both, comma-separated."},
	{Name: "log.cleaner.delete.retention.ms", Type: TypeLong, Default: "86400000", HasDefault: true,
		TopicName: "delete.retention.ms", Validate: atLeast(0),
		Doc: "How long tombstones (and transaction markers that guard nothing any more) are kept in a compacted " +
			"log after the cleaner first saw them, in milliseconds (KIP-534)."},
	{Name: "log.cleaner.min.cleanable.ratio", Type: TypeDouble, Default: "0.5", HasDefault: true,
		TopicName: "min.cleanable.dirty.ratio", Validate: ratio,
		Doc: "The minimum share of not-yet-compacted bytes in a log for the cleaner to compact it (unless " +
			"max.compaction.lag.ms is exceeded)."},
	{Name: "log.cleaner.min.compaction.lag.ms", Type: TypeLong, Default: "0", HasDefault: true,
		TopicName: "min.compaction.lag.ms", Validate: atLeast(0),
		Doc: "The minimum time a record stays uncompacted, in milliseconds (per segment, by its largest timestamp)."},
	{Name: "log.cleaner.max.compaction.lag.ms", Type: TypeLong, Default: strconv.FormatInt(math.MaxInt64, 10), HasDefault: true,
		TopicName: "max.compaction.lag.ms", Validate: atLeast(1),
		Doc: "The maximum time a record stays uncompacted, in milliseconds: a log with older dirty data is " +
			"compacted whatever its dirty ratio, and its active segment rolls at this age (KIP-354)."},
	{Name: "log.cleaner.enable", Type: TypeBoolean, Default: "true", HasDefault: true, ReadOnly: true,
		Doc: "Whether the log cleaner runs. Without it, topics with cleanup.policy=compact are never compacted."},
	{Name: "log.cleaner.threads", Type: TypeInt, Default: "1", HasDefault: true, ReadOnly: true,
		Validate: atLeast(0),
		Doc:      "The number of background threads compacting logs."},
	{Name: "log.cleaner.dedupe.buffer.size", Type: TypeLong, Default: "134217728", HasDefault: true, ReadOnly: true,
		Validate: atLeast(1),
		Doc: "The memory for the cleaner's key maps, in bytes, shared by all cleaner threads (24 bytes a key). " +
			"Tandem allocates it as keys need it."},
	{Name: "log.cleaner.backoff.ms", Type: TypeLong, Default: "15000", HasDefault: true, ReadOnly: true,
		Validate: atLeast(0),
		Doc:      "How long a cleaner thread sleeps when no log needs compacting, in milliseconds."},
	// Group coordinator (Kafka's GroupCoordinatorConfig and offsets topic
	// settings). Static here: changing them needs a restart.
	{Name: "offsets.topic.num.partitions", Type: TypeInt, Default: "50", HasDefault: true, ReadOnly: true,
		Validate: between(1, 100000),
		Doc: "The number of partitions of the internal __consumer_offsets topic, fixed when the topic is first " +
			"created; a later change does not re-shard existing groups (as in Kafka)."},
	{Name: "offsets.topic.segment.bytes", Type: TypeInt, Default: "104857600", HasDefault: true, ReadOnly: true,
		Validate: atLeast(1 << 20),
		Doc:      "The segment size of __consumer_offsets, kept small so that compaction runs often."},
	{Name: "offsets.retention.minutes", Type: TypeInt, Default: "10080", HasDefault: true, ReadOnly: true,
		Validate: atLeast(1),
		Doc: "How long committed offsets of a group are kept after the group becomes empty (or, for a " +
			"standalone consumer, after the last commit), in minutes (KIP-211)."},
	{Name: "offsets.retention.check.interval.ms", Type: TypeLong, Default: "600000", HasDefault: true, ReadOnly: true,
		Validate: atLeast(1),
		Doc:      "How often expired offsets are removed, in milliseconds."},
	{Name: "offset.metadata.max.bytes", Type: TypeInt, Default: "4096", HasDefault: true, ReadOnly: true,
		Validate: atLeast(0),
		Doc:      "The largest metadata string allowed with a committed offset."},
	{Name: "group.initial.rebalance.delay.ms", Type: TypeInt, Default: "3000", HasDefault: true, ReadOnly: true,
		Validate: atLeast(0),
		Doc: "How long the coordinator waits for more members to join an empty group before its first " +
			"rebalance, in milliseconds."},
	{Name: "group.min.session.timeout.ms", Type: TypeInt, Default: "6000", HasDefault: true, ReadOnly: true,
		Validate: atLeast(0),
		Doc:      "The smallest session timeout a group member may ask for, in milliseconds."},
	{Name: "group.max.session.timeout.ms", Type: TypeInt, Default: "1800000", HasDefault: true, ReadOnly: true,
		Validate: atLeast(0),
		Doc:      "The largest session timeout a group member may ask for, in milliseconds."},
	{Name: "group.max.size", Type: TypeInt, Default: "2147483647", HasDefault: true, ReadOnly: true,
		Validate: atLeast(1),
		Doc:      "The largest number of members a classic group may have."},
	{Name: "cluster.link.enable", Type: TypeBoolean, Default: "true", HasDefault: true, ReadOnly: true,
		Doc: "Tandem's name for Confluent's confluent.cluster.link.enable: whether cluster links and mirror " +
			"topics can be used on this broker."},
	// Kafka's PasswordEncoder keys: sensitive cluster link configs are
	// stored encrypted with this secret (internal/pwenc; docs/security.md).
	{Name: "password.encoder.secret", Type: TypePassword, ReadOnly: true, Sensitive: true,
		Doc: "The secret with which sensitive cluster link configs (sasl.jaas.config, ssl.keystore.key, ssl.*.password) " +
			"are encrypted before they are stored. Set the same value on every broker; a link with a sensitive config " +
			"is refused while it is not set."},
	{Name: "password.encoder.old.secret", Type: TypePassword, ReadOnly: true, Sensitive: true,
		Doc: "The previous password.encoder.secret, while rotating it: stored values are decrypted with it when the " +
			"current secret does not, and re-encrypted with the current one when their link starts."},
	{Name: "password.encoder.iterations", Type: TypeInt, Default: "4096", HasDefault: true, ReadOnly: true,
		Validate: atLeast(1024),
		Doc:      "The PBKDF2 iteration count of the key derived from password.encoder.secret for each stored value."},
	{Name: "min.insync.replicas", Type: TypeInt, Default: "1", HasDefault: true, TopicName: "min.insync.replicas",
		Validate: atLeast(1),
		Doc:      "The minimum number of in-sync replicas needed to acknowledge a write with acks=all."},
	{Name: "compression.type", Type: TypeString, Default: "producer", HasDefault: true, TopicName: "compression.type",
		Validate: validCompressionType,
		Doc:      "The final compression of a topic's batches. Only producer (keep what the producer sent) is supported."},
	// Connections (issue #9; Kafka's SocketServer and ConnectionQuotas).
	// Kafka can change the max.connections* keys dynamically (KIP-402);
	// Tandem applies them at start only, so they are read-only here.
	{Name: "connections.max.idle.ms", Type: TypeLong, Default: "600000", HasDefault: true, ReadOnly: true,
		Validate: unlimitedOrPositive,
		Doc: "Idle connections timeout: a client connection with no request in progress or being answered for " +
			"this long is closed, in milliseconds; -1 never closes idle connections."},
	{Name: "max.connections", Type: TypeInt, Default: "2147483647", HasDefault: true, ReadOnly: true,
		Validate: atLeast(0),
		Doc: "The most client connections the broker keeps open, across all listeners. A connection past it is " +
			"closed right after it is accepted (Kafka blocks accepting instead). The broker also never lets client " +
			"connections take the file descriptors kept in reserve for logs, metadata and HTTP: see docs/operations.md."},
	{Name: "max.connections.per.ip", Type: TypeInt, Default: "2147483647", HasDefault: true, ReadOnly: true,
		Validate: atLeast(0),
		Doc: "The most client connections allowed from one IP address; a connection past it is closed right after " +
			"it is accepted. 0 admits only the addresses in max.connections.per.ip.overrides."},
	{Name: "max.connections.per.ip.overrides", Type: TypeString, Default: "", HasDefault: true, ReadOnly: true,
		Validate: validConnectionOverrides,
		Doc: "Per-IP or per-host limits that replace max.connections.per.ip, as a comma-separated list of " +
			"host:count or ip:count (for example \"127.0.0.1:200,ingest-1.example.com:50\"). Host names are resolved at start."},
	{Name: "socket.request.read.timeout.ms", Type: TypeLong, Default: "30000", HasDefault: true, ReadOnly: true,
		Validate: unlimitedOrPositive,
		Doc: "Tandem-specific (Kafka has no such key): once a request has begun to arrive, the longest the broker " +
			"waits for more of its bytes, in milliseconds; a connection whose request stops arriving is closed. " +
			"A slow request that keeps arriving is never cut. -1 waits forever."},

	// SASL authentication (issue #10; Kafka's SaslServerAuthenticator).
	// Each may be set per listener with Kafka's listener.name.<listener>.
	// prefix (and sasl.jaas.config / connections.max.reauth.ms per
	// mechanism: listener.name.<listener>.<mechanism>.<key>).
	{Name: "sasl.enabled.mechanisms", Type: TypeList, Default: "GSSAPI", HasDefault: true, ReadOnly: true,
		Doc: "The SASL mechanisms SASL_PLAINTEXT and SASL_SSL listeners offer: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512. " +
			"Kafka's default GSSAPI (and OAUTHBEARER) is not implemented by Tandem: a SASL listener that enables " +
			"only those fails at startup."},
	{Name: "sasl.jaas.config", Type: TypePassword, ReadOnly: true, Sensitive: true,
		Doc: "JAAS login context of SASL listeners, in Kafka's format. For PLAIN, the " +
			"org.apache.kafka.common.security.plain.PlainLoginModule entry's user_<name>=\"<password>\" options " +
			"are the users (Kafka's PlainServerCallbackHandler); usually set per listener and mechanism as " +
			"listener.name.<listener>.plain.sasl.jaas.config."},
	{Name: "sasl.server.max.receive.size", Type: TypeInt, Default: "524288", HasDefault: true, ReadOnly: true,
		Validate: atLeast(1),
		Doc: "The largest frame a SASL connection may send before it has authenticated, in bytes; a larger one " +
			"closes the connection."},
	{Name: "connections.max.reauth.ms", Type: TypeLong, Default: "0", HasDefault: true, ReadOnly: true,
		Validate: atLeast(0),
		Doc: "When positive, the lifetime of a SASL session (KIP-368): SaslAuthenticate v1+ returns it as " +
			"SessionLifetimeMs, the client may re-authenticate on the same connection (same principal and " +
			"mechanism), and a connection whose session expired is closed on its next request. 0 disables it."},
	{Name: "connection.failed.authentication.delay.ms", Type: TypeInt, Default: "100", HasDefault: true, ReadOnly: true,
		Validate: atLeast(0),
		Doc: "How long the answer to a failed authentication (and the close that follows) is held back, in milliseconds, " +
			"to slow down password guessing. 0 answers and closes at once."},
	{Name: "connections.authentication.timeout.ms", Type: TypeLong, Default: "30000", HasDefault: true, ReadOnly: true,
		Validate: atLeast(1),
		Doc: "Tandem-specific (Kafka has no such key): the longest a connection to an SSL, SASL_PLAINTEXT or " +
			"SASL_SSL listener may take from accept to the end of its authentication (TLS handshake and SASL " +
			"exchange), in milliseconds; a connection that has not authenticated by then is closed."},
}

// brokerGroups lists the broker keys that set one thing under several names.
var brokerGroups = [][]synonym{
	{{"node.id", 1}, {"broker.id", 0}},
	{{"log.dirs", 1}, {"log.dir", 0}},
	{{"log.roll.ms", 1}, {"log.roll.hours", msPerHour}},
	{{"log.retention.ms", 1}, {"log.retention.minutes", msPerMinute}, {"log.retention.hours", msPerHour}},
}

// topicDefOverrides are the topic keys whose type or range differs from their
// broker synonym's (Kafka's LogConfig).
var topicDefOverrides = map[string]struct {
	typ      Type
	validate func(string) error
	doc      string
}{
	"segment.ms": {TypeLong, atLeast(1),
		"The time after which a segment is rolled even if it is not full, in milliseconds."},
	"retention.ms": {TypeLong, atLeast(-1),
		"How long to keep a log segment before deleting it, in milliseconds; -1 keeps forever."},
	"segment.bytes": {TypeInt, atLeast(1 << 20), // KIP-1030: 1 MiB minimum since Kafka 4.0.
		"The maximum size of a single log segment file, in bytes."},
	"file.delete.delay.ms": {TypeLong, atLeast(0),
		"How long to wait before deleting a segment file removed from the log."},
	"max.message.bytes": {TypeInt, atLeast(0),
		"The largest record batch size allowed, in bytes."},
	"index.interval.bytes": {TypeInt, atLeast(0),
		"How many log bytes between two offset index entries."},
	"retention.bytes": {TypeLong, nil,
		"The maximum size of a partition log before old segments are deleted; negative means no limit."},
	"delete.retention.ms": {TypeLong, atLeast(0),
		"How long tombstones (and transaction markers that guard nothing any more) are kept after the " +
			"cleaner first saw them, in milliseconds (KIP-534)."},
	"min.cleanable.dirty.ratio": {TypeDouble, ratio,
		"The minimum share of not-yet-compacted bytes for the cleaner to compact the log (unless " +
			"max.compaction.lag.ms is exceeded)."},
}

var brokerRegistry, topicRegistry = buildRegistries()

func buildRegistries() (*Registry, *Registry) {
	// The http.ssl.* keys are generated from one list (httpSSLDefs).
	brokerDefList = append(brokerDefList, httpSSLDefs()...)
	b := &Registry{defs: map[string]*Def{}, aliases: map[string]string{}, groups: map[string][]synonym{}}
	for i := range brokerDefList {
		d := &brokerDefList[i]
		b.defs[d.Name] = d
		b.names = append(b.names, d.Name)
	}
	for i := range listenerDefList { // listeners.go
		d := &listenerDefList[i]
		b.defs[d.Name] = d
		b.names = append(b.names, d.Name)
	}
	for _, g := range brokerGroups {
		for _, s := range g {
			b.groups[s.name] = g
			if s.scale == 0 {
				b.aliases[s.name] = g[0].name
			}
		}
	}
	sort.Strings(b.names)

	t := &Registry{defs: map[string]*Def{}, brokerSynonym: map[string]string{}}
	for i := range brokerDefList {
		bd := &brokerDefList[i]
		if bd.TopicName == "" {
			continue
		}
		if _, done := t.defs[bd.TopicName]; done {
			continue // the group's first member was seen first
		}
		td := &Def{
			Name:     bd.TopicName,
			Type:     bd.Type,
			Doc:      bd.Doc,
			Validate: bd.Validate,
		}
		if o, ok := topicDefOverrides[bd.TopicName]; ok {
			td.Type, td.Validate, td.Doc = o.typ, o.validate, o.doc
		}
		// The topic default is the broker synonym's default, in ms.
		v, set, err := effectiveBroker(b, bd.Name, Layers{})
		if err != nil {
			panic(err)
		}
		td.Default, td.HasDefault = v, set
		t.defs[td.Name] = td
		t.names = append(t.names, td.Name)
		t.brokerSynonym[td.Name] = bd.Name
	}
	sort.Strings(t.names)
	return b, t
}

// NewRegistry builds a registry of defs for a config space other than the
// broker's and topics' (cluster links use it), so that every config in
// Tandem is defined, typed, parsed and validated one way. It has no
// aliases or synonyms. Duplicate names panic (a programming error).
func NewRegistry(defs ...Def) *Registry {
	r := &Registry{defs: map[string]*Def{}}
	for i := range defs {
		d := defs[i]
		if _, dup := r.defs[d.Name]; dup {
			panic("config: duplicate definition of " + d.Name)
		}
		r.defs[d.Name] = &d
		r.names = append(r.names, d.Name)
	}
	sort.Strings(r.names)
	return r
}

// AtLeast is the validator of an integer config with a minimum.
func AtLeast(min int64) func(string) error { return atLeast(min) }

// OneOf is the validator of a string config with a fixed set of values.
func OneOf(values ...string) func(string) error { return oneOf(values...) }
