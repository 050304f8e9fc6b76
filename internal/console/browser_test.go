package console_test

// End-to-end test of the web console in headless Chromium (Debian's
// `chromium`, driven by chromedp) against two live in-process brokers:
// create a link and a mirror through the page's forms, watch the mirror's
// lag reach zero while a producer writes to the source, pause and resume,
// then fail over through the dry-run dialog. Screenshots are kept in
// $TANDEM_TEST_ARTIFACTS/console (or a temporary directory; the path is
// logged).

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// chromiumPath finds Debian's chromium. Missing, the test skips locally
// and fails under CI=true (.ci/run installs it from scripts/ci-deps.txt),
// as test/compat does for kcat.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("TANDEM_CHROMIUM"), "chromium", "chromium-browser"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found; CI installs Debian's chromium (scripts/ci-deps.txt)")
	}
	t.Skip("chromium not found (apt-get install chromium); skipping the browser test")
	return ""
}

func artifactDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if base := os.Getenv("TANDEM_TEST_ARTIFACTS"); base != "" {
		dir = filepath.Join(base, "console")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// browser is a headless Chromium tab with what the test watches: every
// request URL, JavaScript exceptions and console errors.
type browser struct {
	t    *testing.T
	ctx  context.Context
	dir  string
	shot int

	mu       sync.Mutex
	requests []string
	problems []string
}

func newBrowser(t *testing.T, exe string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	b := &browser{t: t, ctx: ctx, dir: artifactDir(t)}
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	if err := chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			b.requests = append(b.requests, e.Request.URL)
		case *runtime.EventExceptionThrown:
			b.problems = append(b.problems, "exception: "+exceptionText(e.ExceptionDetails))
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.EntryLevelError {
				b.problems = append(b.problems, "console: "+e.Entry.Text+" "+e.Entry.URL)
			}
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value))
				}
				b.problems = append(b.problems, "console.error: "+strings.Join(parts, " "))
			}
		}
	}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	b.run("enable events",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{})
			return err
		}),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, cdplog.Enable, cdp.Empty{})
			return err
		}),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, runtime.Enable, cdp.Empty{})
			return err
		}))
	return b
}

// run runs actions with a bound, failing the test (after a screenshot)
// when they do not finish.
func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.screenshot("failed-" + strings.ReplaceAll(what, " ", "-"))
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	b.shot++
	p := filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", b.shot, name))
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Errorf("screenshot: %v", err)
	}
}

