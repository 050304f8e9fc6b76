package config

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
	"github.com/tandem-streaming/tandem/internal/auth"
)

// Layers are the places a config value can come from, most specific first
// (KIP-226). Any map may be nil.
type Layers struct {
	Topic          map[string]string // dynamic topic overrides (DYNAMIC_TOPIC_CONFIG)
	DynamicBroker  map[string]string // dynamic, this node only (DYNAMIC_BROKER_CONFIG)
	DynamicDefault map[string]string // dynamic, cluster-wide (DYNAMIC_DEFAULT_BROKER_CONFIG)
	Static         map[string]string // server.properties and flags (STATIC_BROKER_CONFIG)
}

// Synonym is one place a config's value is set, as returned by
// DescribeConfigs v1+ with IncludeSynonyms.
type Synonym struct {
	Name   string
	Value  string
	IsNull bool // sensitive values are reported as null
	Source kmsg.ConfigSource
}

// Entry is a resolved config, shaped for a DescribeConfigs response.
type Entry struct {
	Name      string
	Value     string
	IsNull    bool
	Source    kmsg.ConfigSource
	ReadOnly  bool
	Sensitive bool
	Type      Type
	Doc       string
	// Synonyms in precedence order; the first one, if any, provides Value.
	Synonyms []Synonym
}

// brokerLayers are the broker layers in precedence order.
func brokerLayers(l Layers) []struct {
	m   map[string]string
	src kmsg.ConfigSource
} {
	return []struct {
		m   map[string]string
		src kmsg.ConfigSource
	}{
		{l.DynamicBroker, kmsg.ConfigSourceDynamicBrokerConfig},
		{l.DynamicDefault, kmsg.ConfigSourceDynamicDefaultBrokerConfig},
		{l.Static, kmsg.ConfigSourceStaticBrokerConfig},
	}
}

// brokerChain lists where the keys of name's synonym group are set, in
// precedence order. As Kafka's DescribeConfigs does, the order is
// layer-major: every member set in the per-node dynamic layer, then in the
// cluster-wide dynamic layer, then statically, then the defaults; within a
// layer, group order (log.retention.ms > .minutes > .hours).
//
// NB: Kafka merges the layers into one property set before applying the
// ms > minutes > hours rule, so there a dynamic log.retention.hours loses to
// a static log.retention.ms even though DescribeConfigs lists it first.
// Tandem takes the first synonym as the value, so what DescribeConfigs shows
// is what the log uses.
func brokerChain(r *Registry, name string, l Layers) []Synonym {
	group := r.groups[name]
	if group == nil {
		group = []synonym{{name, 1}}
	}
	var out []Synonym
	for _, layer := range brokerLayers(l) {
		for _, s := range group {
			if v, ok := layer.m[s.name]; ok {
				out = append(out, Synonym{Name: s.name, Value: v, Source: layer.src})
			}
		}
	}
	for _, s := range group {
		if d, ok := r.defs[s.name]; ok && d.HasDefault {
			out = append(out, Synonym{Name: s.name, Value: d.Default, Source: kmsg.ConfigSourceDefaultConfig})
		}
	}
	return out
}

// toGroupUnit converts syn's value to the unit of its group's first member
// (milliseconds for the roll and retention groups). As KafkaConfig does, a
// negative converted retention means "forever" and becomes -1.
func toGroupUnit(r *Registry, syn Synonym) (string, error) {
	scale := int64(0)
	for _, s := range r.groups[syn.Name] {
		if s.name == syn.Name {
			scale = s.scale
		}
	}
	d, _ := r.Lookup(syn.Name)
	if scale <= 1 {
		return canonicalValue(d.Type, syn.Value), nil
	}
	n, err := parseInt64(syn.Value)
	if err != nil {
		return "", d.invalid(syn.Name, syn.Value, err)
	}
	if n < 0 {
		return "-1", nil
	}
	return strconv.FormatInt(n*scale, 10), nil
}

// effectiveBroker is the value the broker uses for name's group, in the
// group's unit; set is false when nothing sets it and it has no default.
func effectiveBroker(r *Registry, name string, l Layers) (v string, set bool, err error) {
	chain := brokerChain(r, r.Canonical(name), l)
	if len(chain) == 0 {
		return "", false, nil
	}
	v, err = toGroupUnit(r, chain[0])
	return v, err == nil, err
}

