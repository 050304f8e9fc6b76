package crash

// The DR runbook of docs/dr-runbook.md, run end to end (issue #12, "How it
// is checked"): two Tandem clusters as `tandem serve` processes on one
// BIDIRECTIONAL cluster link, real producers and an offset-synced consumer
// group, an unplanned failover after a SIGKILL, and the failback
// (truncate-and-restore, reverse-and-start) of
// docs/design/links-bidirectional.md §5.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/restapi"
	"github.com/tandem-streaming/tandem/internal/wanproxy"
)

const (
	drTopic      = "orders"
	drPartitions = 3
	drGroup      = "billing"
	drLink       = "dr"
)

// drCluster is one cluster of the runbook: a `tandem serve` process with
// its own data directory, Kafka listener and HTTP API.
type drCluster struct {
	name, bin, dir string
	port, http     int
	extra          []string // more serve flags
	p              *proc
	id             string // the cluster id, the same across restarts
}

func newDRCluster(t *testing.T, bin, name string) *drCluster {
	return &drCluster{name: name, bin: bin, dir: t.TempDir(), port: freePort(t), http: freePort(t)}
}

func (c *drCluster) addr() string { return "127.0.0.1:" + strconv.Itoa(c.port) }
func (c *drCluster) url() string  { return "http://127.0.0.1:" + strconv.Itoa(c.http) }

// rest is the URL of path under this cluster's /kafka/v3/clusters/{id}.
func (c *drCluster) rest(path string) string { return c.url() + "/kafka/v3/clusters/" + c.id + path }

// start runs the broker and waits until it has started; the ports must
// be free (a restart).
func (c *drCluster) start(t *testing.T) {
	t.Helper()
	if !c.tryStart(t) {
		t.Fatalf("%s: a port was taken while it was down:\n%s", c.name, c.p.log.String())
	}
}

