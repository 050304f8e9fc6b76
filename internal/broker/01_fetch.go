package broker

// Fetch: v4-17
//
// Behaviour:
//   - Consumers (ReplicaID -1) read up to the HighWatermark
//     (read_uncommitted) or the LastStableOffset (read_committed, with the
//     aborted transactions of the returned range, KIP-98). The
//     HighWatermark here is the fsynced end of the log (docs/storage.md), so
//     a consumer never sees data that a crash could take back.
//   - Long poll: when fewer than MinBytes are available and MaxWaitMillis
//     is positive, the fetch waits for any of its partitions to advance,
//     then reads again; the wait runs in the reply's Wait func, so it never
//     holds up the connection's reader.
//   - MaxBytes bounds the response and PartitionMaxBytes each partition,
//     except that the first batch of the first partition with data is
//     returned whole even when larger (KIP-74), so consumers always
//     progress.
//   - OFFSET_OUT_OF_RANGE with the log bounds when FetchOffset is outside
//     [LogStartOffset, LogEndOffset].
//   - CurrentLeaderEpoch (v9+, KIP-320): older → FENCED_LEADER_EPOCH, newer
//     → UNKNOWN_LEADER_EPOCH.
//   - A partition being truncated by truncate-and-restore (mirror state
//     PENDING_RESTORE) answers NOT_LEADER_OR_FOLLOWER, as a partition in a
//     leader election: the client refreshes its metadata and retries. An
//     OFFSET_OUT_OF_RANGE for a position past the cut would make it reset
//     per its auto.offset.reset policy; instead it sees the leader epoch
//     raised when the truncation is done and finds the truncation point
//     with OffsetsForLeaderEpoch (KIP-320), docs/design/links-bidirectional.md §5.2.
//   - LastFetchedEpoch (v12+, KIP-595): when the log's end offset for that
//     epoch is below FetchOffset, or the epoch is unknown and a smaller one
//     is the largest we have, the partition answers DivergingEpoch
//     {epoch, endOffset} without records (Kafka Partition.readRecords);
//     when no end offset can be determined at all, OFFSET_OUT_OF_RANGE.
//   - Fetch sessions (KIP-227): not used. Every response carries SessionID
//     0, which tells clients that no session was created, so they keep
//     sending full fetch requests; a request naming a session id gets
//     FETCH_SESSION_ID_NOT_FOUND. This is the answer KIP-227 gives a broker
//     whose session cache is full.
//   - Zero copy: on a connection that can sendfile (Conn.SendFile), the
//     records of each partition are a pinned range of the segment file
//     (Files); the server sends those bytes from the page cache with
//     sendfile(2), as Kafka does with FileRecords.transferTo. Only batch
//     headers are read to cut the range at whole batches.
//   - Follower fetches (ReplicaID >= 0) are refused with
//     NOT_LEADER_OR_FOLLOWER: this node has no followers yet.
//   - Authorization (KafkaApis.handleFetchRequest): a consumer needs READ
//     on each topic, else its partitions answer TOPIC_AUTHORIZATION_FAILED
//     (checked after resolving topic ids, whose unknown ones answer
//     UNKNOWN_TOPIC_ID, and before the topic's existence); a follower needs
//     CLUSTER_ACTION on the cluster, else every partition answers
//     TOPIC_AUTHORIZATION_FAILED. Without fetch sessions there is no
//     session state to keep consistent: each request is checked whole.
//
// Version notes:
//   - v4: IsolationLevel, LastStableOffset, AbortedTransactions
//   - v5: LogStartOffset; v7: sessions; v9: CurrentLeaderEpoch
//   - v11: Rack, PreferredReadReplica (always -1)
//   - v12: flexible, LastFetchedEpoch → DivergingEpoch
//   - v13: topic ids; v15: ReplicaState replaces ReplicaID
//   - v16/v17: NodeEndpoints / ReplicaDirectoryID tags, unused here

import (
	"context"
	"errors"
	"reflect"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/partition"
)

func init() { register(kmsg.Fetch, 4, 17, (*Broker).handleFetch) }

// fetchTarget is one requested partition, resolved once.
type fetchTarget struct {
	ti, pi int
	p      *partition.Partition
	req    kmsg.FetchRequestTopicPartition
}

