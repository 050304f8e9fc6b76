package node

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"

	"github.com/twmb/franz-go/pkg/kmsg"

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
	tls   httpTLS // nil without https listeners
}

func startHTTP(n *Node, listeners []config.Listener) (_ *httpServer, err error) {
	logger := n.logger.With("component", "http")
	h := &httpServer{}
	defer func() {
		if err != nil {
			h.closeListeners()
		}
	}()
	sec, err := h.security(n, listeners, logger)
	if err != nil {
		return nil, err
	}
	authz := n.httpAuthorizer()
	mux := http.NewServeMux()
	opts := []rest.Option{rest.WithGroups(n.groupReader()), rest.WithAuthorizer(authz)}
	if n.links != nil {
		opts = append(opts, rest.WithLinks(linkBackend{m: n.links}))
	}
	if acls := n.httpACLs(); acls != nil {
		opts = append(opts, rest.WithACLs(acls))
	}
	mux.Handle("/", rest.New(&restBackend{n: n}, n.metrics, logger, opts...))
	if n.Config.HTTPPprofEnable {
		// Go's profiler, for operators diagnosing a live broker. Off by
		// default (http.pprof.enable): a profile or trace costs CPU and
		// shows internals to anyone who can reach the listener, so with
		// an authorizer it needs ALTER on the cluster (docs/security.md).
		for path, fn := range map[string]http.HandlerFunc{
			"/debug/pprof/": pprof.Index, "/debug/pprof/profile": pprof.Profile, "/debug/pprof/trace": pprof.Trace,
			"/debug/pprof/symbol": pprof.Symbol, "/debug/pprof/cmdline": pprof.Cmdline,
		} {
			mux.Handle(path, rest.RequireCluster(fn, authz, kmsg.ACLOperationAlter))
		}
	}
	ratelogger := ratelog.New(logger, ratelog.Options{})
	authed, err := rest.Authenticate(mux, sec, ratelogger)
	if err != nil {
		return nil, err
	}
	handler := rest.CheckHost(authed, rest.NewHostPolicy(httpHostNames(n.Config, n.broker.AdvertisedAddr), n.Config.HTTPAllowedHosts),
		rest.LogHostRefusal(ratelogger))
	// rest.NewServer sets the header cap and the timeouts.
	h.srv = rest.NewServer(handler, logger)
	for _, l := range listeners {
		ln, err := net.Listen("tcp", l.Addr())
		if err != nil {
			return nil, fmt.Errorf("http.listeners: cannot listen on %s: %w", l, err)
		}
		h.addrs = append(h.addrs, ln.Addr())
		ln = newLimitListener(ln, n.budget.HTTPConns)
		if l.Name == "HTTPS" {
			// The handshake runs on the connection's first read, under
			// the server's header timeout; its failures go to the
			// rate-limited server log.
			ln = tls.NewListener(ln, h.tls.TLSConfig())
		}
		h.lns = append(h.lns, ln)
	}
	// The web console (internal/console): the page at exactly "/" and its
	// own endpoints under /console/; REST keeps every other path.
	// Registered once the listeners are bound, so it knows their addresses.
	// Its data is the whole cluster's (topics, groups, links): DESCRIBE
	// on the cluster, as /metrics.
	con := console.New(consoleSource{n: n, httpAddrs: h.addrs}, n.console, console.DefaultInterval, n.logger.With("component", "console"))
	mux.Handle("GET /{$}", con)
	mux.Handle("/console/", con)
	mux.Handle("/console/api/", rest.RequireCluster(con, authz, kmsg.ACLOperationDescribe))
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
	if h.tls != nil {
		defer h.tls.Close()
	}
	if err := h.srv.Shutdown(ctx); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// closeListeners undoes a start that failed half-way.
func (h *httpServer) closeListeners() {
	for _, o := range h.lns {
		_ = o.Close()
	}
	if h.tls != nil {
		h.tls.Close()
	}
}
