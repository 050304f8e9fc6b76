package fetcher_test

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/record"

	. "github.com/tandem-streaming/tandem/internal/fetcher"
)

// The checker compares a mirrored partition with its source: every batch
// byte for byte (offsets, partition leader epochs, CRCs — nothing is
// rewritten), and the read_committed view (last stable offset and aborted
// transactions, which the mirror rebuilds from the batches). It reads the
// source with its own raw fetches, independent of the code under test.

// partView is what one side looks like.
type partView struct {
	start, hw, lso int64
	batches        []record.Batch
	aborted        []log.AbortedTxn // read_committed, sorted
}

type reader interface {
	// read returns whole batches from offset, and the side's watermarks.
	read(ctx context.Context, offset int64, committed bool) (recs []byte, start, hw, lso int64, aborted []log.AbortedTxn, err error)
}

// readView reads a side from its log start to its high watermark
// (read_uncommitted) and its aborted transactions (read_committed).
func readView(ctx context.Context, r reader) (partView, error) {
	var v partView
	_, start, hw, lso, _, err := r.read(ctx, -1, false)
	if err != nil {
		return v, err
	}
	v.start, v.hw, v.lso = start, hw, lso
	for off := start; off < hw; {
		recs, _, _, _, _, err := r.read(ctx, off, false)
		if err != nil {
			return v, fmt.Errorf("read at %d: %w", off, err)
		}
		it := record.NewIter(recs)
		n := 0
		for b, ok := it.Next(); ok; b, ok = it.Next() {
			if b.LastOffset() < off || b.BaseOffset() >= hw {
				continue
			}
			v.batches = append(v.batches, append(record.Batch(nil), b...))
			off = b.NextOffset()
			n++
		}
		if err := it.Err(); err != nil {
			return v, err
		}
		if n == 0 {
			return v, fmt.Errorf("no progress at offset %d (hw %d)", off, hw)
		}
	}
	seen := map[log.AbortedTxn]bool{}
	for off := start; off < lso; {
		recs, _, _, _, aborted, err := r.read(ctx, off, true)
		if err != nil {
			return v, fmt.Errorf("read_committed at %d: %w", off, err)
		}
		for _, a := range aborted {
			if !seen[a] {
				seen[a] = true
				v.aborted = append(v.aborted, a)
			}
		}
		it := record.NewIter(recs)
		n := 0
		for b, ok := it.Next(); ok; b, ok = it.Next() {
			if b.LastOffset() >= off {
				off = b.NextOffset()
				n++
			}
		}
		if n == 0 {
			break
		}
	}
	sort.Slice(v.aborted, func(i, j int) bool {
		if v.aborted[i].FirstOffset != v.aborted[j].FirstOffset {
			return v.aborted[i].FirstOffset < v.aborted[j].FirstOffset
		}
		return v.aborted[i].ProducerID < v.aborted[j].ProducerID
	})
	return v, nil
}

// logReader reads a local *log.Log.
type logReader struct{ l *log.Log }

func (r logReader) read(_ context.Context, offset int64, committed bool) ([]byte, int64, int64, int64, []log.AbortedTxn, error) {
	if offset < 0 {
		return nil, r.l.LogStartOffset(), r.l.HighWatermark(), r.l.LastStableOffset(), nil, nil
	}
	iso := log.ReadUncommitted
	if committed {
		iso = log.ReadCommitted
	}
	res, err := r.l.Read(offset, 1<<20, iso, true)
	return res.Records, res.LogStartOffset, res.HighWatermark, res.LastStableOffset, res.AbortedTransactions, err
}

// sourceReader reads a source partition with raw fetches to its leader.
type sourceReader struct {
	cl *kgo.Client
	tp TopicPartition
}

