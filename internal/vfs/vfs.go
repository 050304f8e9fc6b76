// Package vfs is the file-system seam under Tandem's storage: the log
// (internal/log) and the metadata store reach the disk only through an FS,
// so tests can put a fault injector (ErrorFS, in the way of pebble's
// vfs/errorfs) between them and the operating system and make ENOSPC, EIO
// or EMFILE happen at any chosen open, write, sync, rename, remove or
// truncate. Production uses Default, which is the os package with
// fdatasync(2) and syncfs(2) added: behaviour is unchanged.
//
// Errors are the operating system's shape: *os.PathError (or
// *os.LinkError for a rename) wrapping a syscall.Errno, so callers classify
// them with errors.Is(err, syscall.ENOSPC) whether they came from the
// kernel or from an injector.
package vfs

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"
)

// File is an open file. *os.File's methods, plus Datasync.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.WriterAt
	io.Closer
	Name() string
	Stat() (os.FileInfo, error)
	Truncate(size int64) error
	// Sync is fsync(2): data and all metadata (what a directory needs).
	Sync() error
	// Datasync is fdatasync(2): data and the metadata needed to read it
	// back (size), not timestamps.
	Datasync() error
}

// FS is the set of file-system operations the storage code uses.
type FS interface {
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	ReadDir(name string) ([]os.DirEntry, error)
	Stat(name string) (os.FileInfo, error)
	Rename(oldpath, newpath string) error
	Remove(name string) error
	RemoveAll(name string) error
	MkdirAll(name string, perm os.FileMode) error
	Chtimes(name string, atime, mtime time.Time) error
	// SyncFS is syncfs(2) on the file system holding f (an fsync of f
	// where syncfs does not exist).
	SyncFS(f File) error
}

// Faulter is implemented by file systems that inject faults (ErrorFS).
// A storage engine that does its own I/O on a descriptor the FS opened —
// bbolt writes and fdatasyncs its pages through the *os.File it was
// given — asks Fault at the point where that I/O happens, and surfaces
// the error there as the engine would surface a real one.
type Faulter interface {
	Fault(op Op, path string) error
}

// Default is the operating system's file system.
var Default FS = osFS{}

// OSFile returns the *os.File behind f (for sendfile(2) and other calls
// that need the descriptor), or nil if f has none.
func OSFile(f File) *os.File {
	switch v := f.(type) {
	case *osFile:
		return v.File
	case interface{ OSFile() *os.File }:
		return v.OSFile()
	}
	return nil
}

// Open opens name read-only.
func Open(fs FS, name string) (File, error) { return fs.OpenFile(name, os.O_RDONLY, 0) }

// ReadFile reads the whole file, as os.ReadFile.
func ReadFile(fs FS, name string) ([]byte, error) {
	f, err := Open(fs, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// WriteFile writes data to name, creating or truncating it, as
// os.WriteFile (no sync).
func WriteFile(fs FS, name string, data []byte, perm os.FileMode) error {
	f, err := fs.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// SyncDir fsyncs a directory so that creations, renames and removals of
// its entries are durable.
func SyncDir(fs FS, dir string) error {
	d, err := Open(fs, dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// WriteFileAtomic replaces path with data: write a temporary file
// (path+".tmp"), fdatasync it, rename it over path, fsync the directory.
// Readers see the old or the new content, also after a crash. On failure
// the temporary file is removed (best effort) and path is untouched unless
// the final directory fsync failed.
func WriteFileAtomic(fs FS, path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := fs.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err = f.Write(data); err == nil {
		err = f.Datasync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = fs.Remove(tmp)
		return err
	}
	if err := fs.Rename(tmp, path); err != nil {
		_ = fs.Remove(tmp)
		return err
	}
	return SyncDir(fs, filepath.Dir(path))
}

// IsNotExist is errors.Is(err, os.ErrNotExist).
func IsNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }

type osFS struct{}

type osFile struct{ *os.File }

func (f *osFile) Datasync() error { return fdatasync(f.File) }

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &osFile{f}, nil
}
func (osFS) ReadDir(name string) ([]os.DirEntry, error)   { return os.ReadDir(name) }
func (osFS) Stat(name string) (os.FileInfo, error)        { return os.Stat(name) }
func (osFS) Rename(oldpath, newpath string) error         { return os.Rename(oldpath, newpath) }
func (osFS) Remove(name string) error                     { return os.Remove(name) }
func (osFS) RemoveAll(name string) error                  { return os.RemoveAll(name) }
func (osFS) MkdirAll(name string, perm os.FileMode) error { return os.MkdirAll(name, perm) }
func (osFS) Chtimes(name string, a, m time.Time) error    { return os.Chtimes(name, a, m) }
func (osFS) SyncFS(f File) error                          { return syncfs(f) }
