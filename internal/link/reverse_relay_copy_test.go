package link

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
)

// tcpPair is a connected pair of loopback TCP connections.
func tcpPair(t *testing.T) (a, b net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	a, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b = <-accepted
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	return a, b
}

// TestPrefixConnCopy: the relay copies fetch answers from its local broker
// connection into the destination's data connection, which is a
// prefixConn when bytes were read ahead. Reads give the read-ahead bytes
// first; a copy into it goes to the TCP connection's own ReadFrom (splice
// on Linux) and arrives intact.
func TestPrefixConnCopy(t *testing.T) {
	// remote: the data connection to the destination, with "ahead" read
	// ahead by the hand-off; local: the connection to this cluster's broker.
	remoteS, remoteD := tcpPair(t)
	localS, localB := tcpPair(t)
	if _, err := remoteD.Write([]byte("ahead+rest")); err != nil {
		t.Fatal(err)
	}
	k := newKconn(remoteS)
	if _, err := k.rd.Peek(len("ahead+rest")); err != nil {
		t.Fatal(err)
	}
	if _, err := k.rd.Discard(len("ahead")); err != nil {
		t.Fatal(err)
	}
	remote := k.buffered()
	pc, ok := remote.(*prefixConn)
	if !ok {
		t.Fatalf("buffered() with bytes read ahead is a %T", remote)
	}
	var _ io.ReaderFrom = pc
	got := make([]byte, len("+rest"))
	if _, err := io.ReadFull(remote, got); err != nil || string(got) != "+rest" {
		t.Fatalf("read %q, %v", got, err)
	}

	payload := bytes.Repeat([]byte("fetch answer "), 200_000) // 2.6 MB
	go func() {
		_, _ = localB.Write(payload)
		_ = localB.Close()
	}()
	done := make(chan error, 1)
	go func() {
		n, err := io.Copy(remote, localS)
		if err == nil && n != int64(len(payload)) {
			err = io.ErrShortWrite
		}
		_ = remoteS.(*net.TCPConn).CloseWrite()
		done <- err
	}()
	recv, err := io.ReadAll(bufio.NewReader(remoteD))
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("copy: %v", err)
	}
	if !bytes.Equal(recv, payload) {
		t.Fatalf("received %d bytes, want %d (equal prefix: %v)", len(recv), len(payload), strings.HasPrefix(string(payload), string(recv)))
	}
}
