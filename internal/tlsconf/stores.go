package tlsconf

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"github.com/youmark/pkcs8"
	"software.sslmate.com/src/go-pkcs12"
)

// Store types, as Kafka's ssl.keystore.type / ssl.truststore.type take them.
// Kafka's default for both is JKS (Java's KeyStore.getDefaultType()), and
// Tandem keeps it: an unset type never means "guess from the file".
const (
	typeJKS    = "JKS"
	typePKCS12 = "PKCS12"
	typePEM    = "PEM"
)

// storeSettings is one keystore or truststore as configured. Passwords are
// held here only to re-read files on reload; they never reach an error.
type storeSettings struct {
	kind     string // "keystore" or "truststore", for messages
	typ      string
	location string
	password *string // ssl.keystore.password / ssl.truststore.password
	// keystore only
	keyPassword *string // ssl.key.password
	inlineKey   *string // ssl.keystore.key
	inlineChain *string // ssl.keystore.certificate.chain
	// truststore only
	inlineCerts *string // ssl.truststore.certificates
}

func optional(get Getter, key string) *string {
	if v, ok := get(key); ok && v != "" {
		return &v
	}
	return nil
}

func storeType(get Getter, key string) (string, error) {
	v, _ := get(key)
	v = strings.ToUpper(strings.TrimSpace(v))
	switch v {
	case "":
		return typeJKS, nil
	case typeJKS, typePKCS12, typePEM:
		return v, nil
	}
	return "", fmt.Errorf("%s %q is not supported: use JKS, PKCS12 or PEM", key, v)
}

// keystoreSettings reads the ssl.keystore.* keys and applies the same
// consistency checks as Kafka's DefaultSslEngineFactory.createKeystore.
// It returns nil when no keystore is configured.
func keystoreSettings(get Getter) (*storeSettings, error) {
	typ, err := storeType(get, "ssl.keystore.type")
	if err != nil {
		return nil, err
	}
	s := &storeSettings{
		kind:        "keystore",
		typ:         typ,
		password:    optional(get, "ssl.keystore.password"),
		keyPassword: optional(get, "ssl.key.password"),
		inlineKey:   optional(get, "ssl.keystore.key"),
		inlineChain: optional(get, "ssl.keystore.certificate.chain"),
	}
	if p := optional(get, "ssl.keystore.location"); p != nil {
		s.location = *p
	}
	switch {
	case s.inlineKey != nil:
		switch {
		case typ != typePEM:
			return nil, fmt.Errorf("ssl.keystore.key can be specified only for PEM, but ssl.keystore.type is %s", typ)
		case s.inlineChain == nil:
			return nil, errors.New("ssl.keystore.key is specified, but ssl.keystore.certificate.chain is not")
		case s.location != "":
			return nil, errors.New("both ssl.keystore.location and ssl.keystore.key are specified")
		case s.password != nil:
			return nil, errors.New("ssl.keystore.password cannot be specified with PEM format, only ssl.key.password may be")
		}
	case s.inlineChain != nil:
		return nil, errors.New("ssl.keystore.certificate.chain is specified, but ssl.keystore.key is not")
	case typ == typePEM && s.location != "":
		if s.password != nil {
			return nil, errors.New("ssl.keystore.password cannot be specified with PEM format, only ssl.key.password may be")
		}
	case s.location == "" && s.password != nil:
		return nil, errors.New("ssl.keystore.password is specified, but ssl.keystore.location is not")
	case s.location != "" && s.password == nil:
		return nil, errors.New("ssl.keystore.location is specified, but ssl.keystore.password is not")
	case s.location == "":
		return nil, nil
	}
	return s, nil
}

// truststoreSettings reads the ssl.truststore.* keys with the checks of
// Kafka's createTruststore; nil when none is configured.
func truststoreSettings(get Getter) (*storeSettings, error) {
	typ, err := storeType(get, "ssl.truststore.type")
	if err != nil {
		return nil, err
	}
	s := &storeSettings{
		kind:        "truststore",
		typ:         typ,
		password:    optional(get, "ssl.truststore.password"),
		inlineCerts: optional(get, "ssl.truststore.certificates"),
	}
	if p := optional(get, "ssl.truststore.location"); p != nil {
		s.location = *p
	}
	switch {
	case s.inlineCerts != nil:
		switch {
		case typ != typePEM:
			return nil, fmt.Errorf("ssl.truststore.certificates can be specified only for PEM, but ssl.truststore.type is %s", typ)
		case s.location != "":
			return nil, errors.New("both ssl.truststore.location and ssl.truststore.certificates are specified")
		case s.password != nil:
			return nil, errors.New("ssl.truststore.password cannot be specified for PEM format")
		}
	case typ == typePEM && s.location != "":
		if s.password != nil {
			return nil, errors.New("ssl.truststore.password cannot be specified for PEM format")
		}
	case s.location == "" && s.password != nil:
		return nil, errors.New("ssl.truststore.password is specified, but ssl.truststore.location is not")
	case s.location == "":
		return nil, nil
	}
	return s, nil
}

