package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/internal/rest"
	"github.com/tandem-streaming/tandem/internal/restapi"
	"github.com/tandem-streaming/tandem/internal/usererr"
)

const simCluster = "sim-cluster-1"

// simLinks is a small in-memory link manager behind the real REST handler:
// enough state (links, configs, mirror states) for the CLI flows to be
// exercised end to end over HTTP.
type simLinks struct {
	mu      sync.Mutex
	links   map[string]*simLink
	mirrors map[string]*rest.MirrorInfo // link + "/" + mirror
	clock   int64

	// Requests as the backend received them, for flag-mapping checks.
	creates       []rest.CreateLinkRequest
	deletes       []string // "name force=.. validate=.."
	mirrorCreates []rest.CreateMirrorRequest
	alters        []string // "op link names pattern validate"
}

type simLink struct {
	id, source string
	configs    map[string]string
	// Set by tests for a link in trouble; "" is ACTIVE / NO_ERROR.
	state, err, errMessage string // Set by tests for a paired half: its view of its peer, and the
	// peer's cluster as remote_cluster_id.
	remote, remoteMessage, remoteCluster string
	remoteTimeMs                         int64
}

func newSimLinks() *simLinks {
	return &simLinks{links: map[string]*simLink{}, mirrors: map[string]*rest.MirrorInfo{}, clock: 1700000000000}
}

// rest.Backend, minimally: the cluster list is all the CLI needs.
func (s *simLinks) ClusterID() string               { return simCluster }
func (s *simLinks) NodeID() int32                   { return 1 }
func (s *simLinks) AdvertisedHost() (string, int32) { return "127.0.0.1", 9092 }
func (s *simLinks) Ready() error                    { return nil }
func (s *simLinks) ListTopics(context.Context) ([]rest.TopicInfo, error) {
	return nil, nil
}
func (s *simLinks) GetTopic(context.Context, string) (rest.TopicInfo, error) {
	return rest.TopicInfo{}, errors.New("sim: no topics")
}
func (s *simLinks) CreateTopic(context.Context, rest.CreateTopicRequest) (rest.TopicInfo, error) {
	return rest.TopicInfo{}, errors.New("sim: no topics")
}
func (s *simLinks) DeleteTopic(context.Context, string) error { return errors.New("sim: no topics") }
func (s *simLinks) TopicConfigs(context.Context, string) ([]rest.ConfigEntry, error) {
	return nil, errors.New("sim: no topics")
}
func (s *simLinks) AlterTopicConfigs(context.Context, string, []rest.ConfigOp, bool) error {
	return errors.New("sim: no topics")
}

func (s *simLinks) link(name string) (*simLink, error) {
	l, ok := s.links[name]
	if !ok {
		return nil, usererr.New(rest.ErrLinkNotFound, "cluster link '%s' does not exist", name)
	}
	return l, nil
}

func (s *simLinks) info(name string, l *simLink, tasks bool) rest.LinkInfo {
	li := rest.LinkInfo{Name: name, ClusterLinkID: l.id, SourceClusterID: l.source, State: "ACTIVE",
		Error: l.err, ErrorMessage: l.errMessage}
	if l.state != "" {
		li.State = l.state
	}
	li.RemoteLinkState, li.RemoteLinkStateMessage, li.RemoteLinkStateTimeMs = l.remote, l.remoteMessage, l.remoteTimeMs
	if l.remoteCluster != "" {
		li.SourceClusterID, li.RemoteClusterID = "", l.remoteCluster
	}
	active := 0
	for _, m := range s.mirrors {
		if m.Link == name {
			li.TopicNames = append(li.TopicNames, m.MirrorTopic)
			if m.State == "ACTIVE" {
				active += int(m.NumPartitions)
			}
		}
	}
	li.CategoryCounts = []rest.StateCount{{Category: "ACTIVE", Count: active}}
	if tasks {
		li.Tasks = []rest.LinkTask{{Name: "AclSync", State: "NOT_CONFIGURED"}}
		if l.configs["consumer.offset.sync.enable"] == "true" && l.configs["consumer.offset.group.filters"] == "" {
			li.Tasks = append(li.Tasks, rest.LinkTask{Name: "ConsumerOffsetSync", State: "IN_ERROR",
				Errors: []rest.TaskError{{Code: "MISCONFIGURATION_ERROR", Message: "consumer.offset.group.filters is not set"}}})
		}
		if l.configs["consumer.offset.sync.enable"] == "true" && l.configs["consumer.offset.group.filters"] != "" {
			// The top two of 25 synced groups, as the node sends them.
			li.ConsumerGroupLags = []restapi.ConsumerGroupLag{
				{GroupID: "dr.app-2", SourceGroupID: "app-2", OffsetLag: 40, Partitions: 2, Status: "GROUP_ACTIVE", LastSyncMs: 1700000000000},
				{GroupID: "dr.app-1", SourceGroupID: "app-1", OffsetLag: 0, Partitions: 3, Status: "SYNCED", LastSyncMs: 1700000030000},
			}
			li.ConsumerGroupsSynced = 25
		}
	}
	return li
}

