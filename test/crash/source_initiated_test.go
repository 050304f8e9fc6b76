package crash

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// netns is a network namespace joined to the root namespace by a veth
// pair: the root side has .1, the namespace side .2 of a /30.
type netns struct {
	name, rootIf, nsIf string
	rootIP, nsIP       string
}

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// newNetns makes a namespace with unique names, removed when the test
// ends (whatever happened: deleting the namespace deletes its veth end,
// which deletes the pair).
func newNetns(t *testing.T) *netns {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("source-initiated netns test: needs root to create network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("source-initiated netns test: needs the ip command (iproute2)")
	}
	tag := fmt.Sprintf("%d%04d", os.Getpid()%10000, rand.IntN(10000))
	// A /30 in 198.18.0.0/15, the range RFC 2544 sets aside for
	// benchmark tests: never a real network the machine could be on.
	a, b := 18+rand.IntN(2), rand.IntN(64)*4
	n := &netns{name: "tdm-si-" + tag, rootIf: "tsi" + tag + "a", nsIf: "tsi" + tag + "b",
		rootIP: fmt.Sprintf("198.%d.%d.%d", a, rand.IntN(256), b+1)}
	n.nsIP = n.rootIP[:strings.LastIndex(n.rootIP, ".")+1] + strconv.Itoa(b+2)
	if len(n.rootIf) > 15 {
		n.rootIf, n.nsIf = n.rootIf[:14]+"a", n.nsIf[:14]+"b"
	}
	run(t, "ip", "netns", "add", n.name)
	t.Cleanup(func() {
		_ = exec.Command("ip", "netns", "del", n.name).Run()
		_ = exec.Command("ip", "link", "del", n.rootIf).Run()
	})
	run(t, "ip", "link", "add", n.rootIf, "type", "veth", "peer", "name", n.nsIf)
	run(t, "ip", "link", "set", n.nsIf, "netns", n.name)
	run(t, "ip", "addr", "add", n.rootIP+"/30", "dev", n.rootIf)
	run(t, "ip", "link", "set", n.rootIf, "up")
	run(t, "ip", "netns", "exec", n.name, "ip", "addr", "add", n.nsIP+"/30", "dev", n.nsIf)
	run(t, "ip", "netns", "exec", n.name, "ip", "link", "set", n.nsIf, "up")
	run(t, "ip", "netns", "exec", n.name, "ip", "link", "set", "lo", "up")
	return n
}

// canDial says whether a process inside the namespace can open a TCP
// connection to addr (this test binary, re-run in the namespace as
// TestNetnsDialHelper).
func (n *netns) canDial(t *testing.T, addr string) bool {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", n.name, os.Args[0], "-test.run=^TestNetnsDialHelper$")
	cmd.Env = append(os.Environ(), "TANDEM_NETNS_DIAL="+addr)
	out, err := cmd.CombinedOutput()
	if err == nil {
		return true
	}
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 3 {
		return false
	}
	t.Fatalf("dial helper: %v\n%s", err, out)
	return false
}

// TestNetnsDialHelper is canDial's process inside the namespace.
func TestNetnsDialHelper(t *testing.T) {
	addr := os.Getenv("TANDEM_NETNS_DIAL")
	if addr == "" {
		t.Skip("helper of TestSourceInitiatedNetns")
	}
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		os.Exit(3)
	}
	c.Close()
}

// startIn starts `tandem serve` inside the namespace, listening on the
// namespace's veth address only; out receives its output.
func (n *netns) startIn(t *testing.T, bin, dir string, port, httpPort int, out *tandemtest.Logs) *proc {
	t.Helper()
	addr := net.JoinHostPort(n.nsIP, strconv.Itoa(port))
	cmd := exec.Command("ip", "netns", "exec", n.name, bin, "serve",
		"--listeners=PLAINTEXT://"+addr,
		"--http.listeners=http://"+net.JoinHostPort(n.nsIP, strconv.Itoa(httpPort)),
		"--log.dirs="+dir, "--log.segment.bytes=1048576")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, log: out}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return p
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("destination did not start in the namespace: %v\n%s", err, out.String())
		}
	}
}

