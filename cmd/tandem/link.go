package main

// `tandem link ...`: cluster links through a broker's REST v3 API, modelled
// on `confluent kafka link` (cluster-linking.md §6).

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/internal/restapi"
)

func linkCmd() *cobra.Command {
	cf := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "link",
		Short: "Manage cluster links",
		Long: `Manage the cluster links of a running Tandem cluster through its HTTP API
(Confluent REST v3 shapes). A link on this (destination) cluster reads
from a source cluster; mirror topics are managed with "tandem mirror".

The API is found with --url, else $` + restURLEnv + `, else $` + confluentURLEnv + `
(as the confluent CLI reads it: a trailing /kafka or /kafka/v3 is fine),
else ` + defaultRESTURL + `. Output (-o json|yaml and the tables) follows
the confluent CLI's keys and columns; docs/cli.md lists what differs.`,
	}
	cf.register(cmd)
	cmd.AddCommand(
		linkCreateCmd(cf), linkListCmd(cf), linkDescribeCmd(cf), linkUpdateCmd(cf, "update"),
		linkDeleteCmd(cf), linkConfigurationCmd(cf), linkTaskCmd(cf),
	)
	return cmd
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// shownError hides NO_ERROR, as the confluent CLI does (§1.3).
func shownError(e string) string {
	if e == "NO_ERROR" {
		return ""
	}
	return e
}

// actionResult is what -o json|yaml prints for create/update/delete.
type actionResult struct {
	LinkName        string `json:"link_name"`
	MirrorTopicName string `json:"mirror_topic_name,omitempty"`
	Action          string `json:"action"`
	DryRun          bool   `json:"dry_run"`
}

