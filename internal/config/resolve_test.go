package config

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	srcTopic   = kmsg.ConfigSourceDynamicTopicConfig
	srcBroker  = kmsg.ConfigSourceDynamicBrokerConfig
	srcCluster = kmsg.ConfigSourceDynamicDefaultBrokerConfig
	srcStatic  = kmsg.ConfigSourceStaticBrokerConfig
	srcDefault = kmsg.ConfigSourceDefaultConfig
)

func syn(name, value string, src kmsg.ConfigSource) Synonym {
	return Synonym{Name: name, Value: value, Source: src}
}

func TestResolveTopic(t *testing.T) {
	tests := []struct {
		name      string
		key       string
		layers    Layers
		wantValue string
		wantSrc   kmsg.ConfigSource
		wantSyns  []Synonym
	}{
		{
			name: "default only", key: "retention.ms",
			wantValue: "604800000", wantSrc: srcDefault,
			wantSyns: []Synonym{syn("log.retention.hours", "168", srcDefault)},
		},
		{
			name: "every layer", key: "retention.ms",
			layers: Layers{
				Topic:          map[string]string{"retention.ms": "1000"},
				DynamicBroker:  map[string]string{"log.retention.minutes": "5"},
				DynamicDefault: map[string]string{"log.retention.ms": "2000"},
				Static:         map[string]string{"log.retention.hours": "24"},
			},
			wantValue: "1000", wantSrc: srcTopic,
			wantSyns: []Synonym{
				syn("retention.ms", "1000", srcTopic),
				syn("log.retention.minutes", "5", srcBroker),
				syn("log.retention.ms", "2000", srcCluster),
				syn("log.retention.hours", "24", srcStatic),
				syn("log.retention.hours", "168", srcDefault),
			},
		},
		{
			name: "per-node dynamic minutes beat cluster-wide ms", key: "retention.ms",
			layers: Layers{
				DynamicBroker:  map[string]string{"log.retention.minutes": "5"},
				DynamicDefault: map[string]string{"log.retention.ms": "2000"},
			},
			wantValue: "300000", wantSrc: srcBroker,
			wantSyns: []Synonym{
				syn("log.retention.minutes", "5", srcBroker),
				syn("log.retention.ms", "2000", srcCluster),
				syn("log.retention.hours", "168", srcDefault),
			},
		},
		{
			name: "ms beats minutes beats hours in one layer", key: "retention.ms",
			layers: Layers{Static: map[string]string{
				"log.retention.hours": "1", "log.retention.minutes": "2", "log.retention.ms": "3",
			}},
			wantValue: "3", wantSrc: srcStatic,
			wantSyns: []Synonym{
				syn("log.retention.ms", "3", srcStatic),
				syn("log.retention.minutes", "2", srcStatic),
				syn("log.retention.hours", "1", srcStatic),
				syn("log.retention.hours", "168", srcDefault),
			},
		},
		{
			name: "minutes beat hours", key: "retention.ms",
			layers:    Layers{Static: map[string]string{"log.retention.hours": "1", "log.retention.minutes": "2"}},
			wantValue: "120000", wantSrc: srcStatic,
			wantSyns: []Synonym{
				syn("log.retention.minutes", "2", srcStatic),
				syn("log.retention.hours", "1", srcStatic),
				syn("log.retention.hours", "168", srcDefault),
			},
		},
		{
			name: "infinite hours", key: "retention.ms",
			layers:    Layers{Static: map[string]string{"log.retention.hours": "-1"}},
			wantValue: "-1", wantSrc: srcStatic,
			wantSyns: []Synonym{
				syn("log.retention.hours", "-1", srcStatic),
				syn("log.retention.hours", "168", srcDefault),
			},
		},
		{
			name: "segment.ms from log.roll.hours", key: "segment.ms",
			layers:    Layers{Static: map[string]string{"log.roll.hours": "2"}},
			wantValue: "7200000", wantSrc: srcStatic,
			wantSyns: []Synonym{
				syn("log.roll.hours", "2", srcStatic),
				syn("log.roll.hours", "168", srcDefault),
			},
		},
		{
			name: "simple synonym", key: "segment.bytes",
			layers: Layers{
				DynamicBroker: map[string]string{"log.segment.bytes": "2097152"},
				Static:        map[string]string{"log.segment.bytes": "4194304"},
			},
			wantValue: "2097152", wantSrc: srcBroker,
			wantSyns: []Synonym{
				syn("log.segment.bytes", "2097152", srcBroker),
				syn("log.segment.bytes", "4194304", srcStatic),
				syn("log.segment.bytes", "1073741824", srcDefault),
			},
		},
		{
			name: "different names", key: "max.message.bytes",
			layers:    Layers{Static: map[string]string{"message.max.bytes": " 2000 "}},
			wantValue: "2000", wantSrc: srcStatic,
			wantSyns: []Synonym{
				syn("message.max.bytes", " 2000 ", srcStatic),
				syn("message.max.bytes", "1048588", srcDefault),
			},
		},
		{
			name: "topic override of a list", key: "cleanup.policy",
			layers:    Layers{Topic: map[string]string{"cleanup.policy": " delete "}},
			wantValue: "delete", wantSrc: srcTopic,
			wantSyns: []Synonym{
				syn("cleanup.policy", " delete ", srcTopic),
				syn("log.cleanup.policy", "delete", srcDefault),
			},
		},
		{
			name: "unrelated keys are ignored", key: "min.insync.replicas",
			layers: Layers{
				Topic:  map[string]string{"retention.ms": "1"},
				Static: map[string]string{"log.retention.ms": "1", "node.id": "4"},
			},
			wantValue: "1", wantSrc: srcDefault,
			wantSyns: []Synonym{syn("min.insync.replicas", "1", srcDefault)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ResolveTopic(tt.key, tt.layers)
			if err != nil {
				t.Fatal(err)
			}
			if e.Name != tt.key || e.Value != tt.wantValue || e.IsNull || e.Source != tt.wantSrc {
				t.Errorf("got %s=%q null=%v source=%v, want %q source=%v", e.Name, e.Value, e.IsNull, e.Source, tt.wantValue, tt.wantSrc)
			}
			if !reflect.DeepEqual(e.Synonyms, tt.wantSyns) {
				t.Errorf("synonyms\n got %v\nwant %v", e.Synonyms, tt.wantSyns)
			}
			if e.ReadOnly || e.Sensitive || e.Doc == "" || e.Type == 0 {
				t.Errorf("entry metadata: %+v", e)
			}
		})
	}
}

