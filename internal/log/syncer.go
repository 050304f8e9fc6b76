package log

import (
	"fmt"
	"sync"
	"time"

	"github.com/tandem-streaming/tandem/internal/vfs"
)

// Syncer runs group-commit fsync rounds for many logs.
//
// An append writes to the segment file (page cache) and marks its log
// dirty; the first append after the log's previous round enqueues the log
// here. One coordinator goroutine runs rounds back to back: a round takes
// every queued log, snapshots under each log's mutex the end offset
// written so far and the files with unsynced writes, makes those files
// durable without holding any log mutex, then publishes each snapshotted
// end offset as that log's HighWatermark. Appends that arrive while a
// round runs are covered by the next round, so a burst of appends to many
// partitions costs one round, and an acknowledgement waits at most for the
// round in progress plus the next one.
//
// Two ways to make a round durable:
//
//   - per file (default): fdatasync every dirty file, up to Workers at a
//     time. The file system batches the concurrent journal commits.
//   - syncfs (SyncfsDir set): one syncfs(2) on the log directory's file
//     system. On ext4 that is one journal commit for every partition in the
//     round instead of one per file, which is what keeps acks=all latency
//     low with many partitions (docs/benchmarks.md). It also writes back
//     other dirty data of that file system, so it suits a log directory on
//     its own volume — Kafka's own deployment advice. A failing syncfs is
//     retried per file, so an I/O error is charged to the logs whose files
//     fail, not to every log in the round.
type Syncer struct {
	mu      sync.Mutex
	cond    *sync.Cond
	queue   []*Log
	closed  bool
	manual  bool // tests: no coordinator; runPending drains the queue
	workers int
	fs      vfs.FS
	fsFile  vfs.File // syncfs target; nil for the per-file strategy
	observe func(time.Duration)
	wg      sync.WaitGroup
}

// SyncerOptions configures a Syncer.
type SyncerOptions struct {
	// Workers bounds concurrent fdatasyncs in the per-file strategy
	// (minimum 1).
	Workers int
	// SyncfsDir, when set, selects the syncfs strategy on this
	// directory's file system.
	SyncfsDir string
	// FS is the file system of SyncfsDir (vfs.Default when nil).
	FS vfs.FS
	// Observe, if non-nil, is called with the duration of each round's
	// flush (for a latency histogram).
	Observe func(time.Duration)
}

// NewSyncer starts a per-file Syncer with the given fdatasync concurrency.
func NewSyncer(workers int, observe func(time.Duration)) *Syncer {
	s, _ := StartSyncer(SyncerOptions{Workers: workers, Observe: observe})
	return s
}

// StartSyncer starts a Syncer.
func StartSyncer(o SyncerOptions) (*Syncer, error) {
	s := newSyncer(o.Observe, false)
	s.workers = max(o.Workers, 1)
	if o.SyncfsDir != "" {
		fs := o.FS
		if fs == nil {
			fs = vfs.Default
		}
		f, err := vfs.Open(fs, o.SyncfsDir)
		if err != nil {
			return nil, fmt.Errorf("log: syncfs dir: %w", err)
		}
		s.fs, s.fsFile = fs, f
	}
	s.wg.Add(1)
	go s.run()
	return s, nil
}

func newSyncer(observe func(time.Duration), manual bool) *Syncer {
	s := &Syncer{observe: observe, manual: manual, workers: 1}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// Close stops the coordinator after the queued rounds have run.
func (s *Syncer) Close() {
	s.mu.Lock()
	s.closed = true
	s.cond.Broadcast()
	s.mu.Unlock()
	s.wg.Wait()
	if s.fsFile != nil {
		_ = s.fsFile.Close()
	}
}

// enqueue schedules l for the next round. The caller holds l.mu and has
// moved l to syncQueued, so l is in the queue at most once.
func (s *Syncer) enqueue(l *Log) {
	s.mu.Lock()
	s.queue = append(s.queue, l)
	s.cond.Signal()
	s.mu.Unlock()
}

// takeAll waits for queued logs and takes them all; nil means closed.
func (s *Syncer) takeAll() []*Log {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.queue) == 0 && !s.closed {
		s.cond.Wait()
	}
	batch := s.queue
	s.queue = nil
	return batch
}

func (s *Syncer) run() {
	defer s.wg.Done()
	for {
		batch := s.takeAll()
		if batch == nil {
			return
		}
		s.round(batch)
	}
}

// round makes one batch of logs durable and publishes their high marks.
func (s *Syncer) round(batch []*Log) {
	toks := make([]syncToken, 0, len(batch))
	for _, l := range batch {
		if t, ok := l.beginSync(); ok {
			toks = append(toks, t)
		}
	}
	if len(toks) == 0 {
		return
	}
	errs := make([]error, len(toks))
	start := time.Now()
	if s.fsFile == nil || s.fs.SyncFS(s.fsFile) != nil {
		s.flushFiles(toks, errs)
	}
	if s.observe != nil {
		s.observe(time.Since(start))
	}
	for i, t := range toks {
		t.l.endSync(t, errs[i])
	}
}

// flushFiles fdatasyncs every token's files, up to s.workers at a time.
func (s *Syncer) flushFiles(toks []syncToken, errs []error) {
	if s.workers == 1 || len(toks) == 1 {
		for i := range toks {
			errs[i] = toks[i].flush()
		}
		return
	}
	sem := make(chan struct{}, s.workers)
	var wg sync.WaitGroup
	for i := range toks {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = toks[i].flush()
			<-sem
		}()
	}
	wg.Wait()
}

// runPending runs rounds on the calling goroutine until nothing is queued,
// including rounds scheduled by the rounds it runs. Only for syncers made
// with newSyncer(_, true) (tests); it returns the number of log rounds run.
func (s *Syncer) runPending() int {
	n := 0
	for {
		s.mu.Lock()
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()
		if len(batch) == 0 {
			return n
		}
		s.round(batch)
		n += len(batch)
	}
}
