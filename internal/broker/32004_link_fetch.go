package broker

// LinkFetch (Tandem-private, key 32004): v0
//
// Behaviour (wire/linkapi.go, docs/mirroring.md "Pipelined fetch from a
// Tandem source"):
//   - A pipelined, read-only fetch for Tandem's link fetchers: a session
//     (linkfetch_sessions.go) keeps each partition's cursor (next offset,
//     epoch of the last batch returned), and a partition sent with
//     FetchOffset -1 (wire.LinkFetchContinue) reads from its cursor, so a
//     fetcher can keep several requests in flight on one connection and
//     each continues exactly where the one before it stopped.
//   - Everything that touches the session (sequence check, cursors, the
//     reads, the wait, the cursor updates) runs in the reply's Wait,
//     which the connection's writer runs strictly in request order; the
//     handler only resolves topics, partitions and authorization. The
//     session's lock is held for the whole Wait.
//   - Sessions: SessionID 0 → top-level INVALID_REQUEST. A session is
//     created when its id is first seen, for the principal that named it
//     (another principal's request for it → FETCH_SESSION_ID_NOT_FOUND).
//     Requests are served in the order they reach the session (a
//     connection's in request order); each answer carries its Sequence in
//     the session (0, 1, 2, …), by which the fetcher orders the answers of
//     requests its goroutines issued concurrently. A session dropped (idle,
//     or to make room; bounds in linkfetch_sessions.go: 1000 sessions, 2
//     minutes idle) and named again starts over at Sequence 0 without
//     cursors, which the fetcher detects. Top-level errors answer no
//     topics.
//   - Per partition: FetchOffset >= 0 reads from that offset with the
//     request's LastFetchedEpoch; -1 reads from the cursor with the
//     cursor's epoch as LastFetchedEpoch; -1 without a cursor answers
//     INVALID_FETCH_SESSION_EPOCH and any other negative offset
//     INVALID_REQUEST, both without reading. The answer's FetchOffset is
//     the offset read from (-1 when none could be determined), NextOffset
//     the offset after the last batch returned (FetchOffset when none),
//     which becomes the cursor, with the last batch's leader epoch. A
//     partition answered with an error or a DivergingEpoch has no cursor
//     afterwards (NextOffset -1); partitions not in a request keep theirs.
//   - Reads as Fetch v17 for a consumer (ReplicaID -1, read_uncommitted):
//     Broker.fetchPartition, with KIP-320 fencing (CurrentLeaderEpoch →
//     FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH), KIP-595 divergence
//     (DivergingEpoch, or OFFSET_OUT_OF_RANGE when the epoch's end cannot
//     be found), OFFSET_OUT_OF_RANGE outside the log, a restoring
//     partition NOT_LEADER_OR_FOLLOWER, MaxBytes / PartitionMaxBytes with
//     the first batch whole (KIP-74), zero copy on a sendfile connection
//     (Files).
//   - Waiting: the wait starts when the request's Wait starts (its turn on
//     the connection). A request whose connection has since named another
//     session (the fetcher started over; its new requests are queued
//     behind this one) answers at once with what it has. Answered at once
//     when a partition has an error,
//     when MinBytes are available or MaxWaitMillis <= 0; otherwise on the
//     first append that makes MinBytes available, on any data once
//     LingerMillis have passed since the session's previous answer (or
//     since the wait started, for a session's first request; <= 0: at
//     once), or at MaxWaitMillis with what there is. Re-reads replace the records of the read before;
//     cursors move only after the final read.
//   - Authorization as a consumer Fetch: READ on each topic, else
//     TOPIC_AUTHORIZATION_FAILED for its partitions; unknown topic ids
//     answer UNKNOWN_TOPIC_ID (checked first), a bad partition
//     UNKNOWN_TOPIC_OR_PARTITION, an offline log KAFKA_STORAGE_ERROR.
//     No link manager is needed (a source need not run links itself).
//   - Listed in ApiVersions only to a Tandem link's client
//     (linkapi_dispatch.go); refused before authentication.
//   - Metrics: the bytes of the final read count as the topic's bytes out.
//
// Version notes:
//   - v0: flexible (request header v2, tagged fields)

