package node

import (
	"errors"
	"log/slog"
)

// newTLSServer is replaced by tlsconf.NewServer once internal/tlsconf lands.
func newTLSServer(get func(string) (string, bool), logger *slog.Logger) (tlsServer, error) {
	return nil, errors.New("TLS listeners need internal/tlsconf, not merged yet")
}