func (b *Broker) handleFetch(r *Request) Reply {
	req := r.Req.(*kmsg.FetchRequest)
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	resp.SessionID = 0

	replicaID := req.ReplicaID
	if req.Version >= 15 {
		replicaID = req.ReplicaState.ID
	}
	if req.SessionID != 0 {
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return now(resp)
	}

	var followerDenied bool
	if replicaID >= 0 {
		followerDenied = !b.authorizedCluster(r, kmsg.ACLOperationClusterAction)
	}
	readable := b.topicAuthz(r, kmsg.ACLOperationRead)

	var targets []fetchTarget
	for ti, rt := range req.Topics {
		st := kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		var topic *partition.Topic
		var topicErr *kerr.Error
		if req.Version >= 13 {
			t, ok := b.parts.TopicByID(rt.TopicID)
			if ok {
				topic, st.Topic = t, t.Name
			} else {
				topicErr = kerr.UnknownTopicID
			}
		} else if t, ok := b.parts.Topic(rt.Topic); ok {
			topic = t
		} else {
			topicErr = kerr.UnknownTopicOrPartition
		}
		switch {
		case followerDenied:
			topicErr = kerr.TopicAuthorizationFailed
		case replicaID >= 0 || topicErr == kerr.UnknownTopicID:
		case !readable.allowed(st.Topic):
			topicErr = kerr.TopicAuthorizationFailed
		}
		for pi, rp := range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
			sp.PreferredReadReplica = -1
			// Never null: librdkafka rejects a null record set
			// ("invalid MessageSetSize -1"); Kafka sends empty bytes.
			sp.RecordBatches = []byte{}
			switch {
			case topicErr != nil:
				sp.ErrorCode = topicErr.Code
			case rp.Partition < 0 || int(rp.Partition) >= len(topic.Partitions):
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case replicaID >= 0:
				sp.ErrorCode = kerr.NotLeaderForPartition.Code
			case topic.Partitions[rp.Partition].Log == nil:
				// Offline: its log could not be opened (Kafka answers a
				// partition in an offline log dir the same way).
				sp.ErrorCode = kerr.KafkaStorageError.Code
			default:
				targets = append(targets, fetchTarget{ti: ti, pi: pi, p: topic.Partitions[rp.Partition], req: rp})
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}

	isolation := log.ReadUncommitted
	if req.IsolationLevel == 1 {
		isolation = log.ReadCommitted
	}
	// On a sendfile connection the records travel as file slices
	// (Files): no copy of them is made in user memory.
	var files *Files
	if r.Conn != nil && r.Conn.SendFile {
		files = new(Files)
	}
	sizes := make([]int, len(targets))
	read := func() (bytes int, done bool) {
		return b.readTargets(resp, targets, isolation, req.MaxBytes, req.Version, files, sizes)
	}

	// Take the change signals before reading, so that an append landing
	// between the read and the wait still wakes us.
	signals := changeSignals(targets)
	n, done := read()
	if done || n >= int(req.MinBytes) || req.MaxWaitMillis <= 0 || len(targets) == 0 {
		b.accountBytesOut(targets, sizes)
		return Reply{Resp: resp, Files: files}
	}
	deadline := time.Now().Add(time.Duration(req.MaxWaitMillis) * time.Millisecond)
	return Reply{Files: files, Wait: func() kmsg.Response {
		ctx, cancel := context.WithDeadline(r.Ctx, deadline)
		defer cancel()
		defer b.accountBytesOut(targets, sizes) // the read answered
		for {
			if !waitAny(ctx, r.Drain, signals) {
				return resp
			}
			signals = changeSignals(targets)
			clearRecords(resp, targets, files)
			if n, done := read(); done || n >= int(req.MinBytes) {
				return resp
			}
		}
	}}
}

// readTargets reads every target into its partition of resp
// (fetchPartition) within maxBytes (<= 0: no bound) and returns the
// record bytes added, and whether an error was set (errors are answered
// at once). sizes, when not nil, receives each target's record bytes
// (accountBytesOut).
func (b *Broker) readTargets(resp *kmsg.FetchResponse, targets []fetchTarget, isolation log.Isolation, maxBytes int32, version int16, files *Files, sizes []int) (bytes int, done bool) {
	budget := maxBytes
	if maxBytes <= 0 {
		budget = 1<<31 - 1
	}
	for i, t := range targets {
		sp := &resp.Topics[t.ti].Partitions[t.pi]
		n, stop := b.fetchPartition(t, sp, isolation, &budget, bytes == 0, version, files)
		bytes += n
		if stop {
			done = true // an error is worth answering at once
		}
		if sizes != nil {
			sizes[i] = n
		}
	}
	return bytes, done
}

// accountBytesOut adds the record bytes of the read that is answered
// (sizes, by target, from readTargets) to the topics' bytes-out metric:
// once per answer, not per read of a long poll woken by appends.
func (b *Broker) accountBytesOut(targets []fetchTarget, sizes []int) {
	if b.metrics == nil {
		return
	}
	for i, t := range targets {
		if sizes[i] > 0 {
			b.metrics.BytesOut(t.p.Topic, sizes[i])
		}
	}
}

// clearRecords empties the record sets of a response about to be read
// again (a long poll woken by an append), unpinning its file slices.
func clearRecords(resp *kmsg.FetchResponse, targets []fetchTarget, files *Files) {
	files.Release()
	for _, t := range targets {
		sp := &resp.Topics[t.ti].Partitions[t.pi]
		sp.RecordBatches = []byte{}
		sp.AbortedTransactions = nil
	}
}

func changeSignals(targets []fetchTarget) []<-chan struct{} {
	out := make([]<-chan struct{}, len(targets))
	for i, t := range targets {
		out[i] = t.p.Log.Changed()
	}
	return out
}

// waitAny blocks until one of chans is closed (true), or ctx ends or drain
// is closed (false: answer with what there is).
func waitAny(ctx context.Context, drain <-chan struct{}, chans []<-chan struct{}) bool {
	if len(chans) == 1 {
		select {
		case <-chans[0]:
			return true
		case <-ctx.Done():
			return false
		case <-drain:
			return false
		}
	}
	cases := make([]reflect.SelectCase, 0, len(chans)+2)
	cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())})
	cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(drain)})
	for _, c := range chans {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(c)})
	}
	i, _, _ := reflect.Select(cases)
	return i > 1
}

