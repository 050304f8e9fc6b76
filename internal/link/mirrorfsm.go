package link

import (
	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/usererr"
)

// The mirror state machine. A mirror's state has one owner, the link
// Manager; it is persisted in metadata (metadata.Mirror) and every other
// view derives from it: the partitions' read-only flag (the broker hosts
// from metadata.Topic.ReadOnly), what the data path is told to do
// (dataPathWant), and what REST, the CLI and metrics report (reported).
//
// mirrorTransition is pure: given the persisted state and an event it
// returns the next state and the effects the owner must carry out, in
// order. The owner persists first and acts after (so a crash between the
// two is healed by evRecover on the next start), except for the two
// PENDING_STOPPED completions, which persist last because they depend on
// what the drain found.
//
// States (cluster-linking.md §2.3):
//
//	ACTIVE           fetching (reported LINK_PAUSED / SOURCE_UNAVAILABLE
//	                 while the link is paused / cannot reach its source)
//	PAUSED           the user paused this mirror; positions kept
//	PENDING_STOPPED  promote or failover requested; the data path is being
//	                 drained and the final offsets taken
//	STOPPED          a writable, ordinary topic that remembers its source
//	FAILED           a non-recoverable error or the retry timeout
//	PENDING_RESTORE  truncate-and-restore is truncating the topic to the
//	                 remote's stop offsets (Mirror.Restore); then it
//	                 mirrors the remote topic (restore.go)
//	PENDING_SETUP_FOR_RESTORE
//	                 fenced by the peer half's reverse: read-only, about
//	                 to become the peer's mirror (failback_answer.go)
//
// Events and transitions (anything not listed is refused with
// ErrMirrorState and changes nothing):
//
//	ACTIVE          pause → PAUSED; failover, promote, reverse-start,
//	                reverse-pause → PENDING_STOPPED; fail → FAILED
//	PAUSED          resume → ACTIVE; failover, promote, reverse-start,
//	                reverse-pause → PENDING_STOPPED; fail → FAILED
//	PENDING_STOPPED failover (over a pending promote or reverse) →
//	                PENDING_STOPPED; drained → STOPPED (consumer offsets
//	                clamped first); promote aborted (a promote or reverse
//	                that found the source ahead) → previous state;
//	                fail → ignored (the stop completes regardless)
//	FAILED          failover → PENDING_STOPPED (make what was copied
//	                writable); fail → ignored
//	STOPPED         restore, restore-paused → PENDING_RESTORE (an
//	                ordinary topic enters here too: restore.go treats it
//	                as STOPPED); fence → PENDING_SETUP_FOR_RESTORE (an
//	                ordinary topic too); unfence, fail → ignored
//	PENDING_RESTORE restored → ACTIVE (restore) or PAUSED (restore-paused);
//	                fail → ignored (the truncation is retried at the next
//	                start; a failed log fails its partition anyway)
//	PENDING_SETUP_FOR_RESTORE
//	                restore, restore-paused → PENDING_RESTORE (nothing to
//	                truncate: the fence kept writes out); unfence →
//	                STOPPED (the reverse did not happen); failover →
//	                STOPPED (the peer never came back: writable again);
//	                fence, fail → ignored
//
// reverse-start and reverse-pause are the local half of
// reverse-and-start-mirror / reverse-and-pause-mirror: a stop that, like
// promote, needs the mirror caught up; the remote topic then becomes a
// mirror through its own restore (restore-paused for reverse-and-pause)
// with nothing to truncate (docs/design/links-bidirectional.md).
//
// recover (node start, link start) re-derives the effects of a persisted
// state: an ACTIVE mirror is handed to the data path again, a
// PENDING_STOPPED one finishes its stop, a PENDING_RESTORE one redoes its
// truncation (idempotent) and completes.

// mirrorEvent is an input to the mirror state machine.
type mirrorEvent uint8

const (
	evPause mirrorEvent = iota
	evResume
	evFailover
	evPromote
	// evDrained: the data path of a PENDING_STOPPED mirror was drained
	// and its final offsets taken (for a promote: still caught up).
	evDrained
	// evPromoteAborted: a pending promote's final check found the source
	// ahead of the mirror.
	evPromoteAborted
	// evFail: a non-recoverable data-path or sync error, or the retry
	// timeout.
	evFail
	// evRecover: the state was loaded from metadata (start, restart).
	evRecover
	// evReverseStart, evReversePause: the local half of
	// reverse-and-start-mirror / reverse-and-pause-mirror (a stop that
	// needs the mirror caught up, like promote).
	evReverseStart
	evReversePause
	// evRestore, evRestorePaused: truncate-and-restore (or the remote
	// half of a reverse) on a STOPPED mirror or an ordinary topic; the
	// topic ends ACTIVE, or PAUSED for reverse-and-pause.
	evRestore
	evRestorePaused
	// evRestored: the truncation of a PENDING_RESTORE topic is done.
	evRestored
	// evFence, evUnfence: the peer half's reverse fences this STOPPED
	// topic (first phase, PENDING_SETUP_FOR_RESTORE), or undoes the
	// fence when its own stop did not happen
	// (docs/design/links-bidirectional.md §5.3).
	evFence
	evUnfence
	numMirrorEvents
)

