package vfs

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Op is a kind of file-system operation an ErrorFS can fail.
type Op uint16

// Operation kinds. OpOpen covers every OpenFile (with or without
// O_CREATE); OpWrite covers Write and WriteAt; OpSync covers fsync,
// fdatasync and syncfs.
const (
	OpOpen Op = 1 << iota
	OpRead
	OpWrite
	OpSync
	OpRename
	OpRemove
	OpTruncate
	OpMkdir
	OpReadDir
	OpStat
	OpChtimes

	// OpAny matches every kind.
	OpAny Op = 1<<iota - 1
	// OpMutating is every kind that changes the file system.
	OpMutating = OpOpen | OpWrite | OpSync | OpRename | OpRemove | OpTruncate | OpMkdir | OpChtimes
)

var opNames = []string{"open", "read", "write", "sync", "rename", "remove", "truncate", "mkdir", "readdir", "stat", "chtimes"}

func (o Op) String() string {
	var parts []string
	for i, n := range opNames {
		if o&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// Rule says which operations fail and how.
type Rule struct {
	// Ops is the set of operation kinds the rule applies to.
	Ops Op
	// Path, if set, must be a substring of the operation's path (for a
	// rename, of either path).
	Path string
	// Nth: the rule fires from the Nth matching operation on (1-based;
	// 0 or 1 = the first).
	Nth int
	// Times bounds how many times it fires (0 = every match from Nth on,
	// until the rule is removed).
	Times int
	// Err is returned, wrapped as the OS wraps it (*os.PathError, or
	// *os.LinkError for a rename). syscall.ENOSPC, EIO, EMFILE, ...
	Err syscall.Errno
	// Partial makes a failing write write the first half of its bytes
	// before failing, as a write that runs out of space part-way does.
	Partial bool
}

// Record is one operation an ErrorFS saw.
type Record struct {
	Op     Op
	Path   string
	Failed syscall.Errno // 0 when it went through
}

// ErrorFS wraps an FS and fails operations that match its rules. Rules
// are evaluated in the order they were added; the first that fires wins.
// It is safe for concurrent use; the order in which concurrent operations
// match is then their order of arrival.
type ErrorFS struct {
	inner FS

	mu      sync.Mutex
	rules   []*ruleState
	nextID  int
	trace   bool
	records []Record
}

type ruleState struct {
	id    int
	r     Rule
	seen  int
	fired int
}

// NewErrorFS wraps inner (Default when nil).
func NewErrorFS(inner FS) *ErrorFS {
	if inner == nil {
		inner = Default
	}
	return &ErrorFS{inner: inner}
}

// Inject adds a rule and returns its id for Drop.
func (e *ErrorFS) Inject(r Rule) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.nextID++
	e.rules = append(e.rules, &ruleState{id: e.nextID, r: r})
	return e.nextID
}

// Drop removes rule id (the condition clears).
func (e *ErrorFS) Drop(id int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, rs := range e.rules {
		if rs.id == id {
			e.rules = append(e.rules[:i], e.rules[i+1:]...)
			return
		}
	}
}

// Clear drops every rule.
func (e *ErrorFS) Clear() {
	e.mu.Lock()
	e.rules = nil
	e.mu.Unlock()
}

// Fired reports how many times rule id has failed an operation.
func (e *ErrorFS) Fired(id int) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, rs := range e.rules {
		if rs.id == id {
			return rs.fired
		}
	}
	return 0
}

// Trace starts (on) or stops recording operations; starting clears the
// record. Tests record an action once without faults, then fail each
// recorded operation in turn.
func (e *ErrorFS) Trace(on bool) {
	e.mu.Lock()
	e.trace = on
	if on {
		e.records = nil
	}
	e.mu.Unlock()
}

// Records returns the operations recorded since Trace(true).
func (e *ErrorFS) Records() []Record {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Record(nil), e.records...)
}

// check decides whether op on paths fails, and records it.
func (e *ErrorFS) check(op Op, paths ...string) (syscall.Errno, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errno syscall.Errno
	partial := false
	for _, rs := range e.rules {
		if rs.r.Ops&op == 0 || !matchPath(rs.r.Path, paths) {
			continue
		}
		rs.seen++
		if rs.seen < rs.r.Nth || (rs.r.Times > 0 && rs.fired >= rs.r.Times) {
			continue
		}
		rs.fired++
		errno, partial = rs.r.Err, rs.r.Partial
		break
	}
	if e.trace {
		e.records = append(e.records, Record{Op: op, Path: paths[0], Failed: errno})
	}
	return errno, partial
}

func matchPath(sub string, paths []string) bool {
	if sub == "" {
		return true
	}
	for _, p := range paths {
		if strings.Contains(p, sub) {
			return true
		}
	}
	return false
}

func pathErr(op, path string, errno syscall.Errno) error {
	return &os.PathError{Op: op, Path: path, Err: errno}
}

// Fault implements Faulter: the error op on path gets under the rules, or
// nil. Each call counts as one operation, as a real one would.
func (e *ErrorFS) Fault(op Op, path string) error {
	if errno, _ := e.check(op, path); errno != 0 {
		return pathErr(op.String(), path, errno)
	}
	return nil
}

