package wanproxy

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// server starts a TCP listener whose connections are handled by fn.
func server(t *testing.T, fn func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go fn(c)
		}
	}()
	return ln.Addr().String()
}

func proxy(t *testing.T, target string, cfg Config) *Proxy {
	t.Helper()
	p, err := Listen("127.0.0.1:0", target, NewPath(cfg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return c.(*net.TCPConn)
}

func echo(c net.Conn) {
	defer c.Close()
	_, _ = io.Copy(c, c)
}

// A ping's round trip is twice the one-way delay.
func TestDelay(t *testing.T) {
	const delay = 30 * time.Millisecond
	p := proxy(t, server(t, echo), Config{Delay: delay})
	c := dial(t, p.Addr())
	buf := make([]byte, 4)
	for i := range 3 {
		start := time.Now()
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
		rtt := time.Since(start)
		// The first ping also waits for the proxy's connection set-up
		// (one round trip), part of which may overlap the dial, so only
		// its upper bound is larger.
		want, upper := 2*delay, 4*delay
		if i == 0 {
			upper = 6 * delay
		}
		if rtt < want || rtt > upper {
			t.Fatalf("ping %d: round trip %v, want about %v", i, rtt, want)
		}
	}
}

// One direction moves at Rate, and the path's bottleneck is shared by
// its connections.
func TestRate(t *testing.T) {
	const rate = 40 << 20 // bytes/s
	const size = 8 << 20
	sink := server(t, func(c net.Conn) { defer c.Close(); _, _ = io.Copy(io.Discard, c) })
	for _, conns := range []int{1, 2} {
		p := proxy(t, sink, Config{Rate: rate, Window: 64 << 20})
		done := make(chan error, conns)
		start := time.Now()
		for range conns {
			c := dial(t, p.Addr())
			go func() {
				_, err := c.Write(make([]byte, size/conns))
				if err == nil {
					err = c.CloseWrite()
				}
				if err == nil {
					_, err = c.Read(make([]byte, 1)) // EOF once the sink has read all
				}
				if err == io.EOF {
					err = nil
				}
				done <- err
			}()
		}
		for range conns {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		took := time.Since(start)
		want := time.Duration(float64(size) / rate * float64(time.Second))
		// The lower bound is the property; the upper one only catches a
		// proxy that does not move at all, with room for a loaded CI.
		if took < want*9/10 || took > want*4 {
			t.Fatalf("%d conns: %d bytes took %v at %d B/s, want about %v", conns, size, took, rate, want)
		}
	}
}

// A connection moves at most Window bytes per round trip.
func TestWindow(t *testing.T) {
	const delay = 25 * time.Millisecond
	const window = 256 << 10
	const size = 2 << 20
	sink := server(t, func(c net.Conn) {
		defer c.Close()
		_, _ = io.Copy(io.Discard, c)
	})
	p := proxy(t, sink, Config{Delay: delay, Window: window})
	c := dial(t, p.Addr())
	start := time.Now()
	if _, err := c.Write(make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after the sink closed: %v, want EOF", err)
	}
	took := time.Since(start)
	// size/window windows, each a round trip apart (the last one's
	// acknowledgement is not waited for, but the handshake is).
	min := time.Duration(size/window-1) * 2 * delay
	if took < min || took > 4*min {
		t.Fatalf("%d bytes with a %d-byte window at RTT %v took %v, want at least %v", size, window, 2*delay, took, min)
	}
}

// Bytes arrive in order and intact, both ways at once.
func TestOrder(t *testing.T) {
	p := proxy(t, server(t, echo), Config{Delay: 2 * time.Millisecond, Rate: 100 << 20, Window: 1 << 20, ChunkSize: 5000})
	c := dial(t, p.Addr())
	data := make([]byte, 6<<20)
	_, _ = rand.Read(data)
	errc := make(chan error, 1)
	go func() {
		// Writes of varied sizes.
		for off, n := 0, 1; off < len(data); n = n*7%65521 + 1 {
			end := min(off+n, len(data))
			if _, err := c.Write(data[off:end]); err != nil {
				errc <- err
				return
			}
			off = end
		}
		errc <- c.CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("echoed %d bytes differ from the %d sent", len(got), len(data))
	}
}

// A half-close crosses the proxy after the data before it; the other
// direction keeps working; the server's close reaches the client.
func TestHalfClose(t *testing.T) {
	addr := server(t, func(c net.Conn) {
		defer c.Close()
		b, _ := io.ReadAll(c) // until the client's half-close
		_, _ = c.Write(append([]byte("got "), b...))
	})
	p := proxy(t, addr, Config{Delay: 5 * time.Millisecond})
	c := dial(t, p.Addr())
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "got hello" {
		t.Fatalf("got %q", got)
	}
}

// Closing the proxy closes its connections.
func TestCloseProxy(t *testing.T) {
	p := proxy(t, server(t, echo), Config{})
	c := dial(t, p.Addr())
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read succeeded after the proxy closed")
	}
	if err := p.Close(); err != ErrClosed {
		t.Fatalf("second Close: %v", err)
	}
}

// A receiver that does not read makes the proxy hold at most Window
// bytes of that connection; the sender is stopped by flow control.
func TestBoundedBuffer(t *testing.T) {
	const window = 1 << 20
	release := make(chan struct{})
	var read atomic.Int64
	addr := server(t, func(c net.Conn) {
		defer c.Close()
		<-release
		n, _ := io.Copy(io.Discard, c)
		read.Store(n)
	})
	p := proxy(t, addr, Config{Window: window})
	c := dial(t, p.Addr())
	var sent atomic.Int64
	const total = 256 << 20
	go func() {
		buf := make([]byte, 1<<20)
		for sent.Load() < total {
			n, err := c.Write(buf)
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
		_ = c.CloseWrite()
	}()
	// Wait until the sender is stuck.
	var last int64 = -1
	for deadline := time.Now().Add(10 * time.Second); ; {
		time.Sleep(100 * time.Millisecond)
		s := sent.Load()
		if s == last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sender was never stopped (%d bytes sent)", s)
		}
		last = s
	}
	if m := p.Path().MaxBuffered(); m > window || m == 0 {
		t.Fatalf("the proxy buffered up to %d bytes, window %d", m, window)
	}
	if last >= total {
		t.Fatalf("all %d bytes were accepted by a receiver that does not read", last)
	}
	close(release)
	// The sender completes once the receiver reads.
	for deadline := time.Now().Add(10 * time.Second); sent.Load() < total; {
		if time.Now().After(deadline) {
			t.Fatalf("sender stuck at %d bytes after the receiver started reading", sent.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
