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

// benchSourceInitiatedCmd compares a source-initiated link with an
// ordinary OUTBOUND link between the same two brokers
// (scripts/bench-source-initiated.sh).
func benchSourceInitiatedCmd() *cobra.Command {
	o := bench.SourceInitiatedOptions{}
	cmd := &cobra.Command{
		Use:   "source-initiated",
		Short: "Compare a source-initiated link (relayed by the source) with an ordinary OUTBOUND link: throughput, CPU/GB, replication latency",
		Long: `Produces --bytes of lz4 records to a source topic of --partitions partitions,
then per round (--rounds, the order alternating) mirrors it over
  (a) a new DESTINATION/OUTBOUND link created on the destination (--dest-url),
      whose fetchers dial the source, and
  (b) a new source-initiated pair: DESTINATION/INBOUND on the destination and
      SOURCE/OUTBOUND on the source (--source-url), whose SOURCE half dials
      --dest and relays the destination's fetches to its own broker,
timing each mirror from the create-mirror request until it has caught up
(each link has cluster.link.prefix=<link>., so every run makes its own
copy, deleted afterwards), with the brokers' CPU from /proc/<pid>/stat.
With --latency-rate > 0, each round then measures replication latency
(source ack → readable on the mirror) at that rate on each link.
Prints every run, the source-initiated/outbound ratios (median, min, max
over the rounds) and one JSON line.

With --wan-rtt, a simulated WAN path (internal/wanproxy) lies between the
clusters for both kinds: the source must advertise --wan-listen on the
listener --wan-target (the OUTBOUND links' way in), and have a second
listener, --local-listener, advertising its own address (--source), through
which the SOURCE halves read their own cluster and the benchmark produces;
the SOURCE halves dial the destination through a second proxy on the same
path (scripts/bench-source-initiated.sh with BENCH_WAN_RTT).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			o.Out = os.Stdout
			_, err := bench.RunSourceInitiated(ctx, o)
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringSliceVar(&o.Source, "source", []string{"127.0.0.1:9092"}, "source cluster bootstrap, host:port")
	fs.StringSliceVar(&o.Dest, "dest", []string{"127.0.0.1:9093"}, "destination cluster bootstrap, host:port (the SOURCE half dials it)")
	fs.StringVar(&o.SourceURL, "source-url", "http://127.0.0.1:8090", "source's REST API URL (the SOURCE half is created there)")
	fs.StringVar(&o.DestURL, "dest-url", "http://127.0.0.1:8091", "destination's REST API URL")
	fs.IntVar(&o.SourcePID, "source-pid", 0, "source broker's process id (its CPU from /proc); 0 = not measured")
	fs.IntVar(&o.DestPID, "dest-pid", 0, "destination broker's process id (its CPU from /proc); 0 = not measured")
	fs.StringVar(&o.Link, "link", "relay", "base of the link names created (<link>-out-<round>, <link>-si-<round>)")
	fs.StringVar(&o.Prefix, "topic-prefix", "bench-si", "prefix of the topics created (they must not exist)")
	fs.IntVar(&o.Partitions, "partitions", 8, "partitions of the source topics")
	fs.IntVar(&o.RecordSize, "record-size", 1024, "bytes of each record's value")
	o.TotalBytes = 512 << 20
	fs.Var(bench.ByteSizeFlag(&o.TotalBytes), "bytes", "bytes of values produced once and mirrored by every run, e.g. 512MiB")
	fs.IntVar(&o.Rounds, "rounds", 3, "rounds of one outbound and one source-initiated mirror")
	o.LatencyBytesPerSec = 10_000_000
	fs.Var(bench.ByteSizeFlag(&o.LatencyBytesPerSec), "latency-rate", "bytes/s of values offered in each latency run (0: no latency runs)")
	fs.DurationVar(&o.LatencyDuration, "latency-duration", 10*time.Second, "length of each latency run")
	fs.DurationVar(&o.LatencyWarmup, "latency-warmup", 2*time.Second, "start of each latency run left out of the quantiles")
	fs.StringToStringVar(&o.LinkConfigs, "link-config", nil, "extra configs of both DESTINATION halves, k=v,...")
	fs.DurationSliceVar(&o.WAN.RTTs, "wan-rtt", nil, "put a simulated WAN path of this round-trip time between the clusters (needs --wan-listen, --wan-target, --local-listener)")
	fs.StringVar(&o.WANListen, "wan-listen", "", "WAN: the address the source advertises on --wan-target's listener; the proxy to the source listens there")
	fs.StringVar(&o.WAN.Target, "wan-target", "", "WAN: the source broker's listener the OUTBOUND links reach through the proxy (host:port)")
	fs.StringVar(&o.LocalListener, "local-listener", "", "the SOURCE halves' local.listener.name (with a WAN path: a source listener that advertises its own address, which --source names)")
	o.WAN.Rate = 125_000_000
	fs.Var(bench.ByteSizeFlag(&o.WAN.Rate), "wan-rate", "WAN: bandwidth per direction, bytes/s (1 Gbit/s = 125MB)")
	fs.IntVar(&o.WAN.Window, "wan-window", 0, "WAN: bytes in flight per connection and direction (0: min(tcp_wmem max, tcp_rmem max/2) of this host)")
	return cmd
}
