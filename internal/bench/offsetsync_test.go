package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestRunOffsetSync runs the offset-sync benchmark at a tiny scale: every
// round copies the offsets (RunOffsetSync checks a sample on the
// destination), and the source load of a round is counted.
func TestRunOffsetSync(t *testing.T) {
	var out bytes.Buffer
	o := OffsetSyncOptions{Groups: 40, Topics: 2, Partitions: 3, Rounds: 2, Changed: 0.25, Dir: t.TempDir(), Out: &out}
	res, err := RunOffsetSync(testContext(t), o)
	if err != nil {
		t.Fatalf("RunOffsetSync: %v\n%s", err, out.String())
	}
	t.Logf("output:\n%s", out.String())
	if res.Offsets != 40*2*3 || len(res.Rounds) != o.Rounds {
		t.Fatalf("result %+v", res)
	}
	for i, r := range append([]OffsetSyncRound{res.First}, res.Rounds...) {
		if r.Seconds <= 0 || r.CPUSeconds < 0 || r.Source.Requests == 0 || r.Source.BytesSent == 0 || r.Source.BytesReceived == 0 {
			t.Errorf("round %d: %+v", i, r)
		}
		if r.Source.ByAPI["OffsetFetch"] == 0 {
			t.Errorf("round %d sent no OffsetFetch to the source: %v", i, r.Source.ByAPI)
		}
		if n := r.Source.ByAPI["Fetch"]; n != 0 {
			t.Errorf("round %d: %d Fetch requests counted (the mirrors are paused)", i, n)
		}
	}
	if res.Rounds[0].Changed != 10 {
		t.Errorf("groups changed %d, want 10", res.Rounds[0].Changed)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var j OffsetSyncResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &j); err != nil || j.Offsets != res.Offsets || len(j.Rounds) != o.Rounds {
		t.Errorf("last line %q: %v", lines[len(lines)-1], err)
	}

	if _, err := RunOffsetSync(testContext(t), OffsetSyncOptions{Groups: 1, Topics: 1, Partitions: 1, Changed: 2}); !errors.Is(err, ErrOptions) {
		t.Errorf("changed 2: %v, want %v", err, ErrOptions)
	}
}
