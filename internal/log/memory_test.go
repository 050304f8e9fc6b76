package log

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestIdleLogFootprint opens 10,000 empty logs sharing one FileCache and
// one Syncer and reports the heap cost per idle log; it fails above
// 20 KiB. It also checks that idle logs hold no more descriptors than the
// cache bound.
func TestIdleLogFootprint(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 10,000 logs")
	}
	const n = 10_000
	// The measurement is about memory, not the disk: use tmpfs when there
	// is one (creating 10,000 directories on a slow disk takes minutes).
	root := t.TempDir()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "tandem-log-footprint-"); err == nil {
			root = d
			t.Cleanup(func() { _ = os.RemoveAll(d) })
		}
	}
	files := NewFileCache(128)
	syncer := NewSyncer(4, nil)
	defer syncer.Close()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	logs := make([]*Log, 0, n)
	for i := 0; i < n; i++ {
		l, err := Open(Options{
			Dir: filepath.Join(root, fmt.Sprintf("t-%d", i)), Topic: "t", Partition: int32(i),
			TopicID: [16]byte{1}, Files: files, Syncer: syncer, Logger: quietLogger(),
		})
		if err != nil {
			t.Fatal(err)
		}
		logs = append(logs, l)
	}
	// Let the directory-sync rounds of the new logs finish.
	for _, l := range logs {
		for {
			l.mu.RLock()
			idle := l.syncState == syncIdle
			l.mu.RUnlock()
			if idle {
				break
			}
			runtime.Gosched()
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perLog := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("idle empty log: %d bytes of heap each (%d logs), %d descriptors open", perLog, n, files.Open())
	if perLog > 20<<10 {
		t.Errorf("idle log costs %d bytes, budget 20 KiB", perLog)
	}
	if files.Open() > 128 {
		t.Errorf("%d descriptors open, cache bound 128", files.Open())
	}
	for _, l := range logs {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	runtime.KeepAlive(logs)
}