import (
	"bytes"
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/partition"
	"github.com/tandem-streaming/tandem/internal/record"
	"github.com/tandem-streaming/tandem/internal/wire"
)

func init() { registerPrivate(wire.LinkFetchKey, 0, 0, (*Broker).handleLinkFetch) }

// linkFetchAsVersion is the Fetch version whose checks fetchPartition
// applies to LinkFetch: CurrentLeaderEpoch (v9+), LastFetchedEpoch (v12+).
const linkFetchAsVersion = 17

// linkFetch is one LinkFetch request being answered: resolved in the
// handler, read and answered in Wait.
type linkFetch struct {
	b         *Broker
	r         *Request
	req       *wire.LinkFetchRequest
	principal auth.Principal
	// resp is the answer, with the resolution errors set; scratch has the
	// same shape in Fetch's types, which fetchPartition fills.
	resp    *wire.LinkFetchResponse
	scratch *kmsg.FetchResponse
	targets []fetchTarget
	files   *Files
}

func (b *Broker) handleLinkFetch(r *Request) Reply {
	req := r.Req.(*wire.LinkFetchRequest)
	if req.SessionID == 0 {
		return now(&wire.LinkFetchResponse{Version: req.Version, ErrorCode: kerr.InvalidRequest.Code,
			ErrorMessage: kmsg.StringPtr("LinkFetch session id 0: a session id is non-zero")})
	}
	f := &linkFetch{b: b, r: r, req: req, resp: &wire.LinkFetchResponse{Version: req.Version}, scratch: &kmsg.FetchResponse{}}
	if r.Conn != nil {
		r.Conn.linkFetch.name(req.SessionID)
		f.principal = r.Conn.Principal // the reader goroutine's, read here
		if r.Conn.SendFile {
			f.files = new(Files)
		}
	}
	readable := b.topicAuthz(r, kmsg.ACLOperationRead)
	for ti, rt := range req.Topics {
		topic, ok := b.parts.TopicByID(rt.TopicID)
		var topicErr *kerr.Error
		switch {
		case !ok:
			topicErr = kerr.UnknownTopicID
		case !readable.allowed(topic.Name):
			topicErr = kerr.TopicAuthorizationFailed
		}
		wt := wire.LinkFetchTopicResponse{TopicID: rt.TopicID, Partitions: make([]wire.LinkFetchPartitionResponse, len(rt.Partitions))}
		st := kmsg.FetchResponseTopic{Partitions: make([]kmsg.FetchResponseTopicPartition, len(rt.Partitions))}
		for pi, rp := range rt.Partitions {
			wt.Partitions[pi] = wire.LinkFetchPartitionResponse{Partition: rp.Partition, FetchOffset: -1, NextOffset: -1,
				HighWatermark: -1, LastStableOffset: -1, LogStartOffset: -1,
				DivergingEpoch: wire.LinkFetchDivergingEpoch{Epoch: -1, EndOffset: -1}}
			st.Partitions[pi] = kmsg.NewFetchResponseTopicPartition()
			if code := linkFetchResolve(topic, topicErr, rp.Partition); code != 0 {
				wt.Partitions[pi].ErrorCode = code
				continue
			}
			f.targets = append(f.targets, fetchTarget{ti: ti, pi: pi, p: topic.Partitions[rp.Partition],
				req: kmsg.FetchRequestTopicPartition{Partition: rp.Partition, CurrentLeaderEpoch: rp.CurrentLeaderEpoch,
					FetchOffset: rp.FetchOffset, LastFetchedEpoch: rp.LastFetchedEpoch, PartitionMaxBytes: rp.PartitionMaxBytes}})
		}
		f.resp.Topics = append(f.resp.Topics, wt)
		f.scratch.Topics = append(f.scratch.Topics, st)
	}
	return Reply{Files: f.files, Wait: f.wait}
}

// linkFetchResolve is the error code of a partition that cannot be read
// whatever the session says (0: it can be).
func linkFetchResolve(topic *partition.Topic, topicErr *kerr.Error, p int32) int16 {
	switch {
	case topicErr != nil:
		return topicErr.Code
	case p < 0 || int(p) >= len(topic.Partitions):
		return kerr.UnknownTopicOrPartition.Code
	case topic.Partitions[p].Log == nil:
		return kerr.KafkaStorageError.Code // offline, as in Fetch
	}
	return 0
}

