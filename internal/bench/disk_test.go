//go:build linux

package bench

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestRunDisk(t *testing.T) {
	for _, strategy := range []string{"syncfs", "fdatasync"} {
		var out bytes.Buffer
		dir := t.TempDir()
		res, err := RunDisk(context.Background(), DiskOptions{Dir: dir, Rate: 4 << 20, WriteSize: 8 << 10,
			Files: 4, Duration: 300 * time.Millisecond, Strategy: strategy, Out: &out})
		if err != nil {
			t.Fatal(err)
		}
		if res.Rounds == 0 || res.RoundP50 <= 0 || res.RoundMax < res.RoundP99 || res.RoundP99 < res.RoundP50 {
			t.Fatalf("%s: implausible rounds: %+v", strategy, res)
		}
		// A write waits at least for the round that covers it.
		if res.DurableP99 < res.RoundP50 || res.DurableP999 < res.DurableP99 {
			t.Fatalf("%s: implausible durability latencies: %+v", strategy, res)
		}
		if !strings.Contains(out.String(), `"strategy":"`+strategy+`"`) {
			t.Fatalf("no JSON line: %s", out.String())
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Fatalf("probe left %d entries behind", len(left))
		}
	}
	if _, err := RunDisk(context.Background(), DiskOptions{Dir: t.TempDir(), Rate: 1, WriteSize: 1, Files: 1,
		Duration: time.Millisecond, Strategy: "fsync"}); !errors.Is(err, ErrOptions) {
		t.Fatalf("unknown strategy: %v", err)
	}
}
