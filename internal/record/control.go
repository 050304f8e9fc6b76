package record

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ControlType is the type in a control record's key (Kafka ControlRecordType).
type ControlType int16

// Control record types. Only ABORT and COMMIT are transaction markers; the
// KRaft types (2..6) never appear in user partitions but are reported as is.
const (
	ControlAbort  ControlType = ControlType(kmsg.ControlRecordKeyTypeAbort)
	ControlCommit ControlType = ControlType(kmsg.ControlRecordKeyTypeCommit)
)

func (t ControlType) String() string {
	switch t {
	case ControlAbort:
		return "ABORT"
	case ControlCommit:
		return "COMMIT"
	}
	return fmt.Sprintf("control(%d)", int16(t))
}

// IsTxnMarker reports whether t ends a transaction.
func (t ControlType) IsTxnMarker() bool { return t == ControlAbort || t == ControlCommit }

// ControlMarker is the decoded single record of a control batch.
type ControlMarker struct {
	Type ControlType
	// CoordinatorEpoch comes from the EndTxnMarker value of ABORT/COMMIT
	// markers; -1 for other control types.
	CoordinatorEpoch int32
}

// controlRecordLimit bounds decompression of a control batch: its single
// record is a few dozen bytes.
const controlRecordLimit = 64 << 10

// ControlType parses the control record key of a control batch.
func (b Batch) ControlType() (ControlType, error) {
	m, err := b.ControlMarker()
	return m.Type, err
}

// ControlMarker parses a control batch's single record: the key
// (version int16, type int16; ControlRecordType.parse) and, for transaction
// markers, the EndTxnMarker value (version int16, coordinatorEpoch int32).
// Kafka writes control batches uncompressed; a compressed one is still
// decoded (bounded). Errors match ErrInvalidRecord (or ErrCorrupt when the
// record encoding itself is broken).
func (b Batch) ControlMarker() (ControlMarker, error) {
	m := ControlMarker{CoordinatorEpoch: -1}
	if len(b) < BatchHeaderSize {
		return m, CorruptErrorf("batch of %d bytes is shorter than the %d-byte header", len(b), BatchHeaderSize)
	}
	if !b.IsControl() {
		return m, invalidf("batch at offset %d is not a control batch", b.BaseOffset())
	}
	if n := b.NumRecords(); n != 1 {
		return m, invalidf("control batch at offset %d has %d records, want exactly 1", b.BaseOffset(), n)
	}
	var key, value []byte
	seen := false
	err := b.RecordsLimit(controlRecordLimit, func(r Record) error {
		key, value, seen = r.Key, r.Value, true
		var k kmsg.ControlRecordKey
		if len(key) < 4 {
			return invalidf("control record key of %d bytes, want >= 4", len(key))
		}
		if err := k.ReadFrom(key); err != nil {
			return invalidf("control record key: %v", err)
		}
		if k.Version < 0 {
			return invalidf("control record key version %d", k.Version)
		}
		m.Type = ControlType(k.Type)
		if !m.Type.IsTxnMarker() {
			return nil
		}
		var v kmsg.EndTxnMarker
		if len(value) < 6 {
			return invalidf("end transaction marker value of %d bytes, want >= 6", len(value))
		}
		if err := v.ReadFrom(value); err != nil {
			return invalidf("end transaction marker: %v", err)
		}
		if v.Version < 0 {
			return invalidf("end transaction marker version %d", v.Version)
		}
		m.CoordinatorEpoch = v.CoordinatorEpoch
		return nil
	})
	if err != nil {
		return ControlMarker{CoordinatorEpoch: -1}, err
	}
	if !seen {
		return m, invalidf("control batch without a record")
	}
	return m, nil
}

// NewControlBatch builds a transaction marker batch as Kafka's
// MemoryRecords.withEndTransactionMarker does: transactional and control
// bits set, one record whose key is ControlRecordKey{0, ABORT|COMMIT} and
// whose value is EndTxnMarker{0, coordinatorEpoch}, baseSequence -1, base
// offset 0 and partition leader epoch -1 (the log assigns both).
func NewControlBatch(producerID int64, producerEpoch int16, commit bool, coordinatorEpoch int32, timestamp int64) Batch {
	typ := kmsg.ControlRecordKeyTypeAbort
	if commit {
		typ = kmsg.ControlRecordKeyTypeCommit
	}
	key := (&kmsg.ControlRecordKey{Version: 0, Type: typ}).AppendTo(nil)
	value := (&kmsg.EndTxnMarker{Version: 0, CoordinatorEpoch: coordinatorEpoch}).AppendTo(nil)
	bld := NewBuilder()
	bld.ProducerID = producerID
	bld.ProducerEpoch = producerEpoch
	bld.BaseSequence = NoSequence
	bld.Transactional = true
	bld.Control = true
	bld.Append(timestamp, key, value)
	return bld.Build()
}
