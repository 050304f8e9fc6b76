package fetcher

import (
	"errors"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/javautil"
	"github.com/tandem-streaming/tandem/internal/log"
)

// TestFetcherIDMatchesKafka checks fetcherID against values worked out by
// hand from Kafka's definition, Utils.abs(31*topic.hashCode() + partition)
// % n. For "orders": Java's hashCode is 111, 3555, 110305, 3419556,
// 106006350, then 3286196965 - 2^32 = -1008770331; 31*h wraps to
// -1207109189, so partition 0 gives abs = 1207109189 and 1207109189 % 3 = 2
// (a fetcher that masks the sign bit instead gets 940374459 % 3 = 0).
// "polygenelubricants" hashes to Integer.MIN_VALUE, and 31*MIN_VALUE wraps
// to MIN_VALUE again: partition 0 is Utils.abs(MIN_VALUE) = 0 (Math.abs
// would stay negative), partition 2 is abs(MIN_VALUE+2) = 2147483646,
// % 3 = 0 (masking gives 2).
func TestFetcherIDMatchesKafka(t *testing.T) {
	if h := javautil.StringHashCode("orders"); h != -1008770331 {
		t.Fatalf(`"orders".hashCode() = %d, want -1008770331`, h)
	}
	if h := javautil.StringHashCode("polygenelubricants"); h != math.MinInt32 {
		t.Fatalf(`"polygenelubricants".hashCode() = %d, want Integer.MIN_VALUE`, h)
	}
	tests := []struct {
		topic     string
		partition int32
		n, want   int
	}{
		{"orders", 0, 3, 2},
		{"orders", 1, 3, 1},
		{"orders", 2, 3, 0},
		{"polygenelubricants", 0, 3, 0},
		{"polygenelubricants", 0, 7, 0},
		{"polygenelubricants", 1, 3, 1},
		{"polygenelubricants", 2, 3, 0},
		// 1340849641: positive, no wrap at the end.
		{"a-very-long-topic-name-that-overflows", 7, 4, 2},
		// Non-ASCII: "ü" and "ï" are one code unit each, the emoji a
		// surrogate pair (0xD83D 0xDE00); hashCode 1630115430.
		{"ünïcode-😀", 3, 5, 4},
		{"payments", 11, 8, 2},
		{"t", 0, 1, 0},
	}
	for _, tt := range tests {
		if got := fetcherID(TopicPartition{tt.topic, tt.partition}, tt.n); got != tt.want {
			t.Errorf("fetcherID(%s-%d, %d) = %d, want %d", tt.topic, tt.partition, tt.n, got, tt.want)
		}
	}
}

func TestParseStartSpec(t *testing.T) {
	ts := func(s string) StartSpec {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return StartAtTimestamp(v)
	}
	tests := []struct {
		in   string
		want StartSpec
		err  bool
	}{
		{"", StartEarliest, false},
		{"earliest", StartEarliest, false},
		{" LATEST ", StartLatest, false},
		{"2024-05-01T12:00:00Z", ts("2024-05-01T12:00:00Z"), false},
		{"2024-05-01T14:00:00.5+02:00", ts("2024-05-01T12:00:00.5Z"), false},
		{"2024-05-01T12:00:00", ts("2024-05-01T12:00:00Z"), false},
		{"2024-05-01T12:00", ts("2024-05-01T12:00:00Z"), false},
		{"yesterday", StartSpec{}, true},
		{"1714564800000", StartSpec{}, true},
	}
	for _, tt := range tests {
		got, err := ParseStartSpec(tt.in)
		if tt.err {
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("ParseStartSpec(%q) error = %v, want ErrInvalidConfig", tt.in, err)
			}
			continue
		}
		if err != nil || got.kind != tt.want.kind || !got.ts.Equal(tt.want.ts) {
			t.Errorf("ParseStartSpec(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	d := Config{}.normalize()
	if d.NumFetchers != 1 || d.PartitionMaxBytes != 1<<20 || d.FetchMaxBytes != 10<<20 || d.FetchMinBytes != 1 ||
		d.FetchMaxWait != 500*time.Millisecond || d.FetchBackoff != time.Second || d.RetryBackoff != 100*time.Millisecond ||
		d.MetadataMaxAge != 5*time.Minute || d.RequestTimeout != 30*time.Second {
		t.Fatalf("defaults: %+v", d)
	}
	if _, err := New(Config{}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("New without a source: %v", err)
	}
}

// A partition that raises its leader epoch needs an owner to apply the
// effect; without Config.OnEffect it is refused rather than left waiting
// for an acknowledgement that never comes.
func TestRaiseLeaderEpochNeedsOnEffect(t *testing.T) {
	target, err := log.Open(log.Options{Dir: t.TempDir(), Topic: "t", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	f, err := New(Config{ClientOpts: []kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tp := TopicPartition{"t", 0}
	err = f.AddPartitions(map[TopicPartition]PartitionConfig{tp: {Target: target, RaiseLeaderEpoch: true}})
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("AddPartitions without OnEffect: %v", err)
	}
	if _, ok := f.Status(tp); ok {
		t.Fatal("refused partition was added")
	}
}