func (s *simLinks) ListLinks(context.Context) ([]rest.LinkInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []rest.LinkInfo
	for n, l := range s.links {
		out = append(out, s.info(n, l, false))
	}
	return out, nil
}

func (s *simLinks) GetLink(_ context.Context, name string, tasks bool) (rest.LinkInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, err := s.link(name)
	if err != nil {
		return rest.LinkInfo{}, err
	}
	return s.info(name, l, tasks), nil
}

func (s *simLinks) CreateLink(_ context.Context, req rest.CreateLinkRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creates = append(s.creates, req)
	if _, ok := s.links[req.Name]; ok {
		return usererr.New(rest.ErrLinkExists, "cluster link '%s' already exists", req.Name)
	}
	if req.Configs["bootstrap.servers"] == "" {
		return fmt.Errorf("bootstrap.servers is required: %w", rest.ErrInvalidLink)
	}
	if req.ValidateLink && req.SourceClusterID != "" && req.SourceClusterID != "src-cluster" {
		return usererr.New(rest.ErrInvalidLink, "the source cluster's ID is src-cluster, not %s", req.SourceClusterID)
	}
	if req.ValidateOnly {
		return nil
	}
	s.links[req.Name] = &simLink{id: "qz0HDEV-Qz2B5aPFpcWQJQ", source: "src-cluster", configs: req.Configs}
	return nil
}

func (s *simLinks) DeleteLink(_ context.Context, name string, force, validateOnly bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deletes = append(s.deletes, fmt.Sprintf("%s force=%t validate=%t", name, force, validateOnly))
	if _, err := s.link(name); err != nil {
		return err
	}
	for _, m := range s.mirrors {
		if m.Link == name && m.State != "STOPPED" && !force {
			return usererr.New(rest.ErrLinkInUse, "cluster link '%s' has active mirror topics", name)
		}
	}
	if !validateOnly {
		delete(s.links, name)
	}
	return nil
}

func (s *simLinks) LinkConfigs(_ context.Context, name string) ([]rest.LinkConfigEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, err := s.link(name)
	if err != nil {
		return nil, err
	}
	out := []rest.LinkConfigEntry{{Name: "link.mode", Value: "DESTINATION", IsDefault: true, ReadOnly: true}}
	for k, v := range l.configs {
		out = append(out, rest.LinkConfigEntry{Name: k, Value: v, Sensitive: strings.Contains(k, "jaas"),
			Synonyms: []string{k}})
	}
	return out, nil
}

func (s *simLinks) AlterLinkConfigs(_ context.Context, name string, ops []rest.ConfigOp, validateOnly bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, err := s.link(name)
	if err != nil {
		return err
	}
	if validateOnly {
		return nil
	}
	for _, op := range ops {
		if op.Delete {
			delete(l.configs, op.Name)
		} else {
			l.configs[op.Name] = op.Value
		}
	}
	return nil
}

