package log

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sort"

	"github.com/tandem-streaming/tandem/internal/record"
	"github.com/tandem-streaming/tandem/internal/vfs"
)

// numBatchesToRetain is ProducerStateEntry.NUM_BATCHES_TO_RETAIN: how many
// recent batches per producer are kept for duplicate detection (and so the
// client's max.in.flight.requests.per.connection limit of 5).
const numBatchesToRetain = 5

// batchMeta describes one appended idempotent batch.
type batchMeta struct {
	FirstSeq, LastSeq       int32
	FirstOffset, LastOffset int64
	Timestamp               int64 // batch MaxTimestamp
}

// producerEntry is the state of one producer id on this partition
// (Kafka ProducerStateEntry).
type producerEntry struct {
	Epoch            int16
	Batches          []batchMeta // oldest first, at most numBatchesToRetain
	CoordinatorEpoch int32
	TxnFirstOffset   int64 // first offset of the open transaction, -1 none
	LastTimestamp    int64
}

func newProducerEntry() *producerEntry {
	return &producerEntry{Epoch: record.NoProducerEpoch, CoordinatorEpoch: -1, TxnFirstOffset: -1, LastTimestamp: record.NoTimestamp}
}

func (e *producerEntry) clone() *producerEntry {
	c := *e
	c.Batches = slices.Clone(e.Batches)
	return &c
}

func (e *producerEntry) lastSeq() int32 {
	if len(e.Batches) == 0 {
		return record.NoSequence
	}
	return e.Batches[len(e.Batches)-1].LastSeq
}

// maybeUpdateEpoch moves to epoch, forgetting the batches of the old one.
func (e *producerEntry) maybeUpdateEpoch(epoch int16) {
	if e.Epoch != epoch {
		e.Batches = e.Batches[:0]
		e.Epoch = epoch
	}
}

func (e *producerEntry) addBatch(epoch int16, m batchMeta) {
	e.maybeUpdateEpoch(epoch)
	if len(e.Batches) == numBatchesToRetain {
		copy(e.Batches, e.Batches[1:])
		e.Batches = e.Batches[:numBatchesToRetain-1]
	}
	e.Batches = append(e.Batches, m)
	e.LastTimestamp = m.Timestamp
}

// findDuplicate matches b against the retained batches of the same epoch
// (ProducerStateEntry.findDuplicateBatch).
func (e *producerEntry) findDuplicate(b record.Batch) (batchMeta, bool) {
	if b.ProducerEpoch() != e.Epoch {
		return batchMeta{}, false
	}
	first, last := b.BaseSequence(), b.LastSequence()
	for _, m := range e.Batches {
		if m.FirstSeq == first && m.LastSeq == last {
			return m, true
		}
	}
	return batchMeta{}, false
}

// txnMeta is an open or recently completed transaction.
type txnMeta struct {
	ProducerID  int64
	FirstOffset int64
	LastOffset  int64 // marker offset once completed, -1 while open
}

// completedTxn is a transaction ended by a marker (Kafka CompletedTxn).
type completedTxn struct {
	ProducerID              int64
	FirstOffset, LastOffset int64
	Aborted                 bool
}

// producerState is Kafka's ProducerStateManager: per-producer idempotence
// state plus the open and not-yet-durable transactions that define the
// last stable offset. Owned by the Log, guarded by Log.mu.
type producerState struct {
	producers map[int64]*producerEntry
	// ongoing transactions, sorted by FirstOffset.
	ongoing []txnMeta
	// unreplicated: completed transactions whose marker is not yet below
	// the high watermark; they still hold the LSO back so read_committed
	// consumers never see a transaction whose outcome a crash could lose
	// (ProducerStateManager.firstUnstableOffset).
	unreplicated []txnMeta
}

func newProducerState() *producerState { return &producerState{} }

func (p *producerState) entry(pid int64) *producerEntry {
	if p.producers == nil {
		return nil
	}
	return p.producers[pid]
}

// firstUnstableOffset is the first offset of the earliest open or
// unreplicated transaction.
func (p *producerState) firstUnstableOffset() (int64, bool) {
	off, ok := int64(0), false
	if len(p.ongoing) > 0 {
		off, ok = p.ongoing[0].FirstOffset, true
	}
	if len(p.unreplicated) > 0 && (!ok || p.unreplicated[0].FirstOffset < off) {
		off, ok = p.unreplicated[0].FirstOffset, true
	}
	return off, ok
}

