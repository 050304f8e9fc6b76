package vfs

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestErrorFSRules(t *testing.T) {
	dir := t.TempDir()
	fs := NewErrorFS(nil)
	p := filepath.Join(dir, "a.log")
	id := fs.Inject(Rule{Ops: OpWrite, Path: "a.log", Nth: 2, Times: 1, Err: syscall.ENOSPC, Partial: true})
	f, err := fs.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte("1234"), 0); err != nil {
		t.Fatalf("first write: %v", err)
	}
	n, err := f.WriteAt([]byte("5678"), 4)
	var pe *os.PathError
	if !errors.Is(err, syscall.ENOSPC) || !errors.As(err, &pe) || pe.Path != p || n != 2 {
		t.Fatalf("second write: n=%d err=%v, want 2 and *os.PathError ENOSPC", n, err)
	}
	if _, err := f.WriteAt([]byte("5678"), 4); err != nil {
		t.Fatalf("third write (Times 1): %v", err)
	}
	if fs.Fired(id) != 1 {
		t.Fatalf("fired %d", fs.Fired(id))
	}
	fs.Drop(id)

	fs.Trace(true)
	fs.Inject(Rule{Ops: OpRename, Err: syscall.EIO})
	err = fs.Rename(p, p+".x")
	var le *os.LinkError
	if !errors.Is(err, syscall.EIO) || !errors.As(err, &le) {
		t.Fatalf("rename: %v", err)
	}
	if err := f.Datasync(); err != nil {
		t.Fatal(err)
	}
	recs := fs.Records()
	if len(recs) != 2 || recs[0].Op != OpRename || recs[0].Failed != syscall.EIO || recs[1].Op != OpSync || recs[1].Failed != 0 {
		t.Fatalf("records %+v", recs)
	}
	fs.Clear()
	if err := fs.Rename(p, p+".x"); err != nil {
		t.Fatal(err)
	}
	if OSFile(f) == nil {
		t.Fatal("no descriptor behind an ErrorFS file")
	}
}

func TestWriteFileAtomicFailureLeavesOld(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "ckpt")
	if err := WriteFileAtomic(Default, p, []byte("old")); err != nil {
		t.Fatal(err)
	}
	for _, op := range []Op{OpOpen, OpWrite, OpSync, OpRename} {
		fs := NewErrorFS(nil)
		fs.Inject(Rule{Ops: op, Err: syscall.ENOSPC})
		if err := WriteFileAtomic(fs, p, []byte("new")); !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("%v: err %v", op, err)
		}
		if b, _ := os.ReadFile(p); string(b) != "old" {
			t.Fatalf("%v: content %q", op, b)
		}
		if _, err := os.Stat(p + ".tmp"); !os.IsNotExist(err) {
			t.Fatalf("%v: temporary file left: %v", op, err)
		}
	}
}
