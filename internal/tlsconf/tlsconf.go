// Package tlsconf builds crypto/tls configurations from Kafka's ssl.* keys,
// with Kafka's semantics, for Tandem's listeners (server side) and for
// Tandem's own clients (cluster links, tests, the CLI).
//
// Keystores (ssl.keystore.*) and truststores (ssl.truststore.*) are JKS
// (Kafka's default type, kept when the type is unset: a file of another
// format is a clear error, not a guess), PKCS12 or PEM (KIP-651: a file with
// the private key and the certificate chain, or inline values). Servers
// re-read their store files when they change, without a restart: Kafka does
// this on a dynamic config update; Tandem watches the files themselves.
//
// Secrets (passwords, keys) never appear in errors or logs.
package tlsconf

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-streaming/tandem/internal/auth"
)

// Getter returns a config value by Kafka key ("ssl.keystore.location");
// config.ListenerConfig.Get fits.
type Getter func(key string) (string, bool)

// reloadInterval bounds how often a server looks at its store files: at
// most once a second, on a handshake.
const reloadInterval = time.Second

// Server is the server side of a TLS listener.
type Server struct {
	logger   *slog.Logger
	base     *tls.Config // versions, suites, client auth: fixed at start
	keystore *storeSettings
	trust    *storeSettings
	mapper   *PrincipalMapper
	outer    *tls.Config

	cur atomic.Pointer[tls.Config] // the config handshakes use now

	mu        sync.Mutex
	interval  time.Duration // reloadInterval; tests set 0
	lastCheck time.Time
	sums      [][sha256.Size]byte // of the store files as last loaded (or tried)
	closed    bool
}

// NewServer builds a server-side TLS config from ssl.* keys: keystore (PEM
// file, inline PEM via ssl.keystore.type=PEM + ssl.keystore.key +
// ssl.keystore.certificate.chain, PKCS12, JKS), truststore (PEM file,
// ssl.truststore.certificates, PKCS12, JKS), ssl.key.password,
// ssl.client.auth=none|requested|required, ssl.enabled.protocols,
// ssl.protocol, ssl.cipher.suites, ssl.principal.mapping.rules. Files are
// re-read when they change, without a restart.
//
// Without a truststore, client certificates are verified against the
// system's roots, as Java uses its default cacerts.
func NewServer(get Getter, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	base, err := baseConfig(get)
	if err != nil {
		return nil, err
	}
	if base.ClientAuth, err = clientAuth(get); err != nil {
		return nil, err
	}
	ks, err := keystoreSettings(get)
	if err != nil {
		return nil, err
	}
	if ks == nil {
		return nil, errors.New("a TLS listener needs a keystore: set ssl.keystore.location (with ssl.keystore.type and ssl.keystore.password) or ssl.keystore.type=PEM with ssl.keystore.key and ssl.keystore.certificate.chain")
	}
	ts, err := truststoreSettings(get)
	if err != nil {
		return nil, err
	}
	rules, _ := get("ssl.principal.mapping.rules")
	mapper, err := NewPrincipalMapper(rules)
	if err != nil {
		return nil, err
	}
	s := &Server{logger: logger, base: base, keystore: ks, trust: ts, mapper: mapper, interval: reloadInterval}
	s.sums = s.fileSums()
	cfg, err := s.load()
	if err != nil {
		return nil, err
	}
	s.cur.Store(cfg)
	s.lastCheck = time.Now()
	s.outer = &tls.Config{
		MinVersion:         base.MinVersion,
		MaxVersion:         base.MaxVersion,
		GetConfigForClient: s.configForClient,
	}
	return s, nil
}

// TLSConfig is the config for tls.Server / tls.NewListener. It hands each
// handshake the current certificates through GetConfigForClient.
func (s *Server) TLSConfig() *tls.Config { return s.outer }

// Principal maps the verified client certificate (leaf) to a principal with
// ssl.principal.mapping.rules, as Kafka's DefaultKafkaPrincipalBuilder;
// ANONYMOUS when the client sent none (ssl.client.auth none or requested).
// An error (no rule matches) fails the authentication, as in Kafka.
func (s *Server) Principal(cs *tls.ConnectionState) (auth.Principal, error) {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return auth.Anonymous, nil
	}
	if len(cs.VerifiedChains) == 0 {
		// crypto/tls verifies every certificate it accepts with the
		// ClientAuth modes Tandem uses; never trust one it did not.
		return auth.Principal{}, errors.New("tls: client certificate was not verified")
	}
	name, err := s.mapper.Name(DistinguishedName(cs.PeerCertificates[0]))
	if err != nil {
		return auth.Principal{}, err
	}
	return auth.User(name), nil
}

