package main

// `tandem demo`: two clusters, a cluster link and a mirror topic in one
// command (issue #13). It runs what a user would run by hand (the README's
// Quickstart): two brokers started as `serve` starts them, the link and
// the mirror created by the `tandem link|mirror` commands against the
// destination's HTTP API, and an ordinary Kafka producer on the source.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/node"
	"github.com/tandem-streaming/tandem/internal/restapi"
)

// demoLink is the name of the link the demo creates on the destination.
const demoLink = "demo-link"

// consoleNote says where the destination's web console is (docs/console.md).
func consoleNote(httpURL string) string {
	return fmt.Sprintf("Console: %s/ (mirror lag over time, failover readiness, pause/resume/failover/promote).", httpURL)
}

type demoOptions struct {
	dir        string
	topic      string
	partitions int32
	rate       float64
	quiet      bool
	every      time.Duration // status line interval
	logLevel   string
}

func demoCmd() *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Start two clusters, link them, mirror a topic and produce to it",
		Long: `Start two Tandem clusters on free loopback ports (a source and a
destination), create the cluster link "` + demoLink + `" on the destination,
create a topic on the source and its mirror on the destination, and produce
to the source at --rate records/s. It prints the ports and the commands to
try next (consume from the mirror, fail over), then a status line every 5 s.
Ctrl-C stops the producer and both clusters cleanly.

The data lives in a new temporary directory that is removed at exit, unless
--dir names a directory to keep it in (it must be new or empty; the clusters
of a later run get new ports, so a demo directory is not reused).`,
		Example: `  tandem demo
  tandem demo --topic payments --partitions 6 --rate 100 --dir ./tandem-demo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.partitions < 1 {
				return fmt.Errorf("--partitions must be at least 1")
			}
			if o.rate <= 0 {
				return fmt.Errorf("--rate must be above 0")
			}
			logger, err := newLogger(o.logLevel, "text")
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			d := &demo{o: o, out: cmd.OutOrStdout(), logger: logger, self: selfCommand(), stopSignals: stop}
			return d.run(ctx)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.dir, "dir", "", "keep the clusters' data in this new or empty directory (default: a temporary directory, removed at exit)")
	fs.StringVar(&o.topic, "topic", "orders", "topic to create on the source and mirror")
	fs.Int32Var(&o.partitions, "partitions", 3, "partitions of the topic")
	fs.Float64Var(&o.rate, "rate", 10, "records per second the producer writes to the source")
	fs.BoolVar(&o.quiet, "quiet", false, "no status lines")
	fs.DurationVar(&o.every, "status-interval", 5*time.Second, "time between status lines")
	_ = fs.MarkHidden("status-interval") // for tests
	fs.StringVar(&o.logLevel, "log-level", "warn", "brokers' log level: debug, info, warn, error")
	return cmd
}

type demo struct {
	o           demoOptions
	out         io.Writer
	logger      *slog.Logger
	self        string // how to invoke this binary in printed commands
	stopSignals func()

	dir       string
	src, dst  *node.Node
	dstURL    string
	producer  *demoProducer
	announced bool // the mirror's STOPPED state was explained
}

// run sets the demo up, reports until ctx ends (Ctrl-C), then stops
// everything. A Ctrl-C during set-up is a clean exit too.
func (d *demo) run(ctx context.Context) (err error) {
	if err := d.prepareDir(); err != nil {
		return err
	}
	defer func() {
		if shutErr := d.shutdown(); shutErr != nil {
			err = errors.Join(err, shutErr)
		}
		if ctx.Err() != nil && err != nil && !errors.Is(err, errShutdown) {
			err = nil // set-up cut short by Ctrl-C
		}
	}()
	if err := d.setUp(ctx); err != nil {
		return err
	}
	d.report(ctx)
	return nil
}

func (d *demo) prepareDir() error {
	if d.o.dir == "" {
		dir, err := os.MkdirTemp("", "tandem-demo-")
		if err != nil {
			return err
		}
		d.dir = dir
		return nil
	}
	entries, err := os.ReadDir(d.o.dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return err
	case len(entries) > 0:
		return fmt.Errorf("--dir %s is not empty: the demo starts new clusters (name a new directory, or remove this one)", d.o.dir)
	}
	if err := os.MkdirAll(d.o.dir, 0o755); err != nil {
		return err
	}
	d.dir = d.o.dir
	return nil
}

// startNode starts a broker as `serve` does, on free loopback ports.
func (d *demo) startNode(name string) (*node.Node, error) {
	return node.Start(map[string]string{
		"listeners":      "PLAINTEXT://127.0.0.1:0",
		"http.listeners": "http://127.0.0.1:0",
		"log.dirs":       filepath.Join(d.dir, name),
	}, d.logger.With("cluster", name))
}

func (d *demo) setUp(ctx context.Context) error {
	var err error
	if d.src, err = d.startNode("source"); err != nil {
		return fmt.Errorf("source cluster: %w", err)
	}
	if d.dst, err = d.startNode("destination"); err != nil {
		return fmt.Errorf("destination cluster: %w", err)
	}
	d.dstURL = "http://" + d.dst.HTTPAddr()
	srcKafka, dstKafka := d.src.KafkaAddr(), d.dst.KafkaAddr()
	d.printf("Tandem demo: two clusters, a cluster link and a mirror topic (data in %s).\n\n", d.dir)
	d.printf("  source       Kafka %-16s HTTP http://%s\n", srcKafka, d.src.HTTPAddr())
	d.printf("  destination  Kafka %-16s HTTP %s\n\n", dstKafka, d.dstURL)

	cl, err := kgo.NewClient(kgo.SeedBrokers(srcKafka))
	if err != nil {
		return err
	}
	_, err = kadm.NewClient(cl).CreateTopic(ctx, d.o.partitions, 1, nil, d.o.topic)
	cl.Close()
	if err != nil {
		return fmt.Errorf("create topic %q on the source: %w", d.o.topic, err)
	}
	d.printf("Created topic %q (%d partitions) on the source.\n", d.o.topic, d.o.partitions)

	// The link and the mirror are made by the CLI commands a user would
	// type, and shown as such.
	for _, args := range [][]string{
		{"link", "create", demoLink, "--source-bootstrap-server", srcKafka, "--url", d.dstURL},
		{"mirror", "create", d.o.topic, "--link", demoLink, "--url", d.dstURL},
	} {
		d.printf("$ %s %s\n", d.self, strings.Join(args, " "))
		if err := runSubcommand(ctx, d.out, args...); err != nil {
			return fmt.Errorf("tandem %s: %w", strings.Join(args[:2], " "), err)
		}
	}

	if d.producer, err = startDemoProducer(srcKafka, d.o.topic, d.o.rate); err != nil {
		return err
	}
	d.printf("Producing %g records/s to %q on the source.\n\n", d.o.rate, d.o.topic)
	d.printf("%s\n\n", consoleNote(d.dstURL))
	d.printf("Try next, in another terminal:\n")
	if _, err := exec.LookPath("kcat"); err != nil {
		d.printf("  (kcat is not installed: apt-get install kcat, or brew install kcat)\n")
	}
	for _, c := range d.tryNext() {
		d.printf("  %s\n", c)
	}
	d.printf("\nCtrl-C stops the producer and both clusters.\n")
	return nil
}

// tryNext is the commands printed for the user, with the real ports. A
// test runs them.
func (d *demo) tryNext() []string {
	dstKafka, t := d.dst.KafkaAddr(), d.o.topic
	return []string{
		// No -e: with the producer running, a partition may never
		// look finished, so follow the mirror instead.
		fmt.Sprintf(`kcat -C -b %s -t %s -f 'partition %%p offset %%o key %%k value %%s\n'   # follow the mirror, at the source's offsets (Ctrl-C to stop)`, dstKafka, t),
		fmt.Sprintf("%s mirror describe %s --link %s --url %s   # per-partition lag", d.self, t, demoLink, d.dstURL),
		fmt.Sprintf("%s mirror failover %s --link %s --url %s   # stop mirroring: the topic becomes writable", d.self, t, demoLink, d.dstURL),
		fmt.Sprintf("printf 'after-failover\\n' | kcat -P -b %s -t %s   # then write to it on the destination", dstKafka, t),
	}
}

