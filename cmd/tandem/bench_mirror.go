package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/internal/bench"
)

// benchMirrorCmd compares cluster-link mirroring with a consume→re-produce
// pipeline between the same two brokers (scripts/bench-mirror.sh).
func benchMirrorCmd() *cobra.Command {
	o := bench.MirrorOptions{}
	cmd := &cobra.Command{
		Use:   "mirror",
		Short: "Compare cluster-link mirroring with a consume/re-produce pipeline (throughput, CPU/GB, replication latency, many partitions)",
		Long: `Creates a cluster link on the destination (REST, --dest-url) from the source
and, by phase:
  throughput  produces --bytes of lz4 records to a source topic, then times a
              mirror of it catching up, then a franz-go consume→re-produce copy
              of it to a new destination topic; CPU from /proc/<--dest-pid>/stat
              (and, for the pipeline, this process's getrusage)
  latency     offers --latency-rate bytes/s to a mirrored source topic and
              measures source ack → readable on the mirror, p50/p99
  partitions  mirrors a topic of --many-partitions partitions and reads the
              destination's RSS from /proc/<--dest-pid>/status
  wan         runs a simulated WAN path (internal/wanproxy) on --source, which
              the source broker must advertise (advertised.listeners) while
              listening on --wan-target; produces --bytes beside the source,
              then per --wan-rtts times a mirror (a new link per RTT) and the
              pipeline across the path; then replication latency at
              --wan-latency-rtt (scripts/bench-wan.sh)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			o.Out = os.Stdout
			_, err := bench.RunMirrorCompare(ctx, o)
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringSliceVar(&o.Source, "source", []string{"127.0.0.1:9092"}, "source cluster bootstrap, host:port")
	fs.StringSliceVar(&o.Dest, "dest", []string{"127.0.0.1:9093"}, "destination cluster bootstrap, host:port")
	fs.StringVar(&o.DestURL, "dest-url", "http://127.0.0.1:8091", "destination's REST API URL")
	fs.IntVar(&o.DestPID, "dest-pid", 0, "destination broker's process id (CPU and RSS from /proc); 0 = not measured")
	fs.IntVar(&o.SourcePID, "source-pid", 0, "source broker's process id (its CPU, informational); 0 = not measured")
	fs.StringVar(&o.Link, "link", "dr", "cluster link to create on the destination")
	fs.StringVar(&o.Prefix, "topic-prefix", "bench-mirror", "prefix of the topics created (they must not exist)")
	fs.IntVar(&o.Partitions, "partitions", 16, "partitions of the throughput and latency topics")
	fs.IntVar(&o.RecordSize, "record-size", 1024, "bytes of each record's value")
	o.TotalBytes = 1 << 30
	fs.Var(bench.ByteSizeFlag(&o.TotalBytes), "bytes", "bytes of values for the throughput phase, e.g. 1GiB")
	o.LatencyBytesPerSec = 10_000_000
	fs.Var(bench.ByteSizeFlag(&o.LatencyBytesPerSec), "latency-rate", "bytes/s of values offered in the latency phase")
	fs.DurationVar(&o.LatencyDuration, "latency-duration", 20*time.Second, "length of the latency phase")
	fs.DurationVar(&o.LatencyWarmup, "latency-warmup", 2*time.Second, "start of the latency phase left out of the quantiles")
	fs.IntVar(&o.ManyPartitions, "many-partitions", 1000, "partitions of the partitions phase's topic")
	fs.IntVar(&o.RecordsPerPartition, "records-per-partition", 5, "records in each of those partitions")
	fs.StringSliceVar(&o.Phases, "phases", []string{"throughput", "latency", "partitions"}, "phases to run: throughput, latency, partitions, wan")
	fs.StringToStringVar(&o.LinkConfigs, "link-config", nil, "extra link configs, k=v,...")
	fs.StringVar(&o.WAN.Target, "wan-target", "", "wan phase: the source broker's own listener (host:port); --source is the proxy's address, which the source advertises")
	o.WAN.Rate = 125_000_000
	fs.Var(bench.ByteSizeFlag(&o.WAN.Rate), "wan-rate", "wan phase: bandwidth per direction, bytes/s (1 Gbit/s = 125MB)")
	fs.IntVar(&o.WAN.Window, "wan-window", 0, "wan phase: bytes in flight per connection and direction (0: min(tcp_wmem max, tcp_rmem max/2) of this host)")
	fs.DurationSliceVar(&o.WAN.RTTs, "wan-rtts", []time.Duration{0, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond}, "wan phase: round-trip times of the throughput runs")
	fs.DurationVar(&o.WAN.LatencyRTT, "wan-latency-rtt", 100*time.Millisecond, "wan phase: round-trip time of the latency run (0: skip)")
	fs.IntVar(&o.WAN.LatencyCompare, "wan-latency-compare", 0, "wan phase: run the latency phase this many rounds with Kafka's fetch and with LinkFetch (fetch.pipelining.enable false/true), alternating (0: once, with --link-config)")
	return cmd
}
