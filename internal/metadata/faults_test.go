package metadata

import (
	"errors"
	"syscall"
	"testing"

	"github.com/tandem-streaming/tandem/internal/vfs"
)

// TestOpenBoltFaults: a storage fault at any file operation the store
// makes itself while opening (the directory, the database open,
// meta.properties' write, sync and rename) fails the open with an error
// wrapping the errno, and an open after the fault clears succeeds with
// the same cluster id. (bbolt's own page writes and fsyncs use the
// *os.File it opened and are not injected; see OpenBoltFS.)
func TestOpenBoltFaults(t *testing.T) {
	probe := vfs.NewErrorFS(nil)
	probe.Trace(true)
	s, err := OpenBoltFS(t.TempDir(), 1, nil, probe)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	seen := map[vfs.Op]int{}
	type point struct {
		op  vfs.Op
		nth int
	}
	var points []point
	for _, r := range probe.Records() {
		seen[r.Op]++
		if r.Op&vfs.OpMutating != 0 {
			points = append(points, point{r.Op, seen[r.Op]})
		}
	}
	if len(points) < 4 {
		t.Fatalf("recorded %v", probe.Records())
	}
	for _, p := range points {
		for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EMFILE, syscall.EIO} {
			dir := t.TempDir()
			fs := vfs.NewErrorFS(nil)
			fs.Inject(vfs.Rule{Ops: p.op, Nth: p.nth, Times: 1, Err: errno})
			s, err := OpenBoltFS(dir, 1, nil, fs)
			if err == nil {
				_ = s.Close()
				t.Fatalf("%v #%d %v: open succeeded", p.op, p.nth, errno)
			}
			if !errors.Is(err, errno) {
				t.Fatalf("%v #%d %v: %v does not wrap the errno", p.op, p.nth, errno, err)
			}
			s, err = OpenBoltFS(dir, 1, nil, fs)
			if err != nil {
				t.Fatalf("%v #%d %v: open after the fault cleared: %v", p.op, p.nth, errno, err)
			}
			id := s.ClusterID()
			_ = s.Close()
			s, err = OpenBoltFS(dir, 1, nil, nil)
			if err != nil || s.ClusterID() != id {
				t.Fatalf("%v #%d %v: reopen: %v", p.op, p.nth, errno, err)
			}
			_ = s.Close()
		}
	}
}
