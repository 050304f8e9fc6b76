package main

// `tandem mirror ...`: mirror topics through a broker's REST v3 API,
// modelled on `confluent kafka mirror` (cluster-linking.md §2.5, §6.3).

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

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

The API is found with --url, else $` + restURLEnv + `, else ` + defaultRESTURL + `.`,
	}
	cf.register(cmd)
	cmd.AddCommand(mirrorCreateCmd(cf), mirrorListCmd(cf), mirrorDescribeCmd(cf))
	for _, op := range []struct{ name, short string }{
		{"pause", "Pause mirroring (the topics stay read-only)"},
		{"resume", "Resume paused mirror topics"},
		{"promote", "Make mirror topics writable once they have caught up (fails while any lag remains)"},
		{"failover", "Make mirror topics writable now, whatever their lag (for when the source is down)"},
	} {
		cmd.AddCommand(mirrorAlterCmd(cf, op.name, op.short))
	}
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

// mirrorRow is a `mirror list` line (and its -o json|yaml item).
type mirrorRow struct {
	LinkName         string `json:"link_name"`
	MirrorTopicName  string `json:"mirror_topic_name"`
	SourceTopicName  string `json:"source_topic_name"`
	NumPartitions    int32  `json:"num_partitions"`
	MaxLag           int64  `json:"max_per_partition_mirror_lag"`
	MirrorStatus     string `json:"mirror_status"`
	MirrorTopicError string `json:"mirror_topic_error"`
	StateTimeMs      int64  `json:"state_time_ms"`
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
			out := make([]mirrorRow, 0, len(list.Data))
			for _, m := range list.Data {
				out = append(out, mirrorRow{
					LinkName: m.LinkName, MirrorTopicName: m.MirrorTopicName, SourceTopicName: m.SourceTopicName,
					NumPartitions: m.NumPartitions, MaxLag: maxLag(m.MirrorLags), MirrorStatus: m.MirrorStatus,
					MirrorTopicError: m.MirrorTopicError, StateTimeMs: m.StateTimeMs,
				})
			}
			if !s.out.human() {
				return s.out.structured(out)
			}
			rows := make([][]string, 0, len(out))
			for _, m := range out {
				rows = append(rows, []string{m.LinkName, m.MirrorTopicName, strconv.Itoa(int(m.NumPartitions)),
					i64(m.MaxLag), m.SourceTopicName, m.MirrorStatus, shownError(m.MirrorTopicError), i64(m.StateTimeMs)})
			}
			s.out.table([]string{"Link Name", "Mirror Topic Name", "Num Partition", "Max Per Partition Mirror Lag",
				"Source Topic Name", "Mirror Status", "Mirror Topic Error", "Status Time (ms)"}, rows)
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
			s, err := cf.newSession(cmd)
			if err != nil {
				return err
			}
			var m restapi.Mirror
			q := url.Values{"include_state_transition_errors": {"true"}}
			path := mirrorsPath(link) + "/" + url.PathEscape(args[0])
			if err := s.c.inCluster(cmd.Context(), http.MethodGet, path, q, nil, &m); err != nil {
				return err
			}
			if m.MirrorLags == nil {
				m.MirrorLags = []restapi.MirrorLag{}
			}
			if !s.out.human() {
				return s.out.structuredView(mirrorView, m)
			}
			head := []string{m.LinkName, m.MirrorTopicName, m.SourceTopicName, m.MirrorStatus,
				m.MirrorTopicError, i64(m.StateTimeMs)}
			var rows [][]string
			for _, l := range m.MirrorLags {
				rows = append(rows, append(slices.Clone(head),
					strconv.Itoa(int(l.Partition)), i64(l.Lag), i64(l.LastSourceFetchOffset)))
			}
			if len(rows) == 0 {
				rows = append(rows, append(head, "", "", ""))
			}
			s.out.table([]string{"Link Name", "Mirror Topic Name", "Source Topic Name", "Mirror Status",
				"Mirror Topic Error", "Status Time (ms)", "Partition", "Partition Mirror Lag",
				"Last Source Fetch Offset"}, rows)
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
				if it.ErrorCode != nil || it.ErrorMessage != nil {
					failed++
				}
			}
			if !s.out.human() {
				if err := s.out.structuredEach(alterMirrorView, list.Data); err != nil {
					return err
				}
			} else {
				if dryRun {
					s.out.printf("Dry run: validated only, nothing was changed.\n")
				}
				var rows [][]string
				for _, it := range list.Data {
					code := ""
					if it.ErrorCode != nil {
						code = strconv.Itoa(*it.ErrorCode)
					}
					if len(it.MirrorLags) == 0 || it.ErrorCode != nil {
						rows = append(rows, []string{it.MirrorTopicName, "", "", "", deref(it.ErrorMessage), code})
						continue
					}
					for _, l := range it.MirrorLags {
						rows = append(rows, []string{it.MirrorTopicName, strconv.Itoa(int(l.Partition)), i64(l.Lag),
							i64(l.LastSourceFetchOffset), "", ""})
					}
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
