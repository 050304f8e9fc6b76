package compat

import (
	"slices"
	"testing"
	"time"
)

// TestDiffRecords checks that the record comparison catches every kind of
// difference the interop tests rely on it to catch.
func TestDiffRecords(t *testing.T) {
	want := genRecords(2, 20)
	w := window{from: time.Now(), to: time.Now()}
	consumed := func() []record {
		got := make([]record, len(want))
		next := map[int32]int64{}
		for i, r := range want {
			r.Key, r.Value = slices.Clone(r.Key), slices.Clone(r.Value)
			r.Headers = slices.Clone(r.Headers)
			r.Offset = next[r.Partition]
			next[r.Partition]++
			got[i] = r
		}
		return got
	}
	if d := diffRecords(want, consumed(), w, true); len(d) != 0 {
		t.Fatalf("identical records differ: %v", d)
	}

	idx := func(p int32, n int) int { return n*2 + int(p) } // genRecords is round-robin
	cases := []struct {
		name   string
		strict bool
		mutate func(got []record) []record
	}{
		{"missing record", false, func(g []record) []record { return g[:len(g)-1] }},
		{"duplicate record", false, func(g []record) []record { return append(g, g[len(g)-1]) }},
		{"offset gap", false, func(g []record) []record { g[idx(1, 5)].Offset++; return g }},
		{"reordered", false, func(g []record) []record {
			a, b := idx(0, 1), idx(0, 2)
			g[a], g[b] = g[b], g[a]
			return g
		}},
		{"wrong partition", false, func(g []record) []record { g[idx(0, 0)].Partition = 7; return g }},
		{"key", false, func(g []record) []record { g[idx(0, 0)].Key[0] ^= 1; return g }},
		{"null key as empty", true, func(g []record) []record { g[idx(1, 3)].Key = []byte{}; return g }},
		{"empty key as null", true, func(g []record) []record { g[idx(1, 4)].Key = nil; return g }},
		{"value", false, func(g []record) []record { g[idx(1, 1)].Value = g[idx(1, 1)].Value[1:]; return g }},
		{"empty value as null", true, func(g []record) []record { g[idx(0, 5)].Value = nil; return g }},
		{"header order", false, func(g []record) []record {
			h := g[idx(0, 2)].Headers
			h[1], h[2] = h[2], h[1]
			return g
		}},
		{"header dropped", false, func(g []record) []record {
			g[idx(0, 2)].Headers = g[idx(0, 2)].Headers[1:]
			return g
		}},
		{"header value", false, func(g []record) []record { g[idx(1, 1)].Headers[0].Value = []byte("t-0"); return g }},
		{"timestamp", false, func(g []record) []record {
			g[idx(1, 6)].Timestamp = g[idx(1, 6)].Timestamp.Add(time.Millisecond)
			return g
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if d := diffRecords(want, tc.mutate(consumed()), w, tc.strict); len(d) == 0 {
				t.Errorf("difference not reported")
			}
		})
	}

	t.Run("timestamp outside window", func(t *testing.T) {
		unstamped := slices.Clone(want)
		for i := range unstamped {
			unstamped[i].Timestamp = time.Time{}
		}
		got := consumed()
		for i := range got {
			got[i].Timestamp = w.from
		}
		if d := diffRecords(unstamped, got, w, true); len(d) != 0 {
			t.Fatalf("timestamps inside the window reported: %v", d)
		}
		got[3].Timestamp = w.from.Add(-time.Hour)
		if d := diffRecords(unstamped, got, w, true); len(d) == 0 {
			t.Errorf("timestamp outside the window not reported")
		}
	})
}
