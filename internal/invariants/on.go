//go:build invariants || race

package invariants

// Enabled is true in builds with the invariants or race tag: expensive
// consistency checks run and panic on violation.
const Enabled = true
