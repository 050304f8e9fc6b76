package node

import (
	"fmt"
	"log/slog"

	"github.com/tandem-streaming/tandem/internal/config"
	"github.com/tandem-streaming/tandem/internal/server"
	"github.com/tandem-streaming/tandem/internal/tlsconf"
)

// tlsServer is a listener's TLS side: *tlsconf.Server.
type tlsServer interface {
	server.TLSServer
	Close()
}

// startTLS builds the TLS side of every SSL and SASL_SSL listener from its
// ssl.* settings (listener.name.<name>.ssl.* first); nil entries for the
// others. On error, what was built is closed.
func startTLS(cfg config.BrokerConfig, logger *slog.Logger) ([]tlsServer, error) {
	out := make([]tlsServer, len(cfg.ListenerConfigs))
	for i, lc := range cfg.ListenerConfigs {
		if !config.UsesTLS(lc.SecurityProtocol) {
			continue
		}
		ts, err := tlsconf.NewServer(listenerSSLGetter(lc), logger.With("component", "tls", "listener", lc.Name))
		if err != nil {
			closeTLS(out)
			// The cause names the key; values of sensitive keys never
			// appear in tlsconf's errors.
			return nil, fmt.Errorf("listener %s (%s): TLS configuration: %w", lc.Name, lc.SecurityProtocol, err)
		}
		out[i] = ts
	}
	return out, nil
}

// listenerSSLGetter reads lc's ssl.* settings as Kafka does, with one
// rule of Kafka's own: on a SASL_SSL listener the broker-wide
// ssl.client.auth is ignored, only listener.name.<name>.ssl.client.auth
// counts (clients authenticate with SASL there).
func listenerSSLGetter(lc config.ListenerConfig) tlsconf.Getter {
	return func(key string) (string, bool) {
		if key == "ssl.client.auth" && lc.SecurityProtocol == config.ProtocolSASLSSL {
			return lc.GetOwn(key)
		}
		return lc.Get(key)
	}
}

func closeTLS(ts []tlsServer) {
	for _, t := range ts {
		if t != nil {
			t.Close()
		}
	}
}

func (n *Node) closeTLS() {
	closeTLS(n.tls)
	n.tls = nil
}
