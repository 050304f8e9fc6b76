// Package ratelog bounds how many lines a log call site can write. It wraps
// a *slog.Logger with one token bucket per key (by default the message): a
// key may write Burst lines at once and then one line every Interval/Burst;
// lines past that are counted, not written, and one summary line
// ("suppressed similar log lines", with the count) follows once the key may
// write again.
//
// Use it for every line a remote peer can cause once per request or per
// connection (a malformed frame, a refused connection, a bad HTTP body): a
// fuzzer or a flood of such requests must not fill the disk with log
// (issue #9: 161 MB of log in ten minutes of fuzzing). Lines about the
// node's own state (a topic created, a disk error) stay on a plain
// *slog.Logger.
//
// Handler applies the same limit to every line of a *slog.Logger, for
// components whose lines are all caused by client requests (the broker's
// handlers, the group coordinator): slog.New(ratelog.NewHandler(h, o)).
//
// A *Logger is safe for concurrent use; a nil *Logger logs nothing.
package ratelog

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"time"
)

// Defaults used when Options leave a field zero.
const (
	DefaultBurst    = 10
	DefaultInterval = time.Minute
	// maxKeys bounds the number of buckets kept at once. Keys are
	// meant to be constant messages, but a caller keying on something a
	// peer controls must not grow the map without bound: past maxKeys,
	// buckets that are full again and have nothing to report are
	// dropped, and if none is, the new key shares the overflow bucket.
	maxKeys = 4096
)

// Options configures a Logger.
type Options struct {
	// Burst is how many lines one key may write at once (DefaultBurst
	// when zero).
	Burst int
	// Interval is how long a key takes to earn Burst lines back
	// (DefaultInterval when zero): a sustained flood of one key writes
	// Burst lines per Interval plus at most one summary line.
	Interval time.Duration
}

// limiter holds the buckets, shared by a Logger or Handler and everything
// derived from it with With, so a per-connection logger cannot multiply the
// budget.
type limiter struct {
	burst    float64
	per      time.Duration // time to earn one token
	mu       sync.Mutex
	buckets  map[string]*bucket
	overflow bucket
	now      func() time.Time // for tests
}

// summarizer writes the summary line of a bucket.
type summarizer interface {
	summary(key string, level slog.Level, n int, over time.Duration)
}

type bucket struct {
	tokens     float64
	last       time.Time // when tokens was computed
	suppressed int       // lines dropped since the last line written
	since      time.Time // when the first of them was dropped
	level      slog.Level
	out        summarizer  // who writes the summary
	timer      *time.Timer // pending summary, nil when none
}

func newLimiter(o Options) *limiter {
	if o.Burst <= 0 {
		o.Burst = DefaultBurst
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	return &limiter{burst: float64(o.Burst), per: o.Interval / time.Duration(o.Burst),
		buckets: map[string]*bucket{}, now: time.Now}
}

// allow takes a token from key's bucket, or counts the line as suppressed
// and makes sure out writes a summary once the key may write again.
func (lim *limiter) allow(key string, level slog.Level, out summarizer) bool {
	lim.mu.Lock()
	defer lim.mu.Unlock()
	now := lim.now()
	b := lim.bucket(key, now)
	b.tokens = min(lim.burst, b.tokens+float64(now.Sub(b.last))/float64(lim.per))
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	if b.suppressed == 0 {
		b.since, b.level = now, level
	}
	b.suppressed++
	b.level = max(b.level, level)
	b.out = out
	if b.timer == nil {
		wait := time.Duration((1 - b.tokens) * float64(lim.per))
		b.timer = time.AfterFunc(wait, func() { lim.summarize(key, b) })
	}
	return false
}

// bucket returns key's bucket, creating a full one; lim.mu is held.
func (lim *limiter) bucket(key string, now time.Time) *bucket {
	if b, ok := lim.buckets[key]; ok {
		return b
	}
	if len(lim.buckets) >= maxKeys {
		for k, b := range lim.buckets {
			if b.timer == nil && b.suppressed == 0 {
				delete(lim.buckets, k)
			}
		}
		if len(lim.buckets) >= maxKeys {
			if lim.overflow.last.IsZero() {
				lim.overflow = bucket{tokens: lim.burst, last: now}
			}
			return &lim.overflow
		}
	}
	b := &bucket{tokens: lim.burst, last: now}
	lim.buckets[key] = b
	return b
}

// summarize writes one line counting what b suppressed since its last line.
// The summary costs no token: it is at most one line per Interval/Burst.
func (lim *limiter) summarize(key string, b *bucket) {
	lim.mu.Lock()
	n, since, level, out := b.suppressed, b.since, b.level, b.out
	b.suppressed, b.level, b.timer, b.out = 0, 0, nil, nil
	lim.mu.Unlock()
	if n > 0 && out != nil {
		out.summary(key, level, n, time.Since(since).Round(time.Millisecond))
	}
}

const summaryMsg = "suppressed similar log lines"

func summaryAttrs(key string, n int, over time.Duration) []any {
	return []any{"message", key, "suppressed", n, "over", over}
}

// Logger is a rate-limited front to a *slog.Logger.
type Logger struct {
	l    *slog.Logger
	root *slog.Logger // writes the summaries, without attributes added by With
	lim  *limiter
}

// New returns a Logger writing to l (a discarding logger when l is nil).
func New(l *slog.Logger, o Options) *Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return &Logger{l: l, root: l, lim: newLimiter(o)}
}

