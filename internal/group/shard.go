package group

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// shard runs one shardState on its own goroutine: the state is touched by
// nothing else, so it needs no lock (Kafka's CoordinatorRuntime likewise
// never processes two events of one partition at once). Requests, write
// completions and timer wake-ups arrive on its queue.
type shard struct {
	id     int32
	c      *Coordinator
	log    Log
	state  *shardState
	status atomic.Int32
	q      queue
	done   chan struct{}

	// Owned by the shard goroutine.
	nextID  uint64
	waiters map[uint64]chan any
	armed   bool
	armedAt time.Time
	stop    func() bool
}

const (
	shardLoading int32 = iota
	shardActive
	shardFailed
)

// Events on a shard's queue.
type (
	reqEvent struct {
		op any
		ch chan any
	}
	writeDoneEvent struct {
		id  uint64
		err error
	}
	wakeEvent struct{}
)

// queue is an unbounded multi-producer queue with a wake-up signal
// (nats' ipQueue): pushing never blocks, so a Log's done callback and a
// timer may push from any goroutine, including the shard's own.
type queue struct {
	mu     sync.Mutex
	items  []any
	signal chan struct{}
}

func (q *queue) push(ev any) {
	q.mu.Lock()
	q.items = append(q.items, ev)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *queue) drain(buf []any) []any {
	q.mu.Lock()
	buf = append(buf[:0], q.items...)
	clear(q.items)
	q.items = q.items[:0]
	q.mu.Unlock()
	return buf
}

var errClosing = errors.New("group: coordinator closing")

func (sh *shard) run() {
	defer close(sh.done)
	start := sh.c.clock.Now()
	if err := sh.load(); err != nil {
		if !errors.Is(err, errClosing) {
			sh.c.logger.Error("loading group coordinator shard failed; its groups are unavailable",
				"shard", sh.id, "err", err)
			sh.status.Store(shardFailed)
		}
		return
	}
	sh.status.Store(shardActive)
	sh.c.logger.Debug("group coordinator shard loaded", "shard", sh.id, "groups", len(sh.state.groups),
		"took", sh.c.clock.Now().Sub(start))
	sh.c.shardLoaded(len(sh.state.groups))

	var buf []any
	for {
		select {
		case <-sh.q.signal:
		case <-sh.c.closing:
			return
		}
		buf = sh.q.drain(buf)
		now := sh.c.clock.Now()
		for _, ev := range buf {
			switch ev := ev.(type) {
			case reqEvent:
				sh.nextID++
				sh.waiters[sh.nextID] = ev.ch
				sh.state.handle(now, sh.nextID, ev.op)
			case writeDoneEvent:
				sh.state.writeDone(now, ev.id, ev.err)
			case wakeEvent:
				sh.armed = false
				sh.state.tick(now)
			}
		}
		sh.flush(now)
	}
}

// load replays the shard's partition into a fresh state, then starts it
// (sessions, expiration cycle).
func (sh *shard) load() error {
	sh.state.now = sh.c.clock.Now()
	err := sh.log.Replay(func(offset int64, r Record) error {
		select {
		case <-sh.c.closing:
			return errClosing
		default:
		}
		if err := sh.state.replay(r); err != nil {
			return fmt.Errorf("%w (at offset %d)", err, offset)
		}
		return nil
	})
	if err != nil {
		return err
	}
	now := sh.c.clock.Now()
	sh.state.onLoaded(now)
	sh.flush(now)
	return nil
}

// flush carries out the state's outputs: appends go to the log, replies
// to their waiters, and the wake-up timer follows the next deadline.
func (sh *shard) flush(now time.Time) {
	out := sh.state.ready()
	for _, a := range out.appends {
		id := a.id
		sh.log.Append(a.records, func(err error) { sh.q.push(writeDoneEvent{id: id, err: err}) })
	}
	for _, r := range out.replies {
		if ch, ok := sh.waiters[r.to]; ok {
			delete(sh.waiters, r.to)
			ch <- r.resp // buffered; never blocks
		}
	}
	if at, ok := sh.state.nextDeadline(); ok && (!sh.armed || at.Before(sh.armedAt)) {
		if sh.stop != nil {
			sh.stop()
		}
		sh.armed, sh.armedAt = true, at
		sh.stop = sh.c.clock.AfterFunc(max(at.Sub(now), 0), func() { sh.q.push(wakeEvent{}) })
	}
}
