package node_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

var rawFormatter = kmsg.NewRequestFormatter(kmsg.FormatterClientID("listeners-test"))

// rawRequest sends req on nc and decodes the response: one request on one
// connection, so what is checked is what this listener answered.
func rawRequest(t *testing.T, nc net.Conn, req kmsg.Request) kmsg.Response {
	t.Helper()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	defer nc.SetDeadline(time.Time{})
	if _, err := nc.Write(rawFormatter.AppendRequest(nil, req, 7)); err != nil {
		t.Fatal(err)
	}
	var sz [4]byte
	if _, err := io.ReadFull(nc, sz[:]); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, binary.BigEndian.Uint32(sz[:]))
	if _, err := io.ReadFull(nc, body); err != nil {
		t.Fatal(err)
	}
	body = body[4:] // correlation id
	resp := req.ResponseKind()
	if resp.IsFlexible() && resp.Key() != int16(kmsg.ApiVersions) {
		body = body[1:] // no tagged header fields (ApiVersions' header is never flexible)
	}
	if err := resp.ReadFrom(body); err != nil {
		t.Fatal(err)
	}
	return resp
}

// endpointsSeen asks conn for every address the broker hands out: the
// brokers of Metadata and DescribeCluster and the coordinator of
// FindCoordinator (v3 and v4 shapes).
func endpointsSeen(t *testing.T, nc net.Conn) []string {
	t.Helper()
	var out []string
	add := func(h string, p int32) { out = append(out, net.JoinHostPort(h, strconv.Itoa(int(p)))) }
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 12
	for _, b := range rawRequest(t, nc, md).(*kmsg.MetadataResponse).Brokers {
		add(b.Host, b.Port)
	}
	md0 := kmsg.NewPtrMetadataRequest()
	md0.Version = 0
	for _, b := range rawRequest(t, nc, md0).(*kmsg.MetadataResponse).Brokers {
		add(b.Host, b.Port)
	}
	dc := kmsg.NewPtrDescribeClusterRequest()
	for _, b := range rawRequest(t, nc, dc).(*kmsg.DescribeClusterResponse).Brokers {
		add(b.Host, b.Port)
	}
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.Version, fc.CoordinatorKey = 3, "g"
	r3 := rawRequest(t, nc, fc).(*kmsg.FindCoordinatorResponse)
	add(r3.Host, r3.Port)
	fc4 := kmsg.NewPtrFindCoordinatorRequest()
	fc4.Version, fc4.CoordinatorKeys = 4, []string{"g1", "g2"}
	for _, c := range rawRequest(t, nc, fc4).(*kmsg.FindCoordinatorResponse).Coordinators {
		add(c.Host, c.Port)
	}
	return out
}

// Kafka's Metadata answers with the endpoints of the listener the request
// came in on (seed "Understanding Listeners in Cluster Linking"): a client
// on INTERNAL is never given EXTERNAL's address, nor the reverse, in any
// API that hands out an address.
func TestListenersAdvertiseTheirOwnEndpoint(t *testing.T) {
	b := tandemtest.Start(t,
		tandemtest.Config("listeners", "INTERNAL://127.0.0.1:0,EXTERNAL://127.0.0.1:0,REPLICATION://127.0.0.1:0"),
		tandemtest.Config("listener.security.protocol.map", "INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT,REPLICATION:PLAINTEXT"),
		// INTERNAL is not listed: it advertises its own address.
		// REPLICATION advertises port 0: its bound port.
		tandemtest.Config("advertised.listeners", "EXTERNAL://kafka.example.com:19093,REPLICATION://127.0.0.1:0"))

	want := map[string]string{
		"INTERNAL":    b.ListenerAddr("INTERNAL"),
		"EXTERNAL":    "kafka.example.com:19093",
		"REPLICATION": b.ListenerAddr("REPLICATION"),
	}
	for name, addr := range want {
		nc, err := net.Dial("tcp", b.ListenerAddr(name))
		if err != nil {
			t.Fatal(err)
		}
		for _, got := range endpointsSeen(t, nc) {
			if got != addr {
				t.Errorf("listener %s handed out %s, want only %s", name, got, addr)
			}
		}
		nc.Close()
	}
}

// connectLog records every broker address a franz-go client connects to.
type connectLog struct {
	mu    sync.Mutex
	addrs map[string]bool
}

func (c *connectLog) OnBrokerConnect(meta kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.addrs == nil {
		c.addrs = map[string]bool{}
	}
	c.addrs[net.JoinHostPort(meta.Host, strconv.Itoa(int(meta.Port)))] = true
}

// produceConsume produces n records to topic through a franz-go client
// built with opts and reads them back with a group consumer.
func produceConsume(t *testing.T, topic string, opts ...kgo.Opt) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := kgo.NewClient(append(opts, kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation())...)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const n = 10
	for i := range n {
		if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatalf("produce to %s: %v", topic, err)
		}
	}
	c, err := kgo.NewClient(append(opts, kgo.ConsumeTopics(topic), kgo.ConsumerGroup(topic+"-group"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := 0
	for got < n {
		fs := c.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume %s: %v", topic, err)
		}
		got += fs.NumRecords()
	}
	if err := c.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit on %s: %v", topic, err)
	}
}

// franz-go on each of two PLAINTEXT listeners produces, consumes in a group
// and only ever connects to its own listener's address.
func TestFranzOnEachListener(t *testing.T) {
	b := tandemtest.Start(t,
		tandemtest.Config("listeners", "INTERNAL://127.0.0.1:0,EXTERNAL://127.0.0.1:0"),
		tandemtest.Config("listener.security.protocol.map", "INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT"))
	for _, name := range []string{"INTERNAL", "EXTERNAL"} {
		var log connectLog
		addr := b.ListenerAddr(name)
		produceConsume(t, "t-"+name, kgo.SeedBrokers(addr), kgo.WithHooks(&log))
		for a := range log.addrs {
			if a != addr {
				t.Errorf("client of %s connected to %s", name, a)
			}
		}
	}
	// A restart keeps every listener on its port.
	before := b.ListenerAddr("EXTERNAL")
	b.Restart()
	if got := b.ListenerAddr("EXTERNAL"); got != before {
		t.Fatalf("EXTERNAL moved from %s to %s", before, got)
	}
	produceConsume(t, "after-restart", kgo.SeedBrokers(before))
}

func apiVersionsRequest() kmsg.Request {
	r := kmsg.NewPtrApiVersionsRequest()
	r.Version = 3
	r.ClientSoftwareName, r.ClientSoftwareVersion = "listeners-test", "1"
	return r
}
