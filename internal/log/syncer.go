package log

import (
	"sync"
	"time"
)

// Syncer runs group-commit fsyncs for many logs on a few workers.
//
// An append writes to the segment file (page cache) and marks its log
// dirty; the first append after the log's previous sync round enqueues the
// log here. A worker picks the log up, snapshots under the log mutex the
// end offset written so far and the files with unsynced writes, fdatasyncs
// those files without holding the log mutex, then publishes the snapshotted
// end offset as the new HighWatermark. Appends that arrive while a round is
// running are covered by the next round, which the worker schedules before
// letting go of the log: at most one round per log is queued or running at
// a time, so a burst of appends costs one fsync per round, not one per
// append, and many logs are synced in parallel by the workers.
type Syncer struct {
	mu      sync.Mutex
	cond    *sync.Cond
	queue   []*Log
	closed  bool
	manual  bool // tests: no workers; RunPending drains the queue
	observe func(time.Duration)
	wg      sync.WaitGroup
}

// NewSyncer starts workers (minimum 1) goroutines. observe, if non-nil, is
// called with the duration of each fsync round (for a latency histogram).
func NewSyncer(workers int, observe func(time.Duration)) *Syncer {
	s := newSyncer(observe, false)
	if workers < 1 {
		workers = 1
	}
	for range workers {
		s.wg.Add(1)
		go s.run()
	}
	return s
}

func newSyncer(observe func(time.Duration), manual bool) *Syncer {
	s := &Syncer{observe: observe, manual: manual}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// Close stops the workers after the queued rounds have run.
func (s *Syncer) Close() {
	s.mu.Lock()
	s.closed = true
	s.cond.Broadcast()
	s.mu.Unlock()
	s.wg.Wait()
}

// enqueue schedules a sync round for l. The caller holds l.mu and has
// moved l to syncQueued, so l is in the queue at most once.
func (s *Syncer) enqueue(l *Log) {
	s.mu.Lock()
	s.queue = append(s.queue, l)
	s.cond.Signal()
	s.mu.Unlock()
}

func (s *Syncer) next() *Log {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.queue) == 0 && !s.closed {
		s.cond.Wait()
	}
	if len(s.queue) == 0 {
		return nil
	}
	l := s.queue[0]
	s.queue[0] = nil
	s.queue = s.queue[1:]
	return l
}

func (s *Syncer) run() {
	defer s.wg.Done()
	for {
		l := s.next()
		if l == nil {
			return
		}
		l.syncRound(s.observe)
	}
}

// RunPending runs every queued round on the calling goroutine, including
// rounds scheduled by the rounds it runs. Only for syncers made with
// newManualSyncer (tests); it returns the number of rounds run.
func (s *Syncer) runPending() int {
	n := 0
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.mu.Unlock()
			return n
		}
		l := s.queue[0]
		s.queue = s.queue[1:]
		s.mu.Unlock()
		l.syncRound(s.observe)
		n++
	}
}
