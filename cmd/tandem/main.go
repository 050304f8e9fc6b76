// Command tandem is the Tandem broker and its tools.
//
//	tandem serve [--config FILE] [--<broker.config.key>=VALUE ...]
//	tandem demo [--topic T] [--partitions N] [--rate R] [--dir DIR]
//	tandem bench [flags]
//	tandem version (or tandem --version)
//	tandem link|mirror|group ... (through the HTTP API; docs/cli.md)
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := rootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "tandem:", err)
		os.Exit(1)
	}
}

// rootCmd is the tandem command with all its subcommands.
func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "tandem",
		Short:         "Tandem: a Kafka-compatible broker with cluster linking",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       currentVersion(),
	}
	root.SetVersionTemplate("tandem {{.Version}}\n")
	root.AddCommand(serveCmd(), demoCmd(), benchCmd(), versionCmd())
	root.AddCommand(linkCmd(), mirrorCmd(), groupCmd())
	return root
}
