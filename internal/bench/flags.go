package bench

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// BindFlags defines the benchmark's flags on fs and returns the Options
// they fill in when fs is parsed. Out is left for the caller.
func BindFlags(fs *pflag.FlagSet) *Options {
	o := &Options{TotalBytes: 1 << 30}
	fs.StringSliceVar(&o.Brokers, "brokers", []string{"127.0.0.1:9092"}, "bootstrap brokers, host:port, comma-separated")
	fs.StringVar(&o.Topic, "topic", "tandem-bench", "topic to produce to (and consume from)")
	fs.IntVar(&o.Partitions, "partitions", 16, "partitions of the topic, with --create-topic")
	fs.IntVar(&o.RecordSize, "record-size", 1024, "bytes of each record's value (records have no key)")
	fs.Var((*byteSize)(&o.TotalBytes), "bytes", "bytes of values to produce, e.g. 1073741824, 1GiB, 500MB")
	fs.StringVar(&o.Acks, "acks", "all", "required acks: 0, 1 or all (idempotent producer only with all)")
	fs.StringVar(&o.Compression, "compression", "none", "producer compression: none, gzip, snappy, lz4 or zstd")
	// 5ms is Kafka's own linger.ms default since 4.0 (KIP-1030).
	fs.DurationVar(&o.Linger, "linger", 5*time.Millisecond, "producer linger")
	fs.IntVar(&o.Rate, "rate", 0, "records/s to offer, paced, latency measured from the scheduled send time; 0 = as fast as possible")
	fs.BoolVar(&o.Consume, "consume", false, "after producing, consume everything from the start and report consume MB/s")
	fs.BoolVar(&o.ConsumeOnly, "consume-only", false, "do not produce: consume everything the (existing) topic holds and report consume MB/s")
	fs.IntVar(&o.Consumers, "consumers", 1, "consumer clients the partitions are dealt to, each with its own connection (like group members)")
	fs.BoolVar(&o.CreateTopic, "create-topic", true, "create the topic first (it must not exist); otherwise it must exist")
	return o
}

// byteSize is a pflag.Value for a byte count with an optional unit:
// B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024).
type byteSize int64

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	// Longest suffixes first, so "MiB" is not read as "B".
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"B", 1},
}

func (b *byteSize) Set(s string) error {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range byteUnits {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("%q is not a byte count", s)
	}
	if n > 0 && mult > (1<<63-1)/n {
		return fmt.Errorf("%q overflows", s)
	}
	*b = byteSize(n * mult)
	return nil
}

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

func (b *byteSize) Type() string { return "bytes" }
