package main

// `tandem mirror ...`: mirror topics through a broker's REST v3 API,
// modelled on `confluent kafka mirror` (cluster-linking.md §2.5, §6.3).

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/internal/restapi"
)

func mirrorCmd() *cobra.Command {
	cf := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "mirror",
		Short: "Manage mirror topics of cluster links",
		Long: `Manage mirror topics: read-only, offset-preserving copies of source-cluster
topics, fetched over a cluster link (see "tandem link").

The API is found with --url, else $` + restURLEnv + `, else $` + confluentURLEnv + `
(as the confluent CLI reads it: a trailing /kafka or /kafka/v3 is fine),
else ` + defaultRESTURL + `. Output (-o json|yaml and the tables) follows
the confluent CLI's keys and columns; docs/cli.md lists what differs.`,
	}
	cf.register(cmd)
	cmd.AddCommand(mirrorCreateCmd(cf), mirrorListCmd(cf), mirrorDescribeCmd(cf), mirrorStateTransitionErrorCmd(cf))
	for _, op := range []struct{ name, short string }{
		{"pause", "Pause mirroring (the topics stay read-only)"},
		{"resume", "Resume paused mirror topics"},
		{"promote", "Make mirror topics writable once they have caught up (fails while any lag remains)"},
		{"failover", "Make mirror topics writable now, whatever their lag (for when the source is down)"},
	} {
		cmd.AddCommand(mirrorAlterCmd(cf, op.name, op.short))
	}
	cmd.AddCommand(mirrorTruncateAndRestoreCmd(cf), mirrorReverseCmd(cf, false), mirrorReverseCmd(cf, true))
	return cmd
}

func maxLag(lags []restapi.MirrorLag) int64 {
	var m int64
	for _, l := range lags {
		m = max(m, l.Lag)
	}
	return m
}

func mirrorsPath(link string) string { return linkPath(link) + "/mirrors" }

