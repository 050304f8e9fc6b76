package main

// `tandem mirror truncate-and-restore|reverse-and-start|reverse-and-pause`:
// failback over a bidirectional cluster link (cluster-linking.md §2.5;
// docs/design/links-bidirectional.md §5; docs/mirror-states.md
// "Failback").

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/internal/restapi"
)

// truncateOut is a row of `mirror truncate-and-restore`: one per topic
// (partition -1, its total), or with --include-partition-data one per
// partition; a failed topic has one row with partition and offset -1.
type truncateOut struct {
	MirrorTopicName   string `json:"mirror_topic_name"`
	Partition         int32  `json:"partition"`
	OffsetTruncatedTo int64  `json:"offset_truncated_to"`
	MessagesTruncated int64  `json:"messages_truncated"`
	ErrorMessage      string `json:"error_message"`
	ErrorCode         string `json:"error_code"`
}

func errorCodeText(r restapi.AlterMirrorsResult) string {
	if r.ErrorCode == nil {
		return ""
	}
	return strconv.Itoa(*r.ErrorCode)
}

func truncateRows(results []restapi.AlterMirrorsResult, perPartition bool) []truncateOut {
	out := []truncateOut{}
	for _, r := range results {
		if alterMirrorFailed(r) {
			out = append(out, truncateOut{MirrorTopicName: r.MirrorTopicName, Partition: -1, OffsetTruncatedTo: -1,
				ErrorMessage: deref(r.ErrorMessage), ErrorCode: errorCodeText(r)})
			continue
		}
		if !perPartition {
			var n int64
			if r.MessagesTruncated != nil {
				n = *r.MessagesTruncated
			}
			out = append(out, truncateOut{MirrorTopicName: r.MirrorTopicName, Partition: -1, OffsetTruncatedTo: -1, MessagesTruncated: n})
			continue
		}
		for _, p := range r.PartitionLevelTruncationData {
			out = append(out, truncateOut{MirrorTopicName: r.MirrorTopicName, Partition: p.PartitionID,
				OffsetTruncatedTo: p.OffsetTruncatedTo, MessagesTruncated: p.MessagesTruncated})
		}
	}
	return out
}

