package tandemtest

import (
	"bytes"
	"context"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/node"
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

// Lines returns the lines logged so far that contain s.
func (l *Logs) Lines(s string) []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return out
}

// String returns everything logged so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// SASLBroker is a broker whose clients reach it through one listener with
// security.
type SASLBroker struct {
	Node *node.Node
	// Addr is the listener's address.
	Addr string
	// Logs holds the broker's log lines (debug and above).
	Logs *Logs
}

// StartSASL starts a broker whose only Kafka listener is SASL_PLAINTEXT,
// configured by props (sasl.enabled.mechanisms,
// listener.name.sasl_plaintext.* ...) on top of the usual test settings;
// props may replace listeners too (SASL_SSL://, SSL:// with ssl.* keys).
func StartSASL(t testing.TB, props map[string]string) *SASLBroker {
	t.Helper()
	nodeProps := map[string]string{
		"listeners":                        "SASL_PLAINTEXT://127.0.0.1:0",
		"http.listeners":                   "http://127.0.0.1:0",
		"log.dirs":                         t.TempDir(),
		"offsets.topic.num.partitions":     "1",
		"group.initial.rebalance.delay.ms": "0",
	}
	maps.Copy(nodeProps, props)
	logs := &Logs{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	n, err := node.Start(nodeProps, logger)
	if err != nil {
		t.Fatalf("tandemtest: start broker: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.Shutdown(ctx)
	})
	return &SASLBroker{Node: n, Addr: n.KafkaAddr(), Logs: logs}
}
