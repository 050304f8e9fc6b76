package rest

import (
	"context"
	"errors"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/internal/ratelog"
)

// Timeouts for the admin HTTP server. Every request in this API is short;
// WriteTimeout leaves room for a /metrics scrape of a node with many
// partitions.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
)

// Server runs an http.Server for the admin API with Tandem's timeouts.
type Server struct {
	srv *http.Server
}

// NewServer wraps h (normally from New). logger may be nil. net/http's own
// complaints (a bad request line, an oversized header, a client that hung
// up) are per connection, so they go through a rate limiter.
func NewServer(h http.Handler, logger *slog.Logger) *Server {
	rl := ratelog.New(logger, ratelog.Options{})
	return &Server{srv: &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          log.New(serverLogWriter{rl}, "", 0),
	}}
}

// serverLogWriter turns http.Server.ErrorLog lines into rate-limited
// warnings. They share one key: their text names the peer, so keying by
// text would give every peer its own budget.
type serverLogWriter struct{ rl *ratelog.Logger }

func (w serverLogWriter) Write(p []byte) (int, error) {
	w.rl.LogKey("rest: http server", slog.LevelWarn, "rest: http server: "+strings.TrimSpace(string(p)))
	return len(p), nil
}

// Serve accepts connections on ln until Shutdown; it then returns nil.
// Any other accept error is returned.
func (s *Server) Serve(ln net.Listener) error {
	err := s.srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, waits for in-flight requests until ctx ends,
// then closes whatever is left.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	return err
}

// Close stops the server at once, cutting off requests in flight.
func (s *Server) Close() error { return s.srv.Close() }
