package docs

import (
	"testing"

	"github.com/tandem-streaming/tandem/internal/metadata"
)

const mirrorStatesDoc = "docs/mirror-states.md"

// TestMirrorStateReference checks that docs/mirror-states.md describes
// exactly the mirror states Tandem has (metadata.MirrorStates, persisted
// and reported), in its "States" table, each once. The operations table
// is checked against the state machine in internal/link
// (TestMirrorStatesDocMatchesTransitions).
func TestMirrorStateReference(t *testing.T) {
	doc := readDoc(t, mirrorStatesDoc)
	documented := map[metadata.MirrorState]bool{}
	for _, row := range tableRows(section(t, doc, "## States")) {
		spans := codeSpans(row[0])
		if len(spans) != 1 || len(row) != 5 {
			continue // the tables of subsections
		}
		s := metadata.MirrorState(spans[0])
		if documented[s] {
			t.Errorf("%s is documented twice", s)
		}
		documented[s] = true
		known := false
		for _, k := range metadata.MirrorStates {
			known = known || k == s
		}
		if !known {
			t.Errorf("%s is documented but is not a mirror state", s)
		}
		persisted := s != metadata.MirrorSourceUnavailable && s != metadata.MirrorLinkPaused
		if want := map[bool]string{true: "persisted", false: "reported"}[persisted]; row[1] != want {
			t.Errorf("%s: kind %q, want %q", s, row[1], want)
		}
		if ro := (metadata.Topic{Mirror: &metadata.Mirror{State: s}}).ReadOnly(); (row[2] == "yes") != ro {
			t.Errorf("%s: read-only %q, but Topic.ReadOnly() is %v", s, row[2], ro)
		}
	}
	for _, s := range metadata.MirrorStates {
		if !documented[s] {
			t.Errorf("mirror state %s is not documented in %s", s, mirrorStatesDoc)
		}
	}
}
