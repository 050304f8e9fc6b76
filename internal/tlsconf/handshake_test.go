package tlsconf

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// props is a Getter over a map, as config.ListenerConfig.Get.
func props(m map[string]string) Getter {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// result is one real TLS handshake over loopback TCP, seen from both ends.
type result struct {
	server    tls.ConnectionState // the server's view (peer certificates)
	client    tls.ConnectionState // the client's view (server certificate, version, suite)
	serverErr error
	clientErr error
}

func (r result) err() error { return errors.Join(r.clientErr, r.serverErr) }

// handshake accepts one connection with srv and dials it with client (its
// ServerName defaults to 127.0.0.1). The server writes a byte after its
// handshake and the client reads it: with TLS 1.3 a client learns that the
// server refused its certificate only when it reads.
func handshake(t *testing.T, srv *tls.Config, client *tls.Config) result {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var r result
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			r.serverErr = err
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		tc := tls.Server(c, srv)
		if r.serverErr = tc.Handshake(); r.serverErr != nil {
			return
		}
		r.server = tc.ConnectionState()
		_, r.serverErr = tc.Write([]byte{1})
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	client = client.Clone()
	if client.ServerName == "" {
		client.ServerName = "127.0.0.1"
	}
	tc := tls.Client(c, client)
	r.clientErr = tc.Handshake()
	if r.clientErr == nil {
		r.client = tc.ConnectionState()
		_, r.clientErr = io.ReadFull(tc, make([]byte, 1))
	}
	c.Close()
	<-done
	return r
}
