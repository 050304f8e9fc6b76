package log

import (
	"encoding/binary"
	"fmt"

	"github.com/tandem-streaming/tandem/internal/record"
)

// Header fields a cleaned batch rewrites (record package doc, "Layout").
// Base offset, partition leader epoch, magic, lastOffsetDelta, producer
// id/epoch and base sequence are kept as they are.
const (
	hdrLengthOff        = 8
	hdrCRCOff           = 17
	hdrAttributesOff    = 21
	hdrBaseTimestampOff = 27
	hdrMaxTimestampOff  = 35
	hdrRecordsCountOff  = 57

	attrCompressionMask = 0x07
	attrDeleteHorizon   = 0x40 // KIP-534: BaseTimestamp holds the delete horizon
)

// lastProducerRecord is what the cleaner must not remove for an active
// producer (Kafka LastRecord): the batch holding its last sequence number,
// or, when it has no data batch in its current epoch, its last marker.
type lastProducerRecord struct {
	hasData        bool
	lastDataOffset int64
	epoch          int16
}

// cleanedTxns tracks transactions while the cleaner walks batches in
// offset order (Kafka CleanedTransactionMetadata): which data batches
// belong to aborted transactions (their records go), and which markers no
// longer guard any data (they may go once their delete horizon passed).
// One instance covers one pass over a range of batches.
type cleanedTxns struct {
	aborted          []abortedEntry // not yet reached, sorted by FirstOffset
	ongoingAborted   map[int64]*abortedTxnState
	ongoingCommitted map[int64]bool
	// keep receives the aborted-transaction entries whose marker stays in
	// the cleaned segment with some of its batches seen in this pass; nil
	// when building the offset map.
	keep func(abortedEntry) error
}

type abortedTxnState struct {
	entry    abortedEntry
	observed bool // a batch of the transaction was seen in this pass
}

func newCleanedTxns(aborted []abortedEntry, keep func(abortedEntry) error) *cleanedTxns {
	return &cleanedTxns{aborted: aborted, ongoingAborted: map[int64]*abortedTxnState{},
		ongoingCommitted: map[int64]bool{}, keep: keep}
}

func (t *cleanedTxns) consumeUpTo(offset int64) {
	for len(t.aborted) > 0 && t.aborted[0].FirstOffset <= offset {
		e := t.aborted[0]
		t.aborted = t.aborted[1:]
		if _, ok := t.ongoingAborted[e.ProducerID]; !ok {
			t.ongoingAborted[e.ProducerID] = &abortedTxnState{entry: e}
		}
	}
}

// onData reports whether data batch b belongs to an aborted transaction.
func (t *cleanedTxns) onData(b record.Batch) bool {
	t.consumeUpTo(b.LastOffset())
	if !b.IsTransactional() {
		return false
	}
	if a, ok := t.ongoingAborted[b.ProducerID()]; ok {
		a.observed = true
		return true
	}
	t.ongoingCommitted[b.ProducerID()] = true
	return false
}

// onControl reports whether control batch b may be discarded: an ABORT
// marker once none of its transaction's batches remain to be seen, a
// COMMIT marker when no batch of its transaction was seen in this pass,
// an empty control batch (already emptied by an earlier pass) always.
// Other control types are kept.
func (t *cleanedTxns) onControl(b record.Batch) (bool, error) {
	t.consumeUpTo(b.LastOffset())
	if b.NumRecords() == 0 {
		return true, nil
	}
	m, err := b.ControlMarker()
	if err != nil {
		return false, nil // not a marker we understand: keep it
	}
	pid := b.ProducerID()
	switch m.Type {
	case record.ControlAbort:
		a, ok := t.ongoingAborted[pid]
		delete(t.ongoingAborted, pid)
		if ok && a.observed {
			// Keep the marker (and its index entry) until every batch of
			// the transaction is gone.
			if t.keep != nil {
				if err := t.keep(a.entry); err != nil {
					return false, err
				}
			}
			return false, nil
		}
		return true, nil
	case record.ControlCommit:
		seen := t.ongoingCommitted[pid]
		delete(t.ongoingCommitted, pid)
		return !seen, nil
	}
	return false, nil
}