func TestResolveUnknown(t *testing.T) {
	if _, err := ResolveTopic("log.retention.ms", Layers{}); !errors.Is(err, ErrUnknownConfig) {
		t.Errorf("ResolveTopic(broker key) = %v, want ErrUnknownConfig", err)
	}
	if _, err := ResolveBroker("retention.ms", Layers{}); !errors.Is(err, ErrUnknownConfig) {
		t.Errorf("ResolveBroker(topic key) = %v, want ErrUnknownConfig", err)
	}
}

func TestResolveBroker(t *testing.T) {
	tests := []struct {
		name      string
		key       string
		layers    Layers
		wantValue string
		wantNull  bool
		wantSrc   kmsg.ConfigSource
		wantRO    bool
		wantSyns  []Synonym
	}{
		{
			name: "default", key: "num.partitions",
			wantValue: "1", wantSrc: srcDefault, wantRO: true,
			wantSyns: []Synonym{syn("num.partitions", "1", srcDefault)},
		},
		{
			name: "null default", key: "advertised.listeners",
			wantNull: true, wantSrc: srcDefault, wantRO: true,
		},
		{
			name: "static, canonical form", key: "auto.create.topics.enable",
			layers:    Layers{Static: map[string]string{"auto.create.topics.enable": " FALSE"}},
			wantValue: "false", wantSrc: srcStatic, wantRO: true,
			wantSyns: []Synonym{
				syn("auto.create.topics.enable", " FALSE", srcStatic),
				syn("auto.create.topics.enable", "true", srcDefault),
			},
		},
		{
			name: "dynamic layers ignore the topic layer", key: "log.segment.bytes",
			layers: Layers{
				Topic:          map[string]string{"segment.bytes": "1048576"},
				DynamicDefault: map[string]string{"log.segment.bytes": "2097152"},
			},
			wantValue: "2097152", wantSrc: srcCluster,
			wantSyns: []Synonym{
				syn("log.segment.bytes", "2097152", srcCluster),
				syn("log.segment.bytes", "1073741824", srcDefault),
			},
		},
		{
			name: "hours describes itself", key: "log.retention.hours",
			layers:    Layers{Static: map[string]string{"log.retention.ms": "5000"}},
			wantValue: "168", wantSrc: srcDefault,
			wantSyns: []Synonym{syn("log.retention.hours", "168", srcDefault)},
		},
		{
			name: "ms with lower synonyms", key: "log.retention.ms",
			layers: Layers{
				DynamicBroker: map[string]string{"log.retention.hours": "1"},
				Static:        map[string]string{"log.retention.ms": "5000"},
			},
			wantValue: "5000", wantSrc: srcStatic,
			wantSyns: []Synonym{
				syn("log.retention.ms", "5000", srcStatic),
				syn("log.retention.hours", "168", srcDefault),
			},
		},
		{
			name: "ms unset is null", key: "log.retention.ms",
			layers:   Layers{Static: map[string]string{"log.retention.hours": "1"}},
			wantNull: true, wantSrc: srcDefault,
		},
		{
			name: "minutes", key: "log.retention.minutes",
			layers: Layers{
				DynamicDefault: map[string]string{"log.retention.minutes": "30", "log.retention.ms": "1"},
				Static:         map[string]string{"log.retention.hours": "2"},
			},
			wantValue: "30", wantSrc: srcCluster,
			wantSyns: []Synonym{
				syn("log.retention.minutes", "30", srcCluster),
				syn("log.retention.hours", "2", srcStatic),
				syn("log.retention.hours", "168", srcDefault),
			},
		},
		{
			name: "node.id from broker.id alias", key: "node.id",
			layers:    Layers{Static: map[string]string{"broker.id": "3"}},
			wantValue: "3", wantSrc: srcStatic, wantRO: true,
			wantSyns: []Synonym{
				syn("broker.id", "3", srcStatic),
				syn("node.id", "1", srcDefault),
			},
		},
		{
			name: "alias asked by its name", key: "log.dir",
			layers:    Layers{Static: map[string]string{"log.dir": "/a", "log.dirs": "/b"}},
			wantValue: "/b", wantSrc: srcStatic, wantRO: true,
			wantSyns: []Synonym{
				syn("log.dirs", "/b", srcStatic),
				syn("log.dir", "/a", srcStatic),
				syn("log.dirs", "./tandem-data", srcDefault),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ResolveBroker(tt.key, tt.layers)
			if err != nil {
				t.Fatal(err)
			}
			if e.Name != tt.key || e.Value != tt.wantValue || e.IsNull != tt.wantNull || e.Source != tt.wantSrc || e.ReadOnly != tt.wantRO {
				t.Errorf("got %s=%q null=%v source=%v ro=%v, want %q null=%v source=%v ro=%v",
					e.Name, e.Value, e.IsNull, e.Source, e.ReadOnly, tt.wantValue, tt.wantNull, tt.wantSrc, tt.wantRO)
			}
			if !reflect.DeepEqual(e.Synonyms, tt.wantSyns) {
				t.Errorf("synonyms\n got %v\nwant %v", e.Synonyms, tt.wantSyns)
			}
		})
	}
}

