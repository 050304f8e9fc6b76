package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/wire"
)

// maxPipelined bounds how many requests of one connection may be decoded
// and waiting for their responses to be written. Kafka processes one
// request per connection at a time; we let the reads, appends and fsync
// waits of pipelined produce requests overlap (clients such as franz-go
// and librdkafka send up to five at once), but answer strictly in order.
const maxPipelined = 16

// pending is one request on its way to being answered.
type pending struct {
	h     wire.Header
	reply broker.Reply
	start time.Time
	size  int
	frame *[]byte // pooled request frame, recycled once the reply is written
}

// minPooledFrame is the smallest request frame read into a pooled buffer:
// smaller ones come from the Go allocator's size classes, which recycle
// memory on their own; larger ones would each take fresh heap pages.
const minPooledFrame = 32 << 10

// frameAlloc returns the allocator ReadFrameWith uses: Produce frames of
// minPooledFrame or more come from the buffer pool (*pooled is set and the
// caller must recycle it once the request is answered). Only Produce:
// its handler appends the records to the log before replying and keeps
// no reference to the request, whereas others (JoinGroup metadata,
// SyncGroup assignments) keep slices of their request in broker state.
func frameAlloc(pooled **[]byte) func(int32, int16) []byte {
	return func(n int32, key int16) []byte {
		if key == int16(kmsg.Produce) && n >= minPooledFrame {
			*pooled = getBuf(int(n))
			return (**pooled)[:n]
		}
		return make([]byte, n)
	}
}

// conn serves one client connection with two goroutines: the reader
// decodes requests and runs their handlers in order; the writer completes
// and writes the replies in the same order.
type conn struct {
	s      *Server
	nc     net.Conn
	info   *broker.Conn
	ctx    context.Context
	cancel context.CancelFunc
	queue  chan pending
	ip     netip.Addr
	// tlsServer is set on SSL and SASL_SSL listeners; nc is then a
	// *tls.Conn whose handshake serve runs first (tls.go).
	tlsServer TLSServer

	// Idle and request read timeouts (limits.go): inRequest is the
	// reader's own, as is hasDeadline; the writer updates lastActive (unix ns) and
	// outstanding (requests read and not yet answered).
	inRequest   bool
	hasDeadline bool // a read deadline is set (reader only)
	lastActive  atomic.Int64
	outstanding atomic.Int32

	// pre bounds the connection until it authenticates (preauth.go).
	pre preauth

	// take and ahead are set by the reader when a reply takes the
	// connection over (broker.Reply.Take, handoff.go); writeBroken by
	// the writer when a write failed. serve reads them after both have
	// finished.
	take        func(net.Conn)
	ahead       []byte
	writeBroken bool
}

func (c *conn) serve() {
	defer c.s.wg.Done()
	defer c.s.metrics.ConnClosed()
	c.s.metrics.ConnOpened()
	if !c.handshake() {
		c.cancel()
		_ = c.nc.Close()
		return
	}
	c.touch()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.write()
	}()
	c.read()
	if c.take == nil && !c.s.draining() {
		// The client is gone (or broke the protocol): nobody will read
		// the answers, so end the waits of its pending requests instead
		// of holding the connection until their timeouts.
		c.cancel()
	}
	close(c.queue)
	wg.Wait()
	if c.take != nil && c.handOff() {
		return
	}
	c.cancel()
	_ = c.nc.Close()
}

// read decodes requests until the connection ends, the server drains, or a
// request cannot be answered.
func (c *conn) read() {
	br := bufio.NewReaderSize(connReader{c}, 64<<10)
	var pooled *[]byte
	alloc := frameAlloc(&pooled)
	recycle := func() {
		if pooled != nil {
			putBuf(pooled)
			pooled = nil
		}
	}
	defer recycle()
	for {
		recycle() // a frame not handed to the writer
		if err := c.awaitRequest(br); err != nil {
			c.readEnded(err)
			return
		}
		frame, err := wire.ReadFrameWith(br, c.frameLimit(), alloc)
		if err != nil {
			c.readEnded(err)
			return
		}
		if c.info.RawSASL() {
			if !c.rawSASL(frame) {
				return
			}
			continue
		}
		start := time.Now()
		h, body, err := wire.ParseHeader(frame)
		if err != nil {
			c.s.rlog.Info("closing connection: bad request header", "remote", c.nc.RemoteAddr(), "err", err)
			return
		}
		reply, err := c.s.broker.HandleDrain(c.ctx, c.s.drainCh, c.info, h, body)
		if err != nil {
			c.s.rlog.Info("closing connection: request not answerable", "remote", c.nc.RemoteAddr(),
				"client_id", h.ClientID, "api", kmsg.NameForKey(h.Key), "version", h.Version, "err", err)
			return
		}
		c.s.metrics.InFlight(1)
		c.outstanding.Add(1)
		select {
		case c.queue <- pending{h: h, reply: reply, start: start, size: len(frame) + 4, frame: pooled}:
			pooled = nil // the writer recycles it
		case <-c.ctx.Done():
			c.s.metrics.InFlight(-1)
			c.outstanding.Add(-1)
			reply.Files.Release()
			return
		}
		if reply.Take != nil {
			// Not one more byte is read as Kafka: what follows
			// belongs to whoever takes the connection, with what
			// the buffer already holds (handoff.go).
			c.take = reply.Take
			c.ahead, _ = br.Peek(br.Buffered())
			c.ahead = append([]byte(nil), c.ahead...)
			return
		}
		if reply.Close {
			return
		}
		if c.s.draining() {
			return
		}
	}
}