func (s *simLinks) ListMirrors(_ context.Context, link, status string) ([]rest.MirrorInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if link != "" {
		if _, err := s.link(link); err != nil {
			return nil, err
		}
	}
	var out []rest.MirrorInfo
	for _, m := range s.mirrors {
		if (link == "" || m.Link == link) && (status == "" || m.State == status) {
			out = append(out, *m)
		}
	}
	return out, nil
}

func (s *simLinks) GetMirror(_ context.Context, link, mirror string) (rest.MirrorInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.link(link); err != nil {
		return rest.MirrorInfo{}, err
	}
	m, ok := s.mirrors[link+"/"+mirror]
	if !ok {
		return rest.MirrorInfo{}, usererr.New(rest.ErrMirrorNotFound, "topic '%s' is not a mirror topic of link '%s'", mirror, link)
	}
	return *m, nil
}

func (s *simLinks) CreateMirror(_ context.Context, link string, req rest.CreateMirrorRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mirrorCreates = append(s.mirrorCreates, req)
	l, err := s.link(link)
	if err != nil {
		return err
	}
	name := req.MirrorTopic
	if name == "" {
		name = l.configs["cluster.link.prefix"] + req.SourceTopic
	}
	if _, ok := s.mirrors[link+"/"+name]; ok {
		return usererr.New(rest.ErrInvalidMirrorState, "topic '%s' already exists", name)
	}
	if req.ValidateOnly {
		return nil
	}
	s.clock++
	// Partition 1 lags so that promote (which needs zero lag) can fail.
	s.mirrors[link+"/"+name] = &rest.MirrorInfo{
		Link: link, MirrorTopic: name, SourceTopic: req.SourceTopic, NumPartitions: 2, State: "ACTIVE",
		StateTimeMs: s.clock, Lags: []rest.PartitionLag{
			{Partition: 0, Lag: 0, LastSourceFetchOffset: 10, TimeSinceLastFetchMs: 40,
				LocalLogEndOffset: 10, SourceEndOffset: 10, SourceEndAgeMs: 40},
			{Partition: 1, Lag: 3, LastSourceFetchOffset: 7, TimeSinceLastFetchMs: 40,
				LocalLogEndOffset: 7, SourceEndOffset: 10, SourceEndAgeMs: 40},
		},
	}
	return nil
}

func (s *simLinks) AlterMirrors(_ context.Context, link, op string, names []string, pattern string, validateOnly bool) ([]rest.AlterMirrorResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.alters = append(s.alters, fmt.Sprintf("%s %s %v %q %t", op, link, names, pattern, validateOnly))
	if _, err := s.link(link); err != nil {
		return nil, err
	}
	if pattern != "" {
		re := regexp.MustCompile("^(?:" + pattern + ")$")
		for _, m := range s.mirrors {
			if m.Link == link && re.MatchString(m.MirrorTopic) {
				names = append(names, m.MirrorTopic)
			}
		}
		slices.Sort(names)
	}
	var out []rest.AlterMirrorResult
	for _, n := range names {
		m, ok := s.mirrors[link+"/"+n]
		res := rest.AlterMirrorResult{MirrorTopic: n}
		if op == rest.MirrorOpTruncateAndRestore {
			// The old primary's topic (any name): 3 + 2 records truncated.
			if ok && m.State != "STOPPED" {
				res.Err = usererr.New(rest.ErrInvalidMirrorState, "topic '%s' is %s: only an ordinary topic or a stopped mirror can be truncated and restored", n, m.State)
			} else {
				total := int64(5)
				res.MessagesTruncated = &total
				res.Truncation = []restapi.Truncation{{PartitionID: 0, OffsetTruncatedTo: 10, MessagesTruncated: 3}, {PartitionID: 1, OffsetTruncatedTo: 7, MessagesTruncated: 2}}
				if !validateOnly {
					s.clock++
					s.mirrors[link+"/"+n] = &rest.MirrorInfo{Link: link, MirrorTopic: n, SourceTopic: n, NumPartitions: 2, State: "ACTIVE", StateTimeMs: s.clock}
				}
			}
			out = append(out, res)
			continue
		}
		next := ""
		switch {
		case !ok:
			res.Err = usererr.New(rest.ErrMirrorNotFound, "topic '%s' is not a mirror topic of link '%s'", n, link)
		case m.State == "STOPPED":
			res.Err = usererr.New(rest.ErrInvalidMirrorState, "topic '%s' has already stopped its mirror from '%s'", n, link)
		case op == rest.MirrorOpPause:
			next = "PAUSED"
		case op == rest.MirrorOpResume && m.State != "PAUSED":
			res.Err = usererr.New(rest.ErrInvalidMirrorState, "topic '%s' is not paused", n)
		case op == rest.MirrorOpResume:
			next = "ACTIVE"
		case (op == rest.MirrorOpPromote || op == rest.MirrorOpReverseAndStart || op == rest.MirrorOpReverseAndPause) &&
			slices.ContainsFunc(m.Lags, func(l rest.PartitionLag) bool { return l.Lag > 0 }):
			res.Err = usererr.New(rest.ErrInvalidMirrorState, "topic '%s' still has mirroring lag", n)
		default: // promote, failover, the reverses
			next = "STOPPED"
		}
		if ok {
			res.Lags = m.Lags
		}
		if next != "" && !validateOnly {
			s.clock++
			m.State, m.StateTimeMs = next, s.clock
		}
		out = append(out, res)
	}
	return out, nil
}

