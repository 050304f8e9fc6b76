// Package invariants gates assertions that cost nothing in release builds
// (after pebble's internal/invariants): they run under `-race` or
// `-tags invariants` and panic with a description of the broken invariant.
package invariants

import "fmt"

// Check panics with the formatted message when Enabled and cond is false.
// Arguments are evaluated by the caller even when disabled, so guard
// expensive checks with `if invariants.Enabled { ... }`.
func Check(cond bool, format string, args ...any) {
	if Enabled && !cond {
		panic("invariant violated: " + fmt.Sprintf(format, args...))
	}
}
