package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// demoChildEnv makes the test binary run `tandem <args>` (the variable's
// value, split on spaces) as the tandem binary would, for the tests that
// signal a real process.
const demoChildEnv = "TANDEM_TEST_RUN_TANDEM"

func TestMain(m *testing.M) {
	if args := os.Getenv(demoChildEnv); args != "" {
		root := rootCmd()
		root.SetArgs(strings.Fields(args))
		if err := root.Execute(); err != nil {
			fmt.Fprintln(os.Stderr, "tandem:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// lockedBuffer is the demo's stdout, read while the demo writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// waitOutput waits until the demo has printed want, or fails.
func waitOutput(t *testing.T, out *lockedBuffer, want string, d time.Duration) string {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(20 * time.Millisecond) {
		s := out.String()
		if strings.Contains(s, want) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo did not print %q within %v; it printed:\n%s", want, d, s)
		}
	}
}

// runningDemo is `tandem demo` running in this process.
type runningDemo struct {
	out    *lockedBuffer
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// startDemo runs `tandem demo args...` in this process until stop (its
// Ctrl-C); the test's end stops it too.
func startDemo(t *testing.T, args ...string) *runningDemo {
	ctx, cancel := context.WithCancel(context.Background())
	d := &runningDemo{out: &lockedBuffer{}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(d.done)
		root := &cobra.Command{Use: "tandem", SilenceUsage: true, SilenceErrors: true}
		root.AddCommand(demoCmd())
		root.SetOut(d.out)
		root.SetErr(d.out)
		root.SetArgs(append([]string{"demo"}, args...))
		d.err = root.ExecuteContext(ctx)
	}()
	t.Cleanup(func() { _ = d.stop() })
	return d
}

// stop cancels the demo's context, as Ctrl-C does, and waits (30 s at
// most) for it to return.
func (d *runningDemo) stop() error {
	d.cancel()
	return d.wait(30 * time.Second)
}

// wait waits for the demo to return by itself, and returns its error
// (errStillRunning when it has not returned).
func (d *runningDemo) wait(timeout time.Duration) error {
	select {
	case <-d.done:
		return d.err
	case <-time.After(timeout):
		return errStillRunning
	}
}

var errStillRunning = errors.New("the demo is still running")

// tryLine returns the printed "try next" command containing key, without
// its comment.
func tryLine(t *testing.T, printed, key string) string {
	t.Helper()
	for _, l := range strings.Split(printed, "\n") {
		if strings.Contains(l, key) {
			l, _, _ = strings.Cut(l, "   #")
			return strings.TrimSpace(l)
		}
	}
	t.Fatalf("no printed command contains %q:\n%s", key, printed)
	return ""
}

// tandemArgs runs a printed tandem command through the CLI code path (the
// binary's name in front of it is whatever selfCommand chose).
func tandemArgs(t *testing.T, line, sub string) []string {
	t.Helper()
	i := strings.Index(line, sub)
	if i < 0 {
		t.Fatalf("%q has no %q", line, sub)
	}
	return strings.Fields(line[i:])
}

// TestDemo runs `tandem demo` as a user would: it reads the printed
// ports and commands, checks the mirror holds the source's records at the
// source's offsets, runs the printed describe, failover and produce
// commands, then stops the demo (Ctrl-C) and checks both clusters were
// shut down cleanly.
func TestDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	demo := startDemo(t, "--dir", dir, "--partitions", "2", "--rate", "200", "--status-interval", "100ms")
	out := demo.out
	printed := waitOutput(t, out, "Ctrl-C stops", 15*time.Second)

	srcAddr := regexp.MustCompile(`source +Kafka (\S+)`).FindStringSubmatch(printed)
	dstAddr := regexp.MustCompile(`destination +Kafka (\S+) +HTTP (\S+)`).FindStringSubmatch(printed)
	if srcAddr == nil || dstAddr == nil {
		t.Fatalf("no ports printed:\n%s", printed)
	}
	if !strings.Contains(printed, "Console: "+dstAddr[2]+"/ ") {
		t.Errorf("the console line does not name the destination's HTTP URL %s:\n%s", dstAddr[2], printed)
	}
	if resp, err := http.Get(dstAddr[2] + "/"); err != nil {
		t.Errorf("console: %v", err)
	} else {
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "<title>") {
			t.Errorf("console at %s/: %s\n%.300s", dstAddr[2], resp.Status, page)
		}
	}
	consume := tryLine(t, printed, "kcat -C")
	describe := tryLine(t, printed, "mirror describe")
	failover := tryLine(t, printed, "mirror failover")
	produce := tryLine(t, printed, "kcat -P")
	for _, l := range []string{consume, describe, failover, produce} {
		if !strings.Contains(l, dstAddr[1]) && !strings.Contains(l, dstAddr[2]) {
			t.Errorf("%q does not address the destination (%s, %s)", l, dstAddr[1], dstAddr[2])
		}
	}

	// The mirror on the destination holds the source's records at the
	// source's partitions and offsets.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	const want = 40
	mirrored := map[string]string{}
	dst := newDst(t, dstAddr[1], kgo.ConsumeTopics("orders"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	for len(mirrored) < want {
		fs := dst.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("%d records on the mirror: %v", len(mirrored), err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			mirrored[fmt.Sprintf("%d/%d", r.Partition, r.Offset)] = string(r.Key) + "=" + string(r.Value)
		})
	}
	src := newDst(t, srcAddr[1], kgo.ConsumeTopics("orders"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	for checked := 0; checked < len(mirrored); {
		fs := src.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of the mirrored records on the source: %v", checked, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			pos := fmt.Sprintf("%d/%d", r.Partition, r.Offset)
			got, ok := mirrored[pos]
			if !ok {
				return
			}
			checked++
			if w := string(r.Key) + "=" + string(r.Value); got != w {
				t.Errorf("mirror at %s holds %s; the source holds %s", pos, got, w)
			}
		})
	}

	// The printed commands work as printed.
	_, hasKcat := exec.LookPath("kcat")
	if hasKcat == nil {
		followMirror(t, consume)
	}
	if o, errOut, err := runCLI(t, tandemArgs(t, describe, "mirror describe")...); err != nil || !strings.Contains(o, "ACTIVE") {
		t.Fatalf("%s: %v %s\n%s", describe, err, errOut, o)
	}
	if o, errOut, err := runCLI(t, tandemArgs(t, failover, "mirror failover")...); err != nil || !strings.Contains(o, "orders") {
		t.Fatalf("%s: %v %s\n%s", failover, err, errOut, o)
	}
	adm := kadm.NewClient(newDst(t, dstAddr[1]))
	endTotal := func() int64 {
		ends, err := adm.ListEndOffsets(ctx, "orders")
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
		return n
	}
	// Failover is asynchronous (PENDING_STOPPED until the data path has
	// stopped, as Confluent's "successfully scheduled"): count only once
	// the mirror is STOPPED, so a last mirrored fetch is not counted as
	// the produce.
	waitOutput(t, out, "The mirror is STOPPED", 10*time.Second)
	before := endTotal()
	if hasKcat == nil {
		if b, err := exec.CommandContext(ctx, "bash", "-c", produce).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", produce, err, b)
		}
	} else {
		t.Logf("kcat not installed: producing to the destination with franz-go instead of %q", produce)
		// Idempotent (franz-go's default), and with no retries: the
		// destination never hands out a producer id the mirrored
		// batches carry, so the first write succeeds at once
		// (docs/mirroring.md, "Producer ids").
		p := newDst(t, dstAddr[1], kgo.DefaultProduceTopic("orders"), kgo.RecordRetries(0),
			kgo.RecordDeliveryTimeout(5*time.Second))
		if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte("after-failover")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if after := endTotal(); after != before+1 {
		t.Fatalf("the destination's orders went from %d to %d records after the produce", before, after)
	}

	// Ctrl-C: a clean exit, both logs closed cleanly.
	if err := demo.stop(); err != nil {
		t.Fatalf("demo stopped with %v:\n%s", err, out.String())
	}
	if s := out.String(); !strings.Contains(s, "Both clusters stopped cleanly.") {
		t.Errorf("no clean stop reported:\n%s", s)
	}
	for _, c := range []string{"source", "destination"} {
		if _, err := os.Stat(filepath.Join(dir, c, ".tandem_cleanshutdown")); err != nil {
			t.Errorf("%s cluster not marked clean: %v", c, err)
		}
	}

	// The directory now holds a demo: a second run refuses it.
	again := startDemo(t, "--dir", dir)
	err := again.wait(10 * time.Second)
	if err == nil || errors.Is(err, errStillRunning) || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("a second demo in %s: err %v, printed:\n%s", dir, err, again.out.String())
	}
}

// followMirror runs the printed kcat command, which follows the mirror
// until stopped, until it has printed a record at offset 0.
func followMirror(t *testing.T, line string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", "exec "+line)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if strings.Contains(sc.Text(), " offset 0 key order-") {
			return
		}
	}
	t.Errorf("%s printed no record at offset 0 (%v); stderr:\n%s", line, ctx.Err(), stderr.String())
}