// Close stops reloading the store files.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

// load reads the stores into a complete server config.
func (s *Server) load() (*tls.Config, error) {
	certs, err := s.keystore.loadKeystore()
	if err != nil {
		return nil, err
	}
	for _, c := range certs {
		// Java serves an expired certificate too, and clients refuse it:
		// say so where the operator looks.
		if c.Leaf != nil && time.Now().After(c.Leaf.NotAfter) {
			s.logger.Warn("tls: the keystore's certificate has expired; clients will refuse it",
				"subject", DistinguishedName(c.Leaf), "not_after", c.Leaf.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	cfg := s.base.Clone()
	cfg.Certificates = certs
	if s.trust != nil {
		if cfg.ClientCAs, err = pool(s.trust); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

func pool(s *storeSettings) (*x509.CertPool, error) {
	certs, err := s.loadTruststore()
	if err != nil {
		return nil, err
	}
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p, nil
}

func (s *Server) configForClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	s.maybeReload()
	return s.cur.Load(), nil
}

// files are the store files a reload looks at.
func (s *Server) files() []string {
	var out []string
	for _, st := range []*storeSettings{s.keystore, s.trust} {
		if st != nil && st.location != "" {
			out = append(out, st.location)
		}
	}
	return out
}

// fileSums hashes the store files' contents: cheaper to trust than mtimes,
// whose granularity can hide a rewrite in the same tick. A missing file
// hashes as empty; load reports it.
func (s *Server) fileSums() [][sha256.Size]byte {
	var out [][sha256.Size]byte
	for _, f := range s.files() {
		data, _ := os.ReadFile(f)
		out = append(out, sha256.Sum256(data))
	}
	return out
}

// maybeReload re-reads the stores when their files changed since the last
// look, at most once per interval. A store that does not load keeps the
// previous certificates and is logged once per change (the error names the
// file and the problem, never a secret).
func (s *Server) maybeReload() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.files()) == 0 || time.Since(s.lastCheck) < s.interval {
		return
	}
	s.lastCheck = time.Now()
	sums := s.fileSums()
	if equalSums(sums, s.sums) {
		return
	}
	s.sums = sums
	cfg, err := s.load()
	if err != nil {
		s.logger.Warn("tls: reloading the keystore/truststore failed; keeping the previous certificates", "files", strings.Join(s.files(), ","), "error", err)
		return
	}
	s.cur.Store(cfg)
	s.logger.Info("tls: reloaded the keystore/truststore", "files", strings.Join(s.files(), ","))
}

func equalSums(a, b [][sha256.Size]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// NewClient builds a client-side config (link to a source, tests, CLI) from
// the client ssl.* keys: a keystore for a client certificate (optional), a
// truststore (the system's roots without one, as Java's cacerts),
// ssl.enabled.protocols, ssl.protocol, ssl.cipher.suites and
// ssl.endpoint.identification.algorithm: "https" (Kafka's default) verifies
// the server's host name; empty turns off only the host-name check, the
// chain is still verified. The caller (or tls.Dial) sets ServerName.
func NewClient(get Getter) (*tls.Config, error) {
	cfg, err := baseConfig(get)
	if err != nil {
		return nil, err
	}
	ks, err := keystoreSettings(get)
	if err != nil {
		return nil, err
	}
	if ks != nil {
		if cfg.Certificates, err = ks.loadKeystore(); err != nil {
			return nil, err
		}
	}
	ts, err := truststoreSettings(get)
	if err != nil {
		return nil, err
	}
	if ts != nil {
		if cfg.RootCAs, err = pool(ts); err != nil {
			return nil, err
		}
	}
	alg, ok := get("ssl.endpoint.identification.algorithm")
	if !ok {
		alg = "https"
	}
	switch strings.ToLower(strings.TrimSpace(alg)) {
	case "https":
	case "":
		roots := cfg.RootCAs
		// InsecureSkipVerify turns off crypto/tls's own verification, which
		// always includes the host name; VerifyConnection then checks the
		// chain against the truststore without a DNS name.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tls: server sent no certificate")
			}
			opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}
	default:
		return nil, fmt.Errorf("ssl.endpoint.identification.algorithm %q: want https or empty", alg)
	}
	return cfg, nil
}
