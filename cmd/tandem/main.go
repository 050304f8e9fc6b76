// Command tandem is the Tandem broker and its tools.
//
//	tandem serve [--config FILE] [--<broker.config.key>=VALUE ...]
//	tandem bench [flags]
//	tandem check --data-dir DIR [--json]
//	tandem recover-metadata --data-dir DIR
//	tandem version
package main

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	root := &cobra.Command{
		Use:           "tandem",
		Short:         "Tandem: a Kafka-compatible broker with cluster linking",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCmd(), benchCmd(), &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Run:   func(*cobra.Command, []string) { fmt.Println("tandem", version) },
	})
	root.AddCommand(linkCmd(), mirrorCmd(), checkCmd(), recoverMetadataCmd())
	if err := root.Execute(); err != nil {
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

// isCheckRun reports whether the command run is `tandem check`, whose
// failure to run exits 2 (1 means it found problems).
func isCheckRun() bool { return len(os.Args) > 1 && slices.Contains(os.Args[1:2], "check") }