// fetchPartition fills sp for one partition and returns the record bytes
// added, and whether an error was set (errors are answered without waiting).
// With files non-nil the records are returned as a file slice behind a
// placeholder (see Files) when the log can delimit them without reading.
func (b *Broker) fetchPartition(t fetchTarget, sp *kmsg.FetchResponseTopicPartition, isolation log.Isolation, budget *int32, first bool, version int16, files *Files) (int, bool) {
	l := t.p.Log
	sp.ErrorCode = 0
	sp.HighWatermark = l.HighWatermark()
	sp.LastStableOffset = l.LastStableOffset()
	sp.LogStartOffset = l.LogStartOffset()
	if t.p.Restoring() {
		sp.ErrorCode = kerr.NotLeaderForPartition.Code
		return 0, true
	}
	epoch := t.p.LeaderEpoch()
	if version >= 9 && t.req.CurrentLeaderEpoch >= 0 {
		switch {
		case t.req.CurrentLeaderEpoch < epoch:
			sp.ErrorCode = kerr.FencedLeaderEpoch.Code
			return 0, true
		case t.req.CurrentLeaderEpoch > epoch:
			sp.ErrorCode = kerr.UnknownLeaderEpoch.Code
			return 0, true
		}
	}
	if version >= 12 && t.req.LastFetchedEpoch >= 0 {
		foundEpoch, endOffset := l.EndOffsetForEpoch(t.req.LastFetchedEpoch)
		if foundEpoch < 0 || endOffset < 0 {
			// Kafka Partition.readRecords: "Could not determine the end
			// offset of the last fetched epoch" → OFFSET_OUT_OF_RANGE.
			// A DivergingEpoch of (-1, -1) would read as "no divergence".
			sp.ErrorCode = kerr.OffsetOutOfRange.Code
			return 0, true
		}
		if foundEpoch < t.req.LastFetchedEpoch || endOffset < t.req.FetchOffset {
			sp.DivergingEpoch.Epoch = foundEpoch
			sp.DivergingEpoch.EndOffset = endOffset
			return 0, true
		}
	}
	max := t.req.PartitionMaxBytes
	if max > *budget {
		max = *budget
	}
	if max <= 0 && !first {
		return 0, false
	}
	read := l.Read
	if files != nil {
		read = l.ReadSlice
	}
	res, err := read(t.req.FetchOffset, max, isolation, first)
	if err != nil {
		sp.ErrorCode = codeOf(err)
		if !errors.Is(err, log.ErrOffsetOutOfRange) {
			b.rlog.Warn("fetch read failed", "topic", t.p.Topic, "partition", t.p.Index, "err", err)
		}
		return 0, true
	}
	sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = res.HighWatermark, res.LastStableOffset, res.LogStartOffset
	n := len(res.Records)
	switch {
	case res.Slice != nil && res.Slice.Len > 0:
		sp.RecordBatches = files.add(res.Slice)
		n = int(res.Slice.Len)
	case res.Slice != nil:
		res.Slice.Release()
	case res.Records != nil:
		sp.RecordBatches = res.Records
	}
	if isolation == log.ReadCommitted {
		for _, a := range res.AbortedTransactions {
			at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
			at.ProducerID, at.FirstOffset = a.ProducerID, a.FirstOffset
			sp.AbortedTransactions = append(sp.AbortedTransactions, at)
		}
	}
	*budget -= int32(n)
	return n, false
}