// read returns the store file's bytes.
func (s *storeSettings) read() ([]byte, error) {
	data, err := os.ReadFile(s.location)
	if err != nil {
		return nil, fmt.Errorf("ssl.%s.location: %w", s.kind, err)
	}
	return data, nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// loadKeystore reads the keystore into certificates with their keys.
func (s *storeSettings) loadKeystore() ([]tls.Certificate, error) {
	if s.inlineKey != nil {
		c, err := pemKeyPair([]byte(*s.inlineKey), []byte(*s.inlineChain), s.keyPassword, "ssl.keystore.key")
		if err != nil {
			return nil, err
		}
		return []tls.Certificate{c}, nil
	}
	data, err := s.read()
	if err != nil {
		return nil, err
	}
	switch s.typ {
	case typePEM:
		c, err := pemKeyPair(data, data, s.keyPassword, "ssl.keystore.location "+s.location)
		if err != nil {
			return nil, err
		}
		return []tls.Certificate{c}, nil
	case typePKCS12:
		return s.loadPKCS12Keystore(data)
	default:
		return s.loadJKSKeystore(data)
	}
}

// loadTruststore reads the truststore's trusted certificates.
func (s *storeSettings) loadTruststore() ([]*x509.Certificate, error) {
	if s.inlineCerts != nil {
		return pemCertificates([]byte(*s.inlineCerts), "ssl.truststore.certificates")
	}
	data, err := s.read()
	if err != nil {
		return nil, err
	}
	what := "ssl.truststore.location " + s.location
	switch s.typ {
	case typePEM:
		return pemCertificates(data, what)
	case typePKCS12:
		if err := s.checkFormat(data, typePKCS12); err != nil {
			return nil, err
		}
		// Java's PKCS12 truststores mark each certificate as a trust anchor
		// (the attribute keytool writes); DecodeTrustStore requires it.
		certs, err := pkcs12.DecodeTrustStore(data, deref(s.password))
		if err != nil {
			return nil, fmt.Errorf("%s (PKCS12): %w", what, err)
		}
		return certs, nil
	default:
		ks, err := s.loadJKS(data)
		if err != nil {
			return nil, err
		}
		var certs []*x509.Certificate
		for _, alias := range ks.Aliases() {
			// As Java's TrustStoreUtil: trusted certificate entries, and the
			// first certificate of each private key entry's chain.
			var der []byte
			if e, err := ks.GetTrustedCertificateEntry(alias); err == nil {
				der = e.Certificate.Content
			} else if chain, err := ks.GetPrivateKeyEntryCertificateChain(alias); err == nil && len(chain) > 0 {
				der = chain[0].Content
			}
			if der == nil {
				continue
			}
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return nil, fmt.Errorf("%s entry %q: %w", what, alias, err)
			}
			certs = append(certs, c)
		}
		if len(certs) == 0 {
			return nil, fmt.Errorf("%s: no certificates in the JKS truststore", what)
		}
		return certs, nil
	}
}

// checkFormat gives a clear error when a file is not of the configured type,
// naming what it looks like (a PEM file while the type defaulted to JKS is
// the common mistake).
func (s *storeSettings) checkFormat(data []byte, want string) error {
	got := sniff(data)
	if got == want || got == "" {
		return nil // an unknown format fails in the decoder, with its reason
	}
	return fmt.Errorf("ssl.%s.location %s is not a %s file (ssl.%s.type is %s; Kafka's default is JKS); it looks like %s: set ssl.%s.type=%s",
		s.kind, s.location, want, s.kind, s.typ, got, s.kind, got)
}

// sniff names a store file's format from its first bytes: JKS files start
// with the magic 0xFEEDFEED, PKCS#12 files are a DER SEQUENCE, PEM files
// have a "-----BEGIN" line. "" when unknown.
func sniff(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte{0xfe, 0xed, 0xfe, 0xed}):
		return typeJKS
	case bytes.Contains(data, []byte("-----BEGIN ")):
		return typePEM
	case len(data) > 0 && data[0] == 0x30:
		return typePKCS12
	}
	return ""
}