func TestSensitiveMasked(t *testing.T) {
	e := Entry{Name: "x", Value: "secret", Sensitive: true, Synonyms: []Synonym{syn("x", "secret", srcStatic)}}
	e.mask()
	if !e.IsNull || e.Value != "" || !e.Synonyms[0].IsNull || e.Synonyms[0].Value != "" {
		t.Errorf("sensitive entry not masked: %+v", e)
	}
	d := Def{Sensitive: true}
	if err := d.invalid("x", "secret", errors.New("bad")); err.Error() != "invalid value: x: bad" {
		t.Errorf("sensitive value in error: %v", err)
	}
}

func TestEffectiveTopicConfig(t *testing.T) {
	defaults := TopicConfig{
		RetentionMs: 604800000, RetentionBytes: -1, SegmentBytes: 1073741824, SegmentMs: 604800000,
		IndexIntervalBytes: 4096, FileDeleteDelayMs: 60000, MaxMessageBytes: 1048588,
		MessageTimestampType: "CreateTime", TimestampBeforeMaxMs: 1<<63 - 1, TimestampAfterMaxMs: 3600000,
		MinInsyncReplicas: 1, CleanupPolicy: "delete", CompressionType: "producer",
		DeleteRetentionMs: 86400000, MinCleanableDirtyRatio: 0.5, MinCompactionLagMs: 0, MaxCompactionLagMs: 1<<63 - 1,
	}
	got, err := EffectiveTopicConfig(Layers{})
	if err != nil || got != defaults {
		t.Fatalf("EffectiveTopicConfig(defaults) = %+v, %v\nwant %+v", got, err, defaults)
	}
	bc, err := LoadBroker(nil)
	if err != nil || bc.TopicDefaults() != defaults {
		t.Fatalf("LoadBroker(nil).TopicDefaults() = %+v, %v", bc.TopicDefaults(), err)
	}

	got, err = EffectiveTopicConfig(Layers{
		Topic: map[string]string{
			"retention.bytes": "1000", "segment.bytes": "1048576", "message.timestamp.type": "LogAppendTime",
			"min.insync.replicas": "2", "message.timestamp.after.max.ms": "0",
		},
		DynamicDefault: map[string]string{"log.roll.ms": "1000", "log.retention.minutes": "1"},
		Static:         map[string]string{"log.index.interval.bytes": "100", "log.segment.delete.delay.ms": "0", "message.max.bytes": "100"},
	})
	want := defaults
	want.RetentionBytes, want.SegmentBytes, want.MessageTimestampType = 1000, 1048576, "LogAppendTime"
	want.MinInsyncReplicas, want.TimestampAfterMaxMs = 2, 0
	want.SegmentMs, want.RetentionMs = 1000, 60000
	want.IndexIntervalBytes, want.FileDeleteDelayMs, want.MaxMessageBytes = 100, 0, 100
	if err != nil || got != want {
		t.Errorf("EffectiveTopicConfig = %+v, %v\nwant %+v", got, err, want)
	}

	// Compaction settings: topic overrides and their broker synonyms.
	got, err = EffectiveTopicConfig(Layers{
		Topic:  map[string]string{"cleanup.policy": "compact, delete", "min.cleanable.dirty.ratio": "0.1"},
		Static: map[string]string{"log.cleaner.delete.retention.ms": "1000", "log.cleaner.min.compaction.lag.ms": "5", "log.cleaner.max.compaction.lag.ms": "60000"},
	})
	want = defaults
	want.CleanupPolicy, want.MinCleanableDirtyRatio = "compact,delete", 0.1
	want.DeleteRetentionMs, want.MinCompactionLagMs, want.MaxCompactionLagMs = 1000, 5, 60000
	if err != nil || got != want || !got.Compact() || !got.Delete() {
		t.Errorf("EffectiveTopicConfig(compaction) = %+v, %v\nwant %+v", got, err, want)
	}
	if defaults.Compact() || !defaults.Delete() {
		t.Errorf("default policy: compact=%t delete=%t", defaults.Compact(), defaults.Delete())
	}
	if c := (TopicConfig{CleanupPolicy: "compact"}); !c.Compact() || c.Delete() {
		t.Errorf("compact policy: compact=%t delete=%t", c.Compact(), c.Delete())
	}

	// min.compaction.lag.ms above max.compaction.lag.ms conflicts
	// (LogConfig.validateValues).
	_, err = EffectiveTopicConfig(Layers{Topic: map[string]string{"min.compaction.lag.ms": "10", "max.compaction.lag.ms": "5"}})
	var ke *KeyError
	if !errors.Is(err, ErrInvalidValue) || !errors.As(err, &ke) || ke.Key != "min.compaction.lag.ms" {
		t.Errorf("EffectiveTopicConfig(min lag > max lag) = %v, want ErrInvalidValue on min.compaction.lag.ms", err)
	}

	// A stored value that became invalid is reported, not used.
	_, err = EffectiveTopicConfig(Layers{Topic: map[string]string{"segment.bytes": "12"}})
	if !errors.Is(err, ErrInvalidValue) {
		t.Errorf("EffectiveTopicConfig(invalid) = %v, want ErrInvalidValue", err)
	}
}