// runSubcommand runs `tandem <args>` in this process, as the binary would.
func runSubcommand(ctx context.Context, w io.Writer, args ...string) error {
	root := &cobra.Command{Use: "tandem", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(linkCmd(), mirrorCmd())
	root.SetOut(w)
	root.SetErr(w)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// report prints a status line every interval until ctx ends.
func (d *demo) report(ctx context.Context) {
	if d.o.quiet || d.o.every <= 0 {
		<-ctx.Done()
		return
	}
	c, err := newRESTClient(d.dstURL)
	if err != nil {
		d.printf("status: %v\n", err)
		<-ctx.Done()
		return
	}
	t := time.NewTicker(d.o.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.status(ctx, c)
		}
	}
}

func (d *demo) status(ctx context.Context, c *restClient) {
	line := time.Now().Format("15:04:05") + " " + d.producer.summary()
	var m restapi.Mirror
	path := mirrorsPath(demoLink) + "/" + url.PathEscape(d.o.topic)
	if err := c.inCluster(ctx, http.MethodGet, path, nil, nil, &m); err != nil {
		if ctx.Err() == nil {
			d.printf("%s | mirror: %v\n", line, err)
		}
		return
	}
	var mirrored int64
	for _, l := range m.MirrorLags {
		mirrored += max(l.LocalLogEndOffset, 0)
	}
	d.printf("%s | mirror %s %s: %d records, max partition lag %d\n",
		line, m.MirrorTopicName, m.MirrorStatus, mirrored, maxLag(m.MirrorLags))
	if m.MirrorStatus == "STOPPED" && !d.announced {
		d.announced = true
		d.printf("The mirror is STOPPED (failed over): %q on the destination takes writes now; "+
			"the producer keeps writing to the source.\n", d.o.topic)
	}
}

// errShutdown marks a failed shutdown, which a Ctrl-C does not excuse.
var errShutdown = errors.New("demo: shutdown")

// shutdown stops the producer, then the destination (so its link stops
// fetching before the source goes), then the source, and removes a
// temporary data directory.
func (d *demo) shutdown() error {
	d.stopSignals() // a second Ctrl-C kills the process at once
	if d.src != nil {
		d.printf("\nStopping (Ctrl-C again to exit at once)...\n")
	}
	if d.producer != nil {
		d.producer.stop()
		d.printf("Producer stopped: %s.\n", d.producer.summary())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	for _, n := range []struct {
		name string
		n    *node.Node
	}{{"destination", d.dst}, {"source", d.src}} {
		if n.n == nil {
			continue
		}
		if err := n.n.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%w: %s cluster: %w", errShutdown, n.name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if d.src != nil {
		d.printf("Both clusters stopped cleanly.\n")
	}
	switch {
	case d.dir == "":
	case d.o.dir == "":
		if err := os.RemoveAll(d.dir); err != nil {
			return err
		}
	case d.src != nil:
		d.printf("Their data is kept in %s.\n", d.dir)
	}
	return nil
}

func (d *demo) printf(format string, args ...any) { fmt.Fprintf(d.out, format, args...) }

// demoProducer writes numbered orders to the source at a steady rate.
type demoProducer struct {
	cl                  *kgo.Client
	topic               string
	sent, acked, failed atomic.Int64
	mu                  sync.Mutex
	lastErr             error
	cancel              context.CancelFunc
	done                chan struct{}
}

func startDemoProducer(bootstrap, topic string, rate float64) (*demoProducer, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.DefaultProduceTopic(topic))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &demoProducer{cl: cl, topic: topic, cancel: cancel, done: make(chan struct{})}
	go p.run(ctx, rate)
	return p, nil
}

// run produces, every 100 ms, the records the rate owes since the start.
func (p *demoProducer) run(ctx context.Context, rate float64) {
	defer close(p.done)
	start := time.Now()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			due := int64(now.Sub(start).Seconds()*rate) - p.sent.Load()
			for range due {
				if ctx.Err() != nil {
					return // a large backlog (a high --rate) does not hold up Ctrl-C
				}
				n := p.sent.Add(1)
				r := &kgo.Record{
					Key:   fmt.Appendf(nil, "order-%d", n),
					Value: fmt.Appendf(nil, `{"order":%d,"amount_cents":%d}`, n, n*137%10000),
				}
				// Not ctx: a record handed over before Ctrl-C is still
				// delivered by the flush in stop.
				p.cl.Produce(context.Background(), r, p.produced)
			}
		}
	}
}