// ResolveTopic resolves topic config name: the topic override if any, then
// the broker synonyms from every broker layer that sets them, then the
// default (e.g. for retention.ms: retention.ms, log.retention.ms,
// log.retention.minutes, log.retention.hours, DEFAULT log.retention.hours).
// Value is the first synonym's, converted to the topic's unit.
func ResolveTopic(name string, l Layers) (Entry, error) {
	d, ok := topicRegistry.defs[name]
	if !ok {
		return Entry{}, &KeyError{Key: name, Err: ErrUnknownConfig}
	}
	e := Entry{Name: name, Type: d.Type, Doc: d.Doc, Sensitive: d.Sensitive, Source: kmsg.ConfigSourceDefaultConfig, IsNull: true}
	if v, ok := l.Topic[name]; ok {
		e.Synonyms = append(e.Synonyms, Synonym{Name: name, Value: v, Source: kmsg.ConfigSourceDynamicTopicConfig})
	}
	e.Synonyms = append(e.Synonyms, brokerChain(brokerRegistry, topicRegistry.brokerSynonym[name], l)...)
	if len(e.Synonyms) > 0 {
		head := e.Synonyms[0]
		v := canonicalValue(d.Type, head.Value)
		if head.Source != kmsg.ConfigSourceDynamicTopicConfig {
			var err error
			if v, err = toGroupUnit(brokerRegistry, head); err != nil {
				return Entry{}, err
			}
		}
		e.Value, e.IsNull, e.Source = v, false, head.Source
	}
	e.mask()
	return e, nil
}

// ResolveBroker resolves broker config name (an alias resolves like the key
// it stands for, under the name asked for).
//
// For keys with unit synonyms (log.retention.{ms,minutes,hours},
// log.roll.{ms,hours}) the entry describes the key itself, as Kafka's
// DescribeConfigs does: synonyms ranked before the first occurrence of name
// are dropped, so log.retention.hours shows its own value and
// log.retention.ms is null unless something sets it. The value the log uses
// is on the topic entry (retention.ms) and in BrokerConfig.
func ResolveBroker(name string, l Layers) (Entry, error) {
	d, ok := brokerRegistry.Lookup(name)
	if !ok {
		return Entry{}, &KeyError{Key: name, Err: ErrUnknownConfig}
	}
	canonical := brokerRegistry.Canonical(name)
	e := Entry{Name: name, Type: d.Type, Doc: d.Doc, ReadOnly: d.ReadOnly, Sensitive: d.Sensitive,
		Source: kmsg.ConfigSourceDefaultConfig, IsNull: true}
	chain := brokerChain(brokerRegistry, canonical, l)
	if hasUnitSynonyms(brokerRegistry.groups[canonical]) {
		for len(chain) > 0 && chain[0].Name != canonical {
			chain = chain[1:]
		}
	}
	if len(chain) > 0 {
		e.Synonyms = chain
		e.Value, e.IsNull, e.Source = canonicalValue(d.Type, chain[0].Value), false, chain[0].Source
	}
	e.mask()
	return e, nil
}

func hasUnitSynonyms(g []synonym) bool {
	for _, s := range g {
		if s.scale > 1 {
			return true
		}
	}
	return false
}

// mask hides sensitive values.
func (e *Entry) mask() {
	if !e.Sensitive {
		return
	}
	e.Value, e.IsNull = "", true
	for i := range e.Synonyms {
		e.Synonyms[i].Value, e.Synonyms[i].IsNull = "", true
	}
}

// ValidateTopicOverrides checks dynamic topic overrides (CreateTopics
// configs, AlterConfigs on a topic): every key must be a topic key
// (ErrUnknownConfig) with a valid value (ErrInvalidValue). Keys are checked
// in sorted order and the first error is returned.
func ValidateTopicOverrides(configs map[string]string) error {
	for _, k := range sortedKeys(configs) {
		if err := topicRegistry.Validate(k, configs[k]); err != nil {
			return err
		}
	}
	return nil
}