// wait answers the request in its turn (Reply.Wait).
func (f *linkFetch) wait() kmsg.Response {
	req := f.req
	if f.r.Ctx.Err() != nil {
		// The connection is gone: nobody reads this answer, and the
		// session must not move for it.
		return &wire.LinkFetchResponse{Version: req.Version, ErrorCode: kerr.RequestTimedOut.Code}
	}
	start := time.Now()
	s, err := f.b.linkFetches.acquire(req.SessionID, f.principal, f.b.now())
	if err != nil {
		return &wire.LinkFetchResponse{Version: req.Version, ErrorCode: err.Code,
			ErrorMessage: kmsg.StringPtr("LinkFetch session belongs to another principal")}
	}
	defer func() { f.b.linkFetches.release(s, f.b.now()) }()

	// Each target's offset and epoch: explicit, or the cursor's.
	live := make([]fetchTarget, 0, len(f.targets))
	for _, t := range f.targets {
		wp := &f.resp.Topics[t.ti].Partitions[t.pi]
		switch off := t.req.FetchOffset; {
		case off == wire.LinkFetchContinue:
			c, ok := s.cursors[f.key(t)]
			if !ok {
				wp.ErrorCode = kerr.InvalidFetchSessionEpoch.Code
				continue
			}
			t.req.FetchOffset, t.req.LastFetchedEpoch = c.offset, c.lastEpoch
		case off < 0:
			wp.ErrorCode = kerr.InvalidRequest.Code
			continue
		}
		live = append(live, t)
	}
	anyErr := len(live) < len(f.targets) || len(f.targets) < f.partitions()

	// The linger counts from the session's previous answer: with requests
	// queued behind each other that is when this one's turn came, and
	// after a gap with no request at the source (the fetcher's requests
	// were all on their way) data that waited for this request leaves at
	// once instead of lingering again.
	since := start
	if !s.answered.IsZero() && s.answered.Before(start) {
		since = s.answered
	}
	lingerAt := since.Add(time.Duration(req.LingerMillis) * time.Millisecond)
	enough := func(n int, done bool) bool {
		return done || n >= int(req.MinBytes) || n > 0 && !time.Now().Before(lingerAt)
	}
	read := func() (int, bool) {
		return f.b.readTargets(f.scratch, live, log.ReadUncommitted, req.MaxBytes, linkFetchAsVersion, f.files, nil)
	}
	// Take the change signals before reading, so that an append landing
	// between the read and the wait still wakes us.
	signals := changeSignals(live)
	n, done := read()
	if !anyErr && !enough(n, done) && req.MaxWaitMillis > 0 && len(live) > 0 && !f.superseded() {
		f.poll(signals, live, n, start, lingerAt, read, enough)
	}
	f.finish(s, live)
	f.resp.Sequence = s.answers
	s.answers++
	s.answered = time.Now()
	return f.resp
}

// poll is the long poll after a first read of n bytes that was not
// enough: it waits for an append to a target (signals, taken before that
// read) or, with some bytes read, for lingerAt, and reads again, until
// enough, MaxWaitMillis after start, the connection's end or a drain.
func (f *linkFetch) poll(signals []<-chan struct{}, live []fetchTarget, n int, start, lingerAt time.Time,
	read func() (int, bool), enough func(int, bool) bool) {
	ctx, cancel := context.WithDeadline(f.r.Ctx, start.Add(time.Duration(f.req.MaxWaitMillis)*time.Millisecond))
	defer cancel()
	lingered := make(chan struct{})
	lingerTimer := time.AfterFunc(time.Until(lingerAt), func() { close(lingered) })
	defer lingerTimer.Stop()
	var replaced <-chan struct{} // closed when the connection names another session
	if f.r.Conn != nil {
		var sup bool
		if sup, replaced = f.r.Conn.linkFetch.superseded(f.req.SessionID); sup {
			return
		}
	}
	for {
		wakes := append(signals[:len(signals):len(signals)], replaced)
		if n > 0 {
			wakes = append(wakes, lingered)
		}
		if !waitAny(ctx, f.r.Drain, wakes) || f.superseded() {
			return // answer with what there is
		}
		signals = changeSignals(live)
		clearRecords(f.scratch, live, f.files)
		var done bool
		if n, done = read(); enough(n, done) {
			return
		}
	}
}