func linkCreateCmd(cf *clientFlags) *cobra.Command {
	var (
		bootstrap, sourceCluster string
		remoteCluster, linkID    string
		apiKey, apiSecret        string
		configs                  []string
		dryRun, noValidate       bool
	)
	cmd := &cobra.Command{
		Use:   "create <link>",
		Short: "Create a cluster link to a source cluster",
		Long: `Create a cluster link on this (destination) cluster that reads from the
source cluster at --source-bootstrap-server.

--config takes NAME=VALUE pairs (comma-separated, repeatable) or the path of
a Java-properties file; security settings for reaching the source
(security.protocol, sasl.*, ssl.*) go there too.

--source-api-key and --source-api-secret are the confluent CLI's: the link
authenticates to the source with SASL PLAIN over TLS as that key
(security.protocol=SASL_SSL, sasl.mechanism=PLAIN and a PlainLoginModule
sasl.jaas.config). The broker stores the secret encrypted with its
password.encoder.secret and never shows it again.

The same command creates either half of a paired link (two links of the
same name, one per cluster), chosen with link.mode and connection.mode in
--config:
  - bidirectional: link.mode=BIDIRECTIONAL on both clusters, each with
    bootstrap.servers of the other; the second half takes the first's
    cluster_link_id (or give it with --cluster-link-id). Mirrors run in
    either direction; failback (mirror truncate-and-restore, reverse-and-start)
    needs such a link (docs/dr-runbook.md).
  - source-initiated, for a source the destination cannot reach: first on
    the destination link.mode=DESTINATION,connection.mode=INBOUND (no
    bootstrap servers or credentials), then on the source
    link.mode=SOURCE with bootstrap.servers of the destination and local.*
    settings for its own cluster (docs/source-initiated-links.md).`,
		Example: `  tandem link create east --source-bootstrap-server east-kafka:9092
  tandem link create east --source-bootstrap-server east-kafka:9092 --config link.properties
  tandem link create east --source-bootstrap-server east-kafka:9092 \
      --config cluster.link.prefix=east.,replica.fetch.max.bytes=4194304 --dry-run
  tandem link create east --source-bootstrap-server east-kafka:9092 \
      --source-api-key LINK-KEY --source-api-secret LINK-SECRET --no-validate
  tandem link create dr --config link.mode=BIDIRECTIONAL,bootstrap.servers=east-kafka:9092
  tandem link create plant --config link.mode=DESTINATION,connection.mode=INBOUND
  tandem link create plant --config link.mode=SOURCE,bootstrap.servers=east-kafka:9092 \
      --config local.listener.name=INTERNAL`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			cfg, err := parseConfigFlags(configs)
			if err != nil {
				return err
			}
			if bootstrap != "" {
				if prev, ok := cfg["bootstrap.servers"]; ok && prev != bootstrap {
					return fmt.Errorf("--source-bootstrap-server %q and --config bootstrap.servers=%q disagree", bootstrap, prev)
				}
				cfg["bootstrap.servers"] = bootstrap
			}
			if err := apiKeyConfigs(cfg, apiKey, apiSecret); err != nil {
				return err
			}
			if cfg["bootstrap.servers"] == "" && !strings.EqualFold(cfg["connection.mode"], "INBOUND") {
				return errors.New("--source-bootstrap-server is required (or bootstrap.servers in --config)")
			}
			s, err := cf.newSession(cmd)
			if err != nil {
				return err
			}
			body := restapi.CreateLinkRequest{SourceClusterID: sourceCluster, RemoteClusterID: remoteCluster,
				ClusterLinkID: linkID, Configs: restapi.ConfigValues(cfg)}
			q := url.Values{
				"link_name":     {name},
				"validate_only": {strconv.FormatBool(dryRun)},
				"validate_link": {strconv.FormatBool(!noValidate)},
			}
			ctx := cmd.Context()
			if err := s.c.inCluster(ctx, http.MethodPost, "/links", q, body, nil); err != nil {
				return err
			}
			if !dryRun {
				warnTasksInError(cmd, s, name)
			}
			if !s.out.human() {
				return s.out.structured(actionResult{LinkName: name, Action: "create", DryRun: dryRun})
			}
			if dryRun {
				s.out.printf("Validated creation of cluster link %q (dry run: nothing was created).\n", name)
			} else {
				s.out.printf("Created cluster link %q.\n", name)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&bootstrap, "source-bootstrap-server", "", "bootstrap server(s) of the source cluster, HOST:PORT[,HOST:PORT...]")
	fs.StringVar(&sourceCluster, "source-cluster", "", "expected cluster ID of the source cluster (checked unless --no-validate)")
	fs.StringVar(&remoteCluster, "remote-cluster", "", "expected cluster ID of the remote cluster of a bidirectional link (checked unless --no-validate)")
	fs.StringVar(&linkID, "cluster-link-id", "", "the cluster_link_id of the peer half, when creating the second half of a bidirectional or source-initiated link (taken from the peer when omitted)")
	fs.StringVar(&apiKey, "source-api-key", "", "API key (SASL PLAIN user) for the source cluster; needs --source-api-secret")
	fs.StringVar(&apiSecret, "source-api-secret", "", "API secret (SASL PLAIN password) for the source cluster")
	fs.StringArrayVar(&configs, "config", nil, "link config NAME=VALUE[,NAME=VALUE...], or a properties file (repeatable)")
	fs.BoolVar(&dryRun, "dry-run", false, "validate the request without creating the link")
	fs.BoolVar(&noValidate, "no-validate", false, "create the link even if the source cluster cannot be reached now")
	return cmd
}

// apiKeyConfigs adds what --source-api-key/--source-api-secret stand for,
// as the confluent CLI writes them (cluster-linking.md §6.2):
// security.protocol=SASL_SSL, sasl.mechanism=PLAIN and
//
//	org.apache.kafka.common.security.plain.PlainLoginModule required username="K" password="S";
//
// with K and S quoted as Kafka's JAAS parser reads them (a backslash
// escapes the next character). A --config that sets one of these keys to
// something else is an error rather than silently overridden.
func apiKeyConfigs(cfg map[string]string, key, secret string) error {
	if key == "" && secret == "" {
		return nil
	}
	if key == "" || secret == "" {
		return errors.New("--source-api-key and --source-api-secret go together")
	}
	q := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	for _, kv := range [][2]string{
		{"security.protocol", "SASL_SSL"},
		{"sasl.mechanism", "PLAIN"},
		{"sasl.jaas.config", `org.apache.kafka.common.security.plain.PlainLoginModule required username="` +
			q.Replace(key) + `" password="` + q.Replace(secret) + `";`},
	} {
		if prev, ok := cfg[kv[0]]; ok && prev != kv[1] {
			if kv[0] == "sasl.jaas.config" {
				return errors.New("--source-api-key/--source-api-secret and --config sasl.jaas.config disagree: give one of them")
			}
			return fmt.Errorf("--source-api-key/--source-api-secret set %s=%s, but --config sets %s=%q", kv[0], kv[1], kv[0], prev)
		}
		cfg[kv[0]] = kv[1]
	}
	return nil
}

// warnTasksInError reports link tasks that are IN_ERROR right after
// creation (typically a sync enabled without its filters), as the
// confluent CLI does. Failing to look is not an error.
func warnTasksInError(cmd *cobra.Command, s *session, name string) {
	l, err := getLink(cmd, s, name, true)
	if err != nil {
		return
	}
	for _, t := range l.Tasks {
		if t.State == "IN_ERROR" {
			fmt.Fprintf(s.err, "Warning: link task %s is IN_ERROR: %s\n", t.TaskName, taskErrorsText(t.Errors))
		}
	}
}

// getLink reads one link (GET .../links/{name}?include_tasks=).
func getLink(cmd *cobra.Command, s *session, name string, includeTasks bool) (restapi.Link, error) {
	var l restapi.Link
	q := url.Values{"include_tasks": {strconv.FormatBool(includeTasks)}}
	err := s.c.inCluster(cmd.Context(), http.MethodGet, linkPath(name), q, nil, &l)
	return l, err
}

func linkListCmd(cf *clientFlags) *cobra.Command {
	var includeTopics bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List cluster links",
		Long: `List the cluster links of this cluster. With --include-topics there is a
row per link and mirror topic (a link without mirror topics keeps one row,
with an empty topic name).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := cf.newSession(cmd)
			if err != nil {
				return err
			}
			var list restapi.List[restapi.Link]
			if err := s.c.inCluster(cmd.Context(), http.MethodGet, "/links", nil, nil, &list); err != nil {
				return err
			}
			slices.SortFunc(list.Data, func(a, b restapi.Link) int { return strings.Compare(a.LinkName, b.LinkName) })
			out := []linkOut{}
			for _, l := range list.Data {
				o := newLinkOut(l)
				o.CategoryCounts = nil // describe only, as in the confluent CLI
				if !includeTopics {
					out = append(out, o)
					continue
				}
				topics := slices.Sorted(slices.Values(l.TopicNames))
				if len(topics) == 0 {
					topics = []string{""}
				}
				for _, t := range topics {
					o.TopicName = &t
					out = append(out, o)
				}
			}
			if !s.out.human() {
				return s.out.structured(out)
			}
			headers := []string{"Name", "ID"}
			if includeTopics {
				headers = append(headers, "Topic Name")
			}
			headers = append(headers, "Source Cluster", "Destination Cluster", "Remote Cluster", "State", "Error", "Error Message")
			rows := make([][]string, 0, len(out))
			for _, o := range out {
				row := []string{o.Name, o.ID}
				if includeTopics {
					row = append(row, *o.TopicName)
				}
				rows = append(rows, append(row, o.SourceCluster, o.DestinationCluster, o.RemoteCluster, o.State,
					o.Error, o.ErrorMessage))
			}
			s.out.table(headers, rows)
			return nil
		},
	}
	cmd.Flags().BoolVar(&includeTopics, "include-topics", false, "a row per link and mirror topic")
	return cmd
}

func linkDescribeCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "describe <link>",
		Short: "Describe a cluster link",
		Long: `Describe a cluster link. With consumer offset sync on, a table follows: the
synced consumer groups with the most offset lag (the source's committed offsets
minus the destination's, summed over the group's mirror partitions), at most 20
of them, with the status of their offsets and when they were last synced.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := cf.newSession(cmd)
			if err != nil {
				return err
			}
			l, err := getLink(cmd, s, args[0], true)
			if err != nil {
				return err
			}
			o := newLinkOut(l)
			o.ConsumerGroupLags, o.ConsumerGroupsSynced = linkGroupLags(l), l.ConsumerGroupsSynced
			if !s.out.human() {
				return s.out.structured(o)
			}
			pairs := [][2]string{
				{"Name", o.Name},
				{"ID", o.ID},
				{"Source Cluster", o.SourceCluster},
				{"Destination Cluster", o.DestinationCluster},
				{"Remote Cluster", o.RemoteCluster},
				{"State", o.State},
			}
			// Empty ones are left out, as the confluent CLI does.
			for _, kv := range [][2]string{
				{"Error", o.Error},
				{"Error Message", o.ErrorMessage},
				{"Remote Link State", o.RemoteLinkState},
				{"Remote Link State Update Time", o.RemoteLinkStateUpdateTime},
				{"Remote Link State Message", o.RemoteLinkStateMessage},
				{"Mirror Partition States", o.categoryText()},
			} {
				if kv[1] != "" {
					pairs = append(pairs, kv)
				}
			}
			s.out.fields(pairs)
			if len(o.ConsumerGroupLags) > 0 {
				s.out.printf("\nConsumer offset sync: the %d of %d synced groups with the most offset lag\n",
					len(o.ConsumerGroupLags), o.ConsumerGroupsSynced)
				rows := make([][]string, 0, len(o.ConsumerGroupLags))
				for _, g := range o.ConsumerGroupLags {
					rows = append(rows, []string{g.Group, g.SourceGroup, i64(g.OffsetLag), strconv.Itoa(g.Partitions), g.Status, g.LastSync})
				}
				s.out.table([]string{"Consumer Group", "Source Group", "Offset Lag", "Partitions", "Status", "Last Sync"}, rows)
			}
			return nil
		},
	}
}

