package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/tandem-streaming/tandem/internal/config"
	"github.com/tandem-streaming/tandem/internal/console"
	"github.com/tandem-streaming/tandem/internal/rest"
)

// httpServer serves the HTTP API (REST v3 shape, health, metrics).
type httpServer struct {
	srv   *http.Server
	addrs []net.Addr
	lns   []net.Listener
}

func startHTTP(n *Node, listeners []config.Listener) (*httpServer, error) {
	mux := http.NewServeMux()
	var opts []rest.Option
	if n.links != nil {
		opts = append(opts, rest.WithLinks(linkBackend{m: n.links}))
	}
	mux.Handle("/", rest.New(&restBackend{n: n}, n.metrics, n.logger.With("component", "http"), opts...))
	// Go's profiler, for operators diagnosing a live broker; the HTTP
	// listener is loopback-only by default.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	h := &httpServer{srv: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}}
	for _, l := range listeners {
		ln, err := net.Listen("tcp", l.Addr())
		if err != nil {
			for _, o := range h.lns {
				_ = o.Close()
			}
			return nil, fmt.Errorf("node: http listen %s: %w", l, err)
		}
		h.lns = append(h.lns, ln)
		h.addrs = append(h.addrs, ln.Addr())
	}
	// The web console (internal/console): the page at exactly "/" and its
	// own endpoints under /console/; REST keeps every other path.
	// Registered once the listeners are bound, so it knows their addresses.
	con := console.New(consoleSource{n: n, httpAddrs: h.addrs}, n.console, console.DefaultInterval, n.logger.With("component", "console"))
	mux.Handle("GET /{$}", con)
	mux.Handle("/console/", con)
	for _, ln := range h.lns {
		go func() {
			if err := h.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				n.logger.Error("http server stopped", "addr", ln.Addr(), "err", err)
			}
		}()
	}
	return h, nil
}

func (h *httpServer) shutdown(ctx context.Context) error {
	if err := h.srv.Shutdown(ctx); err != nil {
		return h.srv.Close()
	}
	return nil
}
