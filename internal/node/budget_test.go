package node

import (
	"net"
	"testing"
	"time"
)

// The budgets docs/operations.md lists.
func TestPlanDescriptors(t *testing.T) {
	for _, tc := range []descriptorBudget{
		{Limit: 256, FileCache: 112, HTTPConns: 16, ClientConns: 16},
		{Limit: 1024, FileCache: 112, HTTPConns: 16, ClientConns: 768},
		{Limit: 4096, FileCache: 832, HTTPConns: 64, ClientConns: 3072},
		{Limit: 65536, FileCache: 4096, HTTPConns: 256, ClientConns: 61056},
		{Limit: 1 << 20, FileCache: 4096, HTTPConns: 256, ClientConns: 1<<20 - 4480},
	} {
		if got := planDescriptors(tc.Limit); got != tc {
			t.Errorf("planDescriptors(%d) = %+v, want %+v", tc.Limit, got, tc)
		}
	}
}

func TestLimitListenerCapsHTTPConnections(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newLimitListener(inner, 2)
	defer ln.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	for range 3 {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	first := <-accepted
	<-accepted
	select {
	case <-accepted:
		t.Fatal("a third connection was accepted with a cap of 2")
	case <-time.After(100 * time.Millisecond):
	}
	first.Close()
	select {
	case <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting connection was not accepted once a slot freed")
	}
	ln.Close()
	for range accepted {
	}
}