func TestLoadBroker(t *testing.T) {
	bc, err := LoadBroker(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := BrokerConfig{
		NodeID:                          1,
		Listeners:                       []Listener{{"PLAINTEXT", "127.0.0.1", 9092}},
		AdvertisedListeners:             []Listener{{"PLAINTEXT", "127.0.0.1", 9092}},
		LogDirs:                         []string{"./tandem-data"},
		HTTPListeners:                   []Listener{{"HTTP", "127.0.0.1", 8090}},
		MaxPartitionsPerRequest:         10000,
		AutoCreateTopicsMaxPerRequest:   100,
		GroupLagMetricsMaxGroups:        1000,
		NumPartitions:                   1,
		DefaultReplicationFactor:        1,
		AutoCreateTopicsEnable:          true,
		DeleteTopicEnable:               true,
		SocketRequestMaxBytes:           104857600,
		RequestDecodedMaxBytes:          67108864,
		RequestDecodedTotalMaxBytes:     268435456,
		MessageMaxBytes:                 1048588,
		LogSegmentBytes:                 1073741824,
		LogRollMs:                       604800000,
		LogRetentionMs:                  604800000,
		LogRetentionBytes:               -1,
		LogIndexIntervalBytes:           4096,
		LogSegmentDeleteDelayMs:         60000,
		LogMessageTimestampType:         "CreateTime",
		LogMessageTimestampBeforeMaxMs:  1<<63 - 1,
		LogMessageTimestampAfterMaxMs:   3600000,
		LogCleanupPolicy:                "delete",
		MinInsyncReplicas:               1,
		CompressionType:                 "producer",
		LogRetentionCheckIntervalMs:     300000,
		LogSyncStrategy:                 "syncfs",
		ClusterLinkEnable:               true,
		OffsetsTopicNumPartitions:       50,
		OffsetsTopicSegmentBytes:        104857600,
		OffsetsRetentionMinutes:         10080,
		OffsetsRetentionCheckIntervalMs: 600000,
		OffsetMetadataMaxBytes:          4096,
		GroupInitialRebalanceDelayMs:    3000,
		GroupMinSessionTimeoutMs:        6000,
		GroupMaxSessionTimeoutMs:        1800000,
		GroupMaxSize:                    2147483647,
		LogCleanerDeleteRetentionMs:     86400000,
		LogCleanerMinCleanableRatio:     0.5,
		LogCleanerMinCompactionLagMs:    0,
		LogCleanerMaxCompactionLagMs:    1<<63 - 1,
		LogCleanerEnable:                true,
		LogCleanerThreads:               1,
		LogCleanerDedupeBufferSize:      134217728,
		LogCleanerBackoffMs:             15000,
		ConnectionsMaxIdleMs:            600000,
		MaxConnections:                  2147483647,
		MaxConnectionsPerIP:             2147483647,
		MaxConnectionsPerIPOverrides:    map[string]int32{},
		SocketRequestReadTimeoutMs:      30000,
		HTTPAuthenticationMethod:        "NONE",
	}
	want.ConnectionsAuthenticationTimeoutMs = 30000
	want.ConnectionFailedAuthenticationDelayMs = 100
	if len(bc.ListenerConfigs) != 1 || bc.ListenerConfigs[0].Listener != bc.Listeners[0] || bc.ListenerConfigs[0].SecurityProtocol != "PLAINTEXT" {
		t.Errorf("ListenerConfigs = %+v, want the one PLAINTEXT listener", bc.ListenerConfigs)
	}
	bc.ListenerConfigs = nil
	if !reflect.DeepEqual(bc, want) {
		t.Errorf("LoadBroker(nil) =\n%+v\nwant\n%+v", bc, want)
	}

	bc, err = LoadBroker(map[string]string{
		"broker.id":                  "5",
		"log.dir":                    "/var/lib/tandem",
		"listeners":                  "PLAINTEXT://0.0.0.0:19092",
		"advertised.listeners":       "PLAINTEXT://broker5:19092",
		"http.listeners":             "",
		"num.partitions":             "3",
		"default.replication.factor": "3",
		"auto.create.topics.enable":  "false",
		"delete.topic.enable":        "false",
		"log.retention.minutes":      "90",
		"log.retention.hours":        "1",
		"log.roll.hours":             "1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if bc.NodeID != 5 || !slices.Equal(bc.LogDirs, []string{"/var/lib/tandem"}) || len(bc.HTTPListeners) != 0 ||
		bc.NumPartitions != 3 || bc.DefaultReplicationFactor != 3 || bc.AutoCreateTopicsEnable || bc.DeleteTopicEnable ||
		bc.LogRetentionMs != 90*60000 || bc.LogRollMs != 3600000 ||
		!slices.Equal(bc.AdvertisedListeners, []Listener{{"PLAINTEXT", "broker5", 19092}}) ||
		!slices.Equal(bc.Listeners, []Listener{{"PLAINTEXT", "0.0.0.0", 19092}}) {
		t.Errorf("LoadBroker = %+v", bc)
	}

	bc, err = LoadBroker(map[string]string{"node.id": "2", "broker.id": "2", "log.dirs": "/b", "log.dir": "/a"})
	if err != nil || bc.NodeID != 2 || bc.LogDirs[0] != "/b" {
		t.Errorf("LoadBroker(both aliases) = %+v, %v", bc, err)
	}

	errTests := []struct {
		name   string
		static map[string]string
		want   error
		key    string
	}{
		{"unknown", map[string]string{"log.flush.interval.ms": "1"}, ErrUnknownConfig, "log.flush.interval.ms"},
		{"invalid", map[string]string{"num.partitions": "many"}, ErrInvalidValue, "num.partitions"},
		{"node.id conflict", map[string]string{"node.id": "1", "broker.id": "2"}, ErrInvalidValue, "broker.id"},
		{"two log dirs", map[string]string{"log.dirs": "/a,/b"}, ErrNotSupported, "log.dirs"},
		{"custom name without map entry", map[string]string{"listeners": "INTERNAL://:9093"}, ErrInvalidValue, "listeners"},
		{"map without the default names", map[string]string{"listeners": "PLAINTEXT://:9093", "listener.security.protocol.map": "INTERNAL:SSL"}, ErrInvalidValue, "listeners"},
		{"bad map", map[string]string{"listener.security.protocol.map": "INTERNAL:TLS"}, ErrInvalidValue, "listener.security.protocol.map"},
		{"advertised not a listener", map[string]string{"listeners": "PLAINTEXT://:9092", "advertised.listeners": "PLAINTEXT://h:1,SSL://h:2"}, ErrInvalidValue, "advertised.listeners"},
		{"override of an unknown listener", map[string]string{"listener.name.internal.ssl.client.auth": "required"}, ErrUnknownConfig, "listener.name.internal.ssl.client.auth"},
		{"override of a non-listener key", map[string]string{"listener.name.plaintext.num.partitions": "3"}, ErrUnknownConfig, "listener.name.plaintext.num.partitions"},
		{"override upper-case listener", map[string]string{"listener.name.PLAINTEXT.ssl.client.auth": "none"}, ErrUnknownConfig, "listener.name.PLAINTEXT.ssl.client.auth"},
		{"override bad value", map[string]string{"listener.name.plaintext.ssl.client.auth": "always"}, ErrInvalidValue, "listener.name.plaintext.ssl.client.auth"},
		{"override malformed", map[string]string{"listener.name.plaintext": "x"}, ErrUnknownConfig, "listener.name.plaintext"},
		{"bad policy", map[string]string{"log.cleanup.policy": "compact,archive"}, ErrInvalidValue, "log.cleanup.policy"},
		{"bad ratio", map[string]string{"log.cleaner.min.cleanable.ratio": "2"}, ErrInvalidValue, "log.cleaner.min.cleanable.ratio"},
		{"meta-address advertised by default", map[string]string{"listeners": "PLAINTEXT://0.0.0.0:9092"}, ErrInvalidValue, "listeners"},
		{"meta-address advertised", map[string]string{"advertised.listeners": "PLAINTEXT://[::]:9092"}, ErrInvalidValue, "advertised.listeners"},
	}
	for _, tt := range errTests {
		_, err := LoadBroker(tt.static)
		var ke *KeyError
		if !errors.Is(err, tt.want) || !errors.As(err, &ke) || ke.Key != tt.key {
			t.Errorf("%s: LoadBroker(%v) = %v, want %v on %s", tt.name, tt.static, err, tt.want, tt.key)
		}
	}
}

// A stock server.properties carrying several keys Tandem refuses gets all
// of them named in one run, not one per restart (issue #13).
func TestLoadBrokerReportsEveryBadKey(t *testing.T) {
	_, err := LoadBroker(map[string]string{
		"log.flush.interval.ms": "1", "num.partitions": "many", "zookeeper.connect": "x:2181", "log.retention.hours": "1",
	})
	if err == nil {
		t.Fatal("LoadBroker accepted unknown and invalid keys")
	}
	for _, key := range []string{"log.flush.interval.ms", "num.partitions", "zookeeper.connect"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error does not name %s:\n%v", key, err)
		}
	}
	if strings.Contains(err.Error(), "log.retention.hours") {
		t.Errorf("error names a valid key:\n%v", err)
	}
	if !errors.Is(err, ErrUnknownConfig) || !errors.Is(err, ErrInvalidValue) {
		t.Errorf("error does not wrap both sentinels: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "3 broker configs are refused") {
		t.Errorf("error = %q, want a count first", err)
	}
}

func TestValidateOverrides(t *testing.T) {
	tests := []struct {
		name   string
		broker bool
		in     map[string]string
		want   error
	}{
		{"topic ok", false, map[string]string{"retention.ms": "-1", "segment.bytes": "1048576"}, nil},
		{"topic empty", false, nil, nil},
		{"topic unknown", false, map[string]string{"retention.ms": "1", "log.retention.ms": "1"}, ErrUnknownConfig},
		{"topic invalid", false, map[string]string{"min.insync.replicas": "0"}, ErrInvalidValue},
		{"topic unsupported", false, map[string]string{"compression.type": "lz4"}, ErrNotSupported},
		{"broker ok", true, map[string]string{"log.retention.hours": "1", "message.max.bytes": "10", "compression.type": "producer"}, nil},
		{"broker read-only node.id", true, map[string]string{"node.id": "2"}, ErrReadOnly},
		{"broker read-only alias", true, map[string]string{"broker.id": "2"}, ErrReadOnly},
		{"broker read-only listeners", true, map[string]string{"listeners": "PLAINTEXT://:1"}, ErrReadOnly},
		{"broker read-only log.dirs", true, map[string]string{"log.dirs": "/x"}, ErrReadOnly},
		{"broker read-only num.partitions", true, map[string]string{"num.partitions": "2"}, ErrReadOnly},
		{"broker read-only cleaner threads", true, map[string]string{"log.cleaner.threads": "2"}, ErrReadOnly},
		{"broker cleaner topic default", true, map[string]string{"log.cleaner.delete.retention.ms": "1"}, nil},
		{"topic compact", false, map[string]string{"cleanup.policy": "compact", "delete.retention.ms": "0"}, nil},
		{"broker unknown", true, map[string]string{"retention.ms": "1"}, ErrUnknownConfig},
		{"broker invalid", true, map[string]string{"log.segment.bytes": "1"}, ErrInvalidValue},
	}
	for _, tt := range tests {
		var err error
		if tt.broker {
			err = ValidateBrokerDynamic(tt.in)
		} else {
			err = ValidateTopicOverrides(tt.in)
		}
		if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestLoadBrokerHTTPSurfaceAndCaps(t *testing.T) {
	bc, err := LoadBroker(map[string]string{
		"http.allowed.hosts":                 "tandem.example.com, *.corp.example",
		"http.pprof.enable":                  "true",
		"max.partitions.per.request":         "500",
		"auto.create.topics.max.per.request": "1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(bc.HTTPAllowedHosts, []string{"tandem.example.com", "*.corp.example"}) || !bc.HTTPPprofEnable ||
		bc.MaxPartitionsPerRequest != 500 || bc.AutoCreateTopicsMaxPerRequest != 1 {
		t.Errorf("LoadBroker = hosts %q pprof %v caps %d/%d", bc.HTTPAllowedHosts, bc.HTTPPprofEnable,
			bc.MaxPartitionsPerRequest, bc.AutoCreateTopicsMaxPerRequest)
	}
	for _, bad := range []map[string]string{
		{"http.allowed.hosts": "http://tandem.example.com"},
		{"http.allowed.hosts": "tandem.example.com:8090"},
		{"http.allowed.hosts": "*tandem"},
		{"max.partitions.per.request": "0"},
		{"auto.create.topics.max.per.request": "0"},
		{"num.partitions": "8", "max.partitions.per.request": "4"},
	} {
		if _, err := LoadBroker(bad); !errors.Is(err, ErrInvalidValue) {
			t.Errorf("LoadBroker(%v) = %v, want ErrInvalidValue", bad, err)
		}
	}
}

func TestConnectionOverrides(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]int32
		bad  bool
	}{
		{in: "", want: map[string]int32{}},
		{in: "127.0.0.1:200, ingest-1.example.com:50", want: map[string]int32{"127.0.0.1": 200, "ingest-1.example.com": 50}},
		{in: "[::1]:3,fe80::1:0", want: map[string]int32{"::1": 3, "fe80::1": 0}},
		{in: "host", bad: true},
		{in: ":5", bad: true},
		{in: "h:-1", bad: true},
		{in: "h:x", bad: true},
		{in: "h:1,h:2", bad: true},
	} {
		got, err := ParseConnectionOverrides(tc.in)
		if (err != nil) != tc.bad {
			t.Errorf("%q: err = %v, want bad=%v", tc.in, err, tc.bad)
			continue
		}
		if !tc.bad && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q = %v, want %v", tc.in, got, tc.want)
		}
	}
	bc, err := LoadBroker(map[string]string{"max.connections.per.ip": "0", "max.connections.per.ip.overrides": "127.0.0.1:5"})
	if err != nil || bc.MaxConnectionsPerIP != 0 || bc.MaxConnectionsPerIPOverrides["127.0.0.1"] != 5 {
		t.Fatalf("allow-list config = %+v, %v", bc.MaxConnectionsPerIPOverrides, err)
	}
	if _, err := LoadBroker(map[string]string{"max.connections.per.ip": "0"}); !errors.Is(err, ErrInvalidValue) {
		t.Fatalf("max.connections.per.ip=0 without overrides: err = %v, want ErrInvalidValue", err)
	}
	if err := ValidateBrokerDynamic(map[string]string{"max.connections": "10"}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("dynamic max.connections: err = %v, want ErrReadOnly", err)
	}
}
