package group

import (
	"container/heap"
	"log/slog"
	"time"
)

// shardState is the coordinator for one __consumer_offsets partition, as a
// pure, deterministic state machine in the style of raft's RawNode: it
// takes inputs (a request, the clock reaching a deadline, a write becoming
// durable or failing) stamped with the time they happen, and accumulates
// outputs (responses to send, record batches to append) that its owner
// drains with ready(). It does no I/O, starts no goroutines and reads no
// clock; the shard goroutine (shard.go) and the tests drive it.
//
// It follows Kafka's coordinator runtime (CoordinatorRuntime,
// GroupMetadataManager, OffsetMetadataManager):
//
//   - A request that produces records gets its response only once every
//     record written so far on this shard is durable ("the response is
//     parked until the records are committed"); if a write it made fails,
//     the response becomes the error Kafka returns for that request.
//     Responses of requests that wrote nothing also wait for writes that
//     are still in flight (CoordinatorWriteEvent with empty records), so
//     no response reveals state that might not survive a crash.
//   - Responses that complete a parked JoinGroup or SyncGroup are sent as
//     soon as they are ready, as Kafka completes those futures directly,
//     except where Kafka ties them to an append (the leader's assignment,
//     a static member's replacement).
//   - Group membership is changed in memory at once (Kafka's ClassicGroup
//     is not a timeline structure either); committed offsets change only
//     when their records are durable, so OffsetFetch reads committed state.
type shardState struct {
	cfg     Config
	shard   int32
	logger  *slog.Logger
	newUUID func() string

	// now is the time of the input being processed.
	now time.Time

	groups map[string]*group
	timers timerQueue

	// Writes are numbered from 1 in the order they are issued, which is
	// the order they are appended to the log; they resolve in that order
	// (writeDone reorders out-of-order completions).
	nextWrite       uint64
	resolvedThrough uint64
	writes          map[uint64]*pendingWrite

	// deferred holds direct responses waiting for writes to resolve, in
	// issue order (their upTo never decreases).
	deferred []*deferredReply

	// ev is the request being handled, if any.
	ev *event

	out output
}

// output is what the owner must do after an input.
type output struct {
	replies []reply
	appends []appendReq
}

// reply delivers resp to the waiter registered as to.
type reply struct {
	to   uint64
	resp any
}

// appendReq asks the owner to append records as one batch and to call
// writeDone(id, err) when they are durable or failed.
type appendReq struct {
	id      uint64
	records []Record
}

type pendingWrite struct {
	done   bool
	err    error
	onDone func(err error)
	// bound are the direct responses of the request that issued this
	// write; they turn into error responses if it fails.
	bound []*deferredReply
}

type deferredReply struct {
	upTo     uint64
	to       uint64
	resp     any
	failWith func(err error) any
	failed   bool
}

// event is the request being handled: its direct response is collected
// here and released at the end of the input.
type event struct {
	to         uint64
	firstWrite uint64
	responded  bool
	resp       any
	failWith   func(err error) any
}

func newShardState(cfg Config, shard int32, logger *slog.Logger, newUUID func() string) *shardState {
	return &shardState{
		cfg:       cfg,
		shard:     shard,
		logger:    logger,
		newUUID:   newUUID,
		groups:    map[string]*group{},
		timers:    timerQueue{entries: map[timerKey]*timerEntry{}},
		nextWrite: 1,
		writes:    map[uint64]*pendingWrite{},
	}
}

// nowMs is the current input's time in Kafka's millisecond timestamps.
func (s *shardState) nowMs() int64 { return s.now.UnixMilli() }

// handle processes one request; to identifies the waiter for its response.
func (s *shardState) handle(now time.Time, to uint64, op any) {
	s.now = now
	s.ev = &event{to: to, firstWrite: s.nextWrite}
	s.dispatch(op)
	s.endEvent()
	s.fireDue()
}

// tick fires the timers due at now.
func (s *shardState) tick(now time.Time) {
	s.now = now
	s.fireDue()
}

// writeDone records the outcome of write id. Outcomes are applied in
// write order, so a completion that arrives early waits for its
// predecessors.
func (s *shardState) writeDone(now time.Time, id uint64, err error) {
	s.now = now
	w, ok := s.writes[id]
	if !ok || w.done {
		return
	}
	w.done, w.err = true, err
	for {
		next := s.resolvedThrough + 1
		w, ok := s.writes[next]
		if !ok || !w.done {
			break
		}
		delete(s.writes, next)
		s.resolvedThrough = next
		if w.onDone != nil {
			w.onDone(w.err)
		}
		if w.err != nil {
			for _, d := range w.bound {
				if !d.failed {
					d.failed = true
					d.resp = d.failWith(w.err)
				}
			}
		}
	}
	s.releaseDeferred()
	s.fireDue()
}

// ready returns and clears the accumulated outputs.
func (s *shardState) ready() output {
	o := s.out
	s.out = output{}
	return o
}