func (s *storeSettings) loadPKCS12Keystore(data []byte) ([]tls.Certificate, error) {
	what := "ssl.keystore.location " + s.location
	if err := s.checkFormat(data, typePKCS12); err != nil {
		return nil, err
	}
	// A PKCS#12 file has one password for its integrity and its key bags
	// (keytool refuses different store and key passwords for PKCS12).
	if s.keyPassword != nil && *s.keyPassword != deref(s.password) {
		return nil, fmt.Errorf("%s: ssl.key.password differs from ssl.keystore.password, which a PKCS12 keystore does not support", what)
	}
	key, leaf, chain, err := pkcs12.DecodeChain(data, deref(s.password))
	if err != nil {
		return nil, fmt.Errorf("%s (PKCS12): %w", what, err)
	}
	ders := [][]byte{leaf.Raw}
	for _, c := range chain {
		ders = append(ders, c.Raw)
	}
	c, err := checkedPair(ders, key, what)
	if err != nil {
		return nil, err
	}
	return []tls.Certificate{c}, nil
}

func (s *storeSettings) loadJKS(data []byte) (keystore.KeyStore, error) {
	if err := s.checkFormat(data, typeJKS); err != nil {
		return keystore.KeyStore{}, err
	}
	if s.password == nil {
		// Java can open a JKS truststore without a password by skipping its
		// integrity check; the library Tandem uses always checks it.
		return keystore.KeyStore{}, fmt.Errorf("ssl.%s.location %s: a JKS store needs ssl.%s.password (Tandem always checks the store's integrity)", s.kind, s.location, s.kind)
	}
	ks := keystore.New(keystore.WithOrderedAliases())
	if err := ks.Load(bytes.NewReader(data), []byte(*s.password)); err != nil {
		return keystore.KeyStore{}, fmt.Errorf("ssl.%s.location %s (JKS): %w", s.kind, s.location, err)
	}
	return ks, nil
}

func (s *storeSettings) loadJKSKeystore(data []byte) ([]tls.Certificate, error) {
	what := "ssl.keystore.location " + s.location
	ks, err := s.loadJKS(data)
	if err != nil {
		return nil, err
	}
	// Java's key manager protects each key with ssl.key.password, which
	// defaults to the store password.
	keyPassword := *s.password
	if s.keyPassword != nil {
		keyPassword = *s.keyPassword
	}
	var out []tls.Certificate
	for _, alias := range ks.Aliases() {
		if !ks.IsPrivateKeyEntry(alias) {
			continue
		}
		e, err := ks.GetPrivateKeyEntry(alias, []byte(keyPassword))
		if err != nil {
			return nil, fmt.Errorf("%s entry %q (wrong ssl.key.password?): %w", what, alias, err)
		}
		key, err := x509.ParsePKCS8PrivateKey(e.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("%s entry %q: private key: %w", what, alias, err)
		}
		var ders [][]byte
		for _, c := range e.CertificateChain {
			ders = append(ders, c.Content)
		}
		c, err := checkedPair(ders, key, fmt.Sprintf("%s entry %q", what, alias))
		if err != nil {
			return nil, err
		}
		// Several key entries (say RSA and ECDSA) are all offered; crypto/tls
		// picks the first the client supports, as Java's key manager picks
		// by key type.
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no private key entry in the JKS keystore", what)
	}
	return out, nil
}

// checkedPair builds a certificate with its key, checking that the key
// belongs to the leaf certificate.
func checkedPair(chain [][]byte, key any, what string) (tls.Certificate, error) {
	if len(chain) == 0 {
		return tls.Certificate{}, fmt.Errorf("%s: no certificate chain", what)
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: certificate: %w", what, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return tls.Certificate{}, fmt.Errorf("%s: unsupported private key type %T", what, key)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if pub, ok := signer.Public().(equaler); !ok || !pub.Equal(leaf.PublicKey) {
		return tls.Certificate{}, fmt.Errorf("%s: the private key does not match the certificate %s", what, leaf.Subject)
	}
	return tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}, nil
}

// pemKeyPair reads a PEM private key from keyData and the certificate chain
// (in order, leaf first) from chainData, as Kafka's PemStore (KIP-651). For
// a PEM keystore file both are the same file.
//
// Kafka reads PKCS#8 keys: "PRIVATE KEY", or "ENCRYPTED PRIVATE KEY"
// decrypted with ssl.key.password. Tandem also takes OpenSSL's unencrypted
// "RSA PRIVATE KEY" (PKCS#1) and "EC PRIVATE KEY" (SEC 1), and refuses the
// legacy OpenSSL encryption ("Proc-Type: 4,ENCRYPTED"), which Java does not
// read either.
func pemKeyPair(keyData, chainData []byte, keyPassword *string, what string) (tls.Certificate, error) {
	blocks, err := decodePEM(keyData, what)
	if err != nil {
		return tls.Certificate{}, err
	}
	var keyBlock *pem.Block
	for _, b := range blocks {
		if strings.HasSuffix(b.Type, "PRIVATE KEY") {
			if keyBlock != nil {
				return tls.Certificate{}, fmt.Errorf("%s: more than one private key", what)
			}
			keyBlock = b
		}
	}
	if keyBlock == nil {
		return tls.Certificate{}, fmt.Errorf("%s: no PEM private key (want a PKCS#8 \"PRIVATE KEY\" or \"ENCRYPTED PRIVATE KEY\" block)", what)
	}
	key, err := parsePEMKey(keyBlock, keyPassword)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", what, err)
	}
	certs, err := pemCertificates(chainData, what)
	if err != nil {
		return tls.Certificate{}, err
	}
	ders := make([][]byte, len(certs))
	for i, c := range certs {
		ders[i] = c.Raw
	}
	return checkedPair(ders, key, what)
}

