//go:build race

package wire

// raceEnabled: the race detector changes what allocations cost, so tests
// that compare memory with an estimate skip their comparison.
const raceEnabled = true