// With returns a Logger that adds args to each line and shares the
// buckets of r, so a per-connection logger cannot multiply the budget.
func (r *Logger) With(args ...any) *Logger {
	if r == nil {
		return nil
	}
	return &Logger{l: r.l.With(args...), root: r.root, lim: r.lim}
}

// Slog returns the underlying logger, for lines that must not be limited.
func (r *Logger) Slog() *slog.Logger {
	if r == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.l
}

// Debug logs at LevelDebug, keyed by msg.
func (r *Logger) Debug(msg string, args ...any) { r.log(slog.LevelDebug, msg, msg, args) }

// Info logs at LevelInfo, keyed by msg.
func (r *Logger) Info(msg string, args ...any) { r.log(slog.LevelInfo, msg, msg, args) }

// Warn logs at LevelWarn, keyed by msg.
func (r *Logger) Warn(msg string, args ...any) { r.log(slog.LevelWarn, msg, msg, args) }

// Error logs at LevelError, keyed by msg.
func (r *Logger) Error(msg string, args ...any) { r.log(slog.LevelError, msg, msg, args) }

// LogKey logs msg at level under an explicit key, for call sites whose
// message is not constant or that want separate budgets for one message
// (keep the set of keys small: one per call site or reason).
func (r *Logger) LogKey(key string, level slog.Level, msg string, args ...any) {
	r.log(level, key, msg, args)
}

func (r *Logger) log(level slog.Level, key, msg string, args []any) {
	if r == nil || !r.l.Enabled(context.Background(), level) {
		return // a disabled level costs no token
	}
	if !r.lim.allow(key, level, rootLogger{r.root}) {
		return
	}
	var pcs [1]uintptr
	runtime.Callers(3, pcs[:]) // the caller of Info/Warn/...
	rec := slog.NewRecord(time.Now(), level, msg, pcs[0])
	rec.Add(args...)
	_ = r.l.Handler().Handle(context.Background(), rec)
}

type rootLogger struct{ l *slog.Logger }

func (r rootLogger) summary(key string, level slog.Level, n int, over time.Duration) {
	r.l.Log(context.Background(), level, summaryMsg, summaryAttrs(key, n, over)...)
}

// Handler is a slog.Handler that limits each message (the key) of the
// handler it wraps.
type Handler struct {
	next slog.Handler
	root rootHandler // writes the summaries, without attributes or groups added since
	lim  *limiter
}

// NewHandler returns a Handler in front of next.
func NewHandler(next slog.Handler, o Options) *Handler {
	return &Handler{next: next, root: rootHandler{next}, lim: newLimiter(o)}
}

// Enabled reports whether next handles level.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle passes r on unless its message is over its budget.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if !h.lim.allow(r.Message, r.Level, h.root) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs returns a Handler sharing h's budget.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Handler{next: h.next.WithAttrs(attrs), root: h.root, lim: h.lim}
}

// WithGroup returns a Handler sharing h's budget.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), root: h.root, lim: h.lim}
}

type rootHandler struct{ h slog.Handler }

func (r rootHandler) summary(key string, level slog.Level, n int, over time.Duration) {
	rec := slog.NewRecord(time.Now(), level, summaryMsg, 0)
	rec.Add(summaryAttrs(key, n, over)...)
	_ = r.h.Handle(context.Background(), rec)
}
