package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
)

// errShortFile means the file ended before the slice did: it was
// truncated after the read (Kafka FileRecords.writeTo fails the same way).
var errShortFile = errors.New("server: file truncated during send")

// copyFile writes n bytes of f at pos to nc through a buffer: sendFile's
// fallback for a connection that is not a plain socket.
func copyFile(nc net.Conn, f *os.File, pos, n int64) error {
	_, err := io.CopyN(nc, io.NewSectionReader(f, pos, n), n)
	if err == io.EOF {
		err = fmt.Errorf("%w: %s", errShortFile, f.Name())
	}
	return err
}
