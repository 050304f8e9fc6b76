package compat

import (
	"context"
	"encoding/binary"
	"net"
	"sync"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// requestSniffer sees every request a client writes, before it is sent:
// the client dials through it (kgo.Dialer, Sarama's Net.Proxy.Dialer,
// kafka-go's Dialer.DialFunc). The group tests use it to learn which
// protocol versions a client sends and when it fetches committed offsets.
type requestSniffer struct {
	// onRequest is called with each request's key and version, and the
	// decoded request when decode says so, before the request is written.
	onRequest func(key, version int16, req kmsg.Request)
	decode    func(key int16) bool
}

// dialContext dials like net.Dialer and watches what is written.
func (s *requestSniffer) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &sniffConn{Conn: c, s: s}, nil
}

// Dial makes requestSniffer a golang.org/x/net/proxy.Dialer, for Sarama.
func (s *requestSniffer) Dial(network, addr string) (net.Conn, error) {
	return s.dialContext(context.Background(), network, addr)
}

type sniffConn struct {
	net.Conn
	s   *requestSniffer
	mu  sync.Mutex
	buf []byte // the start of a request not yet complete
}

// Write observes every request b completes, then writes b. Requests are
// int32 size-prefixed (the Kafka framing).
func (c *sniffConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.buf = append(c.buf, b...)
	for len(c.buf) >= 4 {
		n := int(binary.BigEndian.Uint32(c.buf))
		if len(c.buf) < 4+n {
			break
		}
		c.s.observe(c.buf[4 : 4+n])
		c.buf = c.buf[4+n:]
	}
	if len(c.buf) == 0 {
		c.buf = nil
	}
	c.mu.Unlock()
	return c.Conn.Write(b)
}

// observe parses one request: the request header (key, version,
// correlation ID, client ID, and tags from header v2 on, KIP-482), then,
// if asked, the body with kmsg.
func (s *requestSniffer) observe(req []byte) {
	if len(req) < 10 {
		return
	}
	key := int16(binary.BigEndian.Uint16(req[0:]))
	version := int16(binary.BigEndian.Uint16(req[2:]))
	if s.decode == nil || !s.decode(key) {
		s.onRequest(key, version, nil)
		return
	}
	r := kmsg.RequestForKey(key)
	if r == nil {
		s.onRequest(key, version, nil)
		return
	}
	r.SetVersion(version)
	rest := req[8:]
	idLen := int(int16(binary.BigEndian.Uint16(rest)))
	rest = rest[2+max(idLen, 0):]
	if r.IsFlexible() {
		rd := kbin.Reader{Src: rest}
		kmsg.SkipTags(&rd)
		rest = rd.Src
	}
	if err := r.ReadFrom(rest); err != nil {
		r = nil
	}
	s.onRequest(key, version, r)
}

// offsetFetchPartitions returns the partitions an OffsetFetch request asks
// for, and all=true if it asks for every partition of the group. The group
// tests consume one topic per group, so every topic in the request is that
// one (v10 names topics by ID only).
func offsetFetchPartitions(req *kmsg.OffsetFetchRequest) (ps []int32, all bool) {
	if req.Version >= 8 {
		for _, g := range req.Groups {
			if g.Topics == nil {
				return nil, true
			}
			for _, t := range g.Topics {
				ps = append(ps, t.Partitions...)
			}
		}
		return ps, false
	}
	if req.Topics == nil {
		return nil, true
	}
	for _, t := range req.Topics {
		ps = append(ps, t.Partitions...)
	}
	return ps, false
}
