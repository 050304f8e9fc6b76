package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

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
	cmd.AddCommand(kfakeCmd())
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
