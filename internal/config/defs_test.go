package config

import (
	"errors"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The key sets are part of the contract: only keys whose semantics the
// broker honours are defined. Changing them must be deliberate.
func TestKeySets(t *testing.T) {
	wantBroker := []string{
		"advertised.listeners", "allow.everyone.if.no.acl.found", "authorizer.class.name", "auto.create.topics.enable", "auto.create.topics.max.per.request", "cluster.link.enable",
		"compression.type", "connection.failed.authentication.delay.ms", "connections.authentication.timeout.ms", "connections.max.idle.ms", "connections.max.reauth.ms", "default.replication.factor", "delete.topic.enable",
		"group.initial.rebalance.delay.ms", "group.max.session.timeout.ms", "group.max.size",
		"group.min.session.timeout.ms", "http.allowed.hosts", "http.authentication.method", "http.listeners",
		"http.pprof.enable", "http.ssl.cipher.suites", "http.ssl.client.auth", "http.ssl.enabled.protocols",
		"http.ssl.engine.factory.class", "http.ssl.key.password", "http.ssl.keymanager.algorithm",
		"http.ssl.keystore.certificate.chain", "http.ssl.keystore.key",
		"http.ssl.keystore.location", "http.ssl.keystore.password", "http.ssl.keystore.type",
		"http.ssl.principal.mapping.rules", "http.ssl.protocol", "http.ssl.provider",
		"http.ssl.secure.random.implementation", "http.ssl.trustmanager.algorithm",
		"http.ssl.truststore.certificates", "http.ssl.truststore.location",
		"http.ssl.truststore.password", "http.ssl.truststore.type", "inter.broker.listener.name",
		"listener.security.protocol.map", "listeners",
		"log.cleaner.backoff.ms", "log.cleaner.dedupe.buffer.size", "log.cleaner.delete.retention.ms",
		"log.cleaner.enable", "log.cleaner.max.compaction.lag.ms", "log.cleaner.min.cleanable.ratio",
		"log.cleaner.min.compaction.lag.ms", "log.cleaner.threads",
		"log.cleanup.policy", "log.dirs", "log.index.interval.bytes",
		"log.message.timestamp.after.max.ms", "log.message.timestamp.before.max.ms",
		"log.message.timestamp.type", "log.retention.bytes", "log.retention.check.interval.ms",
		"log.retention.hours", "log.retention.minutes", "log.retention.ms", "log.roll.hours",
		"log.roll.ms", "log.segment.bytes", "log.segment.delete.delay.ms", "log.sync.strategy",
		"max.connections", "max.connections.per.ip", "max.connections.per.ip.overrides", "max.partitions.per.request",
		"message.max.bytes", "metrics.consumer.group.lag.max.groups", "metrics.consumer.group.partition.lag.enable",
		"min.insync.replicas", "node.id", "num.partitions", "offset.metadata.max.bytes",
		"offsets.retention.check.interval.ms", "offsets.retention.minutes", "offsets.topic.num.partitions",
		"offsets.topic.segment.bytes", "password.encoder.iterations", "password.encoder.old.secret",
		"password.encoder.secret", "request.decoded.max.bytes", "request.decoded.total.max.bytes",
		"sasl.enabled.mechanisms", "sasl.jaas.config", "sasl.server.max.receive.size",
		"security.inter.broker.protocol", "socket.request.max.bytes", "socket.request.read.timeout.ms",
		"ssl.cipher.suites", "ssl.client.auth", "ssl.enabled.protocols", "ssl.endpoint.identification.algorithm",
		"ssl.engine.factory.class", "ssl.key.password", "ssl.keymanager.algorithm", "ssl.keystore.certificate.chain",
		"ssl.keystore.key", "ssl.keystore.location", "ssl.keystore.password", "ssl.keystore.type",
		"ssl.principal.mapping.rules", "ssl.protocol", "ssl.provider", "ssl.secure.random.implementation",
		"ssl.trustmanager.algorithm", "ssl.truststore.certificates", "ssl.truststore.location",
		"ssl.truststore.password", "ssl.truststore.type", "super.users",
	}
	if got := BrokerDefs().Names(); !slices.Equal(got, wantBroker) {
		t.Errorf("broker keys = %q\nwant %q", got, wantBroker)
	}
	wantTopic := []string{
		"cleanup.policy", "compression.type", "delete.retention.ms", "file.delete.delay.ms", "index.interval.bytes",
		"max.compaction.lag.ms", "max.message.bytes", "message.timestamp.after.max.ms", "message.timestamp.before.max.ms",
		"message.timestamp.type", "min.cleanable.dirty.ratio", "min.compaction.lag.ms", "min.insync.replicas",
		"retention.bytes", "retention.ms", "segment.bytes", "segment.ms",
	}
	if got := TopicDefs().Names(); !slices.Equal(got, wantTopic) {
		t.Errorf("topic keys = %q\nwant %q", got, wantTopic)
	}
	for _, name := range []string{"log.flush.interval.ms", "log.flush.interval.messages", "flush.ms", "flush.messages"} {
		if _, ok := BrokerDefs().Lookup(name); ok {
			t.Errorf("broker key %s is defined; Tandem fsyncs every acknowledgement", name)
		}
		if _, ok := TopicDefs().Lookup(name); ok {
			t.Errorf("topic key %s is defined; Tandem fsyncs every acknowledgement", name)
		}
	}
}

func TestDefaultsAreValid(t *testing.T) {
	for _, r := range []*Registry{BrokerDefs(), TopicDefs()} {
		for _, name := range r.Names() {
			d, _ := r.Lookup(name)
			if d.Doc == "" {
				t.Errorf("%s has no documentation", name)
			}
			if !d.HasDefault {
				continue
			}
			if err := r.Validate(name, d.Default); err != nil {
				t.Errorf("default of %s does not validate: %v", name, err)
			}
		}
	}
}

func TestTopicDefaults(t *testing.T) {
	want := map[string]string{
		"cleanup.policy":                  "delete",
		"compression.type":                "producer",
		"delete.retention.ms":             "86400000",
		"min.cleanable.dirty.ratio":       "0.5",
		"min.compaction.lag.ms":           "0",
		"max.compaction.lag.ms":           "9223372036854775807",
		"file.delete.delay.ms":            "60000",
		"index.interval.bytes":            "4096",
		"max.message.bytes":               "1048588",
		"message.timestamp.after.max.ms":  "3600000",
		"message.timestamp.before.max.ms": "9223372036854775807",
		"message.timestamp.type":          "CreateTime",
		"min.insync.replicas":             "1",
		"retention.bytes":                 "-1",
		"retention.ms":                    "604800000",
		"segment.bytes":                   "1073741824",
		"segment.ms":                      "604800000",
	}
	for name, w := range want {
		d, ok := TopicDefs().Lookup(name)
		if !ok || !d.HasDefault || d.Default != w {
			t.Errorf("topic %s default = %q (has %v), want %q", name, d.Default, d.HasDefault, w)
		}
	}
}

func TestTopicNameLinks(t *testing.T) {
	for _, name := range BrokerDefs().Names() {
		d, _ := BrokerDefs().Lookup(name)
		if d.TopicName == "" {
			continue
		}
		if _, ok := TopicDefs().Lookup(d.TopicName); !ok {
			t.Errorf("broker %s names topic config %s, which is not defined", name, d.TopicName)
		}
		if d.ReadOnly {
			t.Errorf("broker %s is a topic default but read-only", name)
		}
	}
}

func TestValidate(t *testing.T) {
	const (
		ok = iota
		unknown
		invalid
		unsupported // invalid and not supported
	)
	tests := []struct {
		reg   *Registry
		name  string
		value string
		want  int
	}{
		{BrokerDefs(), "node.id", "7", ok},
		{BrokerDefs(), "node.id", " 7 ", ok},
		{BrokerDefs(), "node.id", "-1", invalid},
		{BrokerDefs(), "node.id", "x", invalid},
		{BrokerDefs(), "broker.id", "7", ok},
		{BrokerDefs(), "log.dir", "/data", ok},
		{BrokerDefs(), "log.dirs", "/a,/b", unsupported},
		{BrokerDefs(), "log.dirs", "", invalid},
		{BrokerDefs(), "listeners", "PLAINTEXT://:9092", ok},
		{BrokerDefs(), "listeners", "plaintext://[::1]:9092", ok},
		{BrokerDefs(), "listeners", "SSL://:9093", ok},
		{BrokerDefs(), "listeners", "SASL_PLAINTEXT://:9093,SASL_SSL://:9094", ok},
		{BrokerDefs(), "listeners", "INTERNAL://:9093", ok}, // its protocol is checked with the map
		{BrokerDefs(), "listeners", "PLAINTEXT://:9092,PLAINTEXT://:9093", invalid},
		{BrokerDefs(), "listeners", "PLAINTEXT://:9092,SSL://:9092", invalid},
		{BrokerDefs(), "listeners", "PLAINTEXT://:0,SSL://:0", ok},
		{BrokerDefs(), "listeners", "IN.TERNAL://:9093", invalid},
		{BrokerDefs(), "advertised.listeners", "PLAINTEXT://h:9092,SSL://h:9092", ok}, // ports may repeat
		{BrokerDefs(), "listener.security.protocol.map", "INTERNAL:SASL_SSL,external:ssl", ok},
		{BrokerDefs(), "listener.security.protocol.map", "INTERNAL:TLS", invalid},
		{BrokerDefs(), "listener.security.protocol.map", "INTERNAL", invalid},
		{BrokerDefs(), "listener.security.protocol.map", "A:SSL,a:PLAINTEXT", invalid},
		{BrokerDefs(), "ssl.client.auth", "required", ok},
		{BrokerDefs(), "ssl.client.auth", "always", invalid},
		{BrokerDefs(), "ssl.keystore.type", "pkcs12", ok},
		{BrokerDefs(), "ssl.keystore.type", "BKS", invalid},
		{BrokerDefs(), "ssl.enabled.protocols", "TLSv1.3", ok},
		{BrokerDefs(), "ssl.enabled.protocols", "TLSv1.1,TLSv1.2", unsupported},
		{BrokerDefs(), "ssl.provider", "BC", unsupported},
		{BrokerDefs(), "ssl.trustmanager.algorithm", "PKIX", ok},
		{BrokerDefs(), "ssl.keymanager.algorithm", "PKIX", unsupported},
		{BrokerDefs(), "listeners", "localhost:9092", invalid},
		{BrokerDefs(), "listeners", "PLAINTEXT://host:99999", invalid},
		{BrokerDefs(), "listeners", "", invalid},
		{BrokerDefs(), "advertised.listeners", "PLAINTEXT://broker1:9092", ok},
		{BrokerDefs(), "advertised.listeners", "PLAINTEXT://0.0.0.0:9092", invalid},
		{BrokerDefs(), "http.listeners", "", ok},
		{BrokerDefs(), "http.listeners", "http://:8090,http://127.0.0.1:8091", ok},
		{BrokerDefs(), "http.listeners", "https://:8443,http://127.0.0.1:8090", ok},
		{BrokerDefs(), "http.listeners", "http://127.0.0.1:0,https://127.0.0.1:0", ok},
		{BrokerDefs(), "http.listeners", "http://127.0.0.1:8090,https://127.0.0.1:8090", invalid},
		{BrokerDefs(), "http.authentication.method", "basic", ok},
		{BrokerDefs(), "http.authentication.method", "DIGEST", invalid},
		{BrokerDefs(), "http.ssl.client.auth", "required", ok},
		{BrokerDefs(), "http.ssl.client.auth", "always", invalid},
		{BrokerDefs(), "http.listeners", "ftp://:21", invalid},
		{BrokerDefs(), "num.partitions", "0", invalid},
		{BrokerDefs(), "default.replication.factor", "3", ok}, // refused at topic creation, not here
		{BrokerDefs(), "default.replication.factor", "40000", invalid},
		{BrokerDefs(), "auto.create.topics.enable", "FALSE", ok},
		{BrokerDefs(), "auto.create.topics.enable", "yes", invalid},
		{BrokerDefs(), "message.max.bytes", "2147483648", invalid}, // INT overflow
		{BrokerDefs(), "log.segment.bytes", "1048575", invalid},
		{BrokerDefs(), "log.segment.bytes", "1048576", ok},
		{BrokerDefs(), "log.roll.ms", "0", invalid},
		{BrokerDefs(), "log.roll.hours", "0", invalid},
		{BrokerDefs(), "log.retention.ms", "-1", ok},
		{BrokerDefs(), "log.retention.ms", "0", invalid},
		{BrokerDefs(), "log.retention.hours", "-2", invalid},
		{BrokerDefs(), "log.retention.minutes", "10", ok},
		{BrokerDefs(), "log.retention.bytes", "-5", ok},
		{BrokerDefs(), "log.message.timestamp.type", "LogAppendTime", ok},
		{BrokerDefs(), "log.message.timestamp.type", "logappendtime", invalid},
		{BrokerDefs(), "log.message.timestamp.after.max.ms", "-1", invalid},
		{BrokerDefs(), "log.cleanup.policy", "delete", ok},
		{BrokerDefs(), "log.cleanup.policy", "compact", ok},
		{BrokerDefs(), "log.cleanup.policy", "compact, delete", ok},
		{BrokerDefs(), "log.cleanup.policy", "delete,compact", ok},
		{BrokerDefs(), "log.cleanup.policy", "delete,delete", invalid},
		{BrokerDefs(), "log.cleanup.policy", "purge", invalid},
		{BrokerDefs(), "log.cleanup.policy", "", invalid},
		{BrokerDefs(), "log.cleaner.min.cleanable.ratio", "0", ok},
		{BrokerDefs(), "log.cleaner.min.cleanable.ratio", " 1.0 ", ok},
		{BrokerDefs(), "log.cleaner.min.cleanable.ratio", "1.5", invalid},
		{BrokerDefs(), "log.cleaner.min.cleanable.ratio", "NaN", invalid},
		{BrokerDefs(), "log.cleaner.min.cleanable.ratio", "half", invalid},
		{BrokerDefs(), "log.cleaner.delete.retention.ms", "0", ok},
		{BrokerDefs(), "log.cleaner.delete.retention.ms", "-1", invalid},
		{BrokerDefs(), "log.cleaner.max.compaction.lag.ms", "0", invalid},
		{BrokerDefs(), "log.cleaner.min.compaction.lag.ms", "-1", invalid},
		{BrokerDefs(), "log.cleaner.threads", "0", ok},
		{BrokerDefs(), "log.cleaner.threads", "-1", invalid},
		{BrokerDefs(), "log.cleaner.dedupe.buffer.size", "0", invalid},
		{BrokerDefs(), "log.cleaner.backoff.ms", "100", ok},
		{BrokerDefs(), "log.cleaner.enable", "false", ok},
		{BrokerDefs(), "log.cleaner.io.max.bytes.per.second", "1", unknown},
		{BrokerDefs(), "compression.type", "producer", ok},
		{BrokerDefs(), "compression.type", "zstd", unsupported},
		{BrokerDefs(), "compression.type", "brotli", invalid},
		{BrokerDefs(), "log.flush.interval.ms", "1000", unknown},
		{BrokerDefs(), "segment.bytes", "1048576", unknown}, // a topic key
		{TopicDefs(), "segment.bytes", "1048576", ok},
		{TopicDefs(), "segment.bytes", "14", invalid},
		{TopicDefs(), "segment.ms", "0", invalid},
		{TopicDefs(), "retention.ms", "0", ok}, // topic level allows 0, unlike the broker keys
		{TopicDefs(), "retention.ms", "-2", invalid},
		{TopicDefs(), "retention.bytes", "1024", ok},
		{TopicDefs(), "min.insync.replicas", "0", invalid},
		{TopicDefs(), "max.message.bytes", "-1", invalid},
		{TopicDefs(), "index.interval.bytes", "0", ok},
		{TopicDefs(), "cleanup.policy", "compact", ok},
		{TopicDefs(), "cleanup.policy", "compact,delete", ok},
		{TopicDefs(), "cleanup.policy", "compact,purge", invalid},
		{TopicDefs(), "delete.retention.ms", "0", ok},
		{TopicDefs(), "min.cleanable.dirty.ratio", "0.01", ok},
		{TopicDefs(), "min.cleanable.dirty.ratio", "-0.1", invalid},
		{TopicDefs(), "min.compaction.lag.ms", "1000", ok},
		{TopicDefs(), "max.compaction.lag.ms", "0", invalid},
		{TopicDefs(), "log.cleaner.threads", "2", unknown}, // broker only
		{TopicDefs(), "compression.type", "gzip", unsupported},
		{TopicDefs(), "message.timestamp.type", "CreateTime", ok},
		{TopicDefs(), "log.retention.ms", "1", unknown}, // a broker key
		{TopicDefs(), "flush.ms", "1", unknown},
	}
	for _, tt := range tests {
		err := tt.reg.Validate(tt.name, tt.value)
		var got int
		switch {
		case err == nil:
			got = ok
		case errors.Is(err, ErrUnknownConfig):
			got = unknown
		case errors.Is(err, ErrInvalidValue) && errors.Is(err, ErrNotSupported):
			got = unsupported
		case errors.Is(err, ErrInvalidValue):
			got = invalid
		default:
			got = -1
		}
		if got != tt.want {
			t.Errorf("Validate(%s=%q) = %v (class %d), want class %d", tt.name, tt.value, err, got, tt.want)
			continue
		}
		var ke *KeyError
		if err != nil && (!errors.As(err, &ke) || ke.Key != tt.name) {
			t.Errorf("Validate(%s=%q) = %v, want a *KeyError for the key", tt.name, tt.value, err)
		}
	}
}

func TestKeyErrorMessage(t *testing.T) {
	err := TopicDefs().Validate("segment.bytes", "14")
	want := `invalid value: segment.bytes="14": value must be at least 1048576`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
}

func TestParseListeners(t *testing.T) {
	tests := []struct {
		in   string
		want []Listener
	}{
		{"PLAINTEXT://:9092", []Listener{{"PLAINTEXT", "", 9092}}},
		{" plaintext://127.0.0.1:0 ", []Listener{{"PLAINTEXT", "127.0.0.1", 0}}},
		{"PLAINTEXT://[::1]:9092", []Listener{{"PLAINTEXT", "::1", 9092}}},
		{"PLAINTEXT://kafka.example.com:19092", []Listener{{"PLAINTEXT", "kafka.example.com", 19092}}},
	}
	for _, tt := range tests {
		got, err := ParseListeners(tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseListeners(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	if got := (Listener{"PLAINTEXT", "::1", 9092}).String(); got != "PLAINTEXT://[::1]:9092" {
		t.Errorf("String() = %s", got)
	}
}

func TestTypeConfigType(t *testing.T) {
	tests := map[Type]kmsg.ConfigType{
		TypeBoolean: kmsg.ConfigTypeBoolean, TypeInt: kmsg.ConfigTypeInt, TypeLong: kmsg.ConfigTypeLong,
		TypeDouble: kmsg.ConfigTypeDouble, TypeString: kmsg.ConfigTypeString, TypeList: kmsg.ConfigTypeList,
		TypePassword: kmsg.ConfigTypePassword,
	}
	for typ, want := range tests {
		if got := typ.ConfigType(); got != want {
			t.Errorf("%v.ConfigType() = %v, want %v", typ, got, want)
		}
	}
}

func TestNewRegistry(t *testing.T) {
	r := NewRegistry(
		Def{Name: "a.ms", Type: TypeLong, Default: "5", HasDefault: true, Validate: AtLeast(1)},
		Def{Name: "b.mode", Type: TypeString, Validate: OneOf("X", "Y")},
	)
	if got := r.Names(); len(got) != 2 || got[0] != "a.ms" || got[1] != "b.mode" {
		t.Fatalf("names %v", got)
	}
	for _, c := range []struct {
		k, v string
		want error
	}{
		{"a.ms", "7", nil}, {"a.ms", "0", ErrInvalidValue}, {"a.ms", "x", ErrInvalidValue},
		{"b.mode", "Y", nil}, {"b.mode", "Z", ErrInvalidValue}, {"c", "1", ErrUnknownConfig},
	} {
		err := r.Validate(c.k, c.v)
		if (c.want == nil) != (err == nil) || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("Validate(%s, %s) = %v, want %v", c.k, c.v, err, c.want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("a duplicate definition did not panic")
		}
	}()
	NewRegistry(Def{Name: "x"}, Def{Name: "x"})
}
