package link

import (
	"crypto/tls"

	"github.com/tandem-streaming/tandem/internal/usererr"
)

// tlsClientConfig builds the TLS config with which the link reaches its
// source from the link's ssl.* configs.
func tlsClientConfig(configs map[string]string) (*tls.Config, error) {
	return nil, usererr.New(ErrNotSupported, "cluster link config security.protocol=%s is not supported by Tandem yet", Value(configs, "security.protocol"))
}