func (r sourceReader) read(ctx context.Context, offset int64, committed bool) ([]byte, int64, int64, int64, []log.AbortedTxn, error) {
	adm := kadm.NewClient(r.cl)
	if offset < 0 {
		// The watermarks, from ListOffsets: earliest, latest
		// (read_uncommitted: the high watermark), read_committed latest
		// (the last stable offset).
		var vals [3]int64
		for i, list := range []func(context.Context, ...string) (kadm.ListedOffsets, error){adm.ListStartOffsets, adm.ListEndOffsets, adm.ListCommittedOffsets} {
			lo, err := list(ctx, r.tp.Topic)
			if err != nil {
				return nil, 0, 0, 0, nil, err
			}
			o, ok := lo.Lookup(r.tp.Topic, r.tp.Partition)
			if !ok || o.Err != nil {
				return nil, 0, 0, 0, nil, fmt.Errorf("list offsets %s: %v", r.tp, o.Err)
			}
			vals[i] = o.Offset
		}
		return nil, vals[0], vals[1], vals[2], nil, nil
	}
	md, err := adm.Metadata(ctx, r.tp.Topic)
	if err != nil {
		return nil, 0, 0, 0, nil, err
	}
	pd, ok := md.Topics[r.tp.Topic].Partitions[r.tp.Partition]
	if !ok || pd.Leader < 0 {
		return nil, 0, 0, 0, nil, fmt.Errorf("no leader for %s", r.tp)
	}
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 10, 1, 4<<20
	if committed {
		req.IsolationLevel = 1
	}
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = r.tp.Topic, md.Topics[r.tp.Topic].ID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = r.tp.Partition, offset, 1<<20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	kresp, err := r.cl.Broker(int(pd.Leader)).Request(ctx, req)
	if err != nil {
		return nil, 0, 0, 0, nil, err
	}
	resp := kresp.(*kmsg.FetchResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return nil, 0, 0, 0, nil, fmt.Errorf("fetch %s: unexpected response shape", r.tp)
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		return nil, 0, 0, 0, nil, err
	}
	var aborted []log.AbortedTxn
	for _, a := range p.AbortedTransactions {
		aborted = append(aborted, log.AbortedTxn{ProducerID: a.ProducerID, FirstOffset: a.FirstOffset})
	}
	return p.RecordBatches, p.LogStartOffset, p.HighWatermark, p.LastStableOffset, aborted, nil
}

// checkMirror fails t unless target mirrors the source partition: the
// same batches, byte for byte, from the later of the two log starts to
// the source high watermark, which the target must have reached, and the
// same read_committed view.
func checkMirror(t testing.TB, cl *kgo.Client, tp TopicPartition, target *log.Log) partView {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	src, err := readView(ctx, sourceReader{cl, tp})
	if err != nil {
		t.Fatalf("checker: read source %s: %v", tp, err)
	}
	dst, err := readView(ctx, logReader{target})
	if err != nil {
		t.Fatalf("checker: read target %s: %v", tp, err)
	}
	if dst.hw != src.hw {
		t.Fatalf("checker: %s: target high watermark %d, source %d", tp, dst.hw, src.hw)
	}
	from := max(src.start, dst.start)
	trim := func(bs []record.Batch) []record.Batch {
		for len(bs) > 0 && bs[0].LastOffset() < from {
			bs = bs[1:]
		}
		return bs
	}
	sb, db := trim(src.batches), trim(dst.batches)
	for i := 0; i < max(len(sb), len(db)); i++ {
		switch {
		case i >= len(sb):
			t.Fatalf("checker: %s: target has extra batch %v", tp, db[i])
		case i >= len(db):
			t.Fatalf("checker: %s: target lacks batch %v", tp, sb[i])
		case !bytes.Equal(sb[i], db[i]):
			t.Fatalf("checker: %s: batch %d differs:\nsource %v\ntarget %v", tp, i, sb[i], db[i])
		}
	}
	if src.lso != dst.lso {
		t.Fatalf("checker: %s: last stable offset: source %d, target %d", tp, src.lso, dst.lso)
	}
	trimA := func(as []log.AbortedTxn) []log.AbortedTxn {
		var out []log.AbortedTxn
		for _, a := range as {
			if a.FirstOffset >= from {
				out = append(out, a)
			}
		}
		return out
	}
	if sa, da := trimA(src.aborted), trimA(dst.aborted); fmt.Sprint(sa) != fmt.Sprint(da) {
		t.Fatalf("checker: %s: aborted transactions: source %v, target %v", tp, sa, da)
	}
	return src
}
