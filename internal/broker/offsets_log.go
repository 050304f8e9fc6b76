package broker

import (
	"context"
	"fmt"

	"github.com/tandem-streaming/tandem/internal/group"
	"github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/partition"
	"github.com/tandem-streaming/tandem/internal/record"
)

// offsetsLog is a __consumer_offsets partition as the group coordinator
// sees it (group.Log): appends go through the same leader path as client
// produces, and durability is the same HighWatermark wait acks=all uses,
// so a commit is acknowledged only once it is fsynced.
type offsetsLog struct {
	p   *partition.Partition
	now func() int64
	ctx context.Context // ends at shutdown
}

// groupTopics answers the coordinator's questions about user topics.
type groupTopics struct{ parts *partition.Manager }

func (g groupTopics) PartitionExists(topic string, p int32) bool {
	_, err := g.parts.Get(topic, p)
	return err == nil
}

var _ group.Log = (*offsetsLog)(nil)

func (o *offsetsLog) Append(records []group.Record, done func(error)) {
	if len(records) == 0 {
		done(nil)
		return
	}
	b := record.NewBuilder()
	ts := o.now()
	for _, r := range records {
		b.Append(ts, r.Key, r.Value)
	}
	res, err := o.p.Log.AppendAsLeader(b.Build(), o.p.LeaderEpoch())
	if err != nil {
		done(AsKafkaError(fmt.Errorf("writing to %s-%d: %w", o.p.Topic, o.p.Index, err)))
		return
	}
	go func() {
		if err := o.p.Log.WaitHighWatermark(o.ctx, res.LastOffset+1); err != nil {
			done(AsKafkaError(err))
			return
		}
		done(nil)
	}()
}

// Replay reads the partition from its log start to its high watermark.
func (o *offsetsLog) Replay(fn func(offset int64, r group.Record) error) error {
	l := o.p.Log
	off, end := l.LogStartOffset(), l.HighWatermark()
	for off < end {
		res, err := l.Read(off, 1<<20, log.ReadUncommitted, true)
		if err != nil {
			return fmt.Errorf("reading %s-%d at offset %d: %w", o.p.Topic, o.p.Index, off, err)
		}
		if len(res.Records) == 0 {
			break
		}
		it := record.NewIter(res.Records)
		for batch, ok := it.Next(); ok; batch, ok = it.Next() {
			if batch.IsControl() {
				off = batch.LastOffset() + 1
				continue
			}
			err := batch.Records(func(r record.Record) error {
				at := batch.BaseOffset() + int64(r.OffsetDelta)
				if at < off {
					return nil // before the replay position (first batch of a read)
				}
				// The callback's slices are only valid during it.
				return fn(at, group.Record{Key: cloneBytes(r.Key), Value: cloneNil(r.Value)})
			})
			if err != nil {
				return err
			}
			off = batch.LastOffset() + 1
		}
		if err := it.Err(); err != nil {
			return fmt.Errorf("reading %s-%d: %w", o.p.Topic, o.p.Index, err)
		}
	}
	return nil
}

func cloneBytes(b []byte) []byte { return append([]byte{}, b...) }

// cloneNil keeps nil (a tombstone) distinct from empty.
func cloneNil(b []byte) []byte {
	if b == nil {
		return nil
	}
	return cloneBytes(b)
}
