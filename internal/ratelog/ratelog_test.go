package ratelog

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the summary timer's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSpace(s.b.String()), "\n")
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newTest(o Options) (*Logger, *syncBuffer) {
	var buf syncBuffer
	return New(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), o), &buf
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFloodIsBoundedAndSummarized(t *testing.T) {
	r, buf := newTest(Options{Burst: 3, Interval: 300 * time.Millisecond})
	for i := range 10000 {
		r.Info("closing connection: bad frame", "i", i)
	}
	if got := len(buf.lines()); got != 3 {
		t.Fatalf("flood of 10000 lines wrote %d lines, want 3:\n%s", got, buf)
	}
	waitFor(t, "summary line", func() bool { return strings.Contains(buf.String(), "suppressed=9997") })
	if !strings.Contains(buf.String(), `message="closing connection: bad frame"`) {
		t.Fatalf("summary does not name the message:\n%s", buf)
	}
	// After the summary a token comes back: the key writes again.
	waitFor(t, "a token", func() bool {
		n := len(buf.lines())
		r.Info("closing connection: bad frame", "again", true)
		return len(buf.lines()) > n
	})
}

func TestKeysHaveSeparateBudgets(t *testing.T) {
	r, buf := newTest(Options{Burst: 2, Interval: time.Hour})
	for range 5 {
		r.Info("a")
		r.Warn("b")
		r.LogKey("c-key", slog.LevelInfo, "c")
	}
	if got := len(buf.lines()); got != 6 {
		t.Fatalf("wrote %d lines, want 2 per key:\n%s", got, buf)
	}
}

func TestWithSharesBuckets(t *testing.T) {
	r, buf := newTest(Options{Burst: 2, Interval: time.Hour})
	for i := range 10 {
		r.With("conn", i).Info("bad request")
	}
	if got := len(buf.lines()); got != 2 {
		t.Fatalf("derived loggers wrote %d lines, want 2 in all:\n%s", got, buf)
	}
	if !strings.Contains(buf.String(), "conn=0") {
		t.Fatalf("With attributes missing:\n%s", buf)
	}
}

func TestRefillFollowsClock(t *testing.T) {
	r, buf := newTest(Options{Burst: 2, Interval: time.Minute})
	now := time.Unix(1000, 0)
	r.lim.now = func() time.Time { return now }
	write := func() int {
		n := len(buf.lines())
		r.Info("x")
		return len(buf.lines()) - n
	}
	write()
	write()
	if write() != 0 {
		t.Fatal("third line of a burst of 2 was written")
	}
	now = now.Add(30 * time.Second) // one token back (2 per minute)
	if write() != 1 {
		t.Fatal("line after refill was not written")
	}
	if write() != 0 {
		t.Fatal("refill gave more than one token")
	}
}

func TestDisabledLevelCostsNothing(t *testing.T) {
	var buf syncBuffer
	r := New(slog.New(slog.NewTextHandler(&buf, nil)), Options{Burst: 1, Interval: time.Hour})
	for range 100 {
		r.Debug("k")
	}
	r.Info("k")
	if !strings.Contains(buf.String(), "msg=k") {
		t.Fatalf("debug lines below the level used the budget:\n%s", buf.String())
	}
}

func TestManyKeysStayBounded(t *testing.T) {
	r, _ := newTest(Options{Burst: 1, Interval: time.Hour})
	for i := range 3 * maxKeys {
		r.LogKey(fmt.Sprint(i), slog.LevelInfo, "m")
	}
	r.lim.mu.Lock()
	n := len(r.lim.buckets)
	r.lim.mu.Unlock()
	if n > maxKeys {
		t.Fatalf("%d buckets, want at most %d", n, maxKeys)
	}
}

func TestNilLogger(t *testing.T) {
	var r *Logger
	r.Info("x")
	r.With("a", 1).Warn("y")
	r.Slog().Info("z")
}

func TestSourceIsCaller(t *testing.T) {
	var buf syncBuffer
	r := New(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{AddSource: true})), Options{})
	r.Info("where")
	if !strings.Contains(buf.String(), "ratelog_test.go") {
		t.Fatalf("source is not the caller:\n%s", buf.String())
	}
}

func TestHandlerLimitsEveryMessage(t *testing.T) {
	var buf syncBuffer
	h := NewHandler(slog.NewTextHandler(&buf, nil), Options{Burst: 2, Interval: 200 * time.Millisecond})
	l := slog.New(h)
	for i := range 100 {
		l.With("member", i).Info("member left group")
		l.WithGroup("g").Warn("offset commit failed")
	}
	if got := len(buf.lines()); got != 4 {
		t.Fatalf("wrote %d lines, want 2 per message:\n%s", got, &buf)
	}
	waitFor(t, "summaries", func() bool {
		s := buf.String()
		return strings.Contains(s, `message="member left group" suppressed=98`) &&
			strings.Contains(s, `message="offset commit failed" suppressed=98`)
	})
}