// errKeyPassword is wrapped by errors about ssl.key.password; it never
// carries the password.
var errKeyPassword = errors.New("ssl.key.password")

func parsePEMKey(b *pem.Block, keyPassword *string) (any, error) {
	if _, ok := b.Headers["Proc-Type"]; ok {
		return nil, errors.New("legacy OpenSSL-encrypted PEM keys are not supported: convert with `openssl pkcs8 -topk8 -v2 aes-256-cbc` to an ENCRYPTED PRIVATE KEY (PKCS#8)")
	}
	if b.Type == "ENCRYPTED PRIVATE KEY" {
		if keyPassword == nil {
			return nil, fmt.Errorf("the private key is encrypted but %w is not set", errKeyPassword)
		}
		// PKCS#8 PBES2 (PBKDF2 or scrypt, AES-CBC/GCM or 3DES), what Java's
		// EncryptedPrivateKeyInfo reads for Kafka. PBES1 (pbeWithMD5AndDES…)
		// is refused by the library with "only PBES2 supported".
		key, _, err := pkcs8.ParsePrivateKey(b.Bytes, []byte(*keyPassword))
		if err != nil {
			return nil, fmt.Errorf("decrypting the private key with %w: %w", errKeyPassword, err)
		}
		return key, nil
	}
	if keyPassword != nil {
		return nil, fmt.Errorf("%w is set but the private key is not encrypted (want an ENCRYPTED PRIVATE KEY block)", errKeyPassword)
	}
	switch b.Type {
	case "PRIVATE KEY":
		return x509.ParsePKCS8PrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(b.Bytes)
	}
	return nil, fmt.Errorf("unsupported PEM key block %q", b.Type)
}

// pemCertificates reads every CERTIFICATE block, in order.
func pemCertificates(data []byte, what string) ([]*x509.Certificate, error) {
	blocks, err := decodePEM(data, what)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for _, b := range blocks {
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %w", what, len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificates", what)
	}
	return certs, nil
}

// pemBlockRE finds PEM blocks as Kafka's PemStore does: whitespace, line
// breaks included, may be anything between the markers and the base64, so
// an inline value written on one line of a properties file
// ("-----BEGIN CERTIFICATE----- MIIB... -----END CERTIFICATE-----") reads
// as well as a file.
var pemBlockRE = regexp.MustCompile(`(?s)-----BEGIN ([^-\r\n]+)-----(.*?)-----END ([^-\r\n]+)-----`)

// decodePEM returns the PEM blocks of data in order. Header lines
// ("Proc-Type: 4,ENCRYPTED") are kept as headers so legacy encrypted keys
// can be refused by name. Errors name what was read, never its content.
func decodePEM(data []byte, what string) ([]*pem.Block, error) {
	var out []*pem.Block
	for _, m := range pemBlockRE.FindAllSubmatch(data, -1) {
		typ := strings.Join(strings.Fields(string(m[1])), " ")
		if end := strings.Join(strings.Fields(string(m[3])), " "); end != typ {
			return nil, fmt.Errorf("%s: PEM block BEGIN %s ends with END %s", what, typ, end)
		}
		body := string(m[2])
		headers := map[string]string{}
		if strings.Contains(body, ":") {
			// Base64 has no colon: this block has headers.
			if strings.Contains(body, "Proc-Type") {
				headers["Proc-Type"] = "4,ENCRYPTED"
				out = append(out, &pem.Block{Type: typ, Headers: headers})
				continue
			}
			return nil, fmt.Errorf("%s: PEM block %s has headers, which are not supported", what, typ)
		}
		der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(body), ""))
		if err != nil {
			return nil, fmt.Errorf("%s: PEM block %s is not valid base64", what, typ)
		}
		out = append(out, &pem.Block{Type: typ, Headers: headers, Bytes: der})
	}
	return out, nil
}
