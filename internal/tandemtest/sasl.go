package tandemtest

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/config"
	"github.com/tandem-streaming/tandem/internal/node"
	"github.com/tandem-streaming/tandem/internal/server"
)

// Logs collects a broker's log lines for tests that check what it logged.
type Logs struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything logged so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// SASLBroker is a broker whose clients reach it through one SASL_PLAINTEXT
// listener.
type SASLBroker struct {
	Node *node.Node
	// Addr is the SASL_PLAINTEXT listener, the one Metadata advertises.
	Addr string
	// Logs holds the broker's log lines (debug and above).
	Logs *Logs
}

// StartSASL starts a broker with a SASL_PLAINTEXT listener configured by
// props (sasl.enabled.mechanisms, listener.name.sasl_plaintext.* ...),
// which is also the listener Metadata advertises, so clients stay on it.
// It is served by a server.Server of its own on the node's broker, the way
// the node serves its listeners.
func StartSASL(t testing.TB, props map[string]string, opts ...Opt) *SASLBroker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	nodeProps := map[string]string{
		"listeners":                        "PLAINTEXT://127.0.0.1:0",
		"advertised.listeners":             "PLAINTEXT://127.0.0.1:" + strconv.Itoa(port),
		"http.listeners":                   "http://127.0.0.1:0",
		"log.dirs":                         t.TempDir(),
		"offsets.topic.num.partitions":     "1",
		"group.initial.rebalance.delay.ms": "0",
	}
	for _, o := range opts {
		o(nodeProps)
	}
	logs := &Logs{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	n, err := node.Start(nodeProps, logger)
	if err != nil {
		_ = ln.Close()
		t.Fatalf("tandemtest: start broker: %v", err)
	}
	srv := server.New(server.Options{Broker: n.Broker(), MaxRequestBytes: n.Config.SocketRequestMaxBytes,
		Metrics: n.Metrics(), Logger: logger.With("listener", "SASL_PLAINTEXT")})
	lc := config.NewListenerConfig(config.Listener{Name: "SASL_PLAINTEXT", Host: "127.0.0.1", Port: port}, "SASL_PLAINTEXT", props)
	srv.ServeListener(ln, server.ListenerOptions{Config: lc})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = n.Shutdown(ctx)
	})
	return &SASLBroker{Node: n, Addr: ln.Addr().String(), Logs: logs}
}
