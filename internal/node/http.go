package node

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"

	"github.com/tandem-streaming/tandem/internal/config"
	"github.com/tandem-streaming/tandem/internal/console"
	"github.com/tandem-streaming/tandem/internal/ratelog"
	"github.com/tandem-streaming/tandem/internal/rest"
)

// httpServer serves the HTTP API (REST v3 shape, health, metrics).
type httpServer struct {
	srv   *rest.Server
	addrs []net.Addr
	lns   []net.Listener
}

func startHTTP(n *Node, listeners []config.Listener) (*httpServer, error) {
	logger := n.logger.With("component", "http")
	mux := http.NewServeMux()
	opts := []rest.Option{rest.WithGroups(n.groupReader())}
	if n.links != nil {
		opts = append(opts, rest.WithLinks(linkBackend{m: n.links}))
	}
	mux.Handle("/", rest.New(&restBackend{n: n}, n.metrics, logger, opts...))
	if n.Config.HTTPPprofEnable {
		// Go's profiler, for operators diagnosing a live broker. Off by
		// default (http.pprof.enable): a profile or trace costs CPU and
		// shows internals to anyone who can reach the listener.
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	}
	handler := rest.CheckHost(mux, rest.NewHostPolicy(httpHostNames(n.Config, n.broker.AdvertisedAddr), n.Config.HTTPAllowedHosts),
		rest.LogHostRefusal(ratelog.New(logger, ratelog.Options{})))
	// rest.NewServer sets the header cap and the timeouts.
	h := &httpServer{srv: rest.NewServer(handler, logger)}
	for _, l := range listeners {
		ln, err := net.Listen("tcp", l.Addr())
		if err != nil {
			for _, o := range h.lns {
				_ = o.Close()
			}
			return nil, fmt.Errorf("http.listeners: cannot listen on %s: %w", l, err)
		}
		h.lns = append(h.lns, newLimitListener(ln, n.budget.HTTPConns))
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
			if err := h.srv.Serve(ln); err != nil {
				n.logger.Error("http server stopped", "addr", ln.Addr(), "err", err)
			}
		}()
	}
	return h, nil
}

// httpHostNames lists the names this node is known by, which the HTTP API
// answers to without http.allowed.hosts: the hosts of http.listeners,
// listeners and advertised.listeners, the host Metadata advertises, and
// this machine's host name (what a wildcard listener is reached by).
func httpHostNames(cfg config.BrokerConfig, advertised func() (string, int32)) []string {
	var hosts []string
	for _, ls := range [][]config.Listener{cfg.HTTPListeners, cfg.Listeners, cfg.AdvertisedListeners} {
		for _, l := range ls {
			hosts = append(hosts, l.Host)
		}
	}
	if advertised != nil {
		h, _ := advertised()
		hosts = append(hosts, h)
	}
	if h, err := os.Hostname(); err == nil {
		hosts = append(hosts, h)
	}
	return hosts
}

// shutdown stops the listeners; requests still running when ctx ends are
// cut off, which is not an error of the shutdown.
func (h *httpServer) shutdown(ctx context.Context) error {
	if err := h.srv.Shutdown(ctx); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}