// tryStart runs the broker and waits for its own "tandem started" line
// (logged once its Kafka and HTTP listeners are bound: a port taken by
// another process in the meantime cannot be mistaken for this broker). It
// returns false, the process gone, when a port was taken: freePort closes
// its listener before the broker binds, and the caller picks new ports.
func (c *drCluster) tryStart(t *testing.T) bool {
	t.Helper()
	c.p = launchBroker(t, c.bin, c.dir, c.port, append([]string{"--http.listeners=" + c.url()}, c.extra...)...)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if len(c.p.log.Lines("address already in use")) > 0 {
			_ = c.p.cmd.Wait()
			return false
		}
		if started := c.p.log.Lines(`msg="tandem started"`); len(started) > 0 {
			break
		}
		if time.Now().After(deadline) {
			_ = c.p.cmd.Process.Kill()
			t.Fatalf("%s: did not start:\n%s", c.name, c.p.log.String())
		}
	}
	var clusters struct {
		Data []struct {
			ClusterID string `json:"cluster_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(restCall(t, "GET", c.url()+"/kafka/v3/clusters", nil, http.StatusOK), &clusters); err != nil || len(clusters.Data) != 1 {
		t.Fatalf("%s: clusters: %v %+v", c.name, err, clusters)
	}
	if c.id != "" && clusters.Data[0].ClusterID != c.id {
		t.Fatalf("%s: cluster id %s after a restart, was %s", c.name, clusters.Data[0].ClusterID, c.id)
	}
	c.id = clusters.Data[0].ClusterID
	return true
}

// tandem runs the CLI against this cluster's HTTP API and returns its
// output (stdout and stderr).
func (c *drCluster) tandem(args ...string) (string, error) {
	out, err := exec.Command(c.bin, append(args, "--url", c.url())...).CombinedOutput()
	return string(out), err
}

// mustTandem is tandem, failing the test on a non-zero exit status.
func (c *drCluster) mustTandem(t *testing.T, args ...string) string {
	t.Helper()
	out, err := c.tandem(args...)
	if err != nil {
		t.Fatalf("%s: tandem %s: %v\n%s", c.name, strings.Join(args, " "), err, out)
	}
	t.Logf("%s: tandem %s\n%s", c.name, strings.Join(args, " "), out)
	return out
}

func (c *drCluster) client(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.addr())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// mirror reads the link's mirror topic on this cluster; ok is false when
// the topic is not a mirror of the link here (404).
func (c *drCluster) mirror(t *testing.T) (m restapi.Mirror, ok bool) {
	t.Helper()
	status, body := restDo(t, "GET", c.rest("/links/"+drLink+"/mirrors/"+drTopic), nil)
	switch status {
	case http.StatusOK:
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("%s: mirror describe: %v: %s", c.name, err, body)
		}
		return m, true
	case http.StatusNotFound:
		return m, false
	}
	t.Fatalf("%s: mirror describe: %d %s", c.name, status, body)
	return m, false
}

// waitMirror polls the mirror until it is in state, and returns it.
func (c *drCluster) waitMirror(t *testing.T, state string) restapi.Mirror {
	t.Helper()
	var m restapi.Mirror
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var ok bool
		if m, ok = c.mirror(t); ok && m.MirrorStatus == state {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: mirror %s is %s (%s), want %s", c.name, drTopic, m.MirrorStatus, m.MirrorTopicError, state)
		}
	}
}

// ends returns the topic's end offsets (high watermarks) here.
func (c *drCluster) ends(ctx context.Context, t *testing.T, cl *kgo.Client) map[int32]int64 {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		lo, err := kadm.NewClient(cl).ListEndOffsets(ctx, drTopic)
		if err == nil {
			err = lo.Error()
		}
		if err == nil {
			out := map[int32]int64{}
			lo.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
			if len(out) == drPartitions {
				return out
			}
			err = fmt.Errorf("%d partitions listed", len(out))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: ListOffsets: %v", c.name, err)
		}
	}
}

// committed returns the group's committed offsets of the topic here.
func (c *drCluster) committed(ctx context.Context, t *testing.T, cl *kgo.Client) map[int32]int64 {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resps, err := kadm.NewClient(cl).FetchOffsets(ctx, drGroup)
		if err == nil {
			err = resps.Error()
		}
		if err == nil {
			out := map[int32]int64{}
			resps.Each(func(r kadm.OffsetResponse) {
				if r.Topic == drTopic {
					out[r.Partition] = r.At
				}
			})
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: OffsetFetch: %v", c.name, err)
		}
	}
}

// restDo sends a JSON request and returns the status and body.
func restDo(t *testing.T, method, u string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, u, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// drAck is where a cluster acknowledged a record.
type drAck struct {
	phase     int
	partition int32
	offset    int64
}

// drTraffic writes records with idempotent acks=all producers and keeps
// every acknowledgement.
type drTraffic struct {
	mu    sync.Mutex
	acked map[string]drAck // value -> where it was acknowledged
}

// produce starts n producers on c for phase. stop ends them: with flush,
// after every record buffered has its answer; without (the cluster was
// killed), abandoning what is unanswered (not acknowledged: it may or may
// not be in the log).
func (tr *drTraffic) produce(t *testing.T, c *drCluster, phase, n int) (stop func(flush bool)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var loops, answers sync.WaitGroup
	var clients []*kgo.Client
	for i := range n {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.addr()), kgo.DefaultProduceTopic(drTopic),
			kgo.RequiredAcks(kgo.AllISRAcks()), // idempotent: franz-go's default with acks=all
			kgo.ProducerLinger(0), kgo.MaxBufferedRecords(2000),
			kgo.RecordRetries(1<<20), kgo.RetryTimeout(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, cl)
		loops.Go(func() {
			for seq := 0; ctx.Err() == nil; seq++ {
				v := fmt.Sprintf("ph%d-w%d-%08d", phase, i, seq)
				answers.Add(1)
				// Not ctx: a record stays buffered until answered
				// (or the client is closed).
				cl.Produce(context.Background(), &kgo.Record{Key: []byte(strconv.Itoa(seq % 64)), Value: []byte(v)}, func(r *kgo.Record, err error) {
					defer answers.Done()
					if err != nil {
						return
					}
					tr.mu.Lock()
					tr.acked[v] = drAck{phase, r.Partition, r.Offset}
					tr.mu.Unlock()
				})
				if seq%5 == 4 {
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	return func(flush bool) {
		t.Helper()
		cancel()
		if !flush {
			// The cluster is gone: closing fails what is buffered (never
			// acknowledged) and unblocks a Produce waiting for room.
			for _, cl := range clients {
				cl.Close()
			}
		}
		loops.Wait()
		if flush {
			for _, cl := range clients {
				fctx, fcancel := context.WithTimeout(context.Background(), 30*time.Second)
				if err := cl.Flush(fctx); err != nil {
					t.Errorf("%s: flushing phase %d producers: %v", c.name, phase, err)
				}
				fcancel()
				cl.Close()
			}
		}
		answers.Wait()
	}
}

// count returns how many records of phase were acknowledged.
func (tr *drTraffic) count(phase int) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, a := range tr.acked {
		if a.phase == phase {
			n++
		}
	}
	return n
}

// drConsumer is the consumer group: what it processed, per partition and
// offset (a record may be processed twice, and an offset may hold
// different records on the two clusters before the failback).
type drConsumer struct {
	mu        sync.Mutex
	processed map[int32]map[int64][]string
	first     map[int]map[int32]int64 // phase -> partition -> first offset processed
	next      map[int32]int64         // partition -> offset after the last processed
}

// run starts the group's one member on c for phase; reset is where a
// partition with no committed offset starts. stop commits what was
// processed and leaves the group, or, when the cluster was killed, just
// goes away.
func (g *drConsumer) run(t *testing.T, c *drCluster, phase int, reset kgo.Offset) (stop func(killed bool)) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.addr()), kgo.ConsumerGroup(drGroup), kgo.ConsumeTopics(drTopic),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(reset),
		kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(500*time.Millisecond),
		kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var done sync.WaitGroup
	g.mu.Lock()
	g.first[phase] = map[int32]int64{}
	g.mu.Unlock()
	done.Go(func() {
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			g.mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				if g.processed[r.Partition] == nil {
					g.processed[r.Partition] = map[int64][]string{}
				}
				g.processed[r.Partition][r.Offset] = append(g.processed[r.Partition][r.Offset], string(r.Value))
				if _, ok := g.first[phase][r.Partition]; !ok {
					g.first[phase][r.Partition] = r.Offset
				}
				g.next[r.Partition] = r.Offset + 1
			})
			g.mu.Unlock()
			if ctx.Err() == nil {
				_ = cl.CommitUncommittedOffsets(ctx) // processed, then committed
			}
		}
	})
	return func(killed bool) {
		cancel()
		done.Wait()
		if killed {
			gone, cancelGone := context.WithCancel(context.Background())
			cancelGone()
			_ = cl.LeaveGroupContext(gone)
		} else {
			cctx, ccancel := context.WithTimeout(context.Background(), 20*time.Second)
			if err := cl.CommitUncommittedOffsets(cctx); err != nil {
				t.Errorf("%s: final commit of phase %d: %v", c.name, phase, err)
			}
			if err := cl.LeaveGroupContext(cctx); err != nil {
				t.Errorf("%s: leaving the group in phase %d: %v", c.name, phase, err)
			}
			ccancel()
		}
		cl.Close()
	}
}

// progress returns, per partition, the offset after the last record the
// group processed.
func (g *drConsumer) progress() map[int32]int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return maps.Clone(g.next)
}

// firstOf returns the first offset processed per partition in phase.
func (g *drConsumer) firstOf(phase int) map[int32]int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return maps.Clone(g.first[phase])
}

// waitFor polls until cond holds or fails the test with what() after d.
func waitFor(t *testing.T, d time.Duration, cond func() bool, what func() string) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what())
		}
	}
}

// partitionRecords reads the records of a partition in [from, to) on c.
func partitionRecords(ctx context.Context, t *testing.T, c *drCluster, p int32, from, to int64) []*kgo.Record {
	t.Helper()
	if from >= to {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.addr()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{drTopic: {p: kgo.NewOffset().At(from)}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) == 0 || out[len(out)-1].Offset < to-1 {
		fs := cl.PollFetches(rctx)
		if err := rctx.Err(); err != nil {
			t.Fatalf("%s: reading %s-%d [%d, %d): %v after %d records", c.name, drTopic, p, from, to, err, len(out))
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("%s: reading %s-%d: %v", c.name, drTopic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < to {
				out = append(out, r)
			}
		})
	}
	return out
}

// drTruncation is one partition of a truncate-and-restore answer.
type drTruncation struct {
	MirrorTopicName              string               `json:"mirror_topic_name"`
	ErrorCode                    *int                 `json:"error_code"`
	ErrorMessage                 *string              `json:"error_message"`
	MessagesTruncated            *int64               `json:"messages_truncated"`
	PartitionLevelTruncationData []restapi.Truncation `json:"partition_level_truncation_data"`
}

// TestDRRunbook runs docs/dr-runbook.md with two clusters A (primary) and
// B (DR) on one bidirectional link "dr":
//
//  1. producers (idempotent, acks=all) and the consumer group "billing" on
//     A; B mirrors "orders" and syncs the group's offsets;
//  2. A is killed with SIGKILL mid-traffic; failover on B; the producers
//     and the group move to B and continue, the group from its synced
//     offsets;
//  3. A restarts; truncate-and-restore on A: the dry run reports exactly
//     the records A has that B never received, the real run removes them
//     (logged) and A mirrors B until it has caught up;
//  4. reverse-and-start on A: A is writable, B mirrors it; the producers
//     and the group move back to A.
//
// At the end both clusters hold the same bytes at the same offsets, every
// acknowledged record is there except exactly the truncated ones, and the
// group processed every record of the final log (no gap at either move).
func TestDRRunbook(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := buildTandem(t)
	a, b := newDRCluster(t, bin, "A"), newDRCluster(t, bin, "B")
	// B, the DR site, is far from A: its link reaches A across a WAN of
	// 20 ms each way (a second listener of A, advertised as the proxy's
	// address, so that only the link crosses it). The mirror then lags
	// by a round trip of traffic, as a remote DR mirror does, and a
	// SIGKILL of A leaves records A acknowledged that B never received.
	var wan *wanproxy.Proxy
	for try := 0; ; try++ {
		linkPort := freePort(t)
		var err error
		wan, err = wanproxy.Listen("127.0.0.1:0", "127.0.0.1:"+strconv.Itoa(linkPort), wanproxy.NewPath(wanproxy.Config{Delay: 20 * time.Millisecond}))
		if err != nil {
			t.Fatal(err)
		}
		a.extra = []string{
			"--listeners=PLAINTEXT://" + a.addr() + ",WAN://127.0.0.1:" + strconv.Itoa(linkPort),
			"--listener.security.protocol.map=PLAINTEXT:PLAINTEXT,WAN:PLAINTEXT",
			"--advertised.listeners=PLAINTEXT://" + a.addr() + ",WAN://" + wan.Addr(),
		}
		if a.tryStart(t) {
			break
		}
		wan.Close()
		if try == 2 {
			t.Fatalf("A: ports taken three times:\n%s", a.p.log.String())
		}
		a.port, a.http = freePort(t), freePort(t)
	}
	defer wan.Close()
	for try := 0; !b.tryStart(t); try++ {
		if try == 2 {
			t.Fatalf("B: ports taken three times:\n%s", b.p.log.String())
		}
		b.port, b.http = freePort(t), freePort(t)
	}
	defer func() { a.p.stop(t); b.p.stop(t) }()
	defer func() {
		if t.Failed() {
			t.Logf("A's log:\n%s\nB's log:\n%s", a.p.log.String(), b.p.log.String())
		}
	}()

	acl := a.client(t)
	if _, err := kadm.NewClient(acl).CreateTopic(ctx, drPartitions, 1, nil, drTopic); err != nil {
		t.Fatal(err)
	}

	// The link: one BIDIRECTIONAL half on each cluster, each dialing the
	// other, created as the runbook does it (§1, "Between two Tandem
	// clusters"): the shared configs in a file, B's half first, then A's
	// half with B's cluster_link_id. Offset sync of "billing" on both: B
	// syncs A's commits while B mirrors A, A syncs B's after the failback.
	props := filepath.Join(t.TempDir(), "dr-link.properties")
	if err := os.WriteFile(props, []byte(`link.mode=BIDIRECTIONAL
consumer.offset.sync.enable=true
consumer.offset.sync.ms=1000
consumer.offset.group.filters={"groupFilters":[{"name":"`+drGroup+`","patternType":"LITERAL","filterType":"INCLUDE"}]}
replica.fetch.wait.max.ms=100
availability.check.ms=1000
`), 0o600); err != nil {
		t.Fatal(err)
	}
	b.mustTandem(t, "link", "create", drLink, "--config", props, "--config", "bootstrap.servers="+wan.Addr(), "--remote-cluster", a.id)
	var bLink restapi.Link
	if err := json.Unmarshal(restCall(t, "GET", b.rest("/links/"+drLink), nil, 200), &bLink); err != nil || bLink.ClusterLinkID == "" {
		t.Fatalf("B's cluster link id: %v %+v", err, bLink)
	}
	a.mustTandem(t, "link", "create", drLink, "--config", props, "--config", "bootstrap.servers="+b.addr(),
		"--remote-cluster", b.id, "--cluster-link-id", bLink.ClusterLinkID)
	b.mustTandem(t, "link", "describe", drLink) // the runbook's checks, logged
	a.mustTandem(t, "link", "describe", drLink)
	// Paired: each half found the other, with the same id.
	var ids [2]string
	for i, c := range []*drCluster{a, b} {
		waitFor(t, 20*time.Second, func() bool {
			var l restapi.Link
			_ = json.Unmarshal(restCall(t, "GET", c.rest("/links/"+drLink), nil, 200), &l)
			ids[i] = l.ClusterLinkID
			return l.RemoteLinkState != nil && *l.RemoteLinkState == "ACTIVE"
		}, func() string { return fmt.Sprintf("%s's half is not paired: %s", c.name, c.linkInfo(t)) })
	}
	if ids[0] != ids[1] {
		t.Fatalf("the halves have different cluster link ids: A %s, B %s", ids[0], ids[1])
	}
	b.mustTandem(t, "mirror", "create", drTopic, "--link", drLink)

	// Phase 1: traffic on A.
	tr := &drTraffic{acked: map[string]drAck{}}
	g := &drConsumer{processed: map[int32]map[int64][]string{}, first: map[int]map[int32]int64{}, next: map[int32]int64{}}
	stopGroup := g.run(t, a, 1, kgo.NewOffset().AtStart())
	stopProducers := tr.produce(t, a, 1, 2)

	// B's mirror and offset sync have caught up at least once: B holds
	// what A held at some point, and B has the group's commits of then.
	bcl := b.client(t)
	waitFor(t, 20*time.Second, func() bool { return len(a.committed(ctx, t, acl)) == drPartitions },
		func() string { return "the group committed nothing on A" })
	aEnds, aCommitted := a.ends(ctx, t, acl), a.committed(ctx, t, acl)
	waitFor(t, 30*time.Second, func() bool {
		bEnds, bCommitted := b.ends(ctx, t, bcl), b.committed(ctx, t, bcl)
		for p := range int32(drPartitions) {
			if bEnds[p] < aEnds[p] || bCommitted[p] < aCommitted[p] {
				return false
			}
		}
		return true
	}, func() string {
		return fmt.Sprintf("B has not caught up with A: A ends %v commits %v, B ends %v commits %v\nB's link: %s\nA's link: %s",
			aEnds, aCommitted, b.ends(ctx, t, bcl), b.committed(ctx, t, bcl), b.linkInfo(t), a.linkInfo(t))
	})
	time.Sleep(500 * time.Millisecond) // more traffic, not an assertion

	// SIGKILL A mid-traffic.
	a.p.kill9(t)
	stopProducers(false)
	stopGroup(true)
	processedOnA := g.progress()
	t.Logf("phase 1: %d records acknowledged by A, group processed up to %v", tr.count(1), processedOnA)

	// Phase 2: failover on B (runbook §4). Then B's stop offsets, its
	// recovery point, are where B's data ends: A's records from there on
	// are the divergence.
	b.mustTandem(t, "mirror", "failover", drTopic, "--link", drLink)
	stopped := b.waitMirror(t, "STOPPED")
	stopAt := map[int32]int64{}
	for _, l := range stopped.MirrorLags {
		stopAt[l.Partition] = l.LocalLogEndOffset
	}
	if bEnds := b.ends(ctx, t, bcl); !maps.Equal(bEnds, stopAt) {
		t.Fatalf("B's end offsets %v after the failover, its stop offsets %v", bEnds, stopAt)
	}
	// The group resumes on B from the synced offsets: each at most the
	// stop offset (failover clamps) and at most what it had processed on
	// A (no gap).
	bResume := b.committed(ctx, t, bcl)
	for p := range int32(drPartitions) {
		c, ok := bResume[p]
		if !ok || c < 0 {
			t.Fatalf("partition %d: no synced offset of %s on B after the failover: %v", p, drGroup, bResume)
		}
		if c > stopAt[p] || c > processedOnA[p] {
			t.Fatalf("partition %d: the group's offset on B is %d, past B's end %d or what it processed on A (%d)", p, c, stopAt[p], processedOnA[p])
		}
	}
	// Reset at the end: were there no synced offset, the group would skip
	// records, and the checks below would see the gap.
	stopGroup = g.run(t, b, 2, kgo.NewOffset().AtEnd())
	stopProducers = tr.produce(t, b, 2, 2)
	waitFor(t, 30*time.Second, func() bool { return len(g.firstOf(2)) == drPartitions },
		func() string { return fmt.Sprintf("the group on B processed only partitions %v", g.firstOf(2)) })
	if first := g.firstOf(2); !maps.Equal(first, bResume) {
		t.Errorf("the group resumed on B at %v, its committed offsets there were %v", first, bResume)
	}

	// A comes back. What it holds past B's stop offsets is what B never
	// received: the truncation must report exactly that.
	a.start(t)
	acl = a.client(t)
	aEnds = a.ends(ctx, t, acl)
	diverged := map[int32][]*kgo.Record{}
	var wantTruncated int64
	for p := range int32(drPartitions) {
		diverged[p] = partitionRecords(ctx, t, a, p, stopAt[p], aEnds[p])
		wantTruncated += int64(len(diverged[p]))
	}
	t.Logf("A restarted: ends %v; B stopped at %v; %d records on A that B never received", aEnds, stopAt, wantTruncated)
	if wantTruncated == 0 {
		t.Errorf("A holds nothing B did not receive: the kill did not exercise the truncation")
	}

	// The group's member from before the kill is remembered by A until
	// its session times out, and the truncation leaves an active group's
	// offsets alone: wait for it to go, as the runbook says (§5.1).
	waitFor(t, 30*time.Second, func() bool {
		dg, err := kadm.NewClient(acl).DescribeGroups(ctx, drGroup)
		return err == nil && dg.Error() == nil && len(dg[drGroup].Members) == 0
	}, func() string { return "the group on A still has members" })
	// truncate-and-restore on A, dry run first (runbook §5).
	// The dry run over REST, with the per-partition data.
	dryRun := func() drTruncation {
		t.Helper()
		q := url.Values{"validate_only": {"true"}, "include_partition_level_truncation_data": {"true"}}
		body := restCall(t, "POST", a.rest("/links/"+drLink+"/mirrors:truncate-and-restore?"+q.Encode()),
			map[string]any{"mirror_topic_names": []string{drTopic}}, http.StatusOK)
		var list struct {
			Data []drTruncation `json:"data"`
		}
		if err := json.Unmarshal(body, &list); err != nil || len(list.Data) != 1 {
			t.Fatalf("truncate-and-restore dry run: %v %s", err, body)
		}
		d := list.Data[0]
		if d.ErrorCode != nil {
			t.Fatalf("truncate-and-restore dry run: error %d %s", *d.ErrorCode, deref(d.ErrorMessage))
		}
		t.Logf("truncate-and-restore dry run: %s", body)
		return d
	}
	checkPlan := func(what string, d drTruncation) {
		t.Helper()
		if d.MessagesTruncated == nil || *d.MessagesTruncated != wantTruncated {
			t.Errorf("%s: messages_truncated %v, want %d (the records A has that B never received)", what, d.MessagesTruncated, wantTruncated)
		}
		got := map[int32]restapi.Truncation{}
		for _, pt := range d.PartitionLevelTruncationData {
			got[pt.PartitionID] = pt
		}
		for p := range int32(drPartitions) {
			want := restapi.Truncation{PartitionID: p, OffsetTruncatedTo: stopAt[p], MessagesTruncated: int64(len(diverged[p]))}
			if aEnds[p] <= stopAt[p] {
				want.OffsetTruncatedTo = aEnds[p] // nothing past B's end: nothing truncated
			}
			if got[p] != want {
				t.Errorf("%s: partition %d: %+v, want %+v", what, p, got[p], want)
			}
		}
	}
	checkPlan("dry run", dryRun())
	b.mustTandem(t, "mirror", "describe", drTopic, "--link", drLink) // B unchanged, still writable
	countLine := fmt.Sprintf("Truncate and restore for topic %s validated: %d messages would be truncated.", drTopic, wantTruncated)
	if out := a.mustTandem(t, "mirror", "truncate-and-restore", drTopic, "--link", drLink, "--dry-run", "--include-partition-data"); !strings.Contains(out, countLine) {
		t.Errorf("the CLI's dry run does not say %q", countLine)
	}
	if now := a.ends(ctx, t, acl); !maps.Equal(now, aEnds) {
		t.Fatalf("the dry run changed A: ends %v, were %v", now, aEnds)
	}
	// The group on A must stay inactive there for the offset sync from B
	// to reach it; nothing consumes on A now.
	// The real run, whose answer must be the dry run's.
	var rows []struct {
		Partition         int32  `json:"partition"`
		OffsetTruncatedTo int64  `json:"offset_truncated_to"`
		MessagesTruncated int64  `json:"messages_truncated"`
		ErrorMessage      string `json:"error_message"`
	}
	out := a.mustTandem(t, "mirror", "truncate-and-restore", drTopic, "--link", drLink, "--include-partition-data", "-o", "json")
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("truncate-and-restore -o json: %v", err)
	}
	done := drTruncation{MessagesTruncated: new(int64)}
	for _, r := range rows {
		if r.ErrorMessage != "" {
			t.Fatalf("truncate-and-restore: partition %d: %s", r.Partition, r.ErrorMessage)
		}
		*done.MessagesTruncated += r.MessagesTruncated
		done.PartitionLevelTruncationData = append(done.PartitionLevelTruncationData,
			restapi.Truncation{PartitionID: r.Partition, OffsetTruncatedTo: r.OffsetTruncatedTo, MessagesTruncated: r.MessagesTruncated})
	}
	checkPlan("truncate-and-restore", done)
	a.waitMirror(t, "ACTIVE")
	a.mustTandem(t, "mirror", "describe", drTopic, "--link", drLink)
	// Every truncated range is named in a WARN line (issue #12: never
	// silently lost).
	warned := a.p.log.Lines("truncate-and-restore: truncating records")
	for p := range int32(drPartitions) {
		rs := diverged[p]
		if len(rs) == 0 {
			continue
		}
		want := fmt.Sprintf("topic=%s partition=%d from_offset=%d to_offset=%d first_offset=%d last_offset=%d messages_truncated=%d",
			drTopic, p, stopAt[p], aEnds[p], rs[0].Offset, rs[len(rs)-1].Offset, len(rs))
		if !slices.ContainsFunc(warned, func(l string) bool { return strings.Contains(l, want) }) {
			t.Errorf("A's log does not name the truncation of partition %d (%s); truncation lines:\n%s", p, want, strings.Join(warned, "\n"))
		}
	}
	t.Logf("A's truncation log lines:\n%s", strings.Join(warned, "\n"))
	if l := a.p.log.Lines("its offsets were not clamped"); len(l) > 0 {
		t.Errorf("the truncation did not lower the group's offsets on A: %s", l)
	}

	// A mirrors B now and catches up with it.
	bNow := b.ends(ctx, t, bcl)
	waitFor(t, 30*time.Second, func() bool {
		aNow := a.ends(ctx, t, acl)
		for p, e := range bNow {
			if aNow[p] < e {
				return false
			}
		}
		return true
	}, func() string {
		return fmt.Sprintf("A's mirror has not caught up with B: A %v, B %v", a.ends(ctx, t, acl), bNow)
	})

	// Phase 3: back to A. The producers stop on B and the group leaves
	// it; A's mirror catches up with B's final ends and A's offset sync
	// brings the group's final commits over; then reverse-and-start.
	stopProducers(true)
	stopGroup(false)
	bFinal, bCommitted := b.ends(ctx, t, bcl), b.committed(ctx, t, bcl)
	waitFor(t, 30*time.Second, func() bool {
		return maps.Equal(a.ends(ctx, t, acl), bFinal) && maps.Equal(a.committed(ctx, t, acl), bCommitted)
	}, func() string {
		return fmt.Sprintf("A (ends %v, group %v) has not caught up with B (ends %v, group %v)",
			a.ends(ctx, t, acl), a.committed(ctx, t, acl), bFinal, bCommitted)
	})
	a.mustTandem(t, "link", "describe", drLink)
	a.mustTandem(t, "mirror", "reverse-and-start", drTopic, "--dry-run")
	a.mustTandem(t, "mirror", "reverse-and-start", drTopic)
	a.waitMirrorGone(t)
	b.waitMirror(t, "ACTIVE")
	b.mustTandem(t, "mirror", "describe", drTopic, "--link", drLink)
	a.mustTandem(t, "mirror", "list", "--link", drLink)

	stopGroup = g.run(t, a, 3, kgo.NewOffset().AtEnd())
	stopProducers = tr.produce(t, a, 3, 2)
	waitFor(t, 30*time.Second, func() bool { return len(g.firstOf(3)) == drPartitions },
		func() string { return fmt.Sprintf("the group on A processed only partitions %v", g.firstOf(3)) })
	if first := g.firstOf(3); !maps.Equal(first, bCommitted) {
		t.Errorf("the group resumed on A at %v, its committed offsets on B were %v", first, bCommitted)
	}
	waitFor(t, 20*time.Second, func() bool { return tr.count(3) > 1000 },
		func() string { return fmt.Sprintf("only %d records acknowledged on A after the failback", tr.count(3)) })
	stopProducers(true)
	final := a.ends(ctx, t, acl)
	waitFor(t, 30*time.Second, func() bool {
		pr := g.progress()
		for p, e := range final {
			if pr[p] < e {
				return false
			}
		}
		return true
	}, func() string {
		return fmt.Sprintf("the group on A processed up to %v, the end is %v", g.progress(), final)
	})
	stopGroup(false)
	waitFor(t, 30*time.Second, func() bool { return maps.Equal(b.ends(ctx, t, bcl), final) },
		func() string {
			return fmt.Sprintf("B's mirror has not caught up with A: B %v, A %v", b.ends(ctx, t, bcl), final)
		})

	// Same bytes at the same offsets.
	amd, err := kadm.NewClient(acl).ListTopics(ctx, drTopic)
	if err != nil {
		t.Fatal(err)
	}
	bmd, err := kadm.NewClient(bcl).ListTopics(ctx, drTopic)
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(drPartitions) {
		ab := batchesOf(ctx, t, acl, drTopic, amd[drTopic].ID, p, final[p])
		bb := batchesOf(ctx, t, bcl, drTopic, bmd[drTopic].ID, p, final[p])
		if !bytes.Equal(ab, bb) {
			t.Errorf("partition %d: A (%d bytes) and B (%d bytes) differ", p, len(ab), len(bb))
		}
	}

	// Every acknowledged record is where it was acknowledged, except
	// exactly those the truncation removed; the group processed every
	// record of the final log.
	finalLog := map[int32]map[int64]string{}
	for p := range int32(drPartitions) {
		finalLog[p] = map[int64]string{}
		for _, r := range partitionRecords(ctx, t, a, p, 0, final[p]) {
			finalLog[p][r.Offset] = string(r.Value)
		}
	}
	truncated := map[string]bool{}
	for _, rs := range diverged {
		for _, r := range rs {
			truncated[string(r.Value)] = true
		}
	}
	tr.mu.Lock()
	var present, lost int
	for v, ack := range tr.acked {
		at, ok := finalLog[ack.partition][ack.offset]
		switch {
		case ok && at == v:
			present++
			if truncated[v] {
				t.Errorf("record %s was reported truncated but is at %d/%d", v, ack.partition, ack.offset)
			}
		case truncated[v]:
			lost++
		default:
			t.Errorf("acknowledged record %s (phase %d, %d/%d) is missing (there: %q) and was not reported truncated", v, ack.phase, ack.partition, ack.offset, at)
		}
	}
	tr.mu.Unlock()
	g.mu.Lock()
	gaps := 0
	for p, recs := range finalLog {
		for _, o := range slices.Sorted(maps.Keys(recs)) {
			if !slices.Contains(g.processed[p][o], recs[o]) {
				if gaps++; gaps <= 10 {
					t.Errorf("the group never processed %q at %d/%d (it processed %q there)", recs[o], p, o, g.processed[p][o])
				}
			}
		}
	}
	g.mu.Unlock()
	if gaps > 0 {
		t.Errorf("the group missed %d records of the final log", gaps)
	}
	t.Logf("%d acknowledged records present, %d lost to the reported truncation of %d records; final ends %v; group without a gap",
		present, lost, wantTruncated, final)
}

// linkInfo is the link's REST document with its tasks, for failure
// messages.
func (c *drCluster) linkInfo(t *testing.T) string {
	t.Helper()
	status, body := restDo(t, "GET", c.rest("/links/"+drLink+"?include_tasks=true"), nil)
	return fmt.Sprintf("%d %s", status, body)
}

// waitMirrorGone polls until the topic is no mirror of the link here, or
// a STOPPED one (a reverse leaves the local topic writable).
func (c *drCluster) waitMirrorGone(t *testing.T) {
	t.Helper()
	waitFor(t, 30*time.Second, func() bool {
		m, ok := c.mirror(t)
		return !ok || m.MirrorStatus == "STOPPED"
	}, func() string {
		m, _ := c.mirror(t)
		return fmt.Sprintf("%s: %s is still a mirror (%s)", c.name, drTopic, m.MirrorStatus)
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