func mirrorCreateCmd(cf *clientFlags) *cobra.Command {
	var (
		link, source string
		rf           int16
		configs      []string
		dryRun       bool
	)
	cmd := &cobra.Command{
		Use:   "create <mirror-topic>",
		Short: "Create a mirror topic",
		Long: `Create a mirror topic on --link. The source topic is --source-topic, or
the mirror topic's own name; with a link prefix (cluster.link.prefix), name
the source with --source-topic.`,
		Example: `  tandem mirror create orders --link east
  tandem mirror create east.orders --source-topic orders --link east`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			mirror := args[0]
			cfg, err := parseConfigFlags(configs)
			if err != nil {
				return err
			}
			s, err := cf.newSession(cmd)
			if err != nil {
				return err
			}
			body := restapi.CreateMirrorRequest{SourceTopicName: mirror, Configs: restapi.ConfigValues(cfg)}
			if source != "" && source != mirror {
				// Only send a mirror name that differs from the
				// source, as the confluent CLI does (§2.1).
				body.SourceTopicName, body.MirrorTopicName = source, &mirror
			}
			if cmd.Flags().Changed("replication-factor") {
				body.ReplicationFactor = &rf
			}
			q := url.Values{}
			if dryRun {
				q.Set("validate_only", "true")
			}
			if err := s.c.inCluster(cmd.Context(), http.MethodPost, mirrorsPath(link), q, body, nil); err != nil {
				return err
			}
			if source == "" || source == mirror {
				// The server names the mirror prefix+source when the
				// link has cluster.link.prefix: report that name.
				var pc restapi.LinkConfig
				if err := s.c.inCluster(cmd.Context(), http.MethodGet, linkPath(link)+"/configs/cluster.link.prefix", nil, nil, &pc); err == nil && pc.Value != nil {
					mirror = *pc.Value + mirror
				}
			}
			if !s.out.human() {
				return s.out.structured(actionResult{LinkName: link, MirrorTopicName: mirror, Action: "create", DryRun: dryRun})
			}
			if dryRun {
				s.out.printf("Validated creation of mirror topic %q (dry run: nothing was created).\n", mirror)
			} else {
				s.out.printf("Created mirror topic %q.\n", mirror)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&link, "link", "", "cluster link to mirror over (required)")
	fs.StringVar(&source, "source-topic", "", "source topic name (default: the mirror topic name)")
	fs.Int16Var(&rf, "replication-factor", -1, "replication factor of the mirror topic (default: the broker's default.replication.factor)")
	fs.StringArrayVar(&configs, "config", nil, "topic config NAME=VALUE[,NAME=VALUE...], or a properties file (repeatable)")
	fs.BoolVar(&dryRun, "dry-run", false, "validate the request without creating the mirror topic")
	_ = cmd.MarkFlagRequired("link")
	return cmd
}

func mirrorListCmd(cf *clientFlags) *cobra.Command {
	var link, status string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List mirror topics",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := cf.newSession(cmd)
			if err != nil {
				return err
			}
			path := "/links/-/mirrors"
			if link != "" {
				path = mirrorsPath(link)
			}
			q := url.Values{}
			if status != "" {
				q.Set("mirror_status", status)
			}
			var list restapi.List[restapi.Mirror]
			if err := s.c.inCluster(cmd.Context(), http.MethodGet, path, q, nil, &list); err != nil {
				return err
			}
			out := make([]mirrorListOut, 0, len(list.Data))
			for _, m := range list.Data {
				out = append(out, mirrorListOut{
					LinkName: m.LinkName, MirrorTopicName: m.MirrorTopicName, SourceTopicName: m.SourceTopicName,
					MirrorStatus: m.MirrorStatus, StatusTimeMs: m.StateTimeMs, NumPartition: m.NumPartitions,
					MaxPerPartitionMirrorLag: maxLag(m.MirrorLags),
				})
			}
			slices.SortFunc(out, func(a, b mirrorListOut) int {
				return cmp.Or(strings.Compare(a.LinkName, b.LinkName), strings.Compare(a.MirrorTopicName, b.MirrorTopicName))
			})
			if !s.out.human() {
				return s.out.structured(out)
			}
			rows := make([][]string, 0, len(out))
			for _, m := range out {
				rows = append(rows, []string{m.LinkName, m.MirrorTopicName, m.SourceTopicName, m.MirrorStatus,
					i64(m.StatusTimeMs), strconv.Itoa(int(m.NumPartition)), i64(m.MaxPerPartitionMirrorLag)})
			}
			s.out.table([]string{"Link Name", "Mirror Topic Name", "Source Topic Name", "Mirror Status",
				"Status Time (ms)", "Num Partition", "Max Per Partition Mirror Lag"}, rows)
			return nil
		},
	}
	cmd.Flags().StringVar(&link, "link", "", "only this link's mirror topics")
	cmd.Flags().StringVar(&status, "mirror-status", "",
		"only mirror topics in this state: active, paused, stopped, failed, pending_stopped, source_unavailable, ...")
	return cmd
}

func mirrorDescribeCmd(cf *clientFlags) *cobra.Command {
	var link string
	cmd := &cobra.Command{
		Use:   "describe <mirror-topic>",
		Short: "Describe a mirror topic and its per-partition lag",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, m, err := getMirror(cmd, cf, link, args[0])
			if err != nil {
				return err
			}
			out := mirrorPartitionRows(m)
			if !s.out.human() {
				return s.out.structured(out)
			}
			rows := make([][]string, 0, len(out))
			for _, r := range out {
				rows = append(rows, []string{r.LinkName, r.MirrorTopicName, r.SourceTopicName, r.MirrorStatus,
					i64(r.StatusTimeMs), strconv.Itoa(int(r.Partition)), i64(r.PartitionMirrorLag),
					i64(r.LastSourceFetchOffset)})
			}
			s.out.table([]string{"Link Name", "Mirror Topic Name", "Source Topic Name", "Mirror Status",
				"Status Time (ms)", "Partition", "Partition Mirror Lag", "Last Source Fetch Offset"}, rows)
			if e := shownError(m.MirrorTopicError); e != "" {
				s.out.printf("\nMirror topic error: %s\n", e)
			}
			if len(m.StateTransitionErrors) > 0 {
				s.out.printf("\nState transition errors:\n")
				var erows [][]string
				for _, e := range m.StateTransitionErrors {
					erows = append(erows, []string{e.ErrorCode, e.ErrorMessage})
				}
				s.out.table([]string{"Error Code", "Error Message"}, erows)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&link, "link", "", "cluster link of the mirror topic (required)")
	_ = cmd.MarkFlagRequired("link")
	return cmd
}

// getMirror opens a session and reads one mirror topic with its state
// transition errors.
func getMirror(cmd *cobra.Command, cf *clientFlags, link, mirror string) (*session, restapi.Mirror, error) {
	var m restapi.Mirror
	s, err := cf.newSession(cmd)
	if err != nil {
		return nil, m, err
	}
	q := url.Values{"include_state_transition_errors": {"true"}}
	path := mirrorsPath(link) + "/" + url.PathEscape(mirror)
	err = s.c.inCluster(cmd.Context(), http.MethodGet, path, q, nil, &m)
	return s, m, err
}

// mirrorStateTransitionErrorCmd is `mirror state-transition-error list`,
// as in the confluent CLI.
func mirrorStateTransitionErrorCmd(cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "state-transition-error", Short: "List a mirror topic's state transition errors"}
	var link string
	list := &cobra.Command{
		Use:     "list <mirror-topic>",
		Short:   "List the errors that kept a mirror topic from changing state (a promote's final sync, say)",
		Example: `  tandem mirror state-transition-error list orders --link east`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, m, err := getMirror(cmd, cf, link, args[0])
			if err != nil {
				return err
			}
			out := m.StateTransitionErrors
			if out == nil {
				out = []restapi.TaskError{}
			}
			if !s.out.human() {
				return s.out.structured(out)
			}
			rows := make([][]string, 0, len(out))
			for _, e := range out {
				rows = append(rows, []string{e.ErrorCode, e.ErrorMessage})
			}
			s.out.table([]string{"Mirror State Transition Error Code", "Mirror State Transition Error Message"}, rows)
			return nil
		},
	}
	list.Flags().StringVar(&link, "link", "", "cluster link of the mirror topic (required)")
	_ = list.MarkFlagRequired("link")
	cmd.AddCommand(list)
	return cmd
}

