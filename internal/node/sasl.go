package node

import (
	"fmt"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/config"
)

// checkSASL validates every SASL_PLAINTEXT and SASL_SSL listener's
// mechanisms at startup (auth.NewSASLConfig): Kafka's default GSSAPI, an
// OAUTHBEARER-only or unknown mechanism, or PLAIN without a
// PlainLoginModule sasl.jaas.config stops the start, naming the listener.
func checkSASL(cfg config.BrokerConfig) error {
	for i := range cfg.ListenerConfigs {
		lc := &cfg.ListenerConfigs[i]
		if !isSASL(lc.SecurityProtocol) {
			continue
		}
		if _, err := auth.NewSASLConfig(lc); err != nil {
			return fmt.Errorf("listener %s (%s): %w", lc.Name, lc.SecurityProtocol, err)
		}
	}
	return nil
}

func isSASL(protocol string) bool {
	return protocol == config.ProtocolSASLPlaintext || protocol == config.ProtocolSASLSSL
}

// plainUsers is the union of the PLAIN users of every SASL listener that
// enables PLAIN (for HTTP BASIC, which has no listener of its own). A user
// defined on two listeners with different passwords keeps the first
// listener's.
func plainUsers(cfg config.BrokerConfig) auth.PlainUsers {
	users := auth.PlainUsers{}
	for i := range cfg.ListenerConfigs {
		lc := &cfg.ListenerConfigs[i]
		if !isSASL(lc.SecurityProtocol) {
			continue
		}
		sc, err := auth.NewSASLConfig(lc)
		if err != nil {
			continue // checkSASL refused it at startup
		}
		for u, p := range sc.PlainUsers() {
			if _, ok := users[u]; !ok {
				users[u] = p
			}
		}
	}
	return users
}