// TestDemoStopsOnSignal runs the demo as a process and stops it with
// SIGINT (Ctrl-C) and SIGTERM: it exits 0 after stopping both clusters,
// and removes its temporary data directory.
func TestDemoStopsOnSignal(t *testing.T) {
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			tmp := t.TempDir()
			out := &lockedBuffer{}
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), demoChildEnv+"=demo --rate 50", "TMPDIR="+tmp)
			cmd.Stdout, cmd.Stderr = out, out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			defer func() {
				if cmd.ProcessState == nil {
					_ = cmd.Process.Kill()
					<-exited
				}
			}()
			printed := waitOutput(t, out, "Ctrl-C stops", 15*time.Second)
			m := regexp.MustCompile(`\(data in (\S+)\)\.`).FindStringSubmatch(printed)
			if m == nil || !strings.HasPrefix(m[1], tmp) {
				t.Fatalf("no data directory in %s printed:\n%s", tmp, printed)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-exited:
				if err != nil {
					t.Fatalf("after %v the demo exited with %v:\n%s", sig, err, out.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("the demo did not exit within 30 s of %v:\n%s", sig, out.String())
			}
			if s := out.String(); !strings.Contains(s, "Both clusters stopped cleanly.") {
				t.Errorf("no clean stop reported:\n%s", s)
			}
			if _, err := os.Stat(m[1]); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the temporary data directory %s is still there (%v)", m[1], err)
			}
		})
	}
}