func mirrorAlterCmd(cf *clientFlags, op, short string) *cobra.Command {
	var (
		link, pattern string
		dryRun        bool
	)
	cmd := &cobra.Command{
		Use:   op + " <mirror-topic>... --link LINK",
		Short: short,
		Long: short + `.

Name the topics, or give --pattern to act on every mirror topic of the link
whose name matches the regular expression. The command fails (exit status
1) if the operation failed for any topic; the table shows which.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 0 && pattern == "":
				return fmt.Errorf("name at least one mirror topic, or give --pattern")
			case len(args) > 0 && pattern != "":
				return fmt.Errorf("give mirror topic names or --pattern, not both")
			}
			s, err := cf.newSession(cmd)
			if err != nil {
				return err
			}
			body := restapi.AlterMirrorsRequest{MirrorTopicNames: args}
			if pattern != "" {
				body.MirrorTopicNamePattern = &pattern
			}
			q := url.Values{}
			if dryRun {
				q.Set("validate_only", "true")
			}
			var list restapi.List[restapi.AlterMirrorsResult]
			if err := s.c.inCluster(cmd.Context(), http.MethodPost, mirrorsPath(link)+":"+op, q, body, &list); err != nil {
				return err
			}
			failed := 0
			for _, it := range list.Data {
				if alterMirrorFailed(it) {
					failed++
				}
			}
			out := alterMirrorRows(list.Data)
			if !s.out.human() {
				if err := s.out.structured(out); err != nil {
					return err
				}
			} else {
				if dryRun {
					// On stderr: stdout is the confluent CLI's table.
					fmt.Fprintf(s.err, "Dry run: validated only, nothing was changed.\n")
				}
				rows := make([][]string, 0, len(out))
				for _, r := range out {
					rows = append(rows, []string{r.MirrorTopicName, strconv.Itoa(int(r.Partition)),
						i64(r.PartitionMirrorLag), i64(r.LastSourceFetchOffset), r.ErrorMessage, r.ErrorCode})
				}
				s.out.table([]string{"Mirror Topic Name", "Partition", "Partition Mirror Lag",
					"Last Source Fetch Offset", "Error Message", "Error Code"}, rows)
			}
			if failed > 0 {
				return fmt.Errorf("%s failed for %d of %d mirror topics", op, failed, len(list.Data))
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&link, "link", "", "cluster link of the mirror topics (required)")
	fs.StringVar(&pattern, "pattern", "", "act on the link's mirror topics whose names match this regular expression")
	fs.BoolVar(&dryRun, "dry-run", false, "validate the operation without performing it")
	_ = cmd.MarkFlagRequired("link")
	return cmd
}