// keptRecord is a record that survives cleaning, copied out of the batch
// (decoded records alias a decompression buffer).
type keptRecord struct {
	attrs   int8
	ts      int64 // absolute, as stored: BaseTimestamp + TimestampDelta
	delta   int32
	key     []byte
	value   []byte
	headers []record.Header
}

// batchFilter applies the retention rules of one cleaning pass to batches
// (Kafka Cleaner.cleanInto → MemoryRecords.filterTo with the cleaner's
// checkBatchRetention and shouldRetainRecord).
type batchFilter struct {
	m           *offsetMap
	latest      int64 // records above this offset were not mapped: keep them
	nowMs       int64
	retentionMs int64 // delete.retention.ms
	txns        *cleanedTxns
	lastRecords map[int64]lastProducerRecord
	stats       *CleanResult
	out         *segment // the cleaned segment being written

	// minHorizon is the earliest future delete horizon among kept batches
	// that still hold something it will release (NoTimestamp: none).
	minHorizon int64

	arena []byte
	kept  []keptRecord
}

// filter returns what to write for b: b itself when nothing changes, a
// rebuilt batch, or nil to drop it. changed reports whether the output
// differs from b.
func (f *batchFilter) filter(b record.Batch) (out record.Batch, changed bool, err error) {
	control := b.IsControl()
	var canDiscard bool
	if control {
		if canDiscard, err = f.txns.onControl(b); err != nil {
			return nil, false, err
		}
	} else {
		canDiscard = f.txns.onData(b)
	}
	discardRecords := canDiscard
	if control {
		// Markers are kept for delete.retention.ms after they became
		// removable, like tombstones (KIP-534).
		discardRecords = canDiscard && b.HasDeleteHorizon() && b.BaseTimestamp() <= f.nowMs
	}
	retainEmpty := b.HasProducerID() && f.isLastOfProducer(b)
	if !retainEmpty && discardRecords {
		f.stats.RecordsRead += int64(b.NumRecords())
		f.stats.RecordsRemoved += int64(b.NumRecords())
		f.stats.BatchesRemoved++
		return nil, true, nil
	}
	if b.NumRecords() == 0 { // emptied by an earlier pass
		if retainEmpty {
			return b, false, nil
		}
		f.stats.BatchesRemoved++
		return nil, true, nil
	}

	f.arena, f.kept = f.arena[:0], f.kept[:0]
	all, tombstones := true, false
	err = b.Records(func(r record.Record) error {
		f.stats.RecordsRead++
		off := b.BaseOffset() + int64(r.OffsetDelta)
		var keep bool
		switch {
		case discardRecords:
		case control:
			keep = true
		default:
			keep = f.retainRecord(b, &r, off)
		}
		if !keep {
			all = false
			f.stats.RecordsRemoved++
			return nil
		}
		if !control && r.Value == nil {
			tombstones = true
		}
		f.kept = append(f.kept, f.copyRecord(b, &r))
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("log: batch at offset %d: %w", b.BaseOffset(), err)
	}
	// A batch with a tombstone, or a marker that guards nothing any more,
	// gets its delete horizon when first cleaned (KIP-534); until then it
	// stays.
	needHorizon := (tombstones || (control && canDiscard)) && !b.HasDeleteHorizon()
	horizon := record.NoTimestamp
	switch {
	case needHorizon:
		horizon = addSat(f.nowMs, f.retentionMs)
	case b.HasDeleteHorizon():
		horizon = b.BaseTimestamp()
	}
	if (tombstones || (control && canDiscard)) && horizon > f.nowMs &&
		(f.minHorizon == record.NoTimestamp || horizon < f.minHorizon) {
		f.minHorizon = horizon
	}
	if all && !needHorizon {
		return b, false, nil
	}
	if len(f.kept) == 0 {
		if retainEmpty {
			return emptyBatch(b), true, nil
		}
		f.stats.BatchesRemoved++
		return nil, true, nil
	}
	out, err = rebuildBatch(b, f.kept, horizon)
	return out, true, err
}

// retainRecord is Kafka's Cleaner.shouldRetainRecord for a data record.
func (f *batchFilter) retainRecord(b record.Batch, r *record.Record, off int64) bool {
	if off > f.latest {
		return true // beyond what the offset map covers
	}
	if r.Key == nil {
		// A compacted topic refuses keyless records; any left over from
		// before the topic became compacted are dropped, as Kafka does.
		f.stats.KeylessRemoved++
		return false
	}
	if off < f.m.get(r.Key) {
		return false // a later record has the same key
	}
	if r.Value != nil {
		return true
	}
	// A tombstone stays until its batch's delete horizon has passed.
	return !b.HasDeleteHorizon() || f.nowMs < b.BaseTimestamp()
}

// isLastOfProducer: b holds an active producer's last sequence number, or
// is its last marker (Kafka's isBatchLastRecordOfProducer). Such a batch
// is kept, possibly empty, so the producer's state survives a restart.
func (f *batchFilter) isLastOfProducer(b record.Batch) bool {
	lr, ok := f.lastRecords[b.ProducerID()]
	if !ok {
		return false
	}
	if lr.hasData {
		return b.LastOffset() == lr.lastDataOffset
	}
	return b.IsControl() && b.ProducerEpoch() == lr.epoch
}

func (f *batchFilter) copyRecord(b record.Batch, r *record.Record) keptRecord {
	k := keptRecord{attrs: r.Attributes, ts: b.BaseTimestamp() + r.TimestampDelta, delta: r.OffsetDelta}
	k.key, f.arena = appendArena(f.arena, r.Key)
	k.value, f.arena = appendArena(f.arena, r.Value)
	if len(r.Headers) > 0 {
		k.headers = make([]record.Header, len(r.Headers))
		for i, h := range r.Headers {
			k.headers[i].Key = h.Key
			k.headers[i].Value, f.arena = appendArena(f.arena, h.Value)
		}
	}
	return k
}

// appendArena copies v into arena and returns the copy (nil stays nil).
// Earlier copies stay valid when arena grows: they keep the old array.
func appendArena(arena, v []byte) ([]byte, []byte) {
	if v == nil {
		return nil, arena
	}
	start := len(arena)
	arena = append(arena, v...)
	return arena[start:len(arena):len(arena)], arena
}

// rebuildBatch writes a batch holding kept, with b's base offset,
// lastOffsetDelta, partition leader epoch, producer id/epoch, base
// sequence, codec and attribute bits (Kafka
// MemoryRecords.buildRetainedRecordsInto with overrideLastOffset: the last
// offset, and so the producer's last sequence, survive compaction). The
// base timestamp is the delete horizon when one is set, else the first
// kept record's; MaxTimestamp is recomputed from the kept records
// (LogAppendTime batches keep theirs). The records are re-compressed with
// the batch's own codec and the CRC is recomputed.
func rebuildBatch(b record.Batch, kept []keptRecord, horizon int64) (record.Batch, error) {
	baseTS := kept[0].ts
	if horizon != record.NoTimestamp {
		baseTS = horizon
	}
	maxTS := record.NoTimestamp
	for _, k := range kept {
		maxTS = max(maxTS, k.ts)
	}
	if b.TimestampType() == record.LogAppendTime {
		maxTS = b.MaxTimestamp()
	}
	var payload []byte
	for i := range kept {
		payload = appendRecordV2(payload, &kept[i], kept[i].ts-baseTS)
	}
	if c := b.Compression(); c != record.None {
		var err error
		if payload, err = record.Compress(c, payload); err != nil {
			return nil, fmt.Errorf("log: re-compress batch at offset %d: %w", b.BaseOffset(), err)
		}
	}
	attrs := uint16(b.Attributes()) &^ attrDeleteHorizon
	if horizon != record.NoTimestamp {
		attrs |= attrDeleteHorizon
	}
	out := make(record.Batch, record.BatchHeaderSize, record.BatchHeaderSize+len(payload))
	copy(out, b[:record.BatchHeaderSize])
	be := binary.BigEndian
	be.PutUint32(out[hdrLengthOff:], uint32(record.BatchHeaderSize-record.LogOverhead+len(payload)))
	be.PutUint16(out[hdrAttributesOff:], attrs)
	be.PutUint64(out[hdrBaseTimestampOff:], uint64(baseTS))
	be.PutUint64(out[hdrMaxTimestampOff:], uint64(maxTS))
	be.PutUint32(out[hdrRecordsCountOff:], uint32(len(kept)))
	out = append(out, payload...)
	be.PutUint32(out[hdrCRCOff:], record.Checksum(out[hdrAttributesOff:]))
	return out, nil
}

// emptyBatch is b with no records, kept only for its producer fields
// (Kafka DefaultRecordBatch.writeEmptyHeader): uncompressed, no delete
// horizon, both timestamps b's MaxTimestamp, offsets and sequence as b's.
func emptyBatch(b record.Batch) record.Batch {
	out := make(record.Batch, record.BatchHeaderSize)
	copy(out, b[:record.BatchHeaderSize])
	be := binary.BigEndian
	attrs := uint16(b.Attributes()) &^ (attrDeleteHorizon | attrCompressionMask)
	be.PutUint32(out[hdrLengthOff:], uint32(record.BatchHeaderSize-record.LogOverhead))
	be.PutUint16(out[hdrAttributesOff:], attrs)
	be.PutUint64(out[hdrBaseTimestampOff:], uint64(b.MaxTimestamp()))
	be.PutUint64(out[hdrMaxTimestampOff:], uint64(b.MaxTimestamp()))
	be.PutUint32(out[hdrRecordsCountOff:], 0)
	be.PutUint32(out[hdrCRCOff:], record.Checksum(out[hdrAttributesOff:]))
	return out
}

// appendRecordV2 encodes one record (Kafka DefaultRecord.writeTo: varint
// length, then attributes, timestamp delta, offset delta, key, value and
// headers, zig-zag varints throughout).
func appendRecordV2(dst []byte, k *keptRecord, tsDelta int64) []byte {
	var body [binary.MaxVarintLen64*3 + 1]byte
	n := 0
	body[n] = byte(k.attrs)
	n++
	n += binary.PutVarint(body[n:], tsDelta)
	n += binary.PutVarint(body[n:], int64(k.delta))
	size := n + varBytesLen(k.key) + varBytesLen(k.value) + varintLen(int64(len(k.headers)))
	for _, h := range k.headers {
		size += varintLen(int64(len(h.Key))) + len(h.Key) + varBytesLen(h.Value)
	}
	dst = binary.AppendVarint(dst, int64(size))
	dst = append(dst, body[:n]...)
	dst = appendVarBytes(dst, k.key)
	dst = appendVarBytes(dst, k.value)
	dst = binary.AppendVarint(dst, int64(len(k.headers)))
	for _, h := range k.headers {
		dst = binary.AppendVarint(dst, int64(len(h.Key)))
		dst = append(dst, h.Key...)
		dst = appendVarBytes(dst, h.Value)
	}
	return dst
}

func varintLen(v int64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutVarint(b[:], v)
}

func varBytesLen(v []byte) int {
	if v == nil {
		return varintLen(-1)
	}
	return varintLen(int64(len(v))) + len(v)
}

func appendVarBytes(dst, v []byte) []byte {
	if v == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(v)))
	return append(dst, v...)
}
