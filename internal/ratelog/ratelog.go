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

// Logger is a rate-limited front to a *slog.Logger.
type Logger struct {
	l     *slog.Logger
	burst float64
	per   time.Duration // time to earn one token
	state *state        // shared by Loggers derived with With
}

type state struct {
	mu       sync.Mutex
	buckets  map[string]*bucket
	overflow bucket
	now      func() time.Time // for tests
}

type bucket struct {
	tokens     float64
	last       time.Time // when tokens was computed
	suppressed int       // lines dropped since the last line written
	since      time.Time // when the first of them was dropped
	level      slog.Level
	timer      *time.Timer // pending summary, nil when none
}

// New returns a Logger writing to l (a discarding logger when l is nil).
func New(l *slog.Logger, o Options) *Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	if o.Burst <= 0 {
		o.Burst = DefaultBurst
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	return &Logger{
		l: l, burst: float64(o.Burst), per: o.Interval / time.Duration(o.Burst),
		state: &state{buckets: map[string]*bucket{}, now: time.Now},
	}
}

// With returns a Logger that adds args to each line and shares the
// buckets of r, so a per-connection logger cannot multiply the budget.
func (r *Logger) With(args ...any) *Logger {
	if r == nil {
		return nil
	}
	c := *r
	c.l = r.l.With(args...)
	return &c
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
	if !r.allow(key, level) {
		return
	}
	var pcs [1]uintptr
	runtime.Callers(3, pcs[:]) // the caller of Info/Warn/...
	rec := slog.NewRecord(time.Now(), level, msg, pcs[0])
	rec.Add(args...)
	_ = r.l.Handler().Handle(context.Background(), rec)
}

// allow takes a token from key's bucket, or counts the line as suppressed
// and makes sure a summary is scheduled.
func (r *Logger) allow(key string, level slog.Level) bool {
	s := r.state
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	b := s.bucket(key, now, r.burst)
	b.tokens = min(r.burst, b.tokens+float64(now.Sub(b.last))/float64(r.per))
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
	if b.timer == nil {
		wait := time.Duration((1 - b.tokens) * float64(r.per))
		b.timer = time.AfterFunc(wait, func() { r.summarize(key, b) })
	}
	return false
}

// bucket returns key's bucket, creating a full one; s.mu is held.
func (s *state) bucket(key string, now time.Time, burst float64) *bucket {
	if b, ok := s.buckets[key]; ok {
		return b
	}
	if len(s.buckets) >= maxKeys {
		for k, b := range s.buckets {
			if b.timer == nil && b.suppressed == 0 {
				delete(s.buckets, k)
			}
		}
		if len(s.buckets) >= maxKeys {
			if s.overflow.last.IsZero() {
				s.overflow = bucket{tokens: burst, last: now}
			}
			return &s.overflow
		}
	}
	b := &bucket{tokens: burst, last: now}
	s.buckets[key] = b
	return b
}

// summarize writes one line counting what b suppressed since its last line.
// The summary costs no token: it is at most one line per Interval/Burst.
func (r *Logger) summarize(key string, b *bucket) {
	s := r.state
	s.mu.Lock()
	n, since, level := b.suppressed, b.since, b.level
	b.suppressed, b.level, b.timer = 0, 0, nil
	s.mu.Unlock()
	if n == 0 {
		return
	}
	r.l.Log(context.Background(), level, "suppressed similar log lines",
		"message", key, "suppressed", n, "over", time.Since(since).Round(time.Millisecond))
}
