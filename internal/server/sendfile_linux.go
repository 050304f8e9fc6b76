//go:build linux

package server

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// canSendFile reports whether sendFile moves bytes without copying them
// through user memory on nc: a plain TCP socket (a TLS connection would
// have to encrypt them in user space).
func canSendFile(nc net.Conn) bool {
	_, ok := nc.(*net.TCPConn)
	return ok
}

// sendFile writes n bytes of f at pos to nc with sendfile(2), with an
// explicit offset so concurrent sends from one file do not share a file
// position. It waits for socket space through the runtime poller, so the
// connection's write deadline applies.
func sendFile(nc net.Conn, f *os.File, pos, n int64) error {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return copyFile(nc, f, pos, n)
	}
	dst, err := tc.SyscallConn()
	if err != nil {
		return err
	}
	src, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	cerr := src.Control(func(sfd uintptr) {
		werr := dst.Write(func(dfd uintptr) bool {
			for n > 0 {
				m, err := unix.Sendfile(int(dfd), int(sfd), &pos, int(min(n, 1<<30)))
				if m > 0 {
					n -= int64(m)
				}
				switch {
				case err == unix.EAGAIN:
					return false // wait until the socket is writable
				case err == unix.EINTR:
				case err != nil:
					serr = os.NewSyscallError("sendfile", err)
					return true
				case m == 0:
					serr = fmt.Errorf("%w: %s at %d, %d bytes short", errShortFile, f.Name(), pos, n)
					return true
				}
			}
			return true
		})
		if serr == nil {
			serr = werr
		}
	})
	if cerr != nil {
		return cerr
	}
	return serr
}

// sendfileOS says sendFile uses sendfile(2) here (tests).
const sendfileOS = true