// cliEnv is an httptest server running the real REST handler over simLinks.
type cliEnv struct {
	sim *simLinks
	srv *httptest.Server
}

func newCLIEnv(t *testing.T) *cliEnv {
	t.Helper()
	sim := newSimLinks()
	srv := httptest.NewServer(rest.New(sim, nil, nil, rest.WithLinks(sim), rest.WithGroups(simGroups{})))
	t.Cleanup(srv.Close)
	return &cliEnv{sim: sim, srv: srv}
}

// newRoot is the command tree main builds, for the link, mirror and group
// parts.
func newRoot() *cobra.Command {
	root := &cobra.Command{Use: "tandem", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(linkCmd(), mirrorCmd(), groupCmd())
	return root
}

// run runs the CLI with --url pointing at the test server.
func (e *cliEnv) run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runCLI(t, append(args, "--url", e.srv.URL)...)
}

func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	root := newRoot()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), restTimeout)
	defer cancel()
	err := root.ExecuteContext(ctx)
	return out.String(), errb.String(), err
}

// mustRun fails the test on error and returns stdout.
func (e *cliEnv) mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, _, err := e.run(t, args...)
	if err != nil {
		t.Fatalf("tandem %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func wantText(t *testing.T, what, got, want string) {
	t.Helper()
	want = strings.TrimPrefix(want, "\n")
	if got != want {
		t.Errorf("%s:\n got:\n%s\nwant:\n%s", what, got, want)
	}
}

// TestLinkMirrorFlow is the whole lifecycle over HTTP: link create →
// describe → configs → mirror create → list → describe → pause → resume →
// promote (refused: lag) → failover → delete.
func TestLinkMirrorFlow(t *testing.T) {
	e := newCLIEnv(t)

	out, stderr, err := e.run(t, "link", "create", "east", "--source-bootstrap-server", "src:9092",
		"--source-cluster", "src-cluster", "--config", "consumer.offset.sync.enable=true,consumer.offset.sync.ms=10000")
	if err != nil {
		t.Fatal(err)
	}
	wantText(t, "link create", out, "Created cluster link \"east\".\n")
	wantText(t, "link create warning", stderr,
		"Warning: link task ConsumerOffsetSync is IN_ERROR: MISCONFIGURATION_ERROR: \"consumer.offset.group.filters is not set\"\n")
	want := rest.CreateLinkRequest{Name: "east", SourceClusterID: "src-cluster", ValidateLink: true,
		Configs: map[string]string{"bootstrap.servers": "src:9092", "consumer.offset.sync.enable": "true", "consumer.offset.sync.ms": "10000"}}
	if !reflect.DeepEqual(e.sim.creates, []rest.CreateLinkRequest{want}) {
		t.Errorf("backend got %+v, want %+v", e.sim.creates, want)
	}

	wantText(t, "link list", e.mustRun(t, "link", "list"), `
  Name | ID                                   | Source Cluster | Destination Cluster | Remote Cluster | State  | Error | Error Message
-------+--------------------------------------+----------------+---------------------+----------------+--------+-------+---------------
  east | ab3d070c-457e-433d-81e5-a3c5a5c59025 | src-cluster    |                     |                | ACTIVE |       |
`)

	wantText(t, "mirror create", e.mustRun(t, "mirror", "create", "orders", "--link", "east"),
		"Created mirror topic \"orders\".\n")
	e.mustRun(t, "mirror", "create", "east.clicks", "--source-topic", "clicks", "--link", "east",
		"--replication-factor", "1", "--config", "retention.ms=1000")
	wantMirrors := []rest.CreateMirrorRequest{
		{SourceTopic: "orders", ReplicationFactor: -1},
		{SourceTopic: "clicks", MirrorTopic: "east.clicks", ReplicationFactor: 1, Configs: map[string]string{"retention.ms": "1000"}},
	}
	if !reflect.DeepEqual(e.sim.mirrorCreates, wantMirrors) {
		t.Errorf("mirror creates = %+v, want %+v", e.sim.mirrorCreates, wantMirrors)
	}

	wantText(t, "link describe", e.mustRun(t, "link", "describe", "east"), eastDescribed("ACTIVE: 4"))

	wantText(t, "mirror list", e.mustRun(t, "mirror", "list"), `
  Link Name | Mirror Topic Name | Source Topic Name | Mirror Status | Status Time (ms) | Num Partition | Max Per Partition Mirror Lag
------------+-------------------+-------------------+---------------+------------------+---------------+------------------------------
  east      | east.clicks       | clicks            | ACTIVE        | 1700000000002    | 2             | 3
  east      | orders            | orders            | ACTIVE        | 1700000000001    | 2             | 3
`)

	wantText(t, "mirror pause", e.mustRun(t, "mirror", "pause", "orders", "--link", "east"), mirrorOpTable("orders"))
	wantText(t, "mirror list --mirror-status paused", e.mustRun(t, "mirror", "list", "--link", "east", "--mirror-status", "paused"), `
  Link Name | Mirror Topic Name | Source Topic Name | Mirror Status | Status Time (ms) | Num Partition | Max Per Partition Mirror Lag
------------+-------------------+-------------------+---------------+------------------+---------------+------------------------------
  east      | orders            | orders            | PAUSED        | 1700000000003    | 2             | 3
`)
	e.mustRun(t, "mirror", "resume", "orders", "--link", "east")

	// promote needs zero lag: refused per topic, inside a 200, exit 1.
	out, _, err = e.run(t, "mirror", "promote", "orders", "--link", "east")
	if err == nil || err.Error() != "promote failed for 1 of 1 mirror topics" {
		t.Errorf("promote with lag: err = %v", err)
	}
	wantText(t, "mirror promote", out, `
  Mirror Topic Name | Partition | Partition Mirror Lag | Last Source Fetch Offset | Error Message                          | Error Code
--------------------+-----------+----------------------+--------------------------+----------------------------------------+------------
  orders            | -1        | -1                   | -1                       | topic 'orders' still has mirroring lag | 40002
`)

	// failover --dry-run changes nothing; failover does.
	out, stderr, err = e.run(t, "mirror", "failover", "orders", "--link", "east", "--dry-run")
	if err != nil || stderr != "Dry run: validated only, nothing was changed.\n" {
		t.Errorf("dry-run: %v, stderr:\n%s", err, stderr)
	}
	wantText(t, "mirror failover --dry-run", out, mirrorOpTable("orders"))
	if got := e.sim.mirrors["east/orders"].State; got != "ACTIVE" {
		t.Fatalf("dry-run failover changed the state to %s", got)
	}
	wantText(t, "mirror failover", e.mustRun(t, "mirror", "failover", "orders", "--link", "east"), mirrorOpTable("orders"))

	wantText(t, "mirror describe", e.mustRun(t, "mirror", "describe", "orders", "--link", "east"), `
  Link Name | Mirror Topic Name | Source Topic Name | Mirror Status | Status Time (ms) | Partition | Partition Mirror Lag | Last Source Fetch Offset
------------+-------------------+-------------------+---------------+------------------+-----------+----------------------+--------------------------
  east      | orders            | orders            | STOPPED       | 1700000000005    | 0         | 0                    | 10
  east      | orders            | orders            | STOPPED       | 1700000000005    | 1         | 3                    | 7
`)

	// Failing over again is a per-topic error.
	_, _, err = e.run(t, "mirror", "failover", "orders", "--link", "east")
	if err == nil {
		t.Error("second failover succeeded")
	}

	// east.clicks is still mirroring: delete needs --force.
	_, _, err = e.run(t, "link", "delete", "east")
	wantErr := `cluster link 'east' has active mirror topics (error code 40902)`
	if err == nil || err.Error() != wantErr {
		t.Errorf("delete in use: err = %v, want %s", err, wantErr)
	}
	wantText(t, "link delete --dry-run", e.mustRun(t, "link", "delete", "east", "--force", "--dry-run"),
		"Validated deletion of cluster link \"east\" (dry run: nothing was deleted).\n")
	wantText(t, "link delete", e.mustRun(t, "link", "delete", "east", "--force"), "Deleted cluster link \"east\".\n")
	wantDeletes := []string{"east force=false validate=false", "east force=true validate=true", "east force=true validate=false"}
	if !reflect.DeepEqual(e.sim.deletes, wantDeletes) {
		t.Errorf("deletes = %q, want %q", e.sim.deletes, wantDeletes)
	}
	wantText(t, "empty link list", e.mustRun(t, "link", "list"), `
  Name | ID | Source Cluster | Destination Cluster | Remote Cluster | State | Error | Error Message
-------+----+----------------+---------------------+----------------+-------+-------+---------------
`)
}

func mirrorOpTable(topic string) string {
	return fmt.Sprintf(`  Mirror Topic Name | Partition | Partition Mirror Lag | Last Source Fetch Offset | Error Message | Error Code
--------------------+-----------+----------------------+--------------------------+---------------+------------
  %-17s | 0         | 0                    | 10                       |               |
  %-17s | 1         | 3                    | 7                        |               |
`, topic, topic)
}

func TestLinkCreateFlags(t *testing.T) {
	e := newCLIEnv(t)
	dir := t.TempDir()
	props := filepath.Join(dir, "link.properties")
	if err := os.WriteFile(props, []byte(`# link settings
security.protocol=SASL_SSL
sasl.mechanism = PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \
    username="k" password="s";
consumer.offset.group.filters={"groupFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}]}
`), 0o600); err != nil {
		t.Fatal(err)
	}

	// A properties file, --dry-run and --no-validate.
	out, _, err := e.run(t, "link", "create", "west", "--source-bootstrap-server", "w:9092", "--config", props,
		"--dry-run", "--no-validate")
	if err != nil {
		t.Fatal(err)
	}
	wantText(t, "dry run", out, "Validated creation of cluster link \"west\" (dry run: nothing was created).\n")
	want := rest.CreateLinkRequest{Name: "west", ValidateOnly: true, ValidateLink: false, Configs: map[string]string{
		"bootstrap.servers":             "w:9092",
		"security.protocol":             "SASL_SSL",
		"sasl.mechanism":                "PLAIN",
		"sasl.jaas.config":              `org.apache.kafka.common.security.plain.PlainLoginModule required username="k" password="s";`,
		"consumer.offset.group.filters": `{"groupFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}]}`,
	}}
	if len(e.sim.creates) != 1 || !reflect.DeepEqual(e.sim.creates[0], want) {
		t.Errorf("backend got %+v\nwant %+v", e.sim.creates, want)
	}
	if len(e.sim.links) != 0 {
		t.Error("--dry-run created the link")
	}

	// bootstrap.servers from --config alone is enough; repeated --config
	// values merge, later ones win.
	e.mustRun(t, "link", "create", "west", "--config", "bootstrap.servers=w:9092,a=1", "--config", "a=2")
	if got := e.sim.creates[1].Configs; !reflect.DeepEqual(got, map[string]string{"bootstrap.servers": "w:9092", "a": "2"}) {
		t.Errorf("configs = %v", got)
	}

	// Server-side errors come back as "message (error code N)".
	_, _, err = e.run(t, "link", "create", "west", "--source-bootstrap-server", "w:9092")
	if err == nil || err.Error() != "cluster link 'west' already exists (error code 40901)" {
		t.Errorf("exists: %v", err)
	}
	_, _, err = e.run(t, "link", "create", "x", "--source-bootstrap-server", "w:9092", "--source-cluster", "other")
	if err == nil || err.Error() != "the source cluster's ID is src-cluster, not other (error code 40002)" {
		t.Errorf("wrong source: %v", err)
	}

	// Client-side checks, before any request.
	before := len(e.sim.creates)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"link", "create", "x"}, "--source-bootstrap-server is required (or bootstrap.servers in --config)"},
		{[]string{"link", "create", "x", "--source-bootstrap-server", "a:1", "--config", "bootstrap.servers=b:1"},
			`--source-bootstrap-server "a:1" and --config bootstrap.servers="b:1" disagree`},
		{[]string{"link", "create", "x", "--source-bootstrap-server", "a:1", "--config", filepath.Join(dir, "nope")},
			`--config "` + filepath.Join(dir, "nope") + `": not NAME=VALUE and no such properties file`},
		{[]string{"link", "create", "x", "--source-bootstrap-server", "a:1", "--config", "=v"}, `--config "=v": "=v" has no name before '='`},
		{[]string{"link", "create"}, "accepts 1 arg(s), received 0"},
		{[]string{"link", "create", "x", "--source-bootstrap-server", "a:1", "-o", "xml"}, `invalid --output "xml": want human, json or yaml`},
	} {
		_, _, err := e.run(t, tc.args...)
		if err == nil || err.Error() != tc.msg {
			t.Errorf("%v: err = %v, want %s", tc.args, err, tc.msg)
		}
	}
	if len(e.sim.creates) != before {
		t.Error("a request was sent for invalid flags")
	}
}

