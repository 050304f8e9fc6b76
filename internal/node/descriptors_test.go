package node_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/node"
)

// childNoFile is the descriptor limit of the broker under test: its budget
// is 768 client connections, a segment-file cache of 112 and 16 HTTP
// connections (planDescriptors).
const childNoFile = 1024

// TestDescriptorReserveChild is the broker of TestDescriptorReserve, run in
// a child process so that its descriptor limit can be lowered.
func TestDescriptorReserveChild(t *testing.T) {
	dir := os.Getenv("TANDEM_FD_CHILD_DIR")
	if dir == "" {
		t.Skip("run by TestDescriptorReserve")
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: childNoFile, Max: childNoFile}); err != nil {
		t.Fatal(err)
	}
	n, err := node.Start(map[string]string{
		"listeners": "PLAINTEXT://127.0.0.1:0", "http.listeners": "http://127.0.0.1:0", "log.dirs": dir,
		"offsets.topic.num.partitions": "1",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("ADDRS %s %s\n", n.KafkaAddr(), n.HTTPAddr())
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent is done
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestDescriptorReserve floods a broker whose descriptor limit is 1024 with
// more idle Kafka connections than the limit allows (issue #9: 5,000 idle
// connections under a limit of 4096 made HTTP health checks and new log
// files fail) and checks that health checks, topic creation with many
// partitions and a segment roll keep working.
func TestDescriptorReserve(t *testing.T) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur < 4*childNoFile {
		t.Skipf("this process may open too few descriptors to flood the child (%d)", rl.Cur)
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDescriptorReserveChild$", "-test.v")
	cmd.Env = append(os.Environ(), "TANDEM_FD_CHILD_DIR="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	var childOut bytes.Buffer
	var kafkaAddr, httpAddr string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "ADDRS" {
			kafkaAddr, httpAddr = f[1], f[2]
			break
		}
		childOut.WriteString(sc.Text() + "\n")
	}
	go func() {
		for sc.Scan() {
			childOut.WriteString(sc.Text() + "\n")
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case err := <-exited:
			if err != nil && !t.Failed() {
				t.Errorf("child broker: %v\n%s%s", err, &childOut, &stderr)
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("child broker did not stop")
		}
	})
	if kafkaAddr == "" {
		t.Fatalf("child broker did not start:\n%s%s", &childOut, &stderr)
	}

	// 1,200 idle connections against a limit of 1,024 descriptors.
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 1200 {
		c, err := net.DialTimeout("tcp", kafkaAddr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v", len(conns), err)
		}
		conns = append(conns, c)
	}
	// Keep the pressure on while the checks run.
	stop := make(chan struct{})
	var flood sync.WaitGroup
	flood.Add(1)
	go func() {
		defer flood.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if c, err := net.DialTimeout("tcp", kafkaAddr, time.Second); err == nil {
				_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
				_, _ = c.Read(make([]byte, 1))
				c.Close()
			}
		}
	}()
	defer func() { close(stop); flood.Wait() }()

	hc := &http.Client{Timeout: 10 * time.Second}
	get := func(path string) (int, []byte) {
		t.Helper()
		resp, err := hc.Get("http://" + httpAddr + path)
		if err != nil {
			t.Fatalf("GET %s with the Kafka port flooded: %v\n%s", path, err, &stderr)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	for range 20 {
		if code, body := get("/readyz"); code != 200 {
			t.Fatalf("/readyz = %d %s", code, body)
		}
	}
	_, body := get("/kafka/v3/clusters")
	var clusters struct {
		Data []struct {
			ClusterID string `json:"cluster_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &clusters); err != nil || len(clusters.Data) != 1 {
		t.Fatalf("clusters: %s %v", body, err)
	}
	topics := "http://" + httpAddr + "/kafka/v3/clusters/" + clusters.Data[0].ClusterID + "/topics"
	create := func(name string, partitions int, configs string) {
		t.Helper()
		req := fmt.Sprintf(`{"topic_name": %q, "partitions_count": %d, "configs": [%s]}`, name, partitions, configs)
		resp, err := hc.Post(topics, "application/json", strings.NewReader(req))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Fatalf("create %s with the Kafka port flooded: %d %s\n%s", name, resp.StatusCode, b, &stderr)
		}
	}
	// Each partition opens its segment and index files.
	create("wide", 200, "")
	create("roll", 1, `{"name": "segment.bytes", "value": "1048576"}`)

	// Free a few client slots: a producer gets in and rolls a segment.
	for _, c := range conns[:8] {
		c.Close()
	}
	conns = conns[8:]
	close(stop)
	flood.Wait()
	stop = make(chan struct{})
	flood.Add(1)
	go func() { defer flood.Done(); <-stop }()

	cl, err := kgo.NewClient(kgo.SeedBrokers(kafkaAddr), kgo.DefaultProduceTopic("roll"),
		kgo.ProducerBatchMaxBytes(256<<10), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	value := bytes.Repeat([]byte("x"), 100<<10)
	for range 16 { // 1.6 MB: past one 1 MiB segment
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
			t.Fatalf("produce with the descriptor budget full: %v\n%s", err, &stderr)
		}
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "roll-0", "*.log"))
	if len(segs) < 2 {
		out, _ := exec.Command("ls", "-la", filepath.Join(dir, "roll-0")).CombinedOutput()
		t.Fatalf("no segment roll: %v\n%s", segs, out)
	}
}
