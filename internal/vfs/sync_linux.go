//go:build linux

package vfs

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// fdatasync flushes file data and the metadata needed to read it back
// (size), skipping timestamps: what durability of appended bytes needs.
func fdatasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = syscall.Fdatasync(int(fd))
			if serr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: serr}
	}
	return nil
}

func syncfs(f File) error {
	of := OSFile(f)
	if of == nil {
		return f.Sync()
	}
	rc, err := of.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Syncfs(int(fd)) }); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "syncfs", Path: of.Name(), Err: serr}
	}
	return nil
}
