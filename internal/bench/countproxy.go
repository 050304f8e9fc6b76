package bench

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// countingProxy forwards TCP connections to a Kafka broker and counts
// what clients send it: requests by API key (Kafka frames are a 4-byte
// length and a body that starts with the API key) and bytes each way. A
// broker that advertises the proxy's address has every client of it,
// including ones the benchmark does not build (a cluster link's), go
// through it.
type countingProxy struct {
	ln     net.Listener
	target atomic.Pointer[string]

	mu       sync.Mutex // guards byKey
	byKey    map[int16]int64
	sent     atomic.Int64 // client → broker bytes
	received atomic.Int64 // broker → client bytes
	conns    sync.WaitGroup
	open     sync.Map // net.Conn → struct{}, closed by close
}

// proxyCounts is what went through the proxy between two snapshots.
type proxyCounts struct {
	Requests      int64            `json:"requests"`
	ByAPI         map[string]int64 `json:"requests_by_api"`
	BytesSent     int64            `json:"bytes_sent"`
	BytesReceived int64            `json:"bytes_received"`
}

func newCountingProxy() (*countingProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &countingProxy{ln: ln, byKey: map[int16]int64{}}
	go p.serve()
	return p, nil
}

func (p *countingProxy) addr() string { return p.ln.Addr().String() }

// setTarget says where connections go (the broker, once it listens).
func (p *countingProxy) setTarget(addr string) { p.target.Store(&addr) }

func (p *countingProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.conns.Go(func() { p.forward(c) })
	}
}

func (p *countingProxy) forward(c net.Conn) {
	defer c.Close()
	t := p.target.Load()
	if t == nil {
		return
	}
	up, err := net.Dial("tcp", *t)
	if err != nil {
		return
	}
	defer up.Close()
	p.open.Store(c, struct{}{})
	p.open.Store(up, struct{}{})
	defer p.open.Delete(c)
	defer p.open.Delete(up)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(countingWriter{c, &p.received}, up)
		c.Close()
	}()
	p.requests(bufio.NewReaderSize(c, 64<<10), up)
	up.Close()
	<-done
}

// requests copies frames from client to broker, counting them.
func (p *countingProxy) requests(r *bufio.Reader, w io.Writer) {
	var head [6]byte // length, API key
	for {
		if _, err := io.ReadFull(r, head[:]); err != nil {
			return
		}
		size := int64(binary.BigEndian.Uint32(head[:4]))
		key := int16(binary.BigEndian.Uint16(head[4:]))
		if size < 2 {
			return
		}
		p.mu.Lock()
		p.byKey[key]++
		p.mu.Unlock()
		p.sent.Add(4 + size)
		if _, err := w.Write(head[:]); err != nil {
			return
		}
		if _, err := io.CopyN(w, r, size-2); err != nil {
			return
		}
	}
}

// snapshot reads the counters.
func (p *countingProxy) snapshot() proxyCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := proxyCounts{ByAPI: map[string]int64{}, BytesSent: p.sent.Load(), BytesReceived: p.received.Load()}
	for k, n := range p.byKey {
		out.ByAPI[kmsg.NameForKey(k)] += n
		out.Requests += n
	}
	return out
}

// since is c minus an earlier snapshot.
func (c proxyCounts) since(before proxyCounts) proxyCounts {
	out := proxyCounts{ByAPI: map[string]int64{}, BytesSent: c.BytesSent - before.BytesSent, BytesReceived: c.BytesReceived - before.BytesReceived}
	for k, n := range c.ByAPI {
		if d := n - before.ByAPI[k]; d > 0 {
			out.ByAPI[k] = d
			out.Requests += d
		}
	}
	return out
}

// close stops accepting and cuts every connection.
func (p *countingProxy) close() error {
	err := p.ln.Close()
	p.open.Range(func(c, _ any) bool {
		c.(net.Conn).Close()
		return true
	})
	p.conns.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// countingWriter adds what it writes to n as it goes.
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}
