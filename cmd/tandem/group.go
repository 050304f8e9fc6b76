package main

// `tandem group ...`: consumer groups and their lag through a broker's
// REST v3 API, modelled on `confluent kafka consumer group` (list,
// describe, and lag list|describe|summarize).

import (
	"cmp"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/internal/restapi"
)

func groupCmd() *cobra.Command {
	cf := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "group",
		Short: "List and describe consumer groups and their lag",
		Long: `List and describe consumer groups and their lag: how far each group's
committed offsets are behind the partitions' high watermarks.

The API is found with --url, else $` + restURLEnv + `, else $` + confluentURLEnv + `
(as the confluent CLI reads it: a trailing /kafka or /kafka/v3 is fine),
else ` + defaultRESTURL + `. Output (-o json|yaml and the tables) follows
the confluent CLI's "kafka consumer group" keys and columns; docs/cli.md
lists what differs.`,
	}
	cf.register(cmd)
	lag := &cobra.Command{Use: "lag", Short: "View consumer lag"}
	lag.AddCommand(groupLagListCmd(cf), groupLagDescribeCmd(cf), groupLagSummarizeCmd(cf))
	cmd.AddCommand(groupListCmd(cf), groupDescribeCmd(cf), lag)
	return cmd
}

func groupPath(group string) string { return "/consumer-groups/" + url.PathEscape(group) }

// groupFields are the confluent CLI's describe rows of a group.
func groupFields(o groupOut) [][2]string {
	return [][2]string{
		{"Cluster", o.Cluster},
		{"Consumer Group", o.ConsumerGroup},
		{"Coordinator", o.Coordinator},
		{"Simple", strconv.FormatBool(o.IsSimple)},
		{"Partition Assignor", o.PartitionAssignor},
		{"State", o.State},
	}
}

func groupListCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List consumer groups",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := cf.newSession(cmd)
			if err != nil {
				return err
			}
			var list restapi.List[restapi.ConsumerGroup]
			if err := s.c.inCluster(cmd.Context(), http.MethodGet, "/consumer-groups", nil, nil, &list); err != nil {
				return err
			}
			out := make([]groupOut, 0, len(list.Data))
			for _, g := range list.Data {
				out = append(out, newGroupOut(g))
			}
			slices.SortFunc(out, func(a, b groupOut) int { return strings.Compare(a.ConsumerGroup, b.ConsumerGroup) })
			if !s.out.human() {
				return s.out.structured(out)
			}
			rows := make([][]string, 0, len(out))
			for _, o := range out {
				rows = append(rows, []string{o.Cluster, o.ConsumerGroup, o.Coordinator, strconv.FormatBool(o.IsSimple),
					o.PartitionAssignor, o.State})
			}
			s.out.table([]string{"Cluster", "Consumer Group", "Coordinator", "Simple", "Partition Assignor", "State"}, rows)
			return nil
		},
	}
}

// groupLags reads a group's committed partitions with their lag, sorted.
// A group that has committed nothing has none: the API answers 404
// ("Consumer group offsets could not be found."), which with noneOK is
// an empty list.
func groupLags(cmd *cobra.Command, s *session, group string, noneOK bool) ([]lagOut, error) {
	var list restapi.List[restapi.ConsumerLag]
	err := s.c.inCluster(cmd.Context(), http.MethodGet, groupPath(group)+"/lags", nil, nil, &list)
	if re, ok := errors.AsType[*restError](err); noneOK && ok && re.Status == http.StatusNotFound {
		return []lagOut{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]lagOut, 0, len(list.Data))
	for _, l := range list.Data {
		out = append(out, newLagOut(l))
	}
	slices.SortFunc(out, func(a, b lagOut) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return out, nil
}

func groupDescribeCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "describe <group>",
		Short: "Describe a consumer group: its state, members and per-partition lag",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := cf.newSession(cmd)
			if err != nil {
				return err
			}
			path := groupPath(args[0])
			var g restapi.ConsumerGroup
			if err := s.c.inCluster(cmd.Context(), http.MethodGet, path, nil, nil, &g); err != nil {
				return err
			}
			o := groupDescribeOut{groupOut: newGroupOut(g), Consumers: []groupConsumerOut{}}
			var consumers restapi.List[restapi.Consumer]
			if err := s.c.inCluster(cmd.Context(), http.MethodGet, path+"/consumers", nil, nil, &consumers); err != nil {
				return err
			}
			for _, c := range consumers.Data {
				co := groupConsumerOut{Consumer: c.ConsumerID, Instance: deref(c.InstanceID), Client: c.ClientID,
					Assignments: []topicPartitionOut{}}
				var as restapi.List[restapi.ConsumerAssignment]
				apath := path + "/consumers/" + url.PathEscape(c.ConsumerID) + "/assignments"
				if err := s.c.inCluster(cmd.Context(), http.MethodGet, apath, nil, nil, &as); err != nil {
					return err
				}
				for _, a := range as.Data {
					co.Assignments = append(co.Assignments, topicPartitionOut{Topic: a.TopicName, Partition: a.PartitionID})
				}
				slices.SortFunc(co.Assignments, func(a, b topicPartitionOut) int {
					return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
				})
				o.Consumers = append(o.Consumers, co)
			}
			if o.Lags, err = groupLags(cmd, s, args[0], true); err != nil {
				return err
			}
			for _, l := range o.Lags {
				o.TotalLag += l.Lag
				o.MaxLag = max(o.MaxLag, l.Lag)
			}
			if !s.out.human() {
				return s.out.structured(o)
			}
			s.out.fields(append(groupFields(o.groupOut),
				[2]string{"Total Lag", i64(o.TotalLag)}, [2]string{"Max Lag", i64(o.MaxLag)}))
			s.out.printf("\nConsumers:\n")
			rows := make([][]string, 0, len(o.Consumers))
			for _, c := range o.Consumers {
				rows = append(rows, []string{c.Consumer, c.Instance, c.Client, c.assignmentText()})
			}
			s.out.table([]string{"Consumer", "Instance", "Client", "Assignments"}, rows)
			s.out.printf("\nLag:\n")
			rows = rows[:0]
			for _, l := range o.Lags {
				rows = append(rows, []string{l.Topic, strconv.Itoa(int(l.Partition)), i64(l.CurrentOffset),
					i64(l.LogEndOffset), i64(l.Lag), l.Consumer, l.Instance, l.Client})
			}
			s.out.table([]string{"Topic", "Partition", "Current Offset", "Log End Offset", "Lag", "Consumer", "Instance", "Client"}, rows)
			return nil
		},
	}
}

