package server_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/node"
)

// These tests send the hostile inputs of issue #9 over loopback and check
// that the broker closes what it must while other clients keep being
// served.

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startNode starts a broker with the given configs on loopback; logs go to
// the returned buffer.
func startNode(t *testing.T, kv ...string) (*node.Node, *syncBuffer) {
	t.Helper()
	props := map[string]string{
		"listeners": "PLAINTEXT://127.0.0.1:0", "http.listeners": "http://127.0.0.1:0",
		"log.dirs": t.TempDir(), "offsets.topic.num.partitions": "1", "group.initial.rebalance.delay.ms": "0",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		props[kv[i]] = kv[i+1]
	}
	var logs syncBuffer
	n, err := node.Start(props, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.Shutdown(ctx)
	})
	return n, &logs
}

var formatter = kmsg.NewRequestFormatter(kmsg.FormatterClientID("limits-test"))

// roundTrip sends r on nc and reads one response frame; an error means the
// broker did not answer (it closed the connection).
func roundTrip(nc net.Conn, r kmsg.Request) error {
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	defer nc.SetDeadline(time.Time{})
	if _, err := nc.Write(formatter.AppendRequest(nil, r, 7)); err != nil {
		return err
	}
	return readResponse(nc)
}

func readResponse(nc net.Conn) error {
	var sz [4]byte
	if _, err := io.ReadFull(nc, sz[:]); err != nil {
		return err
	}
	body := make([]byte, binary.BigEndian.Uint32(sz[:]))
	if _, err := io.ReadFull(nc, body); err != nil {
		return err
	}
	if binary.BigEndian.Uint32(body) != 7 {
		return fmt.Errorf("correlation id %d", binary.BigEndian.Uint32(body))
	}
	return nil
}

func apiVersions() kmsg.Request {
	r := kmsg.NewPtrApiVersionsRequest()
	r.Version = 2
	return r
}

// dialFrom connects to addr from the local address src ("" for any).
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// served reports whether a new connection from src gets an answer.
func served(t *testing.T, src, addr string) (net.Conn, bool) {
	t.Helper()
	nc := dialFrom(t, src, addr)
	return nc, roundTrip(nc, apiVersions()) == nil
}

// waitClosed waits up to max for the broker to close nc and returns how long
// that took.
func waitClosed(t *testing.T, nc net.Conn, max time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = nc.SetReadDeadline(start.Add(max))
	_, err := nc.Read(make([]byte, 1))
	if err == nil || isTimeout(err) {
		t.Fatalf("connection still open after %v (err %v)", max, err)
	}
	return time.Since(start)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func metricsText(t *testing.T, n *node.Node) string {
	t.Helper()
	resp, err := http.Get("http://" + n.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestIdleConnectionsAreClosed(t *testing.T) {
	n, _ := startNode(t, "connections.max.idle.ms", "300")
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.KafkaAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "idle"); err != nil {
		t.Fatal(err)
	}

	// A connection that never sends anything, and one that goes quiet
	// after a request, are both closed once idle.
	dialed := time.Now()
	silent := dialFrom(t, "", n.KafkaAddr())
	used, ok := served(t, "", n.KafkaAddr())
	if !ok {
		t.Fatal("ApiVersions not answered")
	}
	waitClosed(t, silent, 5*time.Second)
	if d := time.Since(dialed); d < 250*time.Millisecond {
		t.Fatalf("silent connection closed after %v, before the idle timeout", d)
	}
	waitClosed(t, used, 5*time.Second)

	// A long-poll Fetch waiting longer than the idle timeout is not idle.
	fetch := kmsg.NewPtrFetchRequest()
	fetch.Version = 4
	fetch.ReplicaID = -1
	fetch.MaxWaitMillis = 1200
	fetch.MinBytes = 1
	fetch.MaxBytes = 1 << 20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "idle"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)
	nc := dialFrom(t, "", n.KafkaAddr())
	start := time.Now()
	if err := roundTrip(nc, fetch); err != nil {
		t.Fatalf("long-poll fetch cut: %v", err)
	}
	if d := time.Since(start); d < time.Second {
		t.Fatalf("fetch answered after %v; the test needs it to wait past the idle timeout", d)
	}
	if !strings.Contains(metricsText(t, n), `tandem_connections_closed_by_broker_total{reason="idle"}`) {
		t.Fatal("idle closes not counted")
	}
}

func TestRequestThatStopsArrivingIsClosed(t *testing.T) {
	n, logs := startNode(t, "socket.request.read.timeout.ms", "1000")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.KafkaAddr()), kgo.DefaultProduceTopic("busy"), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, kgo.StringRecord("warm")).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// A producer keeps producing while the hostile connections are open.
	stop := make(chan struct{})
	produced := make(chan error, 1)
	go func() {
		var count int
		for {
			select {
			case <-stop:
				if count == 0 {
					produced <- errors.New("nothing produced")
				}
				produced <- nil
				return
			default:
			}
			if err := cl.ProduceSync(ctx, kgo.StringRecord("v")).FirstErr(); err != nil {
				produced <- err
				return
			}
			count++
		}
	}()

	// A frame that declares 1000 bytes and sends 10, then nothing; and
	// one that sends only half of its size prefix.
	declared := dialFrom(t, "", n.KafkaAddr())
	if _, err := declared.Write(append(binary.BigEndian.AppendUint32(nil, 1000), make([]byte, 10)...)); err != nil {
		t.Fatal(err)
	}
	half := dialFrom(t, "", n.KafkaAddr())
	if _, err := half.Write([]byte{0, 0}); err != nil {
		t.Fatal(err)
	}
	// A request that arrives slowly but keeps arriving is answered, even
	// though it takes longer than the timeout in all: five pieces 400 ms
	// apart.
	slow := dialFrom(t, "", n.KafkaAddr())
	req := formatter.AppendRequest(nil, apiVersions(), 7)
	slowDone := make(chan error, 1)
	go func() {
		for i := 0; i < len(req); i += len(req)/5 + 1 {
			if i > 0 {
				time.Sleep(400 * time.Millisecond)
			}
			if _, err := slow.Write(req[i:min(i+len(req)/5+1, len(req))]); err != nil {
				slowDone <- err
				return
			}
		}
		slowDone <- readResponse(slow)
	}()

	sent := time.Now()
	for _, nc := range []net.Conn{declared, half} {
		waitClosed(t, nc, 5*time.Second)
		if d := time.Since(sent); d < 900*time.Millisecond {
			t.Fatalf("stalled request closed after %v, before the timeout", d)
		}
	}
	if err := <-slowDone; err != nil {
		t.Fatalf("slow but steady request was cut: %v", err)
	}
	close(stop)
	if err := <-produced; err != nil {
		t.Fatalf("producer failed while hostile connections were open: %v", err)
	}
	if !strings.Contains(logs.String(), "request stopped arriving") {
		t.Fatalf("no log line for the closed connections:\n%s", logs)
	}
}