// TestDemoInREADME keeps the README's "Try it in one command" section true
// to the command: its flags exist and the defaults it states are the
// flags' defaults.
func TestDemoInREADME(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n## Try it in one command\n")
	if !ok {
		t.Fatal(`README.md has no "## Try it in one command" section`)
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	if !strings.Contains(sec, "go run ./cmd/tandem demo\n") {
		t.Errorf("the section does not show the command:\n%s", sec)
	}
	fs := demoCmd().Flags()
	for _, m := range regexp.MustCompile("`(--[a-z-]+)").FindAllStringSubmatch(sec, -1) {
		if f := fs.Lookup(strings.TrimPrefix(m[1], "--")); f == nil || f.Hidden {
			t.Errorf("the README names %s, which tandem demo does not have", m[1])
		}
	}
	for flag, said := range map[string]string{
		"topic":           "topic `%s`",
		"rate":            "produces %s records/s",
		"status-interval": "every %s",
	} {
		def := fs.Lookup(flag).DefValue
		if flag == "status-interval" {
			d, _ := time.ParseDuration(def)
			def = fmt.Sprintf("%g s", d.Seconds())
		}
		if want := fmt.Sprintf(said, def); !strings.Contains(strings.Join(strings.Fields(sec), " "), want) {
			t.Errorf("the README does not say %q (the --%s default)", want, flag)
		}
	}
	if !strings.Contains(sec, "`"+demoLink+"`") {
		t.Errorf("the README does not name the link %q", demoLink)
	}
}
