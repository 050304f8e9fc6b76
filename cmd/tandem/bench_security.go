package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/internal/bench"
	"github.com/tandem-streaming/tandem/internal/config"
)

// benchSecurityCmd compares a secured listener's throughput with PLAINTEXT's
// on the same broker.
func benchSecurityCmd() *cobra.Command {
	var configFile string
	cmd := &cobra.Command{
		Use:   "security",
		Short: "Compare produce and consume throughput over a SASL_SSL (or SSL) listener with PLAINTEXT on the same broker",
		Long: `Run the bench workload (produce, then consume everything back) through the
broker's PLAINTEXT listener (--brokers) and through a secured listener
(--secure-brokers) reached with Kafka client properties (--secure-config:
security.protocol, sasl.mechanism, sasl.jaas.config, ssl.truststore.*...),
--rounds times, alternating which goes first, and print both throughputs and
their ratio (issue #10's targets: produce >= 0.7x, consume >= 0.5x).
Each run creates its own topic (<topic>-plaintext-1, <topic>-sasl_ssl-1, ...)
and deletes it afterwards, so the broker holds one run's data at a time.`,
		Args: cobra.NoArgs,
	}
	o := &bench.SecurityOptions{}
	workload := bench.BindFlags(cmd.Flags())
	fs := cmd.Flags()
	fs.StringSliceVar(&o.SecureBrokers, "secure-brokers", []string{"127.0.0.1:9093"}, "bootstrap brokers of the secured listener")
	fs.StringVar(&configFile, "secure-config", "", "Kafka client properties file for the secured listener (required)")
	fs.BoolVar(&o.CreateSCRAMUser, "create-scram-user", false, "first create the sasl.jaas.config user's SCRAM credential through the PLAINTEXT listener")
	fs.IntVar(&o.Rounds, "rounds", 2, "rounds of one PLAINTEXT and one secured run")
	// Every run consumes what it produced, into a topic it creates.
	for _, name := range []string{"consume", "consume-only", "create-topic"} {
		_ = fs.MarkHidden(name)
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if configFile == "" {
			return fmt.Errorf("--secure-config is required")
		}
		f, err := os.Open(configFile)
		if err != nil {
			return err
		}
		props, err := config.ParseProperties(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", configFile, err)
		}
		o.Options, o.ClientConfig = *workload, props
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		o.Out = os.Stdout
		_, err = bench.RunSecurity(ctx, *o)
		return err
	}
	return cmd
}
