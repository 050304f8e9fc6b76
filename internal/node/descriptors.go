package node

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tandem-streaming/tandem/internal/config"
	"github.com/tandem-streaming/tandem/internal/server"
)

// Descriptor budget (issue #9). Client connections must never take the
// file descriptors that log segments, the metadata store and the HTTP
// listener need: with a limit of 4096, 5,000 idle Kafka connections used to
// make segment rolls and health checks fail. The process's RLIMIT_NOFILE is
// split at start into a reserve for the broker's own files and a ceiling
// for Kafka client connections; a connection past the ceiling is refused
// right after accept (server.Limits.MaxDescriptorConns).
const (
	// miscDescriptors: the metadata store, the log directory lock and its
	// syncfs handle, listeners, stdio, the runtime's epoll and pipes,
	// outgoing cluster-link connections and slack for short-lived files.
	miscDescriptors = 128
	// maxFileCache is the largest idle segment-file cache (as before the
	// budget existed).
	maxFileCache = 4096
	minFileCache = 32
)

// descriptorBudget is how the descriptor limit is shared out.
type descriptorBudget struct {
	Limit       int // RLIMIT_NOFILE (soft) in force
	FileCache   int // log.FileCache bound: idle open segment files
	HTTPConns   int // connections each HTTP listener serves at once
	ClientConns int // Kafka client connections, all listeners together
}

// planDescriptors shares out limit: a reserve of a quarter of the limit
// (at least 256, at most what the file cache, HTTP and the rest can use)
// for the broker's own files, the rest for client connections.
func planDescriptors(limit int) descriptorBudget {
	b := descriptorBudget{Limit: limit}
	b.HTTPConns = min(max(limit/64, 16), 256)
	reserve := min(max(limit/4, 256), maxFileCache+b.HTTPConns+miscDescriptors)
	b.FileCache = min(max(reserve-b.HTTPConns-miscDescriptors, minFileCache), maxFileCache)
	b.ClientConns = limit - b.FileCache - b.HTTPConns - miscDescriptors
	if b.ClientConns < 16 {
		// A limit this low cannot keep the reserve whole; serve a few
		// clients anyway (Start warns).
		b.ClientConns = 16
	}
	return b
}

// raiseDescriptorLimit raises the soft RLIMIT_NOFILE to the hard limit, as
// Kafka's operations guide advises a large limit (the Go runtime does the
// same at start since Go 1.19; this makes it explicit and reports the
// result), and returns the soft limit in force.
func raiseDescriptorLimit() (int, error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	if rl.Cur < rl.Max {
		raised := rl
		raised.Cur = rl.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &raised); err == nil {
			rl = raised
		}
	}
	const maxInt = int(^uint(0) >> 1)
	if rl.Cur > uint64(maxInt) {
		return maxInt, nil
	}
	return int(rl.Cur), nil
}

// connectionLimits maps the broker's connection configs and the descriptor
// budget to the server's limits, resolving the host names of
// max.connections.per.ip.overrides (as Kafka's ConnectionQuotas does with
// InetAddress.getByName, at start).
func connectionLimits(cfg config.BrokerConfig, budget descriptorBudget) (server.Limits, error) {
	ms := func(v int64) time.Duration {
		if v <= 0 {
			return 0
		}
		return time.Duration(v) * time.Millisecond
	}
	l := server.Limits{
		MaxConnections:     int(cfg.MaxConnections),
		MaxDescriptorConns: budget.ClientConns,
		MaxPerIP:           int(cfg.MaxConnectionsPerIP),
		IdleTimeout:        ms(cfg.ConnectionsMaxIdleMs),
		RequestReadTimeout: ms(cfg.SocketRequestReadTimeoutMs),
	}
	if l.MaxPerIP == 0 {
		l.MaxPerIP = server.OnlyPerIP // LoadBroker checked there are overrides
	}
	if len(cfg.MaxConnectionsPerIPOverrides) == 0 {
		return l, nil
	}
	l.PerIP = map[netip.Addr]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for host, n := range cfg.MaxConnectionsPerIPOverrides {
		addrs := []netip.Addr{}
		if a, err := netip.ParseAddr(host); err == nil {
			addrs = append(addrs, a)
		} else if addrs, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host); err != nil {
			return server.Limits{}, fmt.Errorf("max.connections.per.ip.overrides: cannot resolve %s: %w", host, err)
		}
		for _, a := range addrs {
			l.PerIP[a.Unmap()] = int(n)
		}
	}
	return l, nil
}

// logBudget reports the budget at start, and warns when the limit is too
// low to keep the reserve whole.
func logBudget(logger *slog.Logger, b descriptorBudget) {
	args := []any{"nofile_limit", b.Limit, "client_connections", b.ClientConns,
		"segment_file_cache", b.FileCache, "http_connections", b.HTTPConns}
	if b.Limit-b.ClientConns-b.FileCache-b.HTTPConns < miscDescriptors {
		logger.Warn("file descriptor limit is too low to keep a reserve for logs and HTTP; raise it (ulimit -n)", args...)
		return
	}
	logger.Info("file descriptor budget", args...)
}

// limitListener serves at most n connections at once: Accept waits while n
// are open, so a flood of HTTP connections cannot take the descriptors of
// the rest of the broker, and pending connections wait in the kernel's
// backlog rather than failing (golang.org/x/net/netutil.LimitListener does
// the same; it is not a direct dependency).
type limitListener struct {
	net.Listener
	sem  chan struct{}
	done chan struct{}
	once sync.Once
}

func newLimitListener(ln net.Listener, n int) *limitListener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
