// Command tandem is the Tandem broker and its tools.
//
//	tandem serve [--config FILE] [--<broker.config.key>=VALUE ...]
//	tandem demo [--topic T] [--partitions N] [--rate R] [--dir DIR]
//	tandem bench [flags]
//	tandem check --data-dir DIR [--json]
//	tandem recover-metadata --data-dir DIR
//	tandem version (or tandem --version)
//	tandem link|mirror|group ... (through the HTTP API; docs/cli.md)
package main

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/spf13/cobra"
)

func main() {
	if err := rootCmd().Execute(); err != nil {
		if errors.Is(err, errProblemsFound) {
			os.Exit(1) // the report said it
		}
		fmt.Fprintln(os.Stderr, "tandem:", err)
		if isCheckRun() {
			os.Exit(2)
		}
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
	root.AddCommand(linkCmd(), mirrorCmd(), groupCmd(), checkCmd(), recoverMetadataCmd())
	return root
}

// isCheckRun reports whether the command run is `tandem check`, whose
// failure to run exits 2 (1 means it found problems).
func isCheckRun() bool { return len(os.Args) > 1 && slices.Contains(os.Args[1:2], "check") }