// onHighWatermarkUpdated forgets completed transactions whose marker is now
// below the high watermark.
func (p *producerState) onHighWatermarkUpdated(hw int64) {
	p.unreplicated = slices.DeleteFunc(p.unreplicated, func(t txnMeta) bool { return t.LastOffset < hw })
}

// lastStableOffsetFor computes the LSO recorded in the transaction index
// for a completed transaction (ProducerStateManager.lastStableOffset): the
// first offset of the earliest other open transaction, else the offset
// after the marker.
func (p *producerState) lastStableOffsetFor(c completedTxn) int64 {
	for _, t := range p.ongoing {
		if t.ProducerID != c.ProducerID {
			return t.FirstOffset
		}
	}
	return c.LastOffset + 1
}

func (p *producerState) completeTxn(c completedTxn) {
	i := slices.IndexFunc(p.ongoing, func(t txnMeta) bool { return t.FirstOffset == c.FirstOffset })
	if i < 0 {
		return
	}
	t := p.ongoing[i]
	p.ongoing = slices.Delete(p.ongoing, i, i+1)
	t.LastOffset = c.LastOffset
	j := sort.Search(len(p.unreplicated), func(k int) bool { return p.unreplicated[k].FirstOffset > t.FirstOffset })
	p.unreplicated = slices.Insert(p.unreplicated, j, t)
}

func (p *producerState) addOngoing(t txnMeta) {
	j := sort.Search(len(p.ongoing), func(k int) bool { return p.ongoing[k].FirstOffset > t.FirstOffset })
	p.ongoing = slices.Insert(p.ongoing, j, t)
}

// removeExpired forgets producers idle for expirationMs with no open
// transaction (ProducerStateManager.removeExpiredProducers).
func (p *producerState) removeExpired(nowMs, expirationMs int64) int {
	n := 0
	for pid, e := range p.producers {
		if e.TxnFirstOffset < 0 && nowMs-e.LastTimestamp >= expirationMs {
			delete(p.producers, pid)
			n++
		}
	}
	return n
}

func (p *producerState) reset() {
	p.producers = nil
	p.ongoing = nil
	p.unreplicated = nil
}

// appendOrigin selects how much validation an append gets (Kafka
// AppendOrigin): clients get epoch and sequence checks, the coordinator
// (control markers) epoch checks, replication none.
type appendOrigin int8

const (
	originClient appendOrigin = iota
	originCoordinator
	originReplication
)

// producerAppend stages the producer-state effects of one append so
// nothing changes unless the whole append succeeds (ProducerAppendInfo).
type producerAppend struct {
	p         *producerState
	origin    appendOrigin
	updated   map[int64]*producerEntry
	started   []txnMeta
	completed []completedTxn
}

func (p *producerState) prepare(origin appendOrigin) *producerAppend {
	return &producerAppend{p: p, origin: origin}
}

// staged returns the entry as updated by earlier batches of this append.
func (a *producerAppend) staged(pid int64) *producerEntry {
	if e, ok := a.updated[pid]; ok {
		return e
	}
	var e *producerEntry
	if cur := a.p.entry(pid); cur != nil {
		e = cur.clone()
	} else {
		e = newProducerEntry()
	}
	if a.updated == nil {
		a.updated = make(map[int64]*producerEntry, 1)
	}
	a.updated[pid] = e
	return e
}

// duplicateOf reports whether b repeats one of its producer's retained
// batches in the committed state (UnifiedLog.analyzeAndValidateProducerState
// checks duplicates against the last entry before validating).
func (a *producerAppend) duplicateOf(b record.Batch) (batchMeta, bool) {
	cur := a.p.entry(b.ProducerID())
	if cur == nil {
		return batchMeta{}, false
	}
	return cur.findDuplicate(b)
}

func inSequence(lastSeq, nextSeq int32) bool {
	return int64(nextSeq) == int64(lastSeq)+1 || (nextSeq == 0 && lastSeq == 1<<31-1)
}

