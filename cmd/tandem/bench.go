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

func benchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmark a Kafka-compatible broker (produce latency/throughput, consume throughput)",
		Long: `Produce N bytes of R-byte records over P partitions with a franz-go client,
optionally at a fixed offered rate, and report MB/s and p50/p99/p999 produce
latency; with --consume, then consume everything and report MB/s.
The same client settings are used for every server, so runs against Tandem
and other brokers compare side by side (see scripts/bench-compare.sh).`,
		Args: cobra.NoArgs,
	}
	opts := bench.BindFlags(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		opts.Out = os.Stdout
		// Run prints its own summary and JSON line to opts.Out.
		_, err := bench.Run(ctx, *opts)
		return err
	}
	cmd.AddCommand(kfakeCmd(), commitsCmd(), offsetSyncCmd(), stabilizeCmd(), diskCmd())
	cmd.AddCommand(benchMirrorCmd(), adminStallCmd())
	cmd.AddCommand(benchSecurityCmd(), benchSourceInitiatedCmd())
	return cmd
}

// commitsCmd measures durable offset commits per second.
func commitsCmd() *cobra.Command {
	o := bench.CommitOptions{}
	cmd := &cobra.Command{
		Use:   "commits",
		Short: "Measure offset commits per second (simple-consumer OffsetCommit requests, each acknowledged when durable)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			o.Out = os.Stdout
			_, err := bench.RunCommits(ctx, o)
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringSliceVar(&o.Brokers, "brokers", []string{"127.0.0.1:9092"}, "bootstrap brokers")
	fs.StringVar(&o.Topic, "topic", "tandem-bench-commits", "topic whose partitions' offsets are committed")
	fs.IntVar(&o.Partitions, "partitions", 16, "partitions committed per OffsetCommit request")
	fs.IntVar(&o.Committers, "committers", 8, "concurrent committers, each its own group and client")
	fs.StringVar(&o.GroupPrefix, "group-prefix", "tandem-bench", "prefix of the committers' group ids")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "how long to commit")
	fs.BoolVar(&o.CreateTopic, "create-topic", true, "create the topic first (it must not exist)")
	return cmd
}