var lagHeaders = []string{"Cluster", "Consumer Group", "Lag", "Log End Offset", "Current Offset", "Consumer",
	"Instance", "Client", "Topic", "Partition"}

func (l lagOut) cells() []string {
	return []string{l.Cluster, l.ConsumerGroup, i64(l.Lag), i64(l.LogEndOffset), i64(l.CurrentOffset), l.Consumer,
		l.Instance, l.Client, l.Topic, strconv.Itoa(int(l.Partition))}
}

func groupLagListCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list <group>",
		Short: "List the consumer lag of every partition a group has committed",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := cf.newSession(cmd)
			if err != nil {
				return err
			}
			out, err := groupLags(cmd, s, args[0], false)
			if err != nil {
				return err
			}
			if !s.out.human() {
				return s.out.structured(out)
			}
			rows := make([][]string, 0, len(out))
			for _, l := range out {
				rows = append(rows, l.cells())
			}
			s.out.table(lagHeaders, rows)
			return nil
		},
	}
}

func groupLagDescribeCmd(cf *clientFlags) *cobra.Command {
	var (
		topic     string
		partition int32
	)
	cmd := &cobra.Command{
		Use:     "describe <group>",
		Aliases: []string{"get"},
		Short:   "Describe the consumer lag of one partition",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := cf.newSession(cmd)
			if err != nil {
				return err
			}
			var l restapi.ConsumerLag
			path := groupPath(args[0]) + "/lags/" + url.PathEscape(topic) + "/partitions/" + strconv.Itoa(int(partition))
			if err := s.c.inCluster(cmd.Context(), http.MethodGet, path, nil, nil, &l); err != nil {
				return err
			}
			o := newLagOut(l)
			if !s.out.human() {
				return s.out.structured(o)
			}
			pairs := make([][2]string, len(lagHeaders))
			for i, v := range o.cells() {
				pairs[i] = [2]string{lagHeaders[i], v}
			}
			s.out.fields(pairs)
			return nil
		},
	}
	cmd.Flags().StringVar(&topic, "topic", "", "topic name (required)")
	cmd.Flags().Int32Var(&partition, "partition", 0, "partition id (required)")
	_ = cmd.MarkFlagRequired("topic")
	_ = cmd.MarkFlagRequired("partition")
	return cmd
}

func groupLagSummarizeCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "summarize <group>",
		Short: "Summarize a consumer group's lag: the total and the largest",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := cf.newSession(cmd)
			if err != nil {
				return err
			}
			var sum restapi.ConsumerGroupLagSummary
			if err := s.c.inCluster(cmd.Context(), http.MethodGet, groupPath(args[0])+"/lag-summary", nil, nil, &sum); err != nil {
				return err
			}
			o := lagSummaryOut{Cluster: sum.ClusterID, ConsumerGroup: sum.ConsumerGroupID, TotalLag: sum.TotalLag,
				MaxLag: sum.MaxLag, MaxLagConsumer: sum.MaxLagConsumerID, MaxLagInstance: deref(sum.MaxLagInstanceID),
				MaxLagClient: sum.MaxLagClientID, MaxLagTopic: sum.MaxLagTopicName, MaxLagPartition: sum.MaxLagPartitionID}
			if !s.out.human() {
				return s.out.structured(o)
			}
			s.out.fields([][2]string{
				{"Cluster", o.Cluster},
				{"Consumer Group", o.ConsumerGroup},
				{"Total Lag", i64(o.TotalLag)},
				{"Max Lag", i64(o.MaxLag)},
				{"Max Lag Consumer", o.MaxLagConsumer},
				{"Max Lag Instance", o.MaxLagInstance},
				{"Max Lag Client", o.MaxLagClient},
				{"Max Lag Topic", o.MaxLagTopic},
				{"Max Lag Partition", strconv.Itoa(int(o.MaxLagPartition))},
			})
			return nil
		},
	}
}