// write completes replies in order and writes them. It keeps going until
// the queue is closed and drained, so that requests already accepted are
// answered during a graceful shutdown.
func (c *conn) write() {
	bw := bufio.NewWriterSize(c.nc, 64<<10)
	small := make([]byte, 0, 64<<10)
	broken := false
	for p := range c.queue {
		resp := p.reply.Resp
		if p.reply.Wait != nil {
			// Do not hold finished responses hostage to a wait.
			if bw.Buffered() > 0 && !broken {
				if err := bw.Flush(); err != nil {
					broken = true
					c.cancel()
					_ = c.nc.Close()
				}
			}
			resp = p.reply.Wait()
		}
		c.s.metrics.InFlight(-1)
		c.touch()
		c.outstanding.Add(-1)
		if p.frame != nil {
			putBuf(p.frame) // the request is answered: nothing reads it now
		}
		if p.reply.NoResponse || broken {
			p.reply.Files.Release()
			c.s.metrics.ObserveRequest(p.h.Key, p.h.Version, time.Since(p.start), p.size, 0)
			continue
		}
		buf := small[:0]
		var pooled *[]byte
		if hint := sizeHint(resp); hint > cap(small) {
			pooled = getBuf(hint)
			buf = (*pooled)[:0]
		}
		buf = appendReply(buf, p.h.CorrelationID, resp)
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.s.writeTimeout))
		written := int64(len(buf))
		var err error
		if files := p.reply.Files; files != nil && len(files.Refs) > 0 {
			var pts []splicePoint
			if pts, err = findSplices(buf, files.Refs, resp.IsFlexible()); err == nil {
				written, err = c.writeSpliced(bw, buf, pts, resp.IsFlexible())
			}
			if errors.Is(err, errPlaceholder) || errors.Is(err, errShortFile) {
				c.s.rlog.Warn("closing connection: sending records failed", "remote", c.nc.RemoteAddr(),
					"api", kmsg.NameForKey(p.h.Key), "err", err)
			}
		} else {
			_, err = bw.Write(buf)
		}
		p.reply.Files.Release()
		// Flush when nothing else is ready to go, so pipelined
		// responses share a syscall.
		if err == nil && len(c.queue) == 0 {
			err = bw.Flush()
		}
		if err != nil {
			broken = true
			c.cancel() // stop waits of later requests; the reader sees the close
			_ = c.nc.Close()
		}
		c.s.metrics.ObserveRequest(p.h.Key, p.h.Version, time.Since(p.start), p.size, int(written))
		c.touch()
		if pooled != nil {
			*pooled = buf[:0]
			putBuf(pooled)
		} else if cap(buf) <= 1<<20 {
			small = buf[:0] // keep a grown small buffer, but never pin a big one
		}
	}
	if !broken {
		broken = bw.Flush() != nil
	}
	c.writeBroken = broken
}

// sizeHint estimates the encoded size of resp when it is large (fetch
// responses carry up to fetch.max.bytes of records), so the encoder writes
// into a buffer of the right size instead of growing one by copying.
func sizeHint(resp kmsg.Response) int {
	f, ok := resp.(*kmsg.FetchResponse)
	if !ok {
		return 0
	}
	n := 1024
	for i := range f.Topics {
		t := &f.Topics[i]
		n += len(t.Topic) + 64
		for j := range t.Partitions {
			p := &t.Partitions[j]
			n += len(p.RecordBatches) + 96 + 24*len(p.AbortedTransactions)
		}
	}
	return n
}

// readEnded logs why reading stopped, unless the client simply went away or
// the server is draining. Every line here is one a client can cause at will,
// so it goes through the rate-limited logger.
func (c *conn) readEnded(err error) {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), c.ctx.Err() != nil, c.s.draining():
	case errors.Is(err, errIdle):
		// Kafka's Selector closes idle connections silently too.
		c.s.metrics.ConnClosedBy(reasonIdle)
		c.s.rlog.Debug("closing idle connection", "remote", c.nc.RemoteAddr(), "idle", c.s.limits.IdleTimeout)
	case isTimeout(err):
		c.s.metrics.ConnClosedBy(reasonReadTimeout)
		c.s.rlog.Info("closing connection: request stopped arriving", "remote", c.nc.RemoteAddr(),
			"timeout", c.s.limits.RequestReadTimeout)
	default:
		c.s.rlog.Info("closing connection: bad frame", "remote", c.nc.RemoteAddr(), "err", err)
	}
}
