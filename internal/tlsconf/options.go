package tlsconf

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
)

// listValue splits a Kafka LIST value: comma-separated, blanks trimmed,
// empty items dropped.
func listValue(get Getter, key string) []string {
	v, _ := get(key)
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// protocolVersion maps Java's protocol names to crypto/tls versions.
// TLSv1 and TLSv1.1 are refused: they are deprecated (RFC 8996) and
// disabled in every Java that runs current Kafka (jdk.tls.disabledAlgorithms),
// so accepting them would promise what no Kafka client negotiates.
func protocolVersion(key, name string) (uint16, error) {
	switch name {
	case "TLSv1.3":
		return tls.VersionTLS13, nil
	case "TLSv1.2":
		return tls.VersionTLS12, nil
	case "TLSv1", "TLSv1.1", "SSLv3", "SSLv2", "SSLv2Hello":
		return 0, fmt.Errorf("%s: %s is not supported (deprecated by RFC 8996); use TLSv1.2 and TLSv1.3", key, name)
	}
	return 0, fmt.Errorf("%s: unknown protocol %q (want TLSv1.2 or TLSv1.3)", key, name)
}

// versions computes the TLS version range from ssl.protocol (the SSLContext
// protocol: TLSv1.2 caps the version at 1.2, TLSv1.3 and TLS do not, as in
// Java) and ssl.enabled.protocols (Kafka's default TLSv1.2,TLSv1.3; empty
// means that default, as Kafka leaves the JVM's defaults in place).
func versions(get Getter) (lo, hi uint16, err error) {
	hi = tls.VersionTLS13
	if p, _ := get("ssl.protocol"); strings.TrimSpace(p) != "" {
		switch p = strings.TrimSpace(p); p {
		case "TLS":
		default:
			if hi, err = protocolVersion("ssl.protocol", p); err != nil {
				return 0, 0, err
			}
		}
	}
	enabled := listValue(get, "ssl.enabled.protocols")
	if len(enabled) == 0 {
		enabled = []string{"TLSv1.2", "TLSv1.3"}
	}
	var on [2]bool // [0] TLS 1.2, [1] TLS 1.3
	for _, name := range enabled {
		v, err := protocolVersion("ssl.enabled.protocols", name)
		if err != nil {
			return 0, 0, err
		}
		on[v-tls.VersionTLS12] = true
	}
	if hi < tls.VersionTLS13 {
		on[1] = false
	}
	switch {
	case on[0] && on[1]:
		return tls.VersionTLS12, tls.VersionTLS13, nil
	case on[0]:
		return tls.VersionTLS12, tls.VersionTLS12, nil
	case on[1]:
		return tls.VersionTLS13, tls.VersionTLS13, nil
	}
	return 0, 0, errors.New("ssl.enabled.protocols and ssl.protocol leave no protocol enabled (ssl.protocol=TLSv1.2 excludes TLSv1.3)")
}

// tls13Suites are the TLS 1.3 cipher suites, which crypto/tls always offers
// together and does not let a program choose.
var tls13Suites = []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}

// cipherSuites applies ssl.cipher.suites (IANA names, which are also Java's
// names) to cfg. Unset or empty keeps crypto/tls's defaults, as Kafka keeps
// the JVM's. As in Java, the list also decides which protocols can work: a
// list without TLS 1.3 suites leaves TLS 1.3 unusable, so it is turned off;
// a list without TLS 1.2 suites turns TLS 1.2 off.
//
// crypto/tls cannot enable only some TLS 1.3 suites, so a list naming some
// but not all three is refused rather than silently widened. Names crypto/tls
// considers insecure (RC4, 3DES, CBC-SHA256, RSA key exchange...) are refused.
func cipherSuites(get Getter, cfg *tls.Config) error {
	names := listValue(get, "ssl.cipher.suites")
	if len(names) == 0 {
		return nil
	}
	known := make(map[string]*tls.CipherSuite)
	for _, cs := range tls.CipherSuites() {
		known[cs.Name] = cs
	}
	insecure := make(map[string]bool)
	for _, cs := range tls.InsecureCipherSuites() {
		insecure[cs.Name] = true
	}
	var ids []uint16
	n13 := 0
	for _, name := range names {
		if name == "TLS_EMPTY_RENEGOTIATION_INFO_SCSV" {
			continue // a signalling value Java lists among suites; crypto/tls always sends it
		}
		cs, ok := known[name]
		switch {
		case ok && len(cs.SupportedVersions) == 1 && cs.SupportedVersions[0] == tls.VersionTLS13:
			n13++
		case ok:
			ids = append(ids, cs.ID)
		case insecure[name]:
			return fmt.Errorf("ssl.cipher.suites: %s is insecure and not supported", name)
		default:
			return fmt.Errorf("ssl.cipher.suites: unknown cipher suite %q (use IANA names as Java does, such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)", name)
		}
	}
	if n13 > 0 && n13 < len(tls13Suites) {
		return fmt.Errorf("ssl.cipher.suites: TLS 1.3 suites cannot be chosen one by one in Tandem (Go's crypto/tls always enables %s); list all three or none", strings.Join(tls13Suites, ", "))
	}
	if n13 == 0 {
		if cfg.MinVersion > tls.VersionTLS12 {
			return errors.New("ssl.cipher.suites lists no TLS 1.3 cipher suite but only TLSv1.3 is enabled")
		}
		cfg.MaxVersion = tls.VersionTLS12
	}
	if len(ids) == 0 {
		if cfg.MaxVersion < tls.VersionTLS13 {
			return errors.New("ssl.cipher.suites lists no TLS 1.2 cipher suite but only TLSv1.2 is enabled")
		}
		cfg.MinVersion = tls.VersionTLS13
	}
	cfg.CipherSuites = ids
	return nil
}

// baseConfig is the protocol and cipher part shared by servers and clients.
func baseConfig(get Getter) (*tls.Config, error) {
	lo, hi, err := versions(get)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: lo, MaxVersion: hi}
	if err := cipherSuites(get, cfg); err != nil {
		return nil, err
	}
	// Keys whose non-default values would select Java machinery Tandem does
	// not have: refuse them rather than ignore them (docs/operations.md).
	for _, k := range []struct{ key, allowed string }{
		{"ssl.provider", ""},
		{"ssl.engine.factory.class", ""},
		{"ssl.secure.random.implementation", ""},
		{"ssl.keymanager.algorithm", "SunX509"},
		{"ssl.trustmanager.algorithm", "PKIX"},
	} {
		if v, _ := get(k.key); strings.TrimSpace(v) != "" && !strings.EqualFold(strings.TrimSpace(v), k.allowed) {
			return nil, fmt.Errorf("%s=%s is not supported by Tandem (Go's crypto/tls is its only TLS implementation)", k.key, v)
		}
	}
	return cfg, nil
}

// clientAuth maps ssl.client.auth (Kafka's SslClientAuth, case-insensitive)
// to crypto/tls: "requested" is Java's wantClientAuth, which verifies a
// certificate when the client sends one.
func clientAuth(get Getter) (tls.ClientAuthType, error) {
	v, _ := get("ssl.client.auth")
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "none":
		return tls.NoClientCert, nil
	case "requested":
		return tls.VerifyClientCertIfGiven, nil
	case "required":
		return tls.RequireAndVerifyClientCert, nil
	}
	return 0, fmt.Errorf("ssl.client.auth %q: want required, requested or none", v)
}
