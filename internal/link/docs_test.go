package link

import (
	"os"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/metadata"
)

// TestMirrorStatesDocMatchesTransitions checks the operations table of
// docs/mirror-states.md against mirrorTransition: for each persisted state
// and each user operation, a cell starting "refused" must be refused, and
// otherwise its first `STATE` is where the operation leads; "then
// `STOPPED`" is where the stop completes (drained), and "back to `S`" where
// an aborted promote returns.
func TestMirrorStatesDocMatchesTransitions(t *testing.T) {
	b, err := os.ReadFile("../../docs/mirror-states.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "\n## Operations\n")
	if i < 0 {
		t.Fatal("docs/mirror-states.md has no Operations section")
	}
	events := map[string]mirrorEvent{"pause": evPause, "resume": evResume, "promote": evPromote, "failover": evFailover}
	var cols []string
	seen := map[metadata.MirrorState]bool{}
	checked := 0
	for _, l := range strings.Split(doc[i:], "\n") {
		if !strings.HasPrefix(l, "|") {
			if cols != nil {
				break // the end of the table
			}
			continue
		}
		cells := strings.Split(strings.Trim(l, "|"), "|")
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		if cols == nil {
			if cells[0] == "State" {
				cols = cells
			}
			continue
		}
		if strings.HasPrefix(cells[0], "---") { // the separator row
			continue
		}
		from := metadata.MirrorState(strings.Trim(cells[0], "`"))
		seen[from] = true
		for j := 1; j < len(cells) && j < len(cols); j++ {
			ev, ok := events[cols[j]]
			if !ok {
				t.Fatalf("unknown operation column %q", cols[j])
			}
			m := metadata.Mirror{State: from}
			switch from {
			case metadata.MirrorPendingStopped:
				m.PendingOp, m.PreviousState = opPromote, metadata.MirrorActive
			case metadata.MirrorPendingRestore:
				m.PendingOp, m.PreviousState = opRestore, metadata.MirrorStopped
			case metadata.MirrorPendingSetupForRestore:
				m.PendingOp, m.PreviousState = opFence, metadata.MirrorStopped
			}
			step, err := mirrorTransition(m, ev)
			cell := cells[j]
			checked++
			if strings.HasPrefix(cell, "refused") {
				if err == nil {
					t.Errorf("%s %s: the doc says refused, the state machine goes to %s", cols[j], from, step.To)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s %s: the doc says %q, the state machine refuses: %v", cols[j], from, cell, err)
				continue
			}
			spans := spansOf(cell)
			if len(spans) == 0 || metadata.MirrorState(spans[0]) != step.To {
				t.Errorf("%s %s: the doc says %q, the state machine goes to %s", cols[j], from, cell, step.To)
			}
			if strings.Contains(cell, "then `STOPPED`") {
				done, err := mirrorTransition(metadata.Mirror{State: step.To, PendingOp: step.PendingOp, PreviousState: step.PreviousState}, evDrained)
				if err != nil || done.To != metadata.MirrorStopped {
					t.Errorf("%s %s: drained goes to %s (%v), not STOPPED", cols[j], from, done.To, err)
				}
			}
			if _, back, ok := strings.Cut(cell, "back to `"); ok {
				want, _, _ := strings.Cut(back, "`")
				ab, err := mirrorTransition(metadata.Mirror{State: step.To, PendingOp: step.PendingOp, PreviousState: step.PreviousState}, evPromoteAborted)
				if err != nil || string(ab.To) != want {
					t.Errorf("%s %s: an aborted promote goes to %s (%v), the doc says %s", cols[j], from, ab.To, err, want)
				}
			}
		}
	}
	for _, s := range []metadata.MirrorState{MirrorActive, MirrorPaused, MirrorPendingStopped, MirrorStopped, MirrorFailed,
		metadata.MirrorPendingRestore, metadata.MirrorPendingSetupForRestore} {
		if !seen[s] {
			t.Errorf("the operations table has no row for %s", s)
		}
	}
	if checked != 7*4 {
		t.Errorf("checked %d cells, want 28", checked)
	}
}

func spansOf(s string) []string {
	parts := strings.Split(s, "`")
	var out []string
	for k := 1; k < len(parts); k += 2 {
		out = append(out, parts[k])
	}
	return out
}