func (e mirrorEvent) String() string {
	return [...]string{"pause", "resume", "failover", "promote", "drained", "promote-aborted", "fail", "recover",
		"reverse-and-start", "reverse-and-pause", "restore", "restore-paused", "restored", "fence", "unfence"}[e]
}

// mirrorEffect is what the owner must do after a transition.
type mirrorEffect uint8

const (
	// effPersist writes the new state (with StateTimeMs when it changed).
	effPersist mirrorEffect = iota
	// effStart hands the mirror's partitions to the data path (or resumes
	// them).
	effStart
	// effPause stops appending but keeps the data path's positions.
	effPause
	// effStop removes the mirror from the data path.
	effStop
	// effDrain pauses the data path, takes the final offsets and
	// completes the stop (evDrained or, for a promote that fell behind,
	// evPromoteAborted). It runs after effPersist of PENDING_STOPPED.
	effDrain
	// effMakeWritable raises the partitions' leader epochs past every
	// epoch in their logs; persisted with STOPPED (KIP-1279: new local
	// writes start a new epoch above the copied history).
	effMakeWritable
	// effClampOffsets lowers every local group's committed offset on the
	// mirror's partitions to their final log end offsets (offsetsync.go);
	// before STOPPED is persisted, so a crash before it is finished is
	// healed by the stop's recovery, which drains and clamps again.
	effClampOffsets
	// effTruncate truncates every partition of a PENDING_RESTORE topic
	// to its persisted plan (Mirror.Restore), naming each truncated range
	// in a log line, and completes the restore (evRestored). It runs after
	// effPersist of PENDING_RESTORE; TruncateTo is idempotent, so a crash
	// midway is healed by recovery, which truncates again.
	effTruncate
)

func (e mirrorEffect) String() string {
	return [...]string{"persist", "start", "pause", "stop", "drain", "make-writable", "clamp-offsets", "truncate"}[e]
}

// mirrorStep is the result of a transition.
type mirrorStep struct {
	To            metadata.MirrorState
	PendingOp     string               // set with PENDING_STOPPED
	PreviousState metadata.MirrorState // set with PENDING_STOPPED
	Effects       []mirrorEffect
}

// Pending operations of PENDING_STOPPED and PENDING_RESTORE.
const (
	opPromote      = "promote"
	opFailover     = "failover"
	opReverseStart = "reverse-and-start"
	opReversePause = "reverse-and-pause"
	opRestore      = "restore"
	opRestorePause = "restore-paused"
	// opFence: PENDING_SETUP_FOR_RESTORE's pending operation (the peer's
	// RESTORE); opUnfence a RemoteOp only.
	opFence   = "fence"
	opUnfence = "unfence"
)

// needsCaughtUp reports the pending stops that complete only if the
// mirror is still caught up with its source (promote, and the reverses,
// which hand the topic's writes to this side: reference §2.5, "Nothing is
// truncated").
func needsCaughtUp(op string) bool {
	return op == opPromote || op == opReverseStart || op == opReversePause
}