// appendData applies a data batch (ProducerAppendInfo.appendDataBatch).
func (a *producerAppend) appendData(b record.Batch, firstOffset, lastOffset int64) error {
	pid, epoch, firstSeq := b.ProducerID(), b.ProducerEpoch(), b.BaseSequence()
	e := a.staged(pid)
	if epoch < e.Epoch && a.origin != originReplication {
		return fmt.Errorf("%w: producer %d epoch %d at offset %d is older than the current epoch %d",
			ErrInvalidProducerEpoch, pid, epoch, firstOffset, e.Epoch)
	}
	if a.origin == originClient {
		if epoch != e.Epoch {
			if firstSeq != 0 && e.Epoch != record.NoProducerEpoch {
				return fmt.Errorf("%w: producer %d new epoch %d must start at sequence 0, got %d (current epoch %d)",
					ErrOutOfOrderSequence, pid, epoch, firstSeq, e.Epoch)
			}
		} else {
			cur := a.p.entry(pid)
			// No committed state (retention, DeleteRecords or expiry took
			// it): accept any sequence, as Kafka does.
			if cur != nil && cur.Epoch != record.NoProducerEpoch && !inSequence(e.lastSeq(), firstSeq) {
				return fmt.Errorf("%w: producer %d at offset %d: sequence %d, expected %d",
					ErrOutOfOrderSequence, pid, firstOffset, firstSeq, record.IncrementSequence(e.lastSeq(), 1))
			}
		}
	}
	e.addBatch(epoch, batchMeta{FirstSeq: firstSeq, LastSeq: b.LastSequence(), FirstOffset: firstOffset, LastOffset: lastOffset, Timestamp: b.MaxTimestamp()})
	switch {
	case e.TxnFirstOffset >= 0 && !b.IsTransactional():
		if a.origin != originReplication {
			return fmt.Errorf("%w: expected a transactional write from producer %d at offset %d",
				ErrInvalidTxnState, pid, firstOffset)
		}
	case e.TxnFirstOffset < 0 && b.IsTransactional():
		e.TxnFirstOffset = firstOffset
		a.started = append(a.started, txnMeta{ProducerID: pid, FirstOffset: firstOffset, LastOffset: -1})
	}
	return nil
}

// appendMarker applies a COMMIT/ABORT marker
// (ProducerAppendInfo.appendEndTxnMarker, legacy transaction versions: a
// marker may carry the current epoch). Markers without an open
// transaction complete nothing and leave no transaction-index entry.
func (a *producerAppend) appendMarker(pid int64, epoch int16, m record.ControlMarker, offset, timestamp int64) error {
	e := a.staged(pid)
	if epoch < e.Epoch && a.origin != originReplication {
		return fmt.Errorf("%w: marker for producer %d has epoch %d, current epoch is %d",
			ErrInvalidProducerEpoch, pid, epoch, e.Epoch)
	}
	if e.CoordinatorEpoch > m.CoordinatorEpoch && a.origin != originReplication {
		return fmt.Errorf("%w: marker for producer %d has coordinator epoch %d, current is %d",
			ErrTransactionCoordinatorFenced, pid, m.CoordinatorEpoch, e.CoordinatorEpoch)
	}
	if e.TxnFirstOffset >= 0 {
		a.completed = append(a.completed, completedTxn{ProducerID: pid, FirstOffset: e.TxnFirstOffset, LastOffset: offset, Aborted: m.Type == record.ControlAbort})
	}
	e.maybeUpdateEpoch(epoch)
	e.CoordinatorEpoch = m.CoordinatorEpoch
	e.TxnFirstOffset = -1
	e.LastTimestamp = timestamp
	return nil
}

// commit installs the staged entries and started transactions. The caller
// then handles a.completed (transaction index, completeTxn).
func (a *producerAppend) commit() {
	if len(a.updated) > 0 && a.p.producers == nil {
		a.p.producers = make(map[int64]*producerEntry, len(a.updated))
	}
	for pid, e := range a.updated {
		a.p.producers[pid] = e
	}
	for _, t := range a.started {
		a.p.addOngoing(t)
	}
}

// Snapshot file format (%020d.snapshot, named by the offset up to which the
// state reflects the log, exclusive), all integers big-endian:
//
//	version          int16 (1)
//	crc              uint32  CRC-32C of everything after this field
//	producerCount    int32
//	producerCount ×  producerId int64, epoch int16, coordinatorEpoch int32,
//	                 txnFirstOffset int64, lastTimestamp int64,
//	                 batchCount int8,
//	                 batchCount × (firstSeq int32, lastSeq int32,
//	                               firstOffset int64, lastOffset int64,
//	                               timestamp int64)
//
// Unlike Kafka's snapshot (which keeps only each producer's last batch) it
// keeps all five retained batches, so duplicate detection survives a
// restart for every in-flight retry.
const snapshotVersion = 1