// nextDeadline is when the owner must call tick next.
func (s *shardState) nextDeadline() (time.Time, bool) { return s.timers.next() }

// write issues records as one batch; onDone runs (on the state machine)
// when the batch is durable (err nil) or has failed.
func (s *shardState) write(records []Record, onDone func(err error)) {
	id := s.nextWrite
	s.nextWrite++
	s.writes[id] = &pendingWrite{onDone: onDone}
	s.out.appends = append(s.out.appends, appendReq{id: id, records: records})
}

// respond sets the direct response of the request being handled. failWith
// builds the response to send instead if a write this request issued
// fails; nil means the response does not depend on the writes.
func (s *shardState) respond(resp any, failWith func(err error) any) {
	s.ev.responded, s.ev.resp, s.ev.failWith = true, resp, failWith
}

// sendNow completes a parked request at once.
func (s *shardState) sendNow(to uint64, resp any) {
	s.out.replies = append(s.out.replies, reply{to: to, resp: resp})
}

func (s *shardState) endEvent() {
	ev := s.ev
	s.ev = nil
	if !ev.responded {
		return
	}
	d := &deferredReply{upTo: s.nextWrite - 1, to: ev.to, resp: ev.resp, failWith: ev.failWith}
	for id := ev.firstWrite; id < s.nextWrite; id++ {
		if w, ok := s.writes[id]; ok && d.failWith != nil {
			w.bound = append(w.bound, d)
		}
	}
	s.deferred = append(s.deferred, d)
	s.releaseDeferred()
}

func (s *shardState) releaseDeferred() {
	n := 0
	for _, d := range s.deferred {
		if d.upTo > s.resolvedThrough {
			break
		}
		s.out.replies = append(s.out.replies, reply{to: d.to, resp: d.resp})
		n++
	}
	if n > 0 {
		s.deferred = append(s.deferred[:0], s.deferred[n:]...)
	}
}

// fireDue runs every timer whose deadline has passed, in deadline order.
func (s *shardState) fireDue() {
	for {
		fire, ok := s.timers.popDue(s.now)
		if !ok {
			return
		}
		fire()
	}
}

// Timers. Kafka's coordinator keys its timers by string
// ("session-timeout-<group>-<member>", "join-<group>", "sync-<group>");
// scheduling a key again replaces its previous deadline.

type timerKind uint8

const (
	timerHeartbeat timerKind = iota // a member's session (or pending member's join) deadline
	timerJoin                       // a group's join phase: initial delay or rebalance timeout
	timerSync                       // a group's wait for SyncGroup from every member
	timerRetention                  // the shard's offset expiration cycle
)

type timerKey struct {
	kind   timerKind
	group  string
	member string
}

type timerEntry struct {
	deadline time.Time
	seq      uint64
	fire     func()
}

type timerItem struct {
	deadline time.Time
	seq      uint64
	key      timerKey
}

// timerQueue is a min-heap of deadlines with lazy deletion: the map holds
// the live entry per key, and heap items whose seq no longer matches are
// stale and skipped. Ties fire in scheduling order.
type timerQueue struct {
	entries map[timerKey]*timerEntry
	items   timerHeap
	seq     uint64
}

func (q *timerQueue) schedule(k timerKey, at time.Time, fire func()) {
	q.seq++
	q.entries[k] = &timerEntry{deadline: at, seq: q.seq, fire: fire}
	heap.Push(&q.items, timerItem{deadline: at, seq: q.seq, key: k})
	if len(q.items) > 2*len(q.entries)+64 {
		q.compact()
	}
}

func (q *timerQueue) cancel(k timerKey) { delete(q.entries, k) }

func (q *timerQueue) compact() {
	live := q.items[:0]
	for _, it := range q.items {
		if e, ok := q.entries[it.key]; ok && e.seq == it.seq {
			live = append(live, it)
		}
	}
	q.items = live
	heap.Init(&q.items)
}

func (q *timerQueue) dropStale() {
	for len(q.items) > 0 {
		it := q.items[0]
		if e, ok := q.entries[it.key]; ok && e.seq == it.seq {
			return
		}
		heap.Pop(&q.items)
	}
}

func (q *timerQueue) next() (time.Time, bool) {
	q.dropStale()
	if len(q.items) == 0 {
		return time.Time{}, false
	}
	return q.items[0].deadline, true
}

func (q *timerQueue) popDue(now time.Time) (func(), bool) {
	q.dropStale()
	if len(q.items) == 0 || q.items[0].deadline.After(now) {
		return nil, false
	}
	it := heap.Pop(&q.items).(timerItem)
	e := q.entries[it.key]
	delete(q.entries, it.key)
	return e.fire, true
}

type timerHeap []timerItem

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].deadline.Equal(h[j].deadline) {
		return h[i].deadline.Before(h[j].deadline)
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(timerItem)) }
func (h *timerHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
