package log

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"
)

// Cleaner compacts the registered logs in the background (Kafka LogCleaner
// with LogCleanerManager): each of its threads repeatedly picks the log
// most in need of cleaning that no other thread is cleaning and runs one
// pass (Log.Clean) on it, and sleeps for the backoff when there is none.
//
// A log qualifies when its cleanup.policy includes compact and
//
//   - its cleanable ratio exceeds min.cleanable.dirty.ratio, or it has
//     dirty bytes and a dirty segment older than max.compaction.lag.ms
//     (KIP-354); among these the highest ratio wins
//     (grabFilthiestCompactedLog);
//   - otherwise, a kept tombstone or marker's delete horizon has passed,
//     so a pass would remove it (KIP-534: the cleaner also runs for logs
//     that are not dirty enough, to drop expired tombstones).
//
// A pass that fails for any reason other than the log changing under it
// marks the log uncleanable (Kafka's uncleanable partitions) until it is
// removed and added again; the error is logged with the log's logger.
//
// Each thread owns an offset map of dedupeBufferBytes/threads bytes
// (log.cleaner.dedupe.buffer.size is for all threads, as in Kafka),
// allocated as keys need it.
type Cleaner struct {
	threads  int
	mapBytes int64
	backoff  time.Duration

	mu     sync.Mutex
	logs   map[*Log]*cleanerEntry
	closed bool
	stats  CleanerStats

	wake chan struct{}
	done chan struct{}
	wg   sync.WaitGroup
}

type cleanerEntry struct {
	inProgress  bool
	ctx         context.Context
	cancel      context.CancelFunc
	idle        chan struct{} // closed when the running pass ends
	uncleanable error
	retryAt     time.Time // after an aborted pass
}

// CleanerStats are cumulative counters for metrics.
type CleanerStats struct {
	Passes         int64 // completed passes
	Aborted        int64 // passes abandoned because the log changed
	BytesRead      int64
	BytesWritten   int64
	RecordsRemoved int64
	// Uncleanable lists the directories of logs whose last pass failed.
	Uncleanable []string
}

// NewCleaner starts a Cleaner with the given number of threads (0 runs
// none: CleanOnce still works), the total dedupe buffer size
// (log.cleaner.dedupe.buffer.size; DefaultDedupeBufferBytes when <= 0) and
// the idle backoff (log.cleaner.backoff.ms).
func NewCleaner(threads int, dedupeBufferBytes int64, backoff time.Duration) *Cleaner {
	if dedupeBufferBytes <= 0 {
		dedupeBufferBytes = DefaultDedupeBufferBytes
	}
	if backoff <= 0 {
		backoff = 15 * time.Second
	}
	c := &Cleaner{
		threads:  max(threads, 0),
		mapBytes: dedupeBufferBytes / int64(max(threads, 1)),
		backoff:  backoff,
		logs:     map[*Log]*cleanerEntry{},
		wake:     make(chan struct{}, max(threads, 1)),
		done:     make(chan struct{}),
	}
	for i := 0; i < c.threads; i++ {
		c.wg.Add(1)
		go c.run()
	}
	return c
}

// Add registers a log. Logs whose policy does not include compact are
// kept registered but skipped, so a config change takes effect by itself.
func (c *Cleaner) Add(l *Log) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.logs[l]; !ok {
		c.logs[l] = &cleanerEntry{}
	}
}

// Remove unregisters a log, abandoning a pass in progress on it and
// waiting for that pass to stop (Kafka abortCleaning). Call it before
// closing or deleting a log so the close does not wait for a pass.
func (c *Cleaner) Remove(l *Log) {
	c.mu.Lock()
	e, ok := c.logs[l]
	delete(c.logs, l)
	var idle chan struct{}
	if ok && e.inProgress {
		e.cancel()
		idle = e.idle
	}
	c.mu.Unlock()
	if idle != nil {
		<-idle
	}
}

