package bench

import (
	"os"
	"testing"
	"time"
)

// TestProcCPUAndRSS reads this process's own /proc entries: CPU time must
// grow with work done and RSS must be plausible.
func TestProcCPUAndRSS(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	pid := os.Getpid()
	before := procCPU(pid)
	// Spin until /proc shows 50 ms more CPU, bounded by 10 s of wall time
	// (a loaded machine may give this goroutine little of it).
	for start := time.Now(); procCPU(pid)-before < 50*time.Millisecond; {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("procCPU grew by %v in 10 s of spinning", procCPU(pid)-before)
		}
	}
	if d := selfCPU(); d <= 0 {
		t.Errorf("selfCPU = %v", d)
	}
	if rss, hwm := procRSS(pid); rss < 1<<20 || hwm < rss {
		t.Errorf("procRSS = %v, %v", rss, hwm)
	}
	if procCPU(0) != 0 {
		t.Error("procCPU(0) != 0")
	}
}