func TestLinkUpdateAndConfigs(t *testing.T) {
	e := newCLIEnv(t)
	e.mustRun(t, "link", "create", "east", "--source-bootstrap-server", "src:9092",
		"--config", "sasl.jaas.config=secret-stuff,acl.sync.ms=1000")

	wantText(t, "update", e.mustRun(t, "link", "update", "east", "--config", "consumer.offset.sync.ms=5000",
		"--delete-config", "acl.sync.ms"), "Updated cluster link \"east\".\n")
	e.mustRun(t, "link", "configuration", "update", "east", "--config", "x=1", "--dry-run")
	if _, ok := e.sim.links["east"].configs["x"]; ok {
		t.Error("--dry-run update applied")
	}

	wantText(t, "configuration list", e.mustRun(t, "link", "configuration", "list", "east"), `
  Config Name             | Config Value  | Read-Only | Sensitive | Source                      | Synonyms
--------------------------+---------------+-----------+-----------+-----------------------------+-------------------------
  bootstrap.servers       | src:9092      | false     | false     | DYNAMIC_CLUSTER_LINK_CONFIG | bootstrap.servers
  consumer.offset.sync.ms | 5000          | false     | false     | DYNAMIC_CLUSTER_LINK_CONFIG | consumer.offset.sync.ms
  dest.cluster.id         | sim-cluster-1 | true      | true      |                             |
  link.mode               | DESTINATION   | true      | false     | DEFAULT_CONFIG              |
  sasl.jaas.config        |               | false     | true      | DYNAMIC_CLUSTER_LINK_CONFIG | sasl.jaas.config
`)
	out := e.mustRun(t, "link", "configuration", "list", "east", "-o", "json")
	if strings.Contains(out, "secret-stuff") {
		t.Error("sensitive value printed")
	}
	var cfgs []map[string]any
	if err := json.Unmarshal([]byte(out), &cfgs); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if len(cfgs) != 5 || cfgs[4]["config_name"] != "sasl.jaas.config" || cfgs[4]["config_value"] != "" || cfgs[4]["sensitive"] != true {
		t.Errorf("json configs = %v", cfgs)
	}

	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"link", "update", "east"}, "nothing to update: give --config and/or --delete-config"},
		{[]string{"link", "update", "east", "--config", "a=1", "--delete-config", "a"}, `config "a" is both set (--config) and deleted (--delete-config)`},
		{[]string{"link", "update", "nope", "--config", "a=1"}, "cluster link 'nope' does not exist (error code 40404)"},
		{[]string{"link", "configuration", "list", "nope"}, "cluster link 'nope' does not exist (error code 40404)"},
	} {
		_, _, err := e.run(t, tc.args...)
		if err == nil || err.Error() != tc.msg {
			t.Errorf("%v: err = %v, want %s", tc.args, err, tc.msg)
		}
	}

	wantText(t, "task list", e.mustRun(t, "link", "task", "list", "east"), `
  Task Name | State          | Errors
------------+----------------+--------
  AclSync   | NOT_CONFIGURED |
`)
}