// OpenFile implements FS.
func (e *ErrorFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	if errno, _ := e.check(OpOpen, name); errno != 0 {
		return nil, pathErr("open", name, errno)
	}
	f, err := e.inner.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &errorFile{File: f, fs: e}, nil
}

// ReadDir implements FS.
func (e *ErrorFS) ReadDir(name string) ([]os.DirEntry, error) {
	if errno, _ := e.check(OpReadDir, name); errno != 0 {
		return nil, pathErr("readdirent", name, errno)
	}
	return e.inner.ReadDir(name)
}

// Stat implements FS.
func (e *ErrorFS) Stat(name string) (os.FileInfo, error) {
	if errno, _ := e.check(OpStat, name); errno != 0 {
		return nil, pathErr("stat", name, errno)
	}
	return e.inner.Stat(name)
}

// Rename implements FS.
func (e *ErrorFS) Rename(oldpath, newpath string) error {
	if errno, _ := e.check(OpRename, oldpath, newpath); errno != 0 {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: errno}
	}
	return e.inner.Rename(oldpath, newpath)
}

// Remove implements FS.
func (e *ErrorFS) Remove(name string) error {
	if errno, _ := e.check(OpRemove, name); errno != 0 {
		return pathErr("remove", name, errno)
	}
	return e.inner.Remove(name)
}

// RemoveAll implements FS.
func (e *ErrorFS) RemoveAll(name string) error {
	if errno, _ := e.check(OpRemove, name); errno != 0 {
		return pathErr("unlinkat", name, errno)
	}
	return e.inner.RemoveAll(name)
}

// MkdirAll implements FS.
func (e *ErrorFS) MkdirAll(name string, perm os.FileMode) error {
	if errno, _ := e.check(OpMkdir, name); errno != 0 {
		return pathErr("mkdir", name, errno)
	}
	return e.inner.MkdirAll(name, perm)
}

// Chtimes implements FS.
func (e *ErrorFS) Chtimes(name string, atime, mtime time.Time) error {
	if errno, _ := e.check(OpChtimes, name); errno != 0 {
		return pathErr("chtimes", name, errno)
	}
	return e.inner.Chtimes(name, atime, mtime)
}

// SyncFS implements FS.
func (e *ErrorFS) SyncFS(f File) error {
	if errno, _ := e.check(OpSync, f.Name()); errno != 0 {
		return pathErr("syncfs", f.Name(), errno)
	}
	if ef, ok := f.(*errorFile); ok {
		f = ef.File
	}
	return e.inner.SyncFS(f)
}

// errorFile is a file opened through an ErrorFS.
type errorFile struct {
	File
	fs *ErrorFS
}

// OSFile exposes the descriptor (see vfs.OSFile): sendfile reads of a
// segment bypass the injector.
func (f *errorFile) OSFile() *os.File { return OSFile(f.File) }

func (f *errorFile) Read(p []byte) (int, error) {
	if errno, _ := f.fs.check(OpRead, f.Name()); errno != 0 {
		return 0, pathErr("read", f.Name(), errno)
	}
	return f.File.Read(p)
}

func (f *errorFile) ReadAt(p []byte, off int64) (int, error) {
	if errno, _ := f.fs.check(OpRead, f.Name()); errno != 0 {
		return 0, pathErr("read", f.Name(), errno)
	}
	return f.File.ReadAt(p, off)
}

func (f *errorFile) Write(p []byte) (int, error) {
	if errno, partial := f.fs.check(OpWrite, f.Name()); errno != 0 {
		n := 0
		if partial && len(p) > 1 {
			n, _ = f.File.Write(p[:len(p)/2])
		}
		return n, pathErr("write", f.Name(), errno)
	}
	return f.File.Write(p)
}

func (f *errorFile) WriteAt(p []byte, off int64) (int, error) {
	if errno, partial := f.fs.check(OpWrite, f.Name()); errno != 0 {
		n := 0
		if partial && len(p) > 1 {
			n, _ = f.File.WriteAt(p[:len(p)/2], off)
		}
		return n, pathErr("write", f.Name(), errno)
	}
	return f.File.WriteAt(p, off)
}

func (f *errorFile) Truncate(size int64) error {
	if errno, _ := f.fs.check(OpTruncate, f.Name()); errno != 0 {
		return pathErr("truncate", f.Name(), errno)
	}
	return f.File.Truncate(size)
}

func (f *errorFile) Sync() error {
	if errno, _ := f.fs.check(OpSync, f.Name()); errno != 0 {
		return pathErr("fsync", f.Name(), errno)
	}
	return f.File.Sync()
}

func (f *errorFile) Datasync() error {
	if errno, _ := f.fs.check(OpSync, f.Name()); errno != 0 {
		return pathErr("fdatasync", f.Name(), errno)
	}
	return f.File.Datasync()
}

// String describes the rule (test failure messages).
func (r Rule) String() string {
	return fmt.Sprintf("%v %q #%d x%d -> %v", r.Ops, r.Path, r.Nth, r.Times, r.Err)
}
