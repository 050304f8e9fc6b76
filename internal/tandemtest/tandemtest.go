// Package tandemtest starts real Tandem brokers inside a test process, on
// free loopback ports with temporary data directories, so tests exercise
// the same code `tandem serve` runs.
package tandemtest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/node"
	"github.com/tandem-streaming/tandem/internal/vfs"
)

// Broker is a broker started for a test.
type Broker struct {
	t     testing.TB
	Node  *node.Node
	Dir   string
	props map[string]string
	fs    vfs.FS
	logs  *Logs // StartLogged
}

// Opt adjusts the broker.
type Opt func(props map[string]string)

// Config sets a broker config key.
func Config(key, value string) Opt { return func(props map[string]string) { props[key] = value } }

// Start starts a broker that is shut down when the test ends.
func Start(t testing.TB, opts ...Opt) *Broker {
	t.Helper()
	return StartFS(t, nil, opts...)
}

// StartLogged is Start with the broker's log lines (debug and up) kept in
// the returned buffer, for tests that check what the broker logs.
func StartLogged(t testing.TB, opts ...Opt) (*Broker, *Logs) {
	t.Helper()
	logs := &Logs{}
	return startBroker(t, nil, logs, opts), logs
}

// StartFS starts a broker whose storage is on fsys (a vfs.ErrorFS to
// inject storage faults); restarts keep it.
func StartFS(t testing.TB, fsys vfs.FS, opts ...Opt) *Broker {
	t.Helper()
	return startBroker(t, fsys, nil, opts)
}

func startBroker(t testing.TB, fsys vfs.FS, logs *Logs, opts []Opt) *Broker {
	t.Helper()
	props := map[string]string{
		"listeners":      "PLAINTEXT://127.0.0.1:0",
		"http.listeners": "http://127.0.0.1:0",
		"log.dirs":       t.TempDir(),
		// Fewer offsets partitions and no initial rebalance delay keep
		// test brokers fast to start and groups fast to form, as Kafka's
		// own integration harness does (offsets.topic.num.partitions=5,
		// group.initial.rebalance.delay.ms=0 in its test configs).
		"offsets.topic.num.partitions":     "5",
		"group.initial.rebalance.delay.ms": "0",
	}
	for _, o := range opts {
		o(props)
	}
	b := &Broker{t: t, Dir: props["log.dirs"], props: props, fs: fsys, logs: logs}
	b.start()
	t.Cleanup(func() { b.Stop() })
	return b
}

func (b *Broker) start() {
	b.t.Helper()
	logger := testLogger(b.t)
	if b.logs != nil {
		logger = slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	n, err := node.StartFS(b.props, logger, b.fs)
	if err != nil {
		b.t.Fatalf("tandemtest: start broker: %v", err)
	}
	b.Node = n
	// Tests that call Broker.Handle directly do not retry
	// COORDINATOR_LOAD_IN_PROGRESS as clients do: start returns once the
	// group coordinator has loaded __consumer_offsets (milliseconds when
	// idle; longer on a loaded CI machine).
	if g := n.Broker().Groups(); g != nil {
		deadline := time.Now().Add(30 * time.Second)
		for !g.Loaded() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
}

// Addr is the bootstrap address of the broker's Kafka listener.
func (b *Broker) Addr() string { return b.Node.KafkaAddr() }

// ListenerAddr is the bound address of the Kafka listener named name.
func (b *Broker) ListenerAddr(name string) string { return b.Node.ListenerAddr(name) }

// HTTPAddr is the address of the broker's HTTP API.
func (b *Broker) HTTPAddr() string { return b.Node.HTTPAddr() }

// Stop shuts the broker down gracefully (idempotent).
func (b *Broker) Stop() {
	if b.Node == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Node.Shutdown(ctx); err != nil {
		b.t.Errorf("tandemtest: shutdown: %v", err)
	}
	b.Node = nil
}

// Restart stops the broker and starts it again on the same data directory
// and the same port, so clients can reconnect.
func (b *Broker) Restart() {
	b.t.Helper()
	b.RestartAfter(nil)
}

// RestartAfter is Restart that runs between (if not nil) while the broker
// is stopped: to change its files as a crash or an operator would.
func (b *Broker) RestartAfter(between func()) {
	b.t.Helper()
	// Every listener again on the port it had, so clients can reconnect.
	var listeners []string
	for _, l := range b.Node.Config.Listeners {
		listeners = append(listeners, l.Name+"://"+b.ListenerAddr(l.Name))
	}
	b.Stop()
	if between != nil {
		between()
	}
	b.props["listeners"] = strings.Join(listeners, ",")
	b.start()
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("TANDEM_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
}

// NewClient returns a franz-go client seeded with addr (a Tandem broker's
// or any other Kafka-compatible cluster's), closed when the test ends.
func NewClient(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Get fetches url (a broker's /metrics, a REST resource) and returns its
// body; any status but 200 fails the test.
func Get(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(b)
}