func encodeSnapshot(p *producerState) []byte {
	pids := make([]int64, 0, len(p.producers))
	for pid := range p.producers {
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	b := make([]byte, 6, 10+len(pids)*64)
	binary.BigEndian.PutUint16(b, snapshotVersion)
	b = binary.BigEndian.AppendUint32(b, uint32(len(pids)))
	for _, pid := range pids {
		e := p.producers[pid]
		b = binary.BigEndian.AppendUint64(b, uint64(pid))
		b = binary.BigEndian.AppendUint16(b, uint16(e.Epoch))
		b = binary.BigEndian.AppendUint32(b, uint32(e.CoordinatorEpoch))
		b = binary.BigEndian.AppendUint64(b, uint64(e.TxnFirstOffset))
		b = binary.BigEndian.AppendUint64(b, uint64(e.LastTimestamp))
		b = append(b, byte(len(e.Batches)))
		for _, m := range e.Batches {
			b = binary.BigEndian.AppendUint32(b, uint32(m.FirstSeq))
			b = binary.BigEndian.AppendUint32(b, uint32(m.LastSeq))
			b = binary.BigEndian.AppendUint64(b, uint64(m.FirstOffset))
			b = binary.BigEndian.AppendUint64(b, uint64(m.LastOffset))
			b = binary.BigEndian.AppendUint64(b, uint64(m.Timestamp))
		}
	}
	binary.BigEndian.PutUint32(b[2:], record.Checksum(b[6:]))
	return b
}

func decodeSnapshot(data []byte) (*producerState, error) {
	bad := func(why string) error { return record.CorruptErrorf("producer snapshot: %s", why) }
	if len(data) < 10 {
		return nil, bad("short")
	}
	if v := binary.BigEndian.Uint16(data); v != snapshotVersion {
		return nil, bad(fmt.Sprintf("version %d", v))
	}
	if binary.BigEndian.Uint32(data[2:]) != record.Checksum(data[6:]) {
		return nil, bad("CRC mismatch")
	}
	d := data[6:]
	n := int(binary.BigEndian.Uint32(d))
	d = d[4:]
	p := newProducerState()
	if n > len(d)/31 {
		return nil, bad("producer count exceeds data")
	}
	if n > 0 {
		p.producers = make(map[int64]*producerEntry, n)
	}
	for i := 0; i < n; i++ {
		if len(d) < 31 {
			return nil, bad("truncated entry")
		}
		pid := int64(binary.BigEndian.Uint64(d))
		e := &producerEntry{
			Epoch:            int16(binary.BigEndian.Uint16(d[8:])),
			CoordinatorEpoch: int32(binary.BigEndian.Uint32(d[10:])),
			TxnFirstOffset:   int64(binary.BigEndian.Uint64(d[14:])),
			LastTimestamp:    int64(binary.BigEndian.Uint64(d[22:])),
		}
		nb := int(d[30])
		d = d[31:]
		if nb > numBatchesToRetain || len(d) < nb*32 {
			return nil, bad("truncated batches")
		}
		for j := 0; j < nb; j++ {
			e.Batches = append(e.Batches, batchMeta{
				FirstSeq:    int32(binary.BigEndian.Uint32(d)),
				LastSeq:     int32(binary.BigEndian.Uint32(d[4:])),
				FirstOffset: int64(binary.BigEndian.Uint64(d[8:])),
				LastOffset:  int64(binary.BigEndian.Uint64(d[16:])),
				Timestamp:   int64(binary.BigEndian.Uint64(d[24:])),
			})
			d = d[32:]
		}
		p.producers[pid] = e
		if e.TxnFirstOffset >= 0 {
			p.addOngoing(txnMeta{ProducerID: pid, FirstOffset: e.TxnFirstOffset, LastOffset: -1})
		}
	}
	if len(d) != 0 {
		return nil, bad("trailing bytes")
	}
	return p, nil
}

func readSnapshot(fs vfs.FS, path string) (*producerState, error) {
	data, err := vfs.ReadFile(fs, path)
	if err != nil {
		return nil, err
	}
	return decodeSnapshot(data)
}