// offsetSyncCmd measures a cluster link's consumer offset sync rounds.
func offsetSyncCmd() *cobra.Command {
	o := bench.OffsetSyncOptions{}
	cmd := &cobra.Command{
		Use:   "offset-sync",
		Short: "Measure a cluster link's consumer offset sync: time, CPU and source load of a round with many groups",
		Long: `Starts two Tandem brokers in this process, a source and a destination, with a
counting proxy in front of the source (which advertises it). On the source,
--groups groups commit offsets on every partition of --topics topics of
--partitions partitions; the destination's link, with
consumer.offset.sync.enable and a filter selecting every group, mirrors the
topics (then pauses them, so only the sync talks to the source) and runs
one sync round that copies every offset, then --rounds rounds, before each
of which --changed of the groups commit new offsets. Per round: wall time,
this process's CPU time (both brokers: the destination's sync and the
source answering it) and the requests and bytes sent to the source.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			o.Out = os.Stdout
			_, err := bench.RunOffsetSync(ctx, o)
			return err
		},
	}
	fs := cmd.Flags()
	fs.IntVar(&o.Groups, "groups", 10000, "consumer groups on the source")
	fs.IntVar(&o.Topics, "topics", 1, "mirrored topics every group commits on")
	fs.IntVar(&o.Partitions, "partitions", 10, "partitions of each topic")
	fs.IntVar(&o.Rounds, "rounds", 5, "sync rounds measured after the first")
	fs.Float64Var(&o.Changed, "changed", 0.1, "fraction of the groups that commit new offsets before each round")
	fs.StringVar(&o.Dir, "dir", "", "directory for the brokers' data (a temporary directory in it; default: the system's)")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the first measured round to this file")
	return cmd
}

// stabilizeCmd measures how long a group takes to stabilise.
func stabilizeCmd() *cobra.Command {
	o := bench.StabilizeOptions{}
	cmd := &cobra.Command{
		Use:   "group-stabilize",
		Short: "Measure the time for a group of N members to become Stable with every member assigned",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			o.Out = os.Stdout
			_, err := bench.RunGroupStabilize(ctx, o)
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringSliceVar(&o.Brokers, "brokers", []string{"127.0.0.1:9092"}, "bootstrap brokers")
	fs.StringVar(&o.Topic, "topic", "tandem-bench-group", "topic the members subscribe to")
	fs.IntVar(&o.Partitions, "partitions", 12, "partitions of the topic")
	fs.IntVar(&o.Members, "members", 3, "group members")
	fs.IntVar(&o.Rounds, "rounds", 5, "groups to form, one after another")
	fs.StringVar(&o.Balancer, "balancer", "cooperative-sticky", "cooperative-sticky, sticky, range or roundrobin")
	fs.DurationVar(&o.HeartbeatInterval, "heartbeat-interval", 0, "members' heartbeat interval (0: franz-go's 3s)")
	fs.StringVar(&o.GroupPrefix, "group-prefix", "tandem-bench", "prefix of the group ids")
	fs.BoolVar(&o.CreateTopic, "create-topic", true, "create the topic first (it must not exist)")
	return cmd
}

// kfakeCmd runs franz-go's kfake as a standalone broker, the comparison
// server of docs/benchmarks.md.
func kfakeCmd() *cobra.Command {
	var (
		addr, dataDir    string
		blackhole, syncW bool
	)
	cmd := &cobra.Command{
		Use:   "kfake",
		Short: "Run franz-go's kfake as a standalone broker (for benchmark comparisons)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return bench.ServeKfake(ctx, addr, dataDir, blackhole, syncW)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:9192", "listen address")
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "persist data in this directory (empty: memory only)")
	cmd.Flags().BoolVar(&blackhole, "blackhole", false, "discard produced data (kfake BlackholeProduce)")
	cmd.Flags().BoolVar(&syncW, "sync-writes", false, "fsync every write (kfake SyncWrites)")
	return cmd
}

// diskCmd probes what the storage allows an fsync-before-ack broker.
func diskCmd() *cobra.Command {
	o := bench.DiskOptions{}
	cmd := &cobra.Command{
		Use:   "disk",
		Short: "Probe the storage: group-commit fsync rounds at a steady write rate, no broker involved",
		Long: `Write at a steady rate to N files and make them durable in back-to-back
rounds (one syncfs, or an fdatasync per file), as Tandem's log does, and report
the round durations and the time from each write to its durability: the floor
under acks=all produce latency at that rate on this file system.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			o.Out = os.Stdout
			_, err := bench.RunDisk(ctx, o)
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Dir, "dir", os.TempDir(), "directory on the file system to probe (a temporary subdirectory is used and removed)")
	fs.Int64Var(&o.Rate, "rate", 100<<20, "bytes per second to write")
	fs.IntVar(&o.WriteSize, "write-size", 8<<10, "bytes per write")
	fs.IntVar(&o.Files, "files", 16, "files written round-robin (like partitions)")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "how long to write")
	fs.StringVar(&o.Strategy, "strategy", "syncfs", "how a round is made durable: syncfs or fdatasync (as log.sync.strategy)")
	return cmd
}

// adminStallCmd measures how a big topic creation slows produce elsewhere.
func adminStallCmd() *cobra.Command {
	o := bench.StallOptions{}
	cmd := &cobra.Command{
		Use:   "admin-stall",
		Short: "Create a topic of many partitions while producing to another topic; report the create time and the produce latencies meanwhile",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			o.Out = os.Stdout
			_, err := bench.RunAdminStall(ctx, o)
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringSliceVar(&o.Brokers, "brokers", []string{"127.0.0.1:9092"}, "bootstrap brokers")
	fs.StringVar(&o.Topic, "topic", "tandem-bench-big", "topic to create (must not exist)")
	fs.Int32Var(&o.Partitions, "partitions", 50000, "partitions of the created topic (Tandem caps one request at max.partitions.per.request)")
	fs.StringVar(&o.Other, "other", "tandem-bench-other", "topic produced to meanwhile")
	return cmd
}