func TestMaxConnectionsPerIP(t *testing.T) {
	// Linux routes all of 127/8 to lo, so 127.0.0.2 is a second client
	// address.
	n, _ := startNode(t, "max.connections.per.ip", "3", "max.connections.per.ip.overrides", "127.0.0.2:5")
	addr := n.KafkaAddr()
	if nc, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).Dial("tcp", addr); err != nil {
		t.Skipf("cannot connect from 127.0.0.2: %v", err)
	} else {
		nc.Close()
	}
	var first []net.Conn
	for i := range 3 {
		nc, ok := served(t, "127.0.0.1", addr)
		if !ok {
			t.Fatalf("connection %d from 127.0.0.1 refused under the limit", i+1)
		}
		first = append(first, nc)
	}
	if _, ok := served(t, "127.0.0.1", addr); ok {
		t.Fatal("4th connection from 127.0.0.1 served; max.connections.per.ip=3")
	}
	for i := range 5 {
		if _, ok := served(t, "127.0.0.2", addr); !ok {
			t.Fatalf("connection %d from 127.0.0.2 refused under its override of 5", i+1)
		}
	}
	if _, ok := served(t, "127.0.0.2", addr); ok {
		t.Fatal("6th connection from 127.0.0.2 served; its override is 5")
	}
	// The connections already open are still served, and a slot that
	// frees is given to the next connection.
	if err := roundTrip(first[0], apiVersions()); err != nil {
		t.Fatalf("open connection no longer served: %v", err)
	}
	first[1].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := served(t, "127.0.0.1", addr); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a freed slot was not reused")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(metricsText(t, n), `tandem_connections_refused_total{reason="max_connections_per_ip"}`) {
		t.Fatal("refused connections not counted")
	}
}

func TestMaxConnections(t *testing.T) {
	n, logs := startNode(t, "max.connections", "4")
	for i := range 4 {
		if _, ok := served(t, "", n.KafkaAddr()); !ok {
			t.Fatalf("connection %d refused under max.connections=4", i+1)
		}
	}
	for range 50 {
		if _, ok := served(t, "", n.KafkaAddr()); ok {
			t.Fatal("connection served past max.connections=4")
		}
	}
	// Fifty refusals, a bounded number of log lines.
	if got := strings.Count(logs.String(), "connection refused"); got == 0 || got > 10 {
		t.Fatalf("%d log lines for 50 refused connections, want 1..10", got)
	}
	// HTTP is a listener of its own: health checks still work.
	resp, err := http.Get("http://" + n.HTTPAddr() + "/livez")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/livez = %d", resp.StatusCode)
	}
}

func TestBadFrameFloodLogsBounded(t *testing.T) {
	n, logs := startNode(t)
	// A negative frame size, a header too short to parse, and an
	// unknown API key, 300 times over on fresh connections.
	hostile := [][]byte{
		{0xff, 0xff, 0xff, 0xff},
		{0, 0, 0, 1, 0},
		append(binary.BigEndian.AppendUint32(nil, 10), 0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0xff, 0xff),
	}
	for i := range 300 {
		nc := dialFrom(t, "", n.KafkaAddr())
		if _, err := nc.Write(hostile[i%len(hostile)]); err != nil {
			t.Fatal(err)
		}
		waitClosed(t, nc, 5*time.Second)
		nc.Close()
	}
	if _, ok := served(t, "", n.KafkaAddr()); !ok {
		t.Fatal("a well-behaved client is not served after the flood")
	}
	lines := strings.Count(logs.String(), "closing connection")
	if lines == 0 || lines > 30 {
		t.Fatalf("%d log lines for 300 bad requests, want 1..30 (10 per reason):\n%s", lines, logs)
	}
}

func TestPerRequestBrokerLogsBounded(t *testing.T) {
	n, logs := startNode(t)
	nc := dialFrom(t, "", n.KafkaAddr())
	for range 200 {
		r := kmsg.NewPtrInitProducerIDRequest()
		r.Version = 1
		tid := "txn"
		r.TransactionalID = &tid
		r.TransactionTimeoutMillis = 60000
		if err := roundTrip(nc, r); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Count(logs.String(), "transactional producer refused"); got == 0 || got > 10 {
		t.Fatalf("%d log lines for 200 refused InitProducerID requests, want 1..10", got)
	}
}