// TestSourceInitiatedNetns is issue #12's acceptance check of
// source-initiated links: the destination (`tandem serve` in a network
// namespace, listening on the namespace's veth address) cannot open a
// connection to the source (listening on 127.0.0.1 of the root namespace
// only); the source's SOURCE half dials in; a mirror fills, survives the
// veth going down and up, the destination and then the source being
// SIGKILLed and restarted, and stays byte-identical.
func TestSourceInitiatedNetns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	ns := newNetns(t)
	const topic, partitions = "orders", 3
	bin := buildTandem(t)
	srcDir, dstDir := t.TempDir(), t.TempDir()
	srcPort, srcHTTPPort := freePort(t), freePort(t)
	const dstPort, dstHTTPPort = 19092, 18090 // a fresh namespace: free
	srcAddr := "127.0.0.1:" + strconv.Itoa(srcPort)
	dstAddr := net.JoinHostPort(ns.nsIP, strconv.Itoa(dstPort))
	srcHTTP := "--http.listeners=http://127.0.0.1:" + strconv.Itoa(srcHTTPPort)
	src := startBroker(t, bin, srcDir, srcPort, srcHTTP)
	dstLog := &tandemtest.Logs{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("destination log:\n%s", dstLog.String())
		}
	})
	dst := ns.startIn(t, bin, dstDir, dstPort, dstHTTPPort, dstLog)
	defer func() { src.stop(t); dst.stop(t) }()

	// The premise: nothing in the namespace reaches the source, while
	// the root namespace reaches the destination.
	if ns.canDial(t, srcAddr) || ns.canDial(t, net.JoinHostPort(ns.rootIP, strconv.Itoa(srcPort))) {
		t.Fatal("the destination's namespace can reach the source: the test proves nothing")
	}
	if !ns.canDial(t, dstAddr) {
		t.Fatal("the destination cannot reach its own listener")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	scl, err := kgo.NewClient(kgo.SeedBrokers(srcAddr), kgo.DefaultProduceTopic(topic), kgo.RecordRetries(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer scl.Close()
	if _, err := kadm.NewClient(scl).CreateTopic(ctx, partitions, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	next := 0
	produce := func(n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			scl.Produce(ctx, &kgo.Record{Key: []byte(strconv.Itoa(next % 97)), Value: []byte(strings.Repeat("x", 100) + strconv.Itoa(next))}, nil)
			next++
		}
		if err := scl.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	produce(2000)

	srcBase := "http://127.0.0.1:" + strconv.Itoa(srcHTTPPort) + "/kafka/v3/clusters/"
	dstBase := "http://" + net.JoinHostPort(ns.nsIP, strconv.Itoa(dstHTTPPort)) + "/kafka/v3/clusters/"
	clusterID := func(base string) string {
		t.Helper()
		var clusters struct {
			Data []struct {
				ClusterID string `json:"cluster_id"`
			} `json:"data"`
		}
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			resp, err := httpGet(strings.TrimSuffix(base, "/"))
			if err == nil && json.Unmarshal(resp, &clusters) == nil && len(clusters.Data) == 1 {
				return clusters.Data[0].ClusterID
			}
			if time.Now().After(deadline) {
				t.Fatalf("HTTP API at %s not up: %v", base, err)
			}
		}
	}
	cfgs := func(kv ...string) []map[string]string {
		var out []map[string]string
		for i := 0; i < len(kv); i += 2 {
			out = append(out, map[string]string{"name": kv[i], "value": kv[i+1]})
		}
		return out
	}
	dcid := clusterID(dstBase)
	restCall(t, "POST", dstBase+dcid+"/links?link_name=si", map[string]any{"configs": cfgs(
		"link.mode", "DESTINATION", "connection.mode", "INBOUND", "availability.check.ms", "500",
		"request.timeout.ms", "3000", "replica.fetch.wait.max.ms", "100", "metadata.max.age.ms", "1000")}, 204)
	scid := clusterID(srcBase)
	restCall(t, "POST", srcBase+scid+"/links?link_name=si", map[string]any{"configs": cfgs(
		"link.mode", "SOURCE", "connection.mode", "OUTBOUND", "bootstrap.servers", dstAddr,
		"availability.check.ms", "500", "reconnect.backoff.max.ms", "500")}, 204)
	linkState := func(base, cid string) string {
		b, err := httpGet(base + cid + "/links/si")
		if err != nil {
			return err.Error()
		}
		var l struct {
			State string `json:"link_state"`
		}
		_ = json.Unmarshal(b, &l)
		return l.State
	}
	bothActive := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			d, s := linkState(dstBase, dcid), linkState(srcBase, scid)
			if d == "ACTIVE" && s == "ACTIVE" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: link states destination %q, source %q", what, d, s)
			}
		}
	}
	bothActive("created")
	restCall(t, "POST", dstBase+dcid+"/links/si/mirrors", map[string]any{"source_topic_name": topic}, 204)

	dcl, err := kgo.NewClient(kgo.SeedBrokers(dstAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer dcl.Close()
	identical := func(what string) {
		t.Helper()
		sameAsSource(ctx, t, scl, dcl, topic, 40*time.Second, what)
	}
	identical("first fill")

	// The network path goes down (the connections hang, no reset), data
	// keeps arriving at the source, and the path comes back. The outage
	// outlasts the heartbeats on both sides (3 × 500 ms on the source,
	// request.timeout.ms=3000 on the destination), so the control session
	// is given up and a new one is dialed.
	sessions := func() int { return strings.Count(dstLog.String(), "control session up") }
	before := sessions()
	run(t, "ip", "link", "set", ns.rootIf, "down")
	produce(500)
	time.Sleep(4 * time.Second) // the outage itself
	run(t, "ip", "link", "set", ns.rootIf, "up")
	produce(500)
	identical("after the veth went down and up")
	if sessions() <= before {
		t.Errorf("no new control session after the outage:\n%s", dstLog.String())
	}

	// The destination is killed and restarts.
	dst.kill9(t)
	produce(500)
	dst = ns.startIn(t, bin, dstDir, dstPort, dstHTTPPort, dstLog)
	dcl.Close()
	if dcl, err = kgo.NewClient(kgo.SeedBrokers(dstAddr)); err != nil {
		t.Fatal(err)
	}
	identical("after the destination's SIGKILL")

	// The source is killed and restarts.
	src.kill9(t)
	src = startBroker(t, bin, srcDir, srcPort, srcHTTP)
	produce(500)
	identical("after the source's SIGKILL")
	bothActive("at the end")
	t.Logf("%d records mirrored from a source the destination cannot reach, through a network outage and SIGKILLs of both sides; byte-identical", next)
}

// httpGet returns the body of a 200 answer.
func httpGet(url string) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return b, err
}
