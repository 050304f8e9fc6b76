// Command tandem is the Tandem broker and its tools.
//
//	tandem serve [--config FILE] [--<broker.config.key>=VALUE ...]
//	tandem bench [flags]
//	tandem version
package main

import (
	"fmt"
	"os"

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
	root.AddCommand(linkCmd(), mirrorCmd())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "tandem:", err)
		os.Exit(1)
	}
}