// mirrorTransition is the state machine's transition function.
func mirrorTransition(m metadata.Mirror, ev mirrorEvent) (mirrorStep, error) {
	from := m.State
	refuse := func(why string) (mirrorStep, error) {
		return mirrorStep{}, usererr.New(ErrMirrorState, "cannot %s a mirror topic that is %s%s", ev, from, why)
	}
	stay := mirrorStep{To: from, PendingOp: m.PendingOp, PreviousState: m.PreviousState}
	stopping := func(op string) mirrorStep {
		prev := from
		if from == metadata.MirrorPendingStopped {
			prev = m.PreviousState
		}
		return mirrorStep{To: metadata.MirrorPendingStopped, PendingOp: op, PreviousState: prev,
			Effects: []mirrorEffect{effPersist, effDrain}}
	}
	switch from {
	case metadata.MirrorActive, metadata.MirrorPaused:
		switch ev {
		case evPause:
			if from == metadata.MirrorPaused {
				return refuse(" (already paused)")
			}
			return mirrorStep{To: metadata.MirrorPaused, Effects: []mirrorEffect{effPersist, effPause}}, nil
		case evResume:
			if from == metadata.MirrorActive {
				return refuse(" (not paused)")
			}
			return mirrorStep{To: metadata.MirrorActive, Effects: []mirrorEffect{effPersist, effStart}}, nil
		case evFailover:
			return stopping(opFailover), nil
		case evPromote:
			return stopping(opPromote), nil
		case evReverseStart:
			return stopping(opReverseStart), nil
		case evReversePause:
			return stopping(opReversePause), nil
		case evFail:
			return mirrorStep{To: metadata.MirrorFailed, Effects: []mirrorEffect{effStop, effPersist}}, nil
		case evRecover:
			if from == metadata.MirrorActive {
				stay.Effects = []mirrorEffect{effStart}
			} else {
				stay.Effects = []mirrorEffect{effPause}
			}
			return stay, nil
		}
	case metadata.MirrorPendingStopped:
		switch ev {
		case evFailover:
			// A failover overrides a pending promote (the source may have
			// gone away while the promote waited); a pending failover is
			// already what was asked.
			return stopping(opFailover), nil
		case evDrained:
			return mirrorStep{To: metadata.MirrorStopped, Effects: []mirrorEffect{effStop, effClampOffsets, effMakeWritable, effPersist}}, nil
		case evPromoteAborted:
			if !needsCaughtUp(m.PendingOp) {
				return refuse(" (not promoting)")
			}
			prev := m.PreviousState
			if prev != metadata.MirrorPaused {
				prev = metadata.MirrorActive
			}
			eff := effStart
			if prev == metadata.MirrorPaused {
				eff = effPause
			}
			return mirrorStep{To: prev, Effects: []mirrorEffect{effPersist, eff}}, nil
		case evFail:
			return stay, nil
		case evRecover:
			stay.Effects = []mirrorEffect{effDrain}
			return stay, nil
		case evPromote, evReverseStart, evReversePause:
			return refuse(" (a stop is already in progress)")
		}
	case metadata.MirrorFailed:
		switch ev {
		case evFailover:
			return stopping(opFailover), nil
		case evFail:
			return stay, nil
		case evRecover:
			stay.Effects = []mirrorEffect{effStop}
			return stay, nil
		}
	case metadata.MirrorStopped:
		switch ev {
		case evFail, evRecover, evUnfence:
			return stay, nil
		case evRestore, evRestorePaused:
			return restoring(ev), nil
		case evFence:
			return mirrorStep{To: metadata.MirrorPendingSetupForRestore, PendingOp: opFence, PreviousState: from,
				Effects: []mirrorEffect{effPersist}}, nil
		}
		return mirrorStep{}, usererr.New(ErrMirrorState, "the mirror topic has already stopped mirroring")
	case metadata.MirrorPendingSetupForRestore:
		switch ev {
		case evFail, evRecover, evFence:
			return stay, nil
		case evRestore, evRestorePaused:
			return restoring(ev), nil
		case evUnfence, evFailover:
			// Writable again: the reverse that fenced it did not
			// complete, or the user gave up waiting for the peer.
			return mirrorStep{To: metadata.MirrorStopped, Effects: []mirrorEffect{effMakeWritable, effPersist}}, nil
		}
		return refuse(" (fenced by a reverse started on the peer cluster; fail it over to make it writable now)")
	case metadata.MirrorPendingRestore:
		switch ev {
		case evRestored:
			if m.PendingOp == opRestorePause {
				return mirrorStep{To: metadata.MirrorPaused, Effects: []mirrorEffect{effPersist, effPause}}, nil
			}
			return mirrorStep{To: metadata.MirrorActive, Effects: []mirrorEffect{effPersist, effStart}}, nil
		case evFail:
			return stay, nil
		case evRecover:
			stay.Effects = []mirrorEffect{effTruncate}
			return stay, nil
		}
		return refuse(" (a truncate-and-restore is in progress)")
	}
	return refuse("")
}

// restoring is the step of a restore (truncate-and-restore, or a
// reverse's remote half) from a STOPPED or fenced topic.
func restoring(ev mirrorEvent) mirrorStep {
	op := opRestore
	if ev == evRestorePaused {
		op = opRestorePause
	}
	return mirrorStep{To: metadata.MirrorPendingRestore, PendingOp: op, PreviousState: metadata.MirrorStopped,
		Effects: []mirrorEffect{effPersist, effTruncate}}
}

// linkCondition is the link-level input to what a mirror reports and what
// its data path should do.
type linkCondition uint8

const (
	linkOK linkCondition = iota
	linkCondPaused
	linkCondUnavailable
	linkCondFailed
)

// reported is the state REST, the CLI and metrics show: the persisted
// state, with the link's condition layered over a mirror that would be
// fetching (Confluent's LINK_PAUSED / SOURCE_UNAVAILABLE).
func reported(s metadata.MirrorState, c linkCondition) metadata.MirrorState {
	if s != metadata.MirrorActive {
		return s
	}
	switch c {
	case linkCondPaused:
		return metadata.MirrorLinkPaused
	case linkCondUnavailable, linkCondFailed:
		return metadata.MirrorSourceUnavailable
	}
	return s
}

// dataPathMode is what the data path should be doing for a mirror.
type dataPathMode uint8

const (
	dpNone dataPathMode = iota // not known to the data path
	dpFetching
	dpPaused // positions kept, nothing appended
)

// dataPathWant derives the data path's mode from the mirror's state and
// the link's condition. An unavailable source keeps fetching (the fetcher
// retries and recovers on its own); a paused link pauses its mirrors.
func dataPathWant(s metadata.MirrorState, c linkCondition) dataPathMode {
	switch s {
	case metadata.MirrorActive:
		if c == linkCondPaused {
			return dpPaused
		}
		return dpFetching
	case metadata.MirrorPaused, metadata.MirrorPendingStopped:
		// A pending stop keeps the positions: an aborted promote resumes
		// from them.
		return dpPaused
	}
	return dpNone
}