// linkUpdateCmd is `link update` and `link configuration update`.
func linkUpdateCmd(cf *clientFlags, use string) *cobra.Command {
	var (
		configs, deletes []string
		dryRun           bool
	)
	cmd := &cobra.Command{
		Use:   use + " <link>",
		Short: "Update a cluster link's configs",
		Example: `  tandem link update east --config replica.fetch.wait.max.ms=250
  tandem link update east --config link.properties --delete-config reconnect.backoff.ms`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := parseConfigFlags(configs)
			if err != nil {
				return err
			}
			var data []restapi.AlterConfig
			for _, kv := range restapi.ConfigValues(cfg) {
				data = append(data, restapi.AlterConfig{Name: kv.Name, Value: kv.Value})
			}
			for _, d := range deletes {
				if _, ok := cfg[d]; ok {
					return fmt.Errorf("config %q is both set (--config) and deleted (--delete-config)", d)
				}
				data = append(data, restapi.AlterConfig{Name: d, Operation: new("DELETE")})
			}
			if len(data) == 0 {
				return errors.New("nothing to update: give --config and/or --delete-config")
			}
			s, err := cf.newSession(cmd)
			if err != nil {
				return err
			}
			body := restapi.AlterConfigsRequest{Data: data}
			q := url.Values{}
			if dryRun {
				q.Set("validate_only", "true")
			}
			if err := s.c.inCluster(cmd.Context(), http.MethodPut, linkPath(args[0])+"/configs:alter", q, body, nil); err != nil {
				return err
			}
			if !s.out.human() {
				return s.out.structured(actionResult{LinkName: args[0], Action: "update", DryRun: dryRun})
			}
			if dryRun {
				s.out.printf("Validated update of cluster link %q (dry run: nothing was changed).\n", args[0])
			} else {
				s.out.printf("Updated cluster link %q.\n", args[0])
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringArrayVar(&configs, "config", nil, "config to set, NAME=VALUE[,NAME=VALUE...], or a properties file (repeatable)")
	fs.StringSliceVar(&deletes, "delete-config", nil, "config names to reset to their defaults")
	fs.BoolVar(&dryRun, "dry-run", false, "validate the change without applying it")
	return cmd
}

func linkDeleteCmd(cf *clientFlags) *cobra.Command {
	var force, dryRun bool
	cmd := &cobra.Command{
		Use:   "delete <link>...",
		Short: "Delete cluster links",
		Long: `Delete cluster links. A link that still has mirror topics is refused
unless --force; mirror topics should be promoted or failed over first.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := cf.newSession(cmd)
			if err != nil {
				return err
			}
			q := url.Values{"force": {strconv.FormatBool(force)}, "validate_only": {strconv.FormatBool(dryRun)}}
			var results []actionResult
			var errs []error
			for _, name := range args {
				if err := s.c.inCluster(cmd.Context(), http.MethodDelete, linkPath(name), q, nil, nil); err != nil {
					errs = append(errs, err) // the API's message names the link
					continue
				}
				results = append(results, actionResult{LinkName: name, Action: "delete", DryRun: dryRun})
				if s.out.human() {
					if dryRun {
						s.out.printf("Validated deletion of cluster link %q (dry run: nothing was deleted).\n", name)
					} else {
						s.out.printf("Deleted cluster link %q.\n", name)
					}
				}
			}
			if !s.out.human() {
				if results == nil {
					results = []actionResult{}
				}
				if err := s.out.structured(results); err != nil {
					return err
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "delete even if the link still has mirror topics")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "validate the deletion without deleting")
	return cmd
}

func linkConfigurationCmd(cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "configuration",
		Aliases: []string{"config", "configs"},
		Short:   "List or update cluster link configs",
	}
	list := &cobra.Command{
		Use:   "list <link>",
		Short: "List a cluster link's configs",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := cf.newSession(cmd)
			if err != nil {
				return err
			}
			var list restapi.List[restapi.LinkConfig]
			if err := s.c.inCluster(cmd.Context(), http.MethodGet, linkPath(args[0])+"/configs", nil, nil, &list); err != nil {
				return err
			}
			cid, err := s.c.cluster(cmd.Context())
			if err != nil {
				return err
			}
			out := make([]linkConfigOut, 0, len(list.Data)+1)
			for _, c := range list.Data {
				syn := c.Synonyms
				if syn == nil {
					syn = []string{}
				}
				out = append(out, linkConfigOut{ConfigName: c.Name, ConfigValue: deref(c.Value),
					ReadOnly: c.ReadOnly || c.IsReadOnly, Sensitive: c.Sensitive || c.IsSensitive, Source: c.Source, Synonyms: syn})
			}
			// The confluent CLI adds the destination cluster's ID as a
			// read-only row.
			out = append(out, linkConfigOut{ConfigName: "dest.cluster.id", ConfigValue: cid, ReadOnly: true,
				Sensitive: true, Synonyms: []string{}})
			slices.SortFunc(out, func(a, b linkConfigOut) int { return strings.Compare(a.ConfigName, b.ConfigName) })
			if !s.out.human() {
				return s.out.structured(out)
			}
			rows := make([][]string, 0, len(out))
			for _, c := range out {
				rows = append(rows, []string{c.ConfigName, c.ConfigValue, strconv.FormatBool(c.ReadOnly),
					strconv.FormatBool(c.Sensitive), c.Source, strings.Join(c.Synonyms, ", ")})
			}
			s.out.table([]string{"Config Name", "Config Value", "Read-Only", "Sensitive", "Source", "Synonyms"}, rows)
			return nil
		},
	}
	cmd.AddCommand(list, linkUpdateCmd(cf, "update"))
	return cmd
}

func linkTaskCmd(cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "task", Short: "Inspect a cluster link's background tasks"}
	cmd.AddCommand(&cobra.Command{
		Use:   "list <link>",
		Short: "List a cluster link's tasks (offset sync, ACL sync, auto-create, config sync)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := cf.newSession(cmd)
			if err != nil {
				return err
			}
			l, err := getLink(cmd, s, args[0], true)
			if err != nil {
				return err
			}
			tasks := make([]linkTaskOut, 0, len(l.Tasks))
			for _, t := range l.Tasks {
				errs := t.Errors
				if errs == nil {
					errs = []restapi.TaskError{}
				}
				tasks = append(tasks, linkTaskOut{TaskName: t.TaskName, State: t.State, Errors: errs})
			}
			slices.SortFunc(tasks, func(a, b linkTaskOut) int { return strings.Compare(a.TaskName, b.TaskName) })
			if !s.out.human() {
				return s.out.structured(tasks)
			}
			rows := make([][]string, 0, len(tasks))
			for _, t := range tasks {
				rows = append(rows, []string{t.TaskName, t.State, taskErrorsText(t.Errors)})
			}
			s.out.table([]string{"Task Name", "State", "Errors"}, rows)
			return nil
		},
	})
	return cmd
}