// Wake makes idle threads look for work now.
func (c *Cleaner) Wake() {
	for i := 0; i < c.threads; i++ {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// Close stops the threads, abandoning passes in progress.
func (c *Cleaner) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	for _, e := range c.logs {
		if e.inProgress {
			e.cancel()
		}
	}
	c.mu.Unlock()
	close(c.done)
	c.wg.Wait()
}

// Stats returns cumulative counters.
func (c *Cleaner) Stats() CleanerStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.stats
	st.Uncleanable = nil
	for l, e := range c.logs {
		if e.uncleanable != nil {
			st.Uncleanable = append(st.Uncleanable, l.Dir())
		}
	}
	sort.Strings(st.Uncleanable)
	return st
}

func (c *Cleaner) run() {
	defer c.wg.Done()
	var m *offsetMap
	timer := time.NewTimer(c.backoff)
	defer timer.Stop()
	for {
		select {
		case <-c.done:
			return
		default:
		}
		if l, e := c.grab(); l != nil {
			if m == nil {
				m = newOffsetMap(c.mapBytes)
			}
			c.cleanOne(l, e, m)
			continue
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(c.backoff)
		select {
		case <-c.done:
			return
		case <-c.wake:
		case <-timer.C:
		}
	}
}

// CleanOnce runs one pass, in the caller's goroutine, on the log most in
// need of cleaning, if any qualifies; it returns that log (nil when none).
func (c *Cleaner) CleanOnce() (*Log, CleanResult, error) {
	l, e := c.grab()
	if l == nil {
		return nil, CleanResult{}, nil
	}
	res, err := c.cleanOne(l, e, nil)
	return l, res, err
}

// grab picks the filthiest qualifying log and marks it in progress.
func (c *Cleaner) grab() (*Log, *cleanerEntry) {
	for attempt := 0; attempt < 3; attempt++ {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, nil
		}
		now := time.Now()
		cands := make([]*Log, 0, len(c.logs))
		for l, e := range c.logs {
			if !e.inProgress && e.uncleanable == nil && !now.Before(e.retryAt) {
				cands = append(cands, l)
			}
		}
		c.mu.Unlock()

		var best, horizon *Log
		bestRatio, horizonRatio := -1.0, -1.0
		for _, l := range cands {
			cfg := l.config()
			if !cfg.Compact {
				continue
			}
			l.mu.Lock()
			if l.closed || l.failed != nil {
				l.mu.Unlock()
				continue
			}
			st := l.cleanStatusLocked(cfg, l.now().UnixMilli())
			l.mu.Unlock()
			r := st.ratio()
			if (st.needNow && st.cleanableBytes > 0) || (st.cleanableBytes > 0 && r > cfg.MinCleanableDirtyRatio) {
				if r > bestRatio {
					best, bestRatio = l, r
				}
			} else if st.horizonDue && r > horizonRatio {
				horizon, horizonRatio = l, r
			}
		}
		if best == nil {
			best = horizon
		}
		if best == nil {
			return nil, nil
		}
		c.mu.Lock()
		e, ok := c.logs[best]
		if ok && !e.inProgress && !c.closed {
			e.ctx, e.cancel = context.WithCancel(context.Background())
			e.inProgress, e.idle = true, make(chan struct{})
			c.mu.Unlock()
			return best, e
		}
		c.mu.Unlock()
	}
	return nil, nil
}

func (c *Cleaner) cleanOne(l *Log, e *cleanerEntry, m *offsetMap) (CleanResult, error) {
	opts := CleanOptions{Context: e.ctx, offsetMap: m, DedupeBufferBytes: c.mapBytes}
	res, err := l.Clean(opts)
	c.mu.Lock()
	defer c.mu.Unlock()
	e.inProgress = false
	e.cancel()
	close(e.idle)
	switch {
	case err == nil:
		c.stats.Passes++
		c.stats.BytesRead += res.BytesRead
		c.stats.BytesWritten += res.BytesWritten
		c.stats.RecordsRemoved += res.RecordsRemoved
	case errors.Is(err, ErrCleaningAborted), errors.Is(err, ErrClosed), errors.Is(err, ErrNotCompacted), errors.Is(err, ErrLogFailed):
		c.stats.Aborted++
		e.retryAt = time.Now().Add(c.backoff)
	default:
		e.uncleanable = err
		l.logger.Error("log: cleaning failed; the log is marked uncleanable", "dir", l.dir, "err", err)
	}
	return res, err
}