func mirrorTruncateAndRestoreCmd(cf *clientFlags) *cobra.Command {
	var (
		link                 string
		dryRun, includeParts bool
	)
	cmd := &cobra.Command{
		Use:   "truncate-and-restore <topic>... --link LINK",
		Short: "Truncate local topics to the remote stopped mirrors' ends and mirror them again (failback)",
		Long: `Run on the old primary after a failover: each topic is truncated to where the
remote cluster's mirror of it stood when it was failed over (the records
written here that the remote never received are removed, each range named in
a WARN log line), and becomes a mirror of the remote topic again. Needs a
BIDIRECTIONAL link named --link on both clusters, without
cluster.link.prefix. --dry-run reports what would be truncated and changes
nothing; --include-partition-data reports it per partition.`,
		Example: `  tandem mirror truncate-and-restore orders --link dr --dry-run --include-partition-data
  tandem mirror truncate-and-restore orders --link dr`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := cf.newSession(cmd)
			if err != nil {
				return err
			}
			q := url.Values{}
			if dryRun {
				q.Set("validate_only", "true")
			}
			if includeParts {
				q.Set("include_partition_level_truncation_data", "true")
			}
			var list restapi.List[restapi.AlterMirrorsResult]
			body := restapi.AlterMirrorsRequest{MirrorTopicNames: args}
			if err := s.c.inCluster(cmd.Context(), http.MethodPost, mirrorsPath(link)+":truncate-and-restore", q, body, &list); err != nil {
				return err
			}
			failed := 0
			for _, r := range list.Data {
				if alterMirrorFailed(r) {
					failed++
				}
			}
			rows := truncateRows(list.Data, includeParts)
			if !s.out.human() {
				if err := s.out.structured(rows); err != nil {
					return err
				}
			} else {
				if dryRun {
					fmt.Fprintf(s.err, "Dry run: validated only, nothing was changed.\n")
				}
				for _, r := range list.Data {
					if alterMirrorFailed(r) {
						s.out.printf("Truncate and restore of topic %s failed: %s (error code %s).\n", r.MirrorTopicName, deref(r.ErrorMessage), errorCodeText(r))
						continue
					}
					var n int64
					if r.MessagesTruncated != nil {
						n = *r.MessagesTruncated
					}
					if dryRun {
						// Nothing is scheduled: say what would be.
						s.out.printf("Truncate and restore for topic %s validated: %d messages would be truncated.\n", r.MirrorTopicName, n)
						continue
					}
					// Confluent's words (reference §2.5).
					s.out.printf("Request for truncate and restore for topic %s was successfully scheduled. %d messages will be truncated.\n", r.MirrorTopicName, n)
				}
				if includeParts {
					var trows [][]string
					for _, r := range rows {
						if r.ErrorCode == "" && r.ErrorMessage == "" {
							trows = append(trows, []string{r.MirrorTopicName, strconv.Itoa(int(r.Partition)), i64(r.OffsetTruncatedTo), i64(r.MessagesTruncated)})
						}
					}
					s.out.table([]string{"Mirror Topic Name", "Partition", "Offset Truncated To", "Messages Truncated"}, trows)
				}
			}
			if failed > 0 {
				return fmt.Errorf("truncate-and-restore failed for %d of %d topics", failed, len(list.Data))
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&link, "link", "", "the bidirectional cluster link to the cluster that was failed over to (required)")
	fs.BoolVar(&dryRun, "dry-run", false, "report what would be truncated, change nothing")
	fs.BoolVar(&includeParts, "include-partition-data", false, "report the truncation per partition")
	_ = cmd.MarkFlagRequired("link")
	return cmd
}

// mirrorReverseCmd is reverse-and-start (paused=false) or
// reverse-and-pause. As in Confluent, the topics are named without a link
// (§2.5: "Cannot specify both --topics and --link."): each topic's link
// is looked up among the mirrors.
func mirrorReverseCmd(cf *clientFlags, paused bool) *cobra.Command {
	var (
		link   string
		topics []string
		dryRun bool
	)
	name, op, remote := "reverse-and-start", "reverse-and-start-mirror", "starting"
	if paused {
		name, op, remote = "reverse-and-pause", "reverse-and-pause-mirror", "pausing"
	}
	cmd := &cobra.Command{
		Use:   name + " <mirror-topic>...",
		Short: "Make local mirror topics writable and the remote topics their mirrors (" + map[bool]string{false: "started", true: "paused"}[paused] + ")",
		Long: `Run on the cluster that holds the mirror: the remote topic of the same name
is fenced (read-only), the local mirror stops once it holds everything the
remote has and becomes writable, then the remote topic becomes its mirror
(` + map[bool]string{false: "ACTIVE", true: "PAUSED"}[paused] + `). Nothing is truncated; both clusters must be reachable over a
BIDIRECTIONAL link without cluster.link.prefix. The command fails (exit
status 1) if the operation failed for any topic.`,
		Example: "  tandem mirror " + name + " orders",
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("link") {
				return errors.New("Cannot specify both --topics and --link.")
			}
			args = append(args, topics...)
			if len(args) == 0 {
				return fmt.Errorf("name at least one mirror topic")
			}
			s, err := cf.newSession(cmd)
			if err != nil {
				return err
			}
			var mirrors restapi.List[restapi.Mirror]
			if err := s.c.inCluster(cmd.Context(), http.MethodGet, "/links/-/mirrors", nil, nil, &mirrors); err != nil {
				return err
			}
			linkOf := map[string]string{}
			for _, m := range mirrors.Data {
				linkOf[m.MirrorTopicName] = m.LinkName
			}
			byLink := map[string][]string{}
			var results []restapi.AlterMirrorsResult
			for _, t := range args {
				l, ok := linkOf[t]
				if !ok {
					msg := fmt.Sprintf("topic '%s' is not a mirror topic on this cluster", t)
					code := 40403
					results = append(results, restapi.AlterMirrorsResult{MirrorTopicName: t, ErrorCode: &code, ErrorMessage: &msg})
					continue
				}
				byLink[l] = append(byLink[l], t)
			}
			q := url.Values{}
			if dryRun {
				q.Set("validate_only", "true")
			}
			links := make([]string, 0, len(byLink))
			for l := range byLink {
				links = append(links, l)
			}
			slices.Sort(links)
			for _, l := range links {
				var list restapi.List[restapi.AlterMirrorsResult]
				body := restapi.AlterMirrorsRequest{MirrorTopicNames: byLink[l]}
				if err := s.c.inCluster(cmd.Context(), http.MethodPost, mirrorsPath(l)+":"+op, q, body, &list); err != nil {
					return err
				}
				results = append(results, list.Data...)
			}
			failed := 0
			for _, r := range results {
				if alterMirrorFailed(r) {
					failed++
				}
			}
			if !s.out.human() {
				if err := s.out.structured(alterMirrorRows(results)); err != nil {
					return err
				}
			} else {
				if dryRun {
					fmt.Fprintf(s.err, "Dry run: validated only, nothing was changed.\n")
				}
				for _, r := range results {
					if alterMirrorFailed(r) {
						s.out.printf("Reversing mirror topic %s failed: %s (error code %s).\n", r.MirrorTopicName, deref(r.ErrorMessage), errorCodeText(r))
						continue
					}
					if dryRun {
						s.out.printf("Reversing local mirror and %s remote mirror for topic %s validated.\n", remote, r.MirrorTopicName)
						continue
					}
					// Confluent's words (reference §2.5).
					s.out.printf("Request for reversing local mirror and %s remote mirror for topic %s was successfully scheduled.\n", remote, r.MirrorTopicName)
				}
			}
			if failed > 0 {
				return fmt.Errorf("%s failed for %d of %d mirror topics", name, failed, len(results))
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringSliceVar(&topics, "topics", nil, "mirror topics (the same as naming them as arguments)")
	fs.StringVar(&link, "link", "", "not accepted: each topic's link is found from the topic")
	_ = fs.MarkHidden("link")
	fs.BoolVar(&dryRun, "dry-run", false, "validate the operation without performing it")
	return cmd
}
