package link

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/metadata"
)

// TestMirrorTransitionTable covers every persisted state × every event:
// the next state, the pending operation kept for PENDING_STOPPED and the
// effects in order; "refused" rows must change nothing.
func TestMirrorTransitionTable(t *testing.T) {
	const refused = "refused"
	A, P, PS, S, F := metadata.MirrorActive, metadata.MirrorPaused, metadata.MirrorPendingStopped, metadata.MirrorStopped, metadata.MirrorFailed
	PR := metadata.MirrorPendingRestore
	PSR := metadata.MirrorPendingSetupForRestore
	type row struct {
		from    metadata.MirrorState
		op      string // PendingOp of a PENDING_STOPPED mirror
		prev    metadata.MirrorState
		ev      mirrorEvent
		want    string // "STATE[/op] effects" or refused
		wantPrv metadata.MirrorState
	}
	rows := []row{
		{from: A, ev: evPause, want: "PAUSED persist,pause"},
		{from: A, ev: evResume, want: refused},
		{from: A, ev: evFailover, want: "PENDING_STOPPED/failover persist,drain", wantPrv: A},
		{from: A, ev: evPromote, want: "PENDING_STOPPED/promote persist,drain", wantPrv: A},
		{from: A, ev: evDrained, want: refused},
		{from: A, ev: evPromoteAborted, want: refused},
		{from: A, ev: evFail, want: "FAILED stop,persist"},
		{from: A, ev: evRecover, want: "ACTIVE start"},

		{from: P, ev: evPause, want: refused},
		{from: P, ev: evResume, want: "ACTIVE persist,start"},
		{from: P, ev: evFailover, want: "PENDING_STOPPED/failover persist,drain", wantPrv: P},
		{from: P, ev: evPromote, want: "PENDING_STOPPED/promote persist,drain", wantPrv: P},
		{from: P, ev: evDrained, want: refused},
		{from: P, ev: evPromoteAborted, want: refused},
		{from: P, ev: evFail, want: "FAILED stop,persist"},
		{from: P, ev: evRecover, want: "PAUSED pause"},

		{from: PS, op: opPromote, prev: A, ev: evPause, want: refused},
		{from: PS, op: opPromote, prev: A, ev: evResume, want: refused},
		{from: PS, op: opPromote, prev: P, ev: evFailover, want: "PENDING_STOPPED/failover persist,drain", wantPrv: P},
		{from: PS, op: opFailover, prev: A, ev: evFailover, want: "PENDING_STOPPED/failover persist,drain", wantPrv: A},
		{from: PS, op: opPromote, prev: A, ev: evPromote, want: refused},
		{from: PS, op: opPromote, prev: A, ev: evDrained, want: "STOPPED stop,clamp-offsets,make-writable,persist"},
		{from: PS, op: opFailover, prev: A, ev: evDrained, want: "STOPPED stop,clamp-offsets,make-writable,persist"},
		{from: PS, op: opPromote, prev: A, ev: evPromoteAborted, want: "ACTIVE persist,start"},
		{from: PS, op: opPromote, prev: P, ev: evPromoteAborted, want: "PAUSED persist,pause"},
		{from: PS, op: opFailover, prev: A, ev: evPromoteAborted, want: refused},
		{from: PS, op: opFailover, prev: A, ev: evFail, want: "PENDING_STOPPED/failover "},
		{from: PS, op: opPromote, prev: A, ev: evRecover, want: "PENDING_STOPPED/promote drain", wantPrv: A},

		{from: S, ev: evPause, want: refused},
		{from: S, ev: evResume, want: refused},
		{from: S, ev: evFailover, want: refused},
		{from: S, ev: evPromote, want: refused},
		{from: S, ev: evDrained, want: refused},
		{from: S, ev: evPromoteAborted, want: refused},
		{from: S, ev: evFail, want: "STOPPED "},
		{from: S, ev: evRecover, want: "STOPPED "},

		{from: F, ev: evPause, want: refused},
		{from: F, ev: evResume, want: refused},
		{from: F, ev: evFailover, want: "PENDING_STOPPED/failover persist,drain", wantPrv: F},
		{from: F, ev: evPromote, want: refused},
		{from: F, ev: evDrained, want: refused},
		{from: F, ev: evPromoteAborted, want: refused},
		{from: F, ev: evFail, want: "FAILED "},
		{from: F, ev: evRecover, want: "FAILED stop"},

		// Failback (docs/design/links-bidirectional.md): the reverses are
		// stops that need the mirror caught up, like promote; restore
		// starts from STOPPED (an ordinary topic enters as STOPPED).
		{from: A, ev: evReverseStart, want: "PENDING_STOPPED/reverse-and-start persist,drain", wantPrv: A},
		{from: A, ev: evReversePause, want: "PENDING_STOPPED/reverse-and-pause persist,drain", wantPrv: A},
		{from: A, ev: evRestore, want: refused},
		{from: A, ev: evRestorePaused, want: refused},
		{from: A, ev: evRestored, want: refused},
		{from: P, ev: evReverseStart, want: "PENDING_STOPPED/reverse-and-start persist,drain", wantPrv: P},
		{from: P, ev: evReversePause, want: "PENDING_STOPPED/reverse-and-pause persist,drain", wantPrv: P},
		{from: P, ev: evRestore, want: refused},
		{from: P, ev: evRestorePaused, want: refused},
		{from: P, ev: evRestored, want: refused},
		{from: PS, op: opPromote, prev: A, ev: evReverseStart, want: refused},
		{from: PS, op: opReverseStart, prev: A, ev: evReversePause, want: refused},
		{from: PS, op: opReverseStart, prev: A, ev: evFailover, want: "PENDING_STOPPED/failover persist,drain", wantPrv: A},
		{from: PS, op: opReverseStart, prev: A, ev: evDrained, want: "STOPPED stop,clamp-offsets,make-writable,persist"},
		{from: PS, op: opReverseStart, prev: A, ev: evPromoteAborted, want: "ACTIVE persist,start"},
		{from: PS, op: opReversePause, prev: P, ev: evPromoteAborted, want: "PAUSED persist,pause"},
		{from: PS, op: opReverseStart, prev: A, ev: evRestore, want: refused},
		{from: PS, op: opReverseStart, prev: A, ev: evRestorePaused, want: refused},
		{from: PS, op: opReverseStart, prev: A, ev: evRestored, want: refused},
		{from: S, ev: evReverseStart, want: refused},
		{from: S, ev: evReversePause, want: refused},
		{from: S, ev: evRestore, want: "PENDING_RESTORE/restore persist,truncate", wantPrv: S},
		{from: S, ev: evRestorePaused, want: "PENDING_RESTORE/restore-paused persist,truncate", wantPrv: S},
		{from: S, ev: evRestored, want: refused},
		{from: F, ev: evReverseStart, want: refused},
		{from: F, ev: evReversePause, want: refused},
		{from: F, ev: evRestore, want: refused},
		{from: F, ev: evRestorePaused, want: refused},
		{from: F, ev: evRestored, want: refused},

		{from: PR, op: opRestore, prev: S, ev: evPause, want: refused},
		{from: PR, op: opRestore, prev: S, ev: evResume, want: refused},
		{from: PR, op: opRestore, prev: S, ev: evFailover, want: refused},
		{from: PR, op: opRestore, prev: S, ev: evPromote, want: refused},
		{from: PR, op: opRestore, prev: S, ev: evDrained, want: refused},
		{from: PR, op: opRestore, prev: S, ev: evPromoteAborted, want: refused},
		{from: PR, op: opRestore, prev: S, ev: evFail, want: "PENDING_RESTORE/restore "},
		{from: PR, op: opRestore, prev: S, ev: evRecover, want: "PENDING_RESTORE/restore truncate"},
		{from: PR, op: opRestore, prev: S, ev: evReverseStart, want: refused},
		{from: PR, op: opRestore, prev: S, ev: evReversePause, want: refused},
		{from: PR, op: opRestore, prev: S, ev: evRestore, want: refused},
		{from: PR, op: opRestore, prev: S, ev: evRestorePaused, want: refused},
		{from: PR, op: opRestore, prev: S, ev: evRestored, want: "ACTIVE persist,start"},
		{from: PR, op: opRestorePause, prev: S, ev: evRestored, want: "PAUSED persist,pause"},

		// A reverse's fence (design §5.3): only a STOPPED topic (or an
		// ordinary one, handled as STOPPED) is fenced; fenced, it can be
		// restored, unfenced or failed over, and nothing else.
		{from: A, ev: evFence, want: refused},
		{from: A, ev: evUnfence, want: refused},
		{from: P, ev: evFence, want: refused},
		{from: P, ev: evUnfence, want: refused},
		{from: PS, op: opPromote, prev: A, ev: evFence, want: refused},
		{from: PS, op: opPromote, prev: A, ev: evUnfence, want: refused},
		{from: S, ev: evFence, want: "PENDING_SETUP_FOR_RESTORE/fence persist", wantPrv: S},
		{from: S, ev: evUnfence, want: "STOPPED "},
		{from: F, ev: evFence, want: refused},
		{from: F, ev: evUnfence, want: refused},
		{from: PR, op: opRestore, prev: S, ev: evFence, want: refused},
		{from: PR, op: opRestore, prev: S, ev: evUnfence, want: refused},
		{from: PSR, op: opFence, prev: S, ev: evPause, want: refused},
		{from: PSR, op: opFence, prev: S, ev: evResume, want: refused},
		{from: PSR, op: opFence, prev: S, ev: evFailover, want: "STOPPED make-writable,persist"},
		{from: PSR, op: opFence, prev: S, ev: evPromote, want: refused},
		{from: PSR, op: opFence, prev: S, ev: evDrained, want: refused},
		{from: PSR, op: opFence, prev: S, ev: evPromoteAborted, want: refused},
		{from: PSR, op: opFence, prev: S, ev: evFail, want: "PENDING_SETUP_FOR_RESTORE/fence "},
		{from: PSR, op: opFence, prev: S, ev: evRecover, want: "PENDING_SETUP_FOR_RESTORE/fence "},
		{from: PSR, op: opFence, prev: S, ev: evReverseStart, want: refused},
		{from: PSR, op: opFence, prev: S, ev: evReversePause, want: refused},
		{from: PSR, op: opFence, prev: S, ev: evRestore, want: "PENDING_RESTORE/restore persist,truncate", wantPrv: S},
		{from: PSR, op: opFence, ev: evRestorePaused, want: "PENDING_RESTORE/restore-paused persist,truncate", wantPrv: S},
		{from: PSR, op: opFence, prev: S, ev: evRestored, want: refused},
		{from: PSR, op: opFence, prev: S, ev: evFence, want: "PENDING_SETUP_FOR_RESTORE/fence "},
		{from: PSR, op: opFence, prev: S, ev: evUnfence, want: "STOPPED make-writable,persist"},
	}
	// Every state × event appears at least once.
	seen := map[string]bool{}
	for _, r := range rows {
		seen[fmt.Sprint(r.from, r.ev)] = true
	}
	for _, s := range []metadata.MirrorState{A, P, PS, S, F, PR, PSR} {
		for ev := mirrorEvent(0); ev < numMirrorEvents; ev++ {
			if !seen[fmt.Sprint(s, ev)] {
				t.Errorf("table misses %s × %s", s, ev)
			}
		}
	}
	for _, r := range rows {
		t.Run(fmt.Sprintf("%s_%s_%s", r.from, r.op, r.ev), func(t *testing.T) {
			m := metadata.Mirror{State: r.from, PendingOp: r.op, PreviousState: r.prev}
			st, err := mirrorTransition(m, r.ev)
			if r.want == refused {
				if !errors.Is(err, ErrMirrorState) {
					t.Fatalf("got %+v, %v; want ErrMirrorState", st, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var effs []string
			for _, e := range st.Effects {
				effs = append(effs, e.String())
			}
			got := string(st.To)
			if st.To == PS || st.To == PR || st.To == PSR {
				got += "/" + st.PendingOp
			}
			got += " " + strings.Join(effs, ",")
			if got != r.want {
				t.Fatalf("got %q, want %q", got, r.want)
			}
			if r.wantPrv != "" && st.PreviousState != r.wantPrv {
				t.Fatalf("previous state %s, want %s", st.PreviousState, r.wantPrv)
			}
			// Persist comes first whenever the state changes, except for
			// the stop's completion and a failure, which act first.
			if st.To != r.from && len(st.Effects) > 0 && st.Effects[0] != effPersist && st.To != S && st.To != F {
				t.Fatalf("state change without persisting first: %v", effs)
			}
		})
	}
}

// TestReportedAndDataPath checks the derived views over every persisted
// state × link condition.
func TestReportedAndDataPath(t *testing.T) {
	for _, tc := range []struct {
		s    metadata.MirrorState
		c    linkCondition
		rep  metadata.MirrorState
		mode dataPathMode
	}{
		{metadata.MirrorActive, linkOK, metadata.MirrorActive, dpFetching},
		{metadata.MirrorActive, linkCondPaused, metadata.MirrorLinkPaused, dpPaused},
		{metadata.MirrorActive, linkCondUnavailable, metadata.MirrorSourceUnavailable, dpFetching},
		{metadata.MirrorActive, linkCondFailed, metadata.MirrorSourceUnavailable, dpFetching},
		{metadata.MirrorPaused, linkOK, metadata.MirrorPaused, dpPaused},
		{metadata.MirrorPaused, linkCondPaused, metadata.MirrorPaused, dpPaused},
		{metadata.MirrorPaused, linkCondUnavailable, metadata.MirrorPaused, dpPaused},
		{metadata.MirrorPendingStopped, linkOK, metadata.MirrorPendingStopped, dpPaused},
		{metadata.MirrorPendingStopped, linkCondUnavailable, metadata.MirrorPendingStopped, dpPaused},
		{metadata.MirrorStopped, linkCondPaused, metadata.MirrorStopped, dpNone},
		{metadata.MirrorFailed, linkOK, metadata.MirrorFailed, dpNone},
		{metadata.MirrorPendingRestore, linkOK, metadata.MirrorPendingRestore, dpNone},
		{metadata.MirrorPendingRestore, linkCondPaused, metadata.MirrorPendingRestore, dpNone},
		{metadata.MirrorPendingSetupForRestore, linkOK, metadata.MirrorPendingSetupForRestore, dpNone},
		{metadata.MirrorPendingSetupForRestore, linkCondUnavailable, metadata.MirrorPendingSetupForRestore, dpNone},
	} {
		if got := reported(tc.s, tc.c); got != tc.rep {
			t.Errorf("reported(%s, %d) = %s, want %s", tc.s, tc.c, got, tc.rep)
		}
		if got := dataPathWant(tc.s, tc.c); got != tc.mode {
			t.Errorf("dataPathWant(%s, %d) = %d, want %d", tc.s, tc.c, got, tc.mode)
		}
	}
}

// TestRemoteOpAfter: what a transition leaves owed to the peer half
// (design §5.3): a completed reverse owes the restore, an aborted one the
// unfence, a failover over a reverse nothing; other transitions keep it.
func TestRemoteOpAfter(t *testing.T) {
	for _, tc := range []struct {
		from metadata.Mirror
		ev   mirrorEvent
		want string
	}{
		{metadata.Mirror{State: MirrorActive, RemoteOp: opReverseStart}, evReverseStart, opReverseStart},
		{metadata.Mirror{State: MirrorPendingStopped, PendingOp: opReverseStart, PreviousState: MirrorActive, RemoteOp: opReverseStart}, evDrained, opRestore},
		{metadata.Mirror{State: MirrorPendingStopped, PendingOp: opReversePause, PreviousState: MirrorActive, RemoteOp: opReversePause}, evDrained, opRestorePause},
		{metadata.Mirror{State: MirrorPendingStopped, PendingOp: opReverseStart, PreviousState: MirrorPaused, RemoteOp: opReverseStart}, evPromoteAborted, opUnfence},
		{metadata.Mirror{State: MirrorPendingStopped, PendingOp: opReverseStart, PreviousState: MirrorActive, RemoteOp: opReverseStart}, evFailover, ""},
		{metadata.Mirror{State: MirrorPendingStopped, PendingOp: opPromote, PreviousState: MirrorActive}, evDrained, ""},
		{metadata.Mirror{State: MirrorStopped, RemoteOp: opRestore}, evRecover, opRestore},
	} {
		step, err := mirrorTransition(tc.from, tc.ev)
		if err != nil {
			t.Fatalf("%+v %s: %v", tc.from, tc.ev, err)
		}
		if got := remoteOpAfter(tc.from, step); got != tc.want {
			t.Errorf("%s %s → %s: RemoteOp %q, want %q", tc.from.State, tc.ev, step.To, got, tc.want)
		}
	}
}