// ValidateBrokerDynamic checks dynamic broker configs (per node or
// cluster-wide): keys must be known, not read-only (ErrReadOnly), and valid.
func ValidateBrokerDynamic(configs map[string]string) error {
	for _, k := range sortedKeys(configs) {
		d, ok := brokerRegistry.Lookup(k)
		if !ok {
			return &KeyError{Key: k, Err: ErrUnknownConfig}
		}
		if d.ReadOnly {
			return &KeyError{Key: k, Err: ErrReadOnly}
		}
		if err := brokerRegistry.Validate(k, configs[k]); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TopicConfig is the effective configuration of one topic, as the log uses it.
type TopicConfig struct {
	RetentionMs          int64 // -1: keep forever
	RetentionBytes       int64 // negative: no size limit
	SegmentBytes         int64
	SegmentMs            int64
	IndexIntervalBytes   int32
	FileDeleteDelayMs    int64
	MaxMessageBytes      int32
	MessageTimestampType string // CreateTime or LogAppendTime
	TimestampBeforeMaxMs int64
	TimestampAfterMaxMs  int64
	MinInsyncReplicas    int32
	CleanupPolicy        string // "delete", "compact", "compact,delete" (canonical list form)
	CompressionType      string // "producer"
	// Compaction (cleanup.policy includes compact).
	DeleteRetentionMs      int64
	MinCleanableDirtyRatio float64
	MinCompactionLagMs     int64
	MaxCompactionLagMs     int64
}

// Compact reports whether cleanup.policy includes compact.
func (tc TopicConfig) Compact() bool { return policyHas(tc.CleanupPolicy, "compact") }

// Delete reports whether cleanup.policy includes delete.
func (tc TopicConfig) Delete() bool { return policyHas(tc.CleanupPolicy, "delete") }

func policyHas(policy, p string) bool {
	for _, x := range parseList(policy) {
		if x == p {
			return true
		}
	}
	return false
}

// EffectiveTopicConfig resolves every topic key through the layers.
func EffectiveTopicConfig(l Layers) (TopicConfig, error) {
	var (
		tc  TopicConfig
		err error
	)
	get := func(name string) string {
		if err != nil {
			return ""
		}
		var e Entry
		if e, err = ResolveTopic(name, l); err == nil {
			if verr := topicRegistry.Validate(name, e.Value); verr != nil {
				from := "no value"
				if len(e.Synonyms) > 0 {
					from = e.Synonyms[0].Name + " " + e.Source.String()
				}
				err = fmt.Errorf("%w (from %s)", verr, from)
			}
		}
		return e.Value
	}
	i64 := func(name string) int64 { n, _ := parseInt64(get(name)); return n }
	i32 := func(name string) int32 { n, _ := parseInt32(get(name)); return n }
	f64 := func(name string) float64 { f, _ := strconv.ParseFloat(get(name), 64); return f }
	tc = TopicConfig{
		RetentionMs:            i64("retention.ms"),
		RetentionBytes:         i64("retention.bytes"),
		SegmentBytes:           i64("segment.bytes"),
		SegmentMs:              i64("segment.ms"),
		IndexIntervalBytes:     i32("index.interval.bytes"),
		FileDeleteDelayMs:      i64("file.delete.delay.ms"),
		MaxMessageBytes:        i32("max.message.bytes"),
		MessageTimestampType:   get("message.timestamp.type"),
		TimestampBeforeMaxMs:   i64("message.timestamp.before.max.ms"),
		TimestampAfterMaxMs:    i64("message.timestamp.after.max.ms"),
		MinInsyncReplicas:      i32("min.insync.replicas"),
		CleanupPolicy:          get("cleanup.policy"),
		CompressionType:        get("compression.type"),
		DeleteRetentionMs:      i64("delete.retention.ms"),
		MinCleanableDirtyRatio: f64("min.cleanable.dirty.ratio"),
		MinCompactionLagMs:     i64("min.compaction.lag.ms"),
		MaxCompactionLagMs:     i64("max.compaction.lag.ms"),
	}
	if err != nil {
		return TopicConfig{}, err
	}
	// LogConfig.validateValues: the two lags must not conflict.
	if tc.MinCompactionLagMs > tc.MaxCompactionLagMs {
		return TopicConfig{}, &KeyError{Key: "min.compaction.lag.ms", Value: strconv.FormatInt(tc.MinCompactionLagMs, 10),
			Err: ErrInvalidValue, Cause: fmt.Errorf("min.compaction.lag.ms must not exceed max.compaction.lag.ms (%d)", tc.MaxCompactionLagMs)}
	}
	return tc, nil
}

// BrokerConfig is the typed broker configuration. The unit synonyms are
// folded: LogRollMs from log.roll.{ms,hours}, LogRetentionMs from
// log.retention.{ms,minutes,hours}.
type BrokerConfig struct {
	NodeID int32
	// Listeners serve the Kafka protocol. AdvertisedListeners is what
	// Metadata returns; it defaults to Listeners. An empty Host or port 0
	// is for the server to fill in (host name, bound port).
	Listeners           []Listener
	AdvertisedListeners []Listener
	// ListenerConfigs has one entry per Listeners entry, in the same
	// order: its security protocol and per-listener settings.
	ListenerConfigs []ListenerConfig
	LogDirs         []string // exactly one, for now
	HTTPListeners   []Listener
	// HTTPAllowedHosts (http.allowed.hosts) and HTTPPprofEnable
	// (http.pprof.enable) shape the HTTP API's surface.
	HTTPAllowedHosts []string
	HTTPPprofEnable  bool
	// HTTPAuthenticationMethod is http.authentication.method, upper-cased
	// (NONE, BASIC or MTLS).
	HTTPAuthenticationMethod string
	// HTTPSSL holds the http.ssl.* keys set in the properties, without
	// the "http." prefix ("ssl.keystore.location"), for https
	// http.listeners; unset keys are absent (internal/tlsconf applies
	// Kafka's defaults). nil when none is set.
	HTTPSSL map[string]string
	// MaxPartitionsPerRequest (max.partitions.per.request) and
	// AutoCreateTopicsMaxPerRequest (auto.create.topics.max.per.request)
	// cap what one admin request may create.
	MaxPartitionsPerRequest       int32
	AutoCreateTopicsMaxPerRequest int32
	// GroupLagMetricsMaxGroups (metrics.consumer.group.lag.max.groups)
	// and GroupPartitionLagMetrics
	// (metrics.consumer.group.partition.lag.enable) bound the
	// consumer-group lag series.
	GroupLagMetricsMaxGroups int32
	GroupPartitionLagMetrics bool

	NumPartitions            int32
	DefaultReplicationFactor int16
	AutoCreateTopicsEnable   bool
	DeleteTopicEnable        bool
	SocketRequestMaxBytes    int32
	// RequestDecodedMaxBytes and RequestDecodedTotalMaxBytes are the
	// decoded-memory budgets per request and per broker.
	RequestDecodedMaxBytes      int64
	RequestDecodedTotalMaxBytes int64

	// Topic defaults.
	MessageMaxBytes                int32
	LogSegmentBytes                int64
	LogRollMs                      int64
	LogRetentionMs                 int64 // -1: forever
	LogRetentionBytes              int64
	LogIndexIntervalBytes          int32
	LogSegmentDeleteDelayMs        int64
	LogMessageTimestampType        string
	LogMessageTimestampBeforeMaxMs int64
	LogMessageTimestampAfterMaxMs  int64
	LogCleanupPolicy               string
	MinInsyncReplicas              int32
	CompressionType                string
	LogCleanerDeleteRetentionMs    int64
	LogCleanerMinCleanableRatio    float64
	LogCleanerMinCompactionLagMs   int64
	LogCleanerMaxCompactionLagMs   int64

	// The log cleaner (log.NewCleaner).
	LogCleanerEnable           bool
	LogCleanerThreads          int32
	LogCleanerDedupeBufferSize int64
	LogCleanerBackoffMs        int64

	// ClusterLinkEnable: cluster.link.enable.
	ClusterLinkEnable bool

	// Authorization: AuthorizerClassName (authorizer.class.name; empty
	// means off), SuperUsers (super.users, parsed) and
	// AllowEveryoneIfNoACLFound (allow.everyone.if.no.acl.found).
	AuthorizerClassName       string
	SuperUsers                []auth.Principal
	AllowEveryoneIfNoACLFound bool

	// The group coordinator and __consumer_offsets.
	OffsetsTopicNumPartitions       int32
	OffsetsTopicSegmentBytes        int32
	OffsetsRetentionMinutes         int32
	OffsetsRetentionCheckIntervalMs int64
	OffsetMetadataMaxBytes          int32
	GroupInitialRebalanceDelayMs    int32
	GroupMinSessionTimeoutMs        int32
	GroupMaxSessionTimeoutMs        int32
	GroupMaxSize                    int32

	LogRetentionCheckIntervalMs int64
	// LogSyncStrategy is "syncfs" or "fdatasync" (log.sync.strategy).
	LogSyncStrategy string

	// Connections (internal/server): -1 disables the two timeouts.
	ConnectionsMaxIdleMs         int64
	MaxConnections               int32
	MaxConnectionsPerIP          int32
	MaxConnectionsPerIPOverrides map[string]int32 // host or IP -> count
	SocketRequestReadTimeoutMs   int64

	// ConnectionsAuthenticationTimeoutMs bounds authentication (TLS
	// handshake and SASL exchange) from accept (Tandem-only key).
	ConnectionsAuthenticationTimeoutMs int64
	// ConnectionFailedAuthenticationDelayMs holds back the answer to a
	// failed authentication.
	ConnectionFailedAuthenticationDelayMs int32
}

// TopicDefaults is the configuration of a topic without overrides under
// this static configuration.
func (b BrokerConfig) TopicDefaults() TopicConfig {
	return TopicConfig{
		RetentionMs:            b.LogRetentionMs,
		RetentionBytes:         b.LogRetentionBytes,
		SegmentBytes:           b.LogSegmentBytes,
		SegmentMs:              b.LogRollMs,
		IndexIntervalBytes:     b.LogIndexIntervalBytes,
		FileDeleteDelayMs:      b.LogSegmentDeleteDelayMs,
		MaxMessageBytes:        b.MessageMaxBytes,
		MessageTimestampType:   b.LogMessageTimestampType,
		TimestampBeforeMaxMs:   b.LogMessageTimestampBeforeMaxMs,
		TimestampAfterMaxMs:    b.LogMessageTimestampAfterMaxMs,
		MinInsyncReplicas:      b.MinInsyncReplicas,
		CleanupPolicy:          b.LogCleanupPolicy,
		CompressionType:        b.CompressionType,
		DeleteRetentionMs:      b.LogCleanerDeleteRetentionMs,
		MinCleanableDirtyRatio: b.LogCleanerMinCleanableRatio,
		MinCompactionLagMs:     b.LogCleanerMinCompactionLagMs,
		MaxCompactionLagMs:     b.LogCleanerMaxCompactionLagMs,
	}
}

// LoadBroker validates the static configuration (server.properties and
// flags; unknown keys are refused) and returns the typed configuration,
// applying the aliases broker.id (must equal node.id if both are set, as in
// Kafka) and log.dir (log.dirs wins if both are set, as in Kafka).
func LoadBroker(static map[string]string) (BrokerConfig, error) {
	// Every bad key is reported in one run, so a stock server.properties
	// does not need one restart per key it carries that Tandem lacks.
	var bad []error
	names := listenerNames(static["listeners"])
	if _, set := static["listeners"]; !set {
		names = listenerNames(brokerRegistry.defs["listeners"].Default)
	}
	for _, k := range sortedKeys(static) {
		var err error
		if strings.HasPrefix(k, listenerPrefix) {
			err = validListenerOverride(k, static[k], names)
		} else {
			err = brokerRegistry.Validate(k, static[k])
		}
		if err != nil {
			bad = append(bad, err)
		}
	}
	switch {
	case len(bad) == 1:
		return BrokerConfig{}, bad[0]
	case len(bad) > 1:
		return BrokerConfig{}, fmt.Errorf("%d broker configs are refused:\n%w", len(bad), errors.Join(bad...))
	}
	if n, ok := static["node.id"]; ok {
		if b, ok := static["broker.id"]; ok && canonicalValue(TypeInt, n) != canonicalValue(TypeInt, b) {
			return BrokerConfig{}, &KeyError{Key: "broker.id", Value: b, Err: ErrInvalidValue,
				Cause: fmt.Errorf("broker.id and node.id must be equal when both are set (node.id=%s)", n)}
		}
	}
	l := Layers{Static: static}
	var err error
	get := func(name string) string {
		if err != nil {
			return ""
		}
		v, _, e := effectiveBroker(brokerRegistry, name, l)
		err = e
		return v
	}
	i64 := func(name string) int64 { n, _ := parseInt64(get(name)); return n }
	i32 := func(name string) int32 { n, _ := parseInt32(get(name)); return n }
	boolean := func(name string) bool { b, _ := parseBool(get(name)); return b }
	f64 := func(name string) float64 { f, _ := strconv.ParseFloat(get(name), 64); return f }

	bc := BrokerConfig{
		NodeID:                          i32("node.id"),
		LogDirs:                         parseList(get("log.dirs")),
		NumPartitions:                   i32("num.partitions"),
		DefaultReplicationFactor:        int16(i32("default.replication.factor")),
		AutoCreateTopicsEnable:          boolean("auto.create.topics.enable"),
		DeleteTopicEnable:               boolean("delete.topic.enable"),
		SocketRequestMaxBytes:           i32("socket.request.max.bytes"),
		RequestDecodedMaxBytes:          i64("request.decoded.max.bytes"),
		RequestDecodedTotalMaxBytes:     i64("request.decoded.total.max.bytes"),
		MessageMaxBytes:                 i32("message.max.bytes"),
		LogSegmentBytes:                 i64("log.segment.bytes"),
		LogRollMs:                       i64("log.roll.ms"),
		LogRetentionMs:                  i64("log.retention.ms"),
		LogRetentionBytes:               i64("log.retention.bytes"),
		LogIndexIntervalBytes:           i32("log.index.interval.bytes"),
		LogSegmentDeleteDelayMs:         i64("log.segment.delete.delay.ms"),
		LogMessageTimestampType:         get("log.message.timestamp.type"),
		LogMessageTimestampBeforeMaxMs:  i64("log.message.timestamp.before.max.ms"),
		LogMessageTimestampAfterMaxMs:   i64("log.message.timestamp.after.max.ms"),
		LogCleanupPolicy:                get("log.cleanup.policy"),
		MinInsyncReplicas:               i32("min.insync.replicas"),
		CompressionType:                 get("compression.type"),
		LogRetentionCheckIntervalMs:     i64("log.retention.check.interval.ms"),
		LogSyncStrategy:                 get("log.sync.strategy"),
		LogCleanerDeleteRetentionMs:     i64("log.cleaner.delete.retention.ms"),
		LogCleanerMinCleanableRatio:     f64("log.cleaner.min.cleanable.ratio"),
		LogCleanerMinCompactionLagMs:    i64("log.cleaner.min.compaction.lag.ms"),
		LogCleanerMaxCompactionLagMs:    i64("log.cleaner.max.compaction.lag.ms"),
		LogCleanerEnable:                boolean("log.cleaner.enable"),
		LogCleanerThreads:               i32("log.cleaner.threads"),
		LogCleanerDedupeBufferSize:      i64("log.cleaner.dedupe.buffer.size"),
		LogCleanerBackoffMs:             i64("log.cleaner.backoff.ms"),
		ClusterLinkEnable:               boolean("cluster.link.enable"),
		OffsetsTopicNumPartitions:       i32("offsets.topic.num.partitions"),
		OffsetsTopicSegmentBytes:        i32("offsets.topic.segment.bytes"),
		OffsetsRetentionMinutes:         i32("offsets.retention.minutes"),
		OffsetsRetentionCheckIntervalMs: i64("offsets.retention.check.interval.ms"),
		OffsetMetadataMaxBytes:          i32("offset.metadata.max.bytes"),
		GroupInitialRebalanceDelayMs:    i32("group.initial.rebalance.delay.ms"),
		GroupMinSessionTimeoutMs:        i32("group.min.session.timeout.ms"),
		GroupMaxSessionTimeoutMs:        i32("group.max.session.timeout.ms"),
		GroupMaxSize:                    i32("group.max.size"),
	}
	if hosts := parseList(get("http.allowed.hosts")); len(hosts) > 0 {
		bc.HTTPAllowedHosts = hosts
	}
	bc.HTTPPprofEnable = boolean("http.pprof.enable")
	bc.AuthorizerClassName = strings.TrimSpace(get("authorizer.class.name"))
	bc.SuperUsers, _ = acl.ParseSuperUsers(get("super.users")) // validated above
	bc.AllowEveryoneIfNoACLFound = boolean("allow.everyone.if.no.acl.found")
	bc.HTTPAuthenticationMethod = strings.ToUpper(strings.TrimSpace(get("http.authentication.method")))
	for k, v := range static {
		if strings.HasPrefix(k, "http.ssl.") {
			if bc.HTTPSSL == nil {
				bc.HTTPSSL = map[string]string{}
			}
			bc.HTTPSSL[strings.TrimPrefix(k, "http.")] = v
		}
	}
	bc.MaxPartitionsPerRequest = i32("max.partitions.per.request")
	bc.AutoCreateTopicsMaxPerRequest = i32("auto.create.topics.max.per.request")
	bc.GroupLagMetricsMaxGroups = i32("metrics.consumer.group.lag.max.groups")
	bc.GroupPartitionLagMetrics = boolean("metrics.consumer.group.partition.lag.enable")
	if bc.NumPartitions > bc.MaxPartitionsPerRequest {
		// Else no topic could ever be auto-created or created with the
		// default count.
		return BrokerConfig{}, &KeyError{Key: "num.partitions", Value: static["num.partitions"], Err: ErrInvalidValue,
			Cause: fmt.Errorf("num.partitions must not exceed max.partitions.per.request (%d)", bc.MaxPartitionsPerRequest)}
	}
	bc.ConnectionsMaxIdleMs = i64("connections.max.idle.ms")
	bc.MaxConnections = i32("max.connections")
	bc.MaxConnectionsPerIP = i32("max.connections.per.ip")
	bc.SocketRequestReadTimeoutMs = i64("socket.request.read.timeout.ms")
	bc.ConnectionsAuthenticationTimeoutMs = i64("connections.authentication.timeout.ms")
	bc.ConnectionFailedAuthenticationDelayMs = i32("connection.failed.authentication.delay.ms")
	bc.MaxConnectionsPerIPOverrides, _ = ParseConnectionOverrides(get("max.connections.per.ip.overrides"))
	if err == nil && bc.MaxConnectionsPerIP == 0 && len(bc.MaxConnectionsPerIPOverrides) == 0 {
		// As KafkaConfig: a limit of 0 only makes sense as an allow-list.
		return BrokerConfig{}, &KeyError{Key: "max.connections.per.ip", Value: static["max.connections.per.ip"], Err: ErrInvalidValue,
			Cause: fmt.Errorf("0 requires max.connections.per.ip.overrides to name the addresses allowed")}
	}
	listeners, advertised, httpListeners := get("listeners"), get("advertised.listeners"), get("http.listeners")
	protocolMap := get("listener.security.protocol.map")
	if err != nil {
		return BrokerConfig{}, err
	}
	rl, err := ResolveListeners(listeners, advertised, protocolMap)
	if err == nil {
		err = checkInterBroker(static, rl)
	}
	if err != nil {
		if ke, ok := err.(*KeyError); ok {
			ke.Value = static[ke.Key] // "" when defaulted
		}
		return BrokerConfig{}, err
	}
	bc.Listeners, bc.AdvertisedListeners = rl.Listeners, rl.Advertised
	for i, l := range rl.Listeners {
		bc.ListenerConfigs = append(bc.ListenerConfigs, NewListenerConfig(l, rl.Protocols[i], static))
	}
	// Validated above, so this parses.
	bc.HTTPListeners, _ = ParseHTTPListeners(httpListeners)
	return bc, nil
}