func (p *demoProducer) produced(_ *kgo.Record, err error) {
	if err == nil {
		p.acked.Add(1)
		return
	}
	p.failed.Add(1)
	p.mu.Lock()
	p.lastErr = err
	p.mu.Unlock()
}

// stop ends production and waits (a few seconds at most) for the records
// already handed over.
func (p *demoProducer) stop() {
	p.cancel()
	<-p.done
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = p.cl.Flush(ctx)
	p.cl.Close()
}

func (p *demoProducer) summary() string {
	s := fmt.Sprintf("produced %d to the source (%d acknowledged)", p.sent.Load(), p.acked.Load())
	if f := p.failed.Load(); f > 0 {
		p.mu.Lock()
		s += fmt.Sprintf(", %d failed: %v", f, p.lastErr)
		p.mu.Unlock()
	}
	return s
}

// selfCommand is how the printed commands invoke tandem: "tandem" when
// that is this binary on $PATH, "go run ./cmd/tandem" under `go run` (as
// the README runs it, from the repository root), else this binary's path.
func selfCommand() string {
	exe, err := os.Executable()
	if err != nil {
		return "tandem"
	}
	if e, err := filepath.EvalSymlinks(exe); err == nil {
		exe = e
	}
	if p, err := exec.LookPath("tandem"); err == nil {
		if q, err := filepath.EvalSymlinks(p); err == nil && q == exe {
			return "tandem"
		}
	}
	if strings.Contains(exe, string(filepath.Separator)+"go-build") {
		return "go run ./cmd/tandem"
	}
	if strings.ContainsAny(exe, " '\"$\\") {
		return "'" + strings.ReplaceAll(exe, "'", `'\''`) + "'"
	}
	return exe
}