// TestLinkDescribeGroupLags: with consumer offset sync on, link describe
// shows the synced groups with the most offset lag after the link's
// fields, and -o json carries them.
func TestLinkDescribeGroupLags(t *testing.T) {
	e := newCLIEnv(t)
	e.mustRun(t, "link", "create", "east", "--source-bootstrap-server", "src:9092")
	wantText(t, "describe without offset sync", e.mustRun(t, "link", "describe", "east"), eastDescribed("ACTIVE: 0"))
	e.sim.mu.Lock()
	e.sim.links["east"].configs["consumer.offset.sync.enable"] = "true"
	e.sim.links["east"].configs["consumer.offset.group.filters"] = `{"groupFilters":[{"name":"*"}]}`
	e.sim.mu.Unlock()
	wantText(t, "describe", e.mustRun(t, "link", "describe", "east"), eastDescribed("ACTIVE: 0")+`
Consumer offset sync: the 2 of 25 synced groups with the most offset lag
  Consumer Group | Source Group | Offset Lag | Partitions | Status       | Last Sync
-----------------+--------------+------------+------------+--------------+----------------------
  dr.app-2       | app-2        | 40         | 2          | GROUP_ACTIVE | 2023-11-14T22:13:20Z
  dr.app-1       | app-1        | 0          | 3          | SYNCED       | 2023-11-14T22:13:50Z
`)
	var o struct {
		Lags []map[string]any `json:"consumer_group_lags"`
		N    int              `json:"consumer_groups_synced"`
	}
	out := e.mustRun(t, "link", "describe", "east", "-o", "json")
	if err := json.Unmarshal([]byte(out), &o); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if o.N != 25 || len(o.Lags) != 2 || o.Lags[0]["group_id"] != "dr.app-2" || o.Lags[0]["offset_lag"] != 40.0 || o.Lags[0]["last_sync"] != "2023-11-14T22:13:20Z" {
		t.Errorf("json: %s", out)
	}
}

// eastDescribed is `link describe east` of the simulated link "east"
// whose mirror partitions are in the given states.
func eastDescribed(states string) string {
	return fmt.Sprintf(`+-------------------------+--------------------------------------+
| Name                    | east                                 |
| ID                      | ab3d070c-457e-433d-81e5-a3c5a5c59025 |
| Source Cluster          | src-cluster                          |
| Destination Cluster     |                                      |
| Remote Cluster          |                                      |
| State                   | ACTIVE                               |
| Mirror Partition States | %-36s |
+-------------------------+--------------------------------------+
`, states)
}
