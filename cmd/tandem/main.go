// Command tandem is the Tandem broker and its tools.
//
//	tandem serve [--config FILE] [--<broker.config.key>=VALUE ...]
//	tandem bench [flags]
//	tandem version (or tandem --version)
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := &cobra.Command{
		Use:           "tandem",
		Short:         "Tandem: a Kafka-compatible broker with cluster linking",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       currentVersion(),
	}
	root.SetVersionTemplate("tandem {{.Version}}\n")
	root.AddCommand(serveCmd(), benchCmd(), versionCmd())
	root.AddCommand(linkCmd(), mirrorCmd())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "tandem:", err)
		os.Exit(1)
	}
}