// superseded: a later request on the connection named another session
// (the fetcher started over): this one answers at once with what it has,
// instead of holding the new session's requests behind its long poll.
func (f *linkFetch) superseded() bool {
	if f.r.Conn == nil {
		return false
	}
	sup, _ := f.r.Conn.linkFetch.superseded(f.req.SessionID)
	return sup
}

// finish copies the final read into the answer and moves the cursors: a
// partition read without error or divergence gets its cursor after the
// records returned; every other partition of the request loses its.
func (f *linkFetch) finish(s *linkFetchSession, live []fetchTarget) {
	ref := 0 // the next of f.files' slices, in target order
	for _, t := range live {
		sp := &f.scratch.Topics[t.ti].Partitions[t.pi]
		wp := &f.resp.Topics[t.ti].Partitions[t.pi]
		wp.ErrorCode, wp.FetchOffset = sp.ErrorCode, t.req.FetchOffset
		wp.HighWatermark, wp.LastStableOffset, wp.LogStartOffset = sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset
		wp.DivergingEpoch = wire.LinkFetchDivergingEpoch{Epoch: sp.DivergingEpoch.Epoch, EndOffset: sp.DivergingEpoch.EndOffset}
		wp.Records = sp.RecordBatches
		if wp.ErrorCode != 0 || wp.DivergingEpoch.Epoch >= 0 {
			continue
		}
		cur := linkFetchCursor{offset: t.req.FetchOffset, lastEpoch: t.req.LastFetchedEpoch}
		if n, last, epoch := f.returned(t, wp.Records, &ref); n > 0 {
			cur = linkFetchCursor{offset: last + 1, lastEpoch: epoch}
			if f.b.metrics != nil {
				f.b.metrics.BytesOut(t.p.Topic, n)
			}
		}
		wp.NextOffset = cur.offset
		s.cursors[f.key(t)] = cur
	}
	for ti, rt := range f.req.Topics {
		for pi, rp := range rt.Partitions {
			if wp := &f.resp.Topics[ti].Partitions[pi]; wp.ErrorCode != 0 || wp.DivergingEpoch.Epoch >= 0 {
				wp.NextOffset = -1
				delete(s.cursors, linkFetchKey{topicID: rt.TopicID, partition: rp.Partition})
			}
		}
	}
}

// returned describes the records answered for t: their size, the last
// offset of their last batch and that batch's leader epoch (n 0: none).
// Records on a sendfile connection are a placeholder for the next of
// f.files' slices (*ref), whose last offset the slice knows and whose
// epoch the log's epoch cache gives.
func (f *linkFetch) returned(t fetchTarget, records []byte, ref *int) (n int, last int64, epoch int32) {
	if f.files != nil && *ref < len(f.files.Refs) && bytes.Equal(records, f.files.Refs[*ref].Placeholder) {
		sl := f.files.Refs[*ref].Slice
		*ref++
		return int(sl.Len), sl.LastOffset, t.p.Log.EpochForOffset(sl.LastOffset)
	}
	var lastBatch record.Batch
	for it := record.NewIter(records); ; {
		b, ok := it.Next()
		if !ok {
			break
		}
		lastBatch = b
	}
	if lastBatch == nil {
		return 0, 0, 0
	}
	return len(records), lastBatch.LastOffset(), lastBatch.PartitionLeaderEpoch()
}

func (f *linkFetch) key(t fetchTarget) linkFetchKey {
	return linkFetchKey{topicID: f.req.Topics[t.ti].TopicID, partition: t.req.Partition}
}

// partitions counts the partitions of the request.
func (f *linkFetch) partitions() int {
	n := 0
	for _, t := range f.req.Topics {
		n += len(t.Partitions)
	}
	return n
}
