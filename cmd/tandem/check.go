package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/internal/datadir"
	"github.com/tandem-streaming/tandem/internal/log"
)

// errProblemsFound makes `tandem check` exit non-zero after its report.
var errProblemsFound = errors.New("problems found")

func checkCmd() *cobra.Command {
	var dir string
	var asJSON bool
	c := &cobra.Command{
		Use:   "check --data-dir DIR",
		Short: "Deep-validate a stopped broker's data directory",
		Long: `Reads every file of a stopped broker's log directory and reports damage:
every batch's CRC, offsets inside and between segments (gaps, overlaps),
indexes against the batches, partition.metadata, checkpoints, producer
snapshots, the metadata database (bbolt consistency check) and the
partition directories against it (strays, leftover deletions). It changes
nothing. Exit status: 0 healthy (warnings are states the next start
repairs), 1 errors found, 2 the check could not run.

See "Data directory and recovery" in docs/operations.md.`,
		Example: "  tandem check --data-dir /var/lib/tandem\n  tandem check --data-dir /var/lib/tandem --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return errors.New("--data-dir is required")
			}
			r, err := datadir.Check(dir)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(r); err != nil {
					return err
				}
			} else {
				printCheck(out, r)
			}
			if r.Errors > 0 {
				return errProblemsFound
			}
			return nil
		},
	}
	c.Flags().StringVar(&dir, "data-dir", "", "the broker's log directory (log.dirs)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return c
}

func printCheck(w io.Writer, r *datadir.Report) {
	if r.MetadataError != "" {
		fmt.Fprintf(w, "ERROR   metadata: %s\n", r.MetadataError)
	}
	for _, d := range r.Directories {
		fmt.Fprintf(w, "%-7s %s: %s\n", severityLabel(d.Severity), d.Path, d.What)
	}
	batches, bytes := int64(0), int64(0)
	for _, p := range r.Partitions {
		batches, bytes = batches+p.Batches, bytes+p.Bytes
		for _, pr := range p.Problems {
			at := ""
			if pr.Position > 0 {
				at = fmt.Sprintf(" at position %d", pr.Position)
			}
			fmt.Fprintf(w, "%-7s %s/%s%s: %s\n", severityLabel(pr.Severity), p.Dir, pr.File, at, pr.What)
		}
	}
	fmt.Fprintf(w, "checked %s: %d topics, %d partition directories, %d batches, %d bytes: %d errors, %d warnings\n",
		r.Dir, r.Topics, len(r.Partitions), batches, bytes, r.Errors, r.Warnings)
}

func severityLabel(s string) string {
	if s == log.SeverityError {
		return "ERROR"
	}
	return "WARNING"
}

func recoverMetadataCmd() *cobra.Command {
	var dir string
	var asJSON bool
	c := &cobra.Command{
		Use:   "recover-metadata --data-dir DIR",
		Short: "Restore a damaged metadata database and re-create topics from the partition directories",
		Long: `Run on a stopped broker whose metadata database (__tandem_metadata/metadata.db)
is damaged or missing, when the broker refuses to start and says so. It
moves the damaged file aside (metadata.db.damaged-<time>), restores the
backup the broker keeps (metadata.db.bak, written at start, after changes
at most every 5 seconds, and at shutdown) or, without a usable backup,
starts an empty database of the same cluster; then it re-creates, from
their partition directories, the topics the restored metadata lacks (with
their topic ids, partition counts and leader epochs, and default configs).
No partition data is touched. With a healthy database it only does the
second step.

See "Data directory and recovery" in docs/operations.md.`,
		Example: "  tandem recover-metadata --data-dir /var/lib/tandem",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return errors.New("--data-dir is required")
			}
			r, err := datadir.RecoverMetadata(dir)
			out := cmd.OutOrStdout()
			if r != nil {
				if asJSON {
					enc := json.NewEncoder(out)
					enc.SetIndent("", "  ")
					_ = enc.Encode(r)
				} else {
					for _, a := range r.Actions {
						fmt.Fprintln(out, a)
					}
					if len(r.Actions) == 0 {
						fmt.Fprintln(out, "metadata.db is healthy and matches the partition directories; nothing to do")
					}
				}
			}
			return err
		},
	}
	c.Flags().StringVar(&dir, "data-dir", "", "the broker's log directory (log.dirs)")
	c.Flags().BoolVar(&asJSON, "json", false, "print what was done as JSON")
	return c
}