// waitText polls the text of sel until ok accepts it.
func (b *browser) waitText(what, sel string, within time.Duration, ok func(string) bool) string {
	b.t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		q, _ := json.Marshal(sel)
		text, err := chromedp.Run(ctx, chromedp.Evaluate[string](
			`(() => { const e = document.querySelector(`+string(q)+`); return e ? (e.innerText ?? e.textContent) : "__absent__"; })()`))
		cancel()
		found := err == nil && text != "__absent__"
		if found {
			last = text
		}
		if found && ok(strings.TrimSpace(last)) {
			return strings.TrimSpace(last)
		}
		if time.Now().After(deadline) {
			b.screenshot("timeout-" + strings.ReplaceAll(what, " ", "-"))
			b.t.Fatalf("%s: %s is %q after %v", what, sel, last, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (b *browser) check(base string) {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, u := range b.requests {
		if !strings.HasPrefix(u, base+"/") && !strings.HasPrefix(u, "data:") {
			b.t.Errorf("the page requested %s, outside the broker (it must work offline)", u)
		}
	}
	for _, p := range b.problems {
		b.t.Errorf("browser: %s", p)
	}
	if len(b.requests) == 0 {
		b.t.Error("no requests recorded")
	}
}

func TestBrowserLinkMirrorFailover(t *testing.T) {
	exe := chromiumPath(t)
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	start := time.Now()
	src := tandemtest.Start(t)
	dst := tandemtest.Start(t, tandemtest.Config("cluster.link.enable", "true"))
	base := "http://" + dst.HTTPAddr()

	// The source topic, with some records before the mirror exists.
	cl, err := kgo.NewClient(kgo.SeedBrokers(src.Addr()), kgo.DefaultProduceTopic("orders"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 2, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	produce := func(n int) {
		t.Helper()
		recs := make([]*kgo.Record, n)
		for i := range recs {
			recs[i] = &kgo.Record{Key: []byte(strconv.Itoa(i)), Value: []byte(strings.Repeat("x", 200))}
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce(500)

	b := newBrowser(t, exe)
	b.run("open console", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(".cards")))
	b.waitText("cluster id", "#cluster-id", 10*time.Second, func(s string) bool { return strings.Contains(s, dst.Node.ClusterID()) })
	b.screenshot("overview")

	// Create the link through the form (a dry run, then the creation).
	// topic.config.sync.ms=1000 makes the link re-read the source's end
	// offsets for a paused mirror every second.
	b.run("create link",
		chromedp.Click(chromedp.CSS("#nav-links")),
		chromedp.Click(chromedp.CSS("#create-link-btn")),
		chromedp.WaitVisible(chromedp.CSS("#link-dialog")),
		chromedp.SendKeys(chromedp.CSS("#link-name"), "dr"),
		chromedp.SendKeys(chromedp.CSS("#link-bootstrap"), src.Addr()),
		chromedp.SendKeys(chromedp.CSS("#link-configs"), "topic.config.sync.ms=1000"),
		chromedp.Click(chromedp.CSS("#link-validate")),
	)
	b.waitText("link dry run", "#link-preview", 15*time.Second, func(s string) bool { return strings.Contains(s, "Dry run") })
	b.screenshot("create-link-dry-run")
	b.run("submit link", chromedp.Click(chromedp.CSS("#link-submit")))
	b.waitText("link active", `[data-link-state="dr"]`, 20*time.Second, func(s string) bool { return s == "ACTIVE" })
	b.screenshot("link-created")

	// Create the mirror through its form.
	b.run("create mirror",
		chromedp.Click(chromedp.CSS("#nav-mirrors")),
		chromedp.Click(chromedp.CSS("#create-mirror-btn")),
		chromedp.WaitReady(chromedp.CSS(`#mirror-link option[value="dr"]`)),
		chromedp.SendKeys(chromedp.CSS("#mirror-source"), "orders"),
		chromedp.Click(chromedp.CSS("#mirror-submit")),
	)
	b.waitText("mirror listed", `[data-mirror-state="orders"]`, 20*time.Second, func(s string) bool { return s == "ACTIVE" })
	b.waitText("initial copy", `td.lag[data-mirror="orders"]`, 30*time.Second, func(s string) bool { return s == "0" })

	// Pause through the dry-run dialog, let a backlog build on the source
	// and watch the page show it.
	b.mirrorOp("pause", "Dry run OK", true)
	b.waitText("paused", `[data-mirror-state="orders"]`, 20*time.Second, func(s string) bool { return s == "PAUSED" })
	produce(3000)
	lagText := b.waitText("backlog shown", `td.lag[data-mirror="orders"]`, 20*time.Second, func(s string) bool { return lagNumber(s) > 0 })
	t.Logf("lag shown while paused: %s records", lagText)
	b.waitText("records at risk", `tr[data-mirror="orders"] td.risk-records`, 10*time.Second, func(s string) bool { return lagNumber(s) > 0 })
	// Paused after catching up: the seconds at risk count from the last
	// fetch, so they are known.
	atRisk := b.waitText("seconds at risk", `tr[data-mirror="orders"] td.risk-seconds`, 10*time.Second,
		func(s string) bool { return strings.HasSuffix(s, " s") || strings.HasSuffix(s, " ms") })
	t.Logf("seconds at risk while paused: %s", atRisk)
	b.screenshot("paused-with-backlog")

	// Promote is refused while the mirror lags; the dry run says so and
	// nothing can be confirmed.
	b.mirrorOp("promote", "refused", false)
	b.screenshot("promote-refused")
	b.run("cancel promote", chromedp.Click(chromedp.CSS("#op-cancel")), chromedp.WaitNotVisible(chromedp.CSS("#op-dialog")))

	// Resume, and keep producing while the lag falls.
	b.mirrorOp("resume", "Dry run OK", true)
	b.waitText("resumed", `[data-mirror-state="orders"]`, 20*time.Second, func(s string) bool { return s == "ACTIVE" })
	stopProducing := make(chan struct{})
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for {
			select {
			case <-stopProducing:
				return
			case <-time.After(50 * time.Millisecond):
			}
			recs := make([]*kgo.Record, 100)
			for j := range recs {
				recs[j] = &kgo.Record{Value: []byte(strings.Repeat("y", 300))}
			}
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				t.Errorf("produce: %v", err)
				return
			}
		}
	}()
	watchUntil := time.Now().Add(3 * time.Second)
	b.waitText("lag while producing", `td.lag[data-mirror="orders"]`, 10*time.Second, func(string) bool { return time.Now().After(watchUntil) })
	b.screenshot("mirror-while-producing")
	close(stopProducing)
	<-produced

	// The mirror catches up for real (its high watermarks reach the
	// source's), and the page then shows lag 0.
	srcEnds := map[int32]int64{}
	offs, err := kadm.NewClient(cl).ListEndOffsets(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	offs.Each(func(o kadm.ListedOffset) { srcEnds[o.Partition] = o.Offset })
	for p, want := range srcEnds {
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, hw, err := dst.Node.Broker().PartitionOffsets("orders", p)
			if err == nil && hw == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("mirror partition %d high watermark %d (%v), source %d", p, hw, err, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	b.waitText("lag zero", `td.lag[data-mirror="orders"]`, 30*time.Second, func(s string) bool { return s == "0" })

	// The mirror's detail: per-partition lag, readiness and the plots
	// (the sampler's first points come at the broker's start and every
	// 10 s after).
	b.click(`tr[data-mirror="orders"] td`)
	b.waitText("lag plot", `#view-mirrors tr.detail`, 25*time.Second, func(s string) bool { return strings.Contains(s, "Lag over time") })
	b.waitText("plotted", `#view-mirrors tr.detail svg.chart polyline`, 25*time.Second, func(string) bool { return true })
	b.screenshot("mirror-detail")

	// Fail over: the dry run shows the recovery point, then confirm.
	preview := b.mirrorOp("failover", "Dry run OK", true)
	if !strings.Contains(preview, "Recovery point") || !strings.Contains(preview, "not synced (consumer.offset.sync.enable is off)") {
		t.Errorf("failover preview lacks the recovery point: %q", preview)
	}
	b.screenshot("failover-dry-run")
	if st := mirrorState(t, base, dst.Node.ClusterID()); st != "ACTIVE" {
		t.Errorf("after the dry run the mirror is %s, want ACTIVE (a dry run must not act)", st)
	}
	b.run("failover confirm", chromedp.Click(chromedp.CSS("#op-confirm")), chromedp.WaitNotVisible(chromedp.CSS("#op-dialog")))
	b.waitText("stopped", `[data-mirror-state="orders"]`, 30*time.Second, func(s string) bool { return s == "STOPPED" })
	b.screenshot("failed-over")
	if st := mirrorState(t, base, dst.Node.ClusterID()); st != "STOPPED" {
		t.Errorf("REST says the mirror is %s after failover, want STOPPED", st)
	}

	// The other views render with the data they should.
	b.run("topics", chromedp.Click(chromedp.CSS("#nav-topics")), chromedp.WaitVisible(chromedp.CSS(`tr[data-topic="orders"]`)))
	b.click(`tr[data-topic="orders"] td`)
	b.waitText("topic configs", "#view-topics tr.detail", 10*time.Second, func(s string) bool { return strings.Contains(s, "cleanup.policy") })
	b.screenshot("topics")
	// A consumer group on the failed-over topic: committed at offset 100
	// of each partition, so its lag is the rest.
	dcl, err := kgo.NewClient(kgo.SeedBrokers(dst.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer dcl.Close()
	var commit kadm.Offsets
	var wantLag int64
	for p, end := range srcEnds {
		commit.Add(kadm.Offset{Topic: "orders", Partition: p, At: 100, LeaderEpoch: -1})
		wantLag += end - 100
	}
	if resp, err := kadm.NewClient(dcl).CommitOffsets(ctx, "billing", commit); err == nil {
		err = resp.Error()
	} else {
		t.Fatalf("commit offsets: %v", err)
	}
	b.run("groups", chromedp.Click(chromedp.CSS("#nav-groups")), chromedp.WaitVisible(chromedp.CSS("#view-groups h2")))
	b.waitText("group lag", `#view-groups tr[data-toggle="group:billing"] td.num:last-child`, 10*time.Second,
		func(s string) bool { return lagNumber(s) == wantLag })
	b.click(`#view-groups tr[data-toggle="group:billing"] td`)
	b.waitText("group offsets", "#view-groups tr.detail", 10*time.Second, func(s string) bool { return strings.Contains(s, "orders") })
	b.screenshot("groups")
	b.run("links after", chromedp.Click(chromedp.CSS("#nav-links")), chromedp.WaitVisible(chromedp.CSS(`[data-link-state="dr"]`)))
	b.click(`tr[data-link="dr"] td`)
	b.waitText("link tasks", "#view-links tr.detail", 10*time.Second, func(s string) bool { return strings.Contains(s, "Tasks") })
	b.screenshot("link-detail")
	b.run("overview after", chromedp.Click(chromedp.CSS("#nav-overview")), chromedp.WaitVisible(chromedp.CSS("#view-overview .cards")))
	b.waitText("overview readiness", "#view-overview", 10*time.Second, func(s string) bool { return strings.Contains(s, "Failover readiness") && strings.Contains(s, "dr") })
	b.screenshot("overview-end")

	b.check(base)
	t.Logf("browser test took %v", time.Since(start).Round(time.Second))
}

// click clicks the first element matching sel from inside the page, in
// one step: the tables are re-rendered every two seconds, so a node found
// by one protocol call may be gone by the next.
func (b *browser) click(sel string) {
	b.t.Helper()
	b.waitText("click "+sel, sel, 20*time.Second, func(string) bool { return true })
	q, _ := json.Marshal(sel)
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const e = document.querySelector(`+string(q)+`); if (!e) return false; e.click(); return true; })()`)); err != nil {
		b.screenshot("failed-click")
		b.t.Fatalf("click %s: %v", sel, err)
	}
}

// mirrorOp opens the dialog of a mirror operation on "orders", waits for
// its dry run to say want, and confirms it when confirm is set. It
// returns the dry run's text.
func (b *browser) mirrorOp(op, want string, confirm bool) string {
	b.t.Helper()
	b.click(fmt.Sprintf(`button[data-action=%q][data-mirror="orders"]`, op))
	b.run(op+" dialog", chromedp.WaitVisible(chromedp.CSS("#op-dialog")))
	preview := b.waitText(op+" dry run", "#op-preview", 15*time.Second, func(s string) bool { return strings.Contains(s, want) })
	if !confirm {
		disabled, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.getElementById("op-confirm").disabled`))
		if err != nil || !disabled {
			b.t.Errorf("%s: confirm enabled after %q (%v)", op, preview, err)
		}
		return preview
	}
	b.run(op+" confirm", chromedp.WaitEnabled(chromedp.CSS("#op-confirm")))
	if op == "failover" {
		return preview // the caller checks the preview before confirming
	}
	b.run(op+" confirm", chromedp.Click(chromedp.CSS("#op-confirm")), chromedp.WaitNotVisible(chromedp.CSS("#op-dialog")))
	return preview
}

// lagNumber reads a number as the page prints it ("1,234"), -1 if none.
func lagNumber(s string) int64 {
	n, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimPrefix(s, "≥ "), ",", ""), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

func mirrorState(t *testing.T, base, cluster string) string {
	t.Helper()
	resp, err := http.Get(base + "/kafka/v3/clusters/" + cluster + "/links/dr/mirrors/orders")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct {
		Status string `json:"mirror_status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m.Status
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "(no details)"
	}
	msg := d.Text
	if d.Exception != nil && d.Exception.Description != "" {
		msg += " " + d.Exception.Description
	}
	return fmt.Sprintf("%s at %s:%d:%d", msg, d.URL, d.LineNumber+1, d.ColumnNumber+1)
}
