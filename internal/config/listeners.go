package config

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Listener is one entry of listeners / advertised.listeners / http.listeners:
// NAME://host:port. An empty Host means every interface (for listeners) or
// "this machine's host name" (for advertised.listeners; the server fills it
// in, as Kafka uses the canonical host name). Port 0 asks the OS for a port.
type Listener struct {
	Name string // PLAINTEXT for Kafka listeners, HTTP for http.listeners
	Host string
	Port int
}

// Addr is host:port, bracketing IPv6 literals.
func (l Listener) Addr() string { return net.JoinHostPort(l.Host, strconv.Itoa(l.Port)) }

// String renders the listener in the form it is configured in.
func (l Listener) String() string { return l.Name + "://" + l.Addr() }

// Security protocols (Kafka's SecurityProtocol names).
const (
	ProtocolPlaintext     = "PLAINTEXT"
	ProtocolSSL           = "SSL"
	ProtocolSASLPlaintext = "SASL_PLAINTEXT"
	ProtocolSASLSSL       = "SASL_SSL"
)

// securityProtocols are Kafka's security protocols (SecurityProtocol.forName
// upper-cases a name before it looks it up).
var securityProtocols = []string{ProtocolPlaintext, ProtocolSSL, ProtocolSASLPlaintext, ProtocolSASLSSL}

// DefaultSecurityProtocolMap is Kafka's default listener.security.protocol.map:
// each security protocol's name maps to itself, so PLAINTEXT://, SSL://,
// SASL_PLAINTEXT:// and SASL_SSL:// listeners need no map entry.
const DefaultSecurityProtocolMap = "SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT"

// UsesTLS says whether connections of a listener with protocol p begin
// with a TLS handshake.
func UsesTLS(p string) bool { return p == ProtocolSSL || p == ProtocolSASLSSL }

// listenerName is what Tandem accepts as a listener name: it becomes part of
// listener.name.<name>.<key> keys, so it may not contain a dot.
var listenerName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// ParseListeners parses a listeners or advertised.listeners value
// ("NAME://host:port,..."). Listener names are case-insensitive (Kafka
// upper-cases them); each name may appear once. Which security protocol a
// name stands for is listener.security.protocol.map's business
// (ResolveListeners).
func ParseListeners(value string) ([]Listener, error) {
	items := parseList(value)
	if len(items) == 0 {
		return nil, fmt.Errorf("at least one listener is required")
	}
	out := make([]Listener, 0, len(items))
	seen := make(map[string]bool)
	for _, item := range items {
		l, err := parseEndpoint(item)
		if err != nil {
			return nil, err
		}
		if !listenerName.MatchString(l.Name) {
			return nil, fmt.Errorf("listener %q: a listener name is letters, digits, '_' and '-'", item)
		}
		l.Name = strings.ToUpper(l.Name)
		if seen[l.Name] {
			// Kafka: "Each listener must have a different name".
			return nil, fmt.Errorf("each listener must have a different name; %s appears twice", l.Name)
		}
		seen[l.Name] = true
		out = append(out, l)
	}
	return out, nil
}

// parseBoundListeners is ParseListeners for listeners (not advertised):
// as Kafka (requireDistinctPorts), two listeners may not share a port,
// port 0 aside.
func parseBoundListeners(value string) ([]Listener, error) {
	ls, err := ParseListeners(value)
	if err != nil {
		return nil, err
	}
	ports := map[int]string{}
	for _, l := range ls {
		if l.Port == 0 {
			continue
		}
		if other, dup := ports[l.Port]; dup {
			return nil, fmt.Errorf("each listener must have a different port; %s and %s both use %d", other, l.Name, l.Port)
		}
		ports[l.Port] = l.Name
	}
	return ls, nil
}

// ParseProtocolMap parses listener.security.protocol.map
// ("NAME:PROTOCOL,..."): listener names upper-cased, protocols one of
// Kafka's four (case-insensitive, as Kafka's getSecurityProtocol).
func ParseProtocolMap(value string) (map[string]string, error) {
	out := map[string]string{}
	for _, item := range parseList(value) {
		name, proto, ok := strings.Cut(item, ":")
		name, proto = strings.TrimSpace(name), strings.ToUpper(strings.TrimSpace(proto))
		if !ok || name == "" {
			return nil, fmt.Errorf("map entry %q should be of the form <listener name>:<security protocol>", item)
		}
		if !slices.Contains(securityProtocols, proto) {
			// Kafka's message for an unknown protocol.
			return nil, fmt.Errorf("invalid security protocol `%s` defined in listener.security.protocol.map", proto)
		}
		name = strings.ToUpper(name)
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("listener name %s appears twice", name)
		}
		out[name] = proto
	}
	return out, nil
}

// ResolvedListeners is the Kafka listeners of a broker with their
// protocols and the addresses they advertise.
type ResolvedListeners struct {
	Listeners []Listener
	// Advertised has one entry per Listeners entry, in the same order:
	// advertised.listeners' entry for that name, else the listener itself
	// (an empty host or port 0 is for the server to fill in).
	Advertised []Listener
	Protocols  []string // security protocol of each listener
}

// ResolveListeners applies Kafka's rules to listeners, advertised.listeners
// (may be empty) and listener.security.protocol.map: every listener has a
// protocol in the map, every advertised name is a listener's, and nothing
// advertises the non-routable meta-address. The error names the key at
// fault.
func ResolveListeners(listeners, advertised, protocolMap string) (ResolvedListeners, error) {
	var r ResolvedListeners
	ls, err := parseBoundListeners(listeners)
	if err != nil {
		return r, &KeyError{Key: "listeners", Value: listeners, Err: ErrInvalidValue, Cause: err}
	}
	protos, err := ParseProtocolMap(protocolMap)
	if err != nil {
		return r, &KeyError{Key: "listener.security.protocol.map", Value: protocolMap, Err: ErrInvalidValue, Cause: err}
	}
	byName := map[string]Listener{}
	for _, l := range ls {
		p, ok := protos[l.Name]
		if !ok {
			// Kafka: "No security protocol defined for listener X".
			return r, &KeyError{Key: "listeners", Value: listeners, Err: ErrInvalidValue,
				Cause: fmt.Errorf("no security protocol defined for listener %s: add %s:<protocol> to listener.security.protocol.map", l.Name, l.Name)}
		}
		r.Protocols = append(r.Protocols, p)
		byName[l.Name] = l
	}
	r.Listeners = ls
	adv := map[string]Listener{}
	if strings.TrimSpace(advertised) != "" {
		as, err := ParseListeners(advertised)
		if err != nil {
			return r, &KeyError{Key: "advertised.listeners", Value: advertised, Err: ErrInvalidValue, Cause: err}
		}
		if err := checkAdvertised(as, ls); err != nil {
			return r, &KeyError{Key: "advertised.listeners", Value: advertised, Err: ErrInvalidValue, Cause: err}
		}
		for _, a := range as {
			adv[a.Name] = a
		}
	}
	for _, l := range ls {
		a, ok := adv[l.Name]
		if !ok {
			// Not advertised explicitly: the listener's own address.
			a = l
			if err := checkAdvertised([]Listener{a}, ls); err != nil {
				return r, &KeyError{Key: "listeners", Value: listeners, Err: ErrInvalidValue,
					Cause: fmt.Errorf("%w (set advertised.listeners for %s)", err, l.Name)}
			}
		}
		r.Advertised = append(r.Advertised, a)
	}
	return r, nil
}

// ParseHTTPListeners parses http.listeners ("http://host:port,https://host:port,...").
// An empty value disables the HTTP server and yields no listeners. The
// listener Name is HTTP or HTTPS (served with the http.ssl.* keys).
func ParseHTTPListeners(value string) ([]Listener, error) {
	items := parseList(value)
	out := make([]Listener, 0, len(items))
	seen := make(map[string]bool)
	for _, item := range items {
		l, err := parseEndpoint(item)
		if err != nil {
			return nil, err
		}
		switch strings.ToLower(l.Name) {
		case "http", "https":
		default:
			return nil, fmt.Errorf("http listener %q: scheme must be http or https", item)
		}
		l.Name = strings.ToUpper(l.Name)
		// Port 0 asks for a free port each time: not a duplicate.
		if seen[l.Addr()] && l.Port != 0 {
			return nil, fmt.Errorf("http listener %s appears twice", l.Addr())
		}
		seen[l.Addr()] = true
		out = append(out, l)
	}
	return out, nil
}

// parseEndpoint parses NAME://host:port with an optional bracketed IPv6 host.
func parseEndpoint(s string) (Listener, error) {
	name, hostPort, ok := strings.Cut(s, "://")
	if !ok || name == "" {
		return Listener{}, fmt.Errorf("listener %q: want NAME://host:port", s)
	}
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		return Listener{}, fmt.Errorf("listener %q: want NAME://host:port", s)
	}
	if strings.ContainsAny(host, "/?#@ ") {
		return Listener{}, fmt.Errorf("listener %q: invalid host %q", s, host)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return Listener{}, fmt.Errorf("listener %q: invalid port %q", s, port)
	}
	return Listener{Name: name, Host: host, Port: p}, nil
}

// checkAdvertised applies Kafka's rules for advertised.listeners: each name is
// one of listeners' names, and the non-routable meta-address is refused.
func checkAdvertised(advertised, listeners []Listener) error {
	names := make(map[string]bool, len(listeners))
	var valid []string
	for _, l := range listeners {
		names[l.Name] = true
		valid = append(valid, l.Name)
	}
	for _, a := range advertised {
		if !names[a.Name] {
			// Kafka's message (KafkaConfig.validateValues).
			return fmt.Errorf("advertised.listeners listener names must be equal to or a subset of the ones defined in listeners. "+
				"Found %s. The valid options based on currently configured listeners are %s", a.Name, strings.Join(valid, ","))
		}
		if ip := net.ParseIP(a.Host); ip != nil && ip.IsUnspecified() {
			return fmt.Errorf("advertised listener %s cannot use the nonroutable meta-address %s; use a routable address or host name", a, a.Host)
		}
	}
	return nil
}

// ListenerConfig is one Kafka listener with its security protocol and the
// settings that may be overridden per listener with Kafka's
// listener.name.<name>. prefix (ssl.*, sasl.*, connections.max.reauth.ms).
type ListenerConfig struct {
	Listener
	// SecurityProtocol is PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
	// (listener.security.protocol.map; by default the name itself).
	SecurityProtocol string
	props            map[string]string
}

// NewListenerConfig returns l with its protocol, reading its settings from
// props (the static broker properties).
func NewListenerConfig(l Listener, protocol string, props map[string]string) ListenerConfig {
	return ListenerConfig{Listener: l, SecurityProtocol: protocol, props: props}
}

// Get returns key's value for this listener as Kafka resolves it:
// listener.name.<name>.<key> (name lower-cased) first, then <key>.
func (l ListenerConfig) Get(key string) (string, bool) {
	if v, ok := l.GetOwn(key); ok {
		return v, true
	}
	v, ok := l.props[key]
	return v, ok
}

// GetForMechanism returns a SASL key for one mechanism, as Kafka's
// JaasContext looks up listener.name.<name>.<mechanism>.sasl.jaas.config
// (mechanism lower-cased) before the listener-wide and broker-wide keys.
func (l ListenerConfig) GetForMechanism(mechanism, key string) (string, bool) {
	if v, ok := l.props["listener.name."+strings.ToLower(l.Name)+"."+strings.ToLower(mechanism)+"."+key]; ok {
		return v, true
	}
	return l.Get(key)
}

// checkInterBroker applies Kafka's rules to inter.broker.listener.name and
// security.inter.broker.protocol when either is set: not both, and the
// listener they name (for the protocol: the listener named after it) is
// advertised. A single Tandem node opens no inter-broker connections, so
// nothing else reads them; they are accepted so that a Kafka
// server.properties carries over, and checked so that one Kafka would
// refuse is refused here too.
func checkInterBroker(static map[string]string, rl ResolvedListeners) error {
	name, byName := static["inter.broker.listener.name"]
	proto, byProto := static["security.inter.broker.protocol"]
	key, value := "inter.broker.listener.name", name
	switch {
	case byName && byProto:
		return &KeyError{Key: key, Value: name, Err: ErrInvalidValue,
			Cause: fmt.Errorf("only one of inter.broker.listener.name and security.inter.broker.protocol should be set")}
	case byProto:
		key, value, name = "security.inter.broker.protocol", proto, proto
	case !byName:
		return nil
	}
	name = strings.ToUpper(strings.TrimSpace(name))
	var valid []string
	for _, a := range rl.Advertised {
		if a.Name == name {
			return nil
		}
		valid = append(valid, a.Name)
	}
	return &KeyError{Key: key, Value: value, Err: ErrInvalidValue,
		Cause: fmt.Errorf("inter.broker.listener.name must be a listener name defined in advertised.listeners. "+
			"The valid options based on currently configured listeners are %s", strings.Join(valid, ","))}
}

// listenerPrefix starts Kafka's per-listener keys:
// listener.name.<listener name, lower case>.<key>.
const listenerPrefix = "listener.name."

// perListenerKey says whether key may be set per listener: as Kafka's
// listener-prefixed configs, every ssl.* and sasl.* key and
// connections.max.reauth.ms (KIP-368), when Tandem defines it; and
// Tandem's own connections.authentication.timeout.ms, which the server
// reads per listener too.
func perListenerKey(key string) bool {
	if _, ok := brokerRegistry.Lookup(key); !ok {
		return false
	}
	return strings.HasPrefix(key, "ssl.") || strings.HasPrefix(key, "sasl.") ||
		key == "connections.max.reauth.ms" || key == "connections.authentication.timeout.ms"
}

// saslMechanismKey matches <mechanism>.sasl.jaas.config, the JAAS
// configuration of one SASL mechanism (Kafka's JaasContext looks up
// listener.name.<listener>.<mechanism>.sasl.jaas.config, mechanism lower-cased),
// and <mechanism>.connections.max.reauth.ms (Kafka reads the session
// lifetime per listener and mechanism too, KIP-368).
var saslMechanismKey = regexp.MustCompile(`^([a-z0-9_-]+)\.(sasl\.jaas\.config|connections\.max\.reauth\.ms)$`)

// validListenerOverride checks a listener.name.<listener>.<key> setting:
// the listener is one of listeners (names, upper-cased; nil skips the
// check because listeners itself is invalid), the key may be set per
// listener, and the value is valid for it.
func validListenerOverride(key, value string, names map[string]bool) error {
	rest := strings.TrimPrefix(key, listenerPrefix)
	name, sub, ok := strings.Cut(rest, ".")
	if !ok || name == "" || sub == "" {
		return &KeyError{Key: key, Err: ErrUnknownConfig,
			Cause: fmt.Errorf("want listener.name.<listener>.<config>")}
	}
	if name != strings.ToLower(name) {
		// Kafka reads only the lower-case prefix (ListenerName.configPrefix),
		// so an upper-case one would be silently ignored there.
		return &KeyError{Key: key, Err: ErrUnknownConfig,
			Cause: fmt.Errorf("the listener name in a listener.name. key is lower case: %s%s.%s", listenerPrefix, strings.ToLower(name), sub)}
	}
	if names != nil && !names[strings.ToUpper(name)] {
		return &KeyError{Key: key, Err: ErrUnknownConfig,
			Cause: fmt.Errorf("%s is not one of listeners", strings.ToUpper(name))}
	}
	target := sub
	if m := saslMechanismKey.FindStringSubmatch(sub); m != nil {
		target = m[2]
	} else if !perListenerKey(sub) {
		return &KeyError{Key: key, Err: ErrUnknownConfig,
			Cause: fmt.Errorf("%s cannot be set per listener (only ssl.*, sasl.* and connections.max.reauth.ms, and <mechanism>.sasl.jaas.config and <mechanism>.connections.max.reauth.ms)", sub)}
	}
	if _, defined := brokerRegistry.Lookup(target); !defined {
		// <mechanism>.sasl.jaas.config before sasl.jaas.config is
		// defined: nothing would read it.
		return &KeyError{Key: key, Err: ErrUnknownConfig, Cause: fmt.Errorf("%s is not a config Tandem defines", target)}
	}
	if err := brokerRegistry.Validate(target, value); err != nil {
		var ke *KeyError
		if errors.As(err, &ke) {
			out := *ke
			out.Key = key
			return &out
		}
		return err
	}
	return nil
}

// listenerNames returns the upper-cased names of a listeners value, or
// nil when it does not parse.
func listenerNames(listeners string) map[string]bool {
	ls, err := ParseListeners(listeners)
	if err != nil {
		return nil
	}
	out := make(map[string]bool, len(ls))
	for _, l := range ls {
		out[l.Name] = true
	}
	return out
}

// Values Kafka accepts for ssl.* keys that name a Java implementation;
// Go's crypto/tls has one of each, so only Kafka's default is accepted.
func javaDefaultOnly(def string) func(string) error {
	return func(v string) error {
		if v = strings.TrimSpace(v); v == "" || v == def {
			return nil
		}
		return fmt.Errorf("%q is %w: Tandem uses Go's TLS implementation (only %s)", v, ErrNotSupported, def)
	}
}

// javaNullOnly refuses any value of a key whose only honourable value is
// Kafka's null default (a Java class or provider name).
func javaNullOnly(v string) error {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	return fmt.Errorf("%w: Tandem uses Go's TLS implementation, not a Java provider or class", ErrNotSupported)
}

func validStoreType(v string) error {
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "JKS", "PKCS12", "PEM":
		return nil
	}
	return fmt.Errorf("store type must be one of: JKS, PKCS12, PEM")
}

func validTLSProtocols(v string) error {
	for _, p := range parseList(v) {
		switch p {
		case "TLSv1.2", "TLSv1.3":
		case "TLSv1", "TLSv1.1", "SSLv3":
			return fmt.Errorf("%s is %w (TLSv1.2 and TLSv1.3 only; Kafka disables older protocols too)", p, ErrNotSupported)
		default:
			return fmt.Errorf("unknown TLS protocol %q (TLSv1.2, TLSv1.3)", p)
		}
	}
	return nil
}

func validSSLProtocol(v string) error {
	switch strings.TrimSpace(v) {
	case "TLSv1.2", "TLSv1.3", "TLS":
		return nil
	}
	return fmt.Errorf("ssl.protocol must be one of: TLSv1.3, TLSv1.2, TLS")
}

// listenerDefList holds the broker keys of listeners and their TLS
// settings (Kafka's SocketServerConfigs and BrokerSecurityConfigs /
// SslConfigs), with Kafka's names and defaults. The ssl.* keys apply to
// SSL and SASL_SSL listeners, each overridable per listener with
// listener.name.<listener>.; internal/tlsconf reads them.
var listenerDefList = []Def{
	{Name: "listener.security.protocol.map", Type: TypeString, Default: DefaultSecurityProtocolMap, HasDefault: true, ReadOnly: true,
		Validate: func(v string) error { _, err := ParseProtocolMap(v); return err },
		Doc: "Maps listener names to security protocols (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL), as " +
			"NAME:PROTOCOL pairs separated by commas, e.g. INTERNAL:SASL_SSL,EXTERNAL:SSL. The default maps the four " +
			"protocol names to themselves; a listener with any other name needs an entry. Settings of one listener " +
			"are set with the prefix listener.name.<name in lower case>., e.g. listener.name.internal.ssl.keystore.location."},
	{Name: "inter.broker.listener.name", Type: TypeString, ReadOnly: true,
		Doc: "The listener brokers of a cluster use to reach each other; must be one of the advertised listeners. " +
			"A single Tandem node has no other brokers to reach, so it only checks the value, as Kafka does, for a " +
			"Kafka server.properties to carry over."},
	{Name: "security.inter.broker.protocol", Type: TypeString, Default: ProtocolPlaintext, HasDefault: true, ReadOnly: true,
		Validate: func(v string) error { return oneOf(securityProtocols...)(strings.ToUpper(v)) },
		Doc: "The security protocol brokers of a cluster use to reach each other (the listener of that name); " +
			"not to be set with inter.broker.listener.name. Checked only when set, as a single Tandem node opens " +
			"no inter-broker connections."},
	{Name: "ssl.keystore.type", Type: TypeString, Default: "JKS", HasDefault: true, ReadOnly: true,
		Validate: validStoreType,
		Doc:      "The format of the key store: JKS, PKCS12 or PEM."},
	{Name: "ssl.keystore.location", Type: TypeString, ReadOnly: true,
		Doc: "The key store file (the broker's certificate chain and private key). Re-read when it changes."},
	{Name: "ssl.keystore.password", Type: TypePassword, ReadOnly: true, Sensitive: true,
		Doc: "The password of the key store file (JKS and PKCS12; for PEM files it decrypts the key)."},
	{Name: "ssl.key.password", Type: TypePassword, ReadOnly: true, Sensitive: true,
		Doc: "The password of the private key in the key store file, or of ssl.keystore.key."},
	{Name: "ssl.keystore.key", Type: TypePassword, ReadOnly: true, Sensitive: true,
		Doc: "The private key in PEM (PKCS#8) form, with ssl.keystore.type=PEM and ssl.keystore.certificate.chain, " +
			"instead of a key store file."},
	{Name: "ssl.keystore.certificate.chain", Type: TypePassword, ReadOnly: true, Sensitive: true,
		Doc: "The certificate chain in PEM form, with ssl.keystore.type=PEM and ssl.keystore.key."},
	{Name: "ssl.truststore.type", Type: TypeString, Default: "JKS", HasDefault: true, ReadOnly: true,
		Validate: validStoreType,
		Doc:      "The format of the trust store: JKS, PKCS12 or PEM."},
	{Name: "ssl.truststore.location", Type: TypeString, ReadOnly: true,
		Doc: "The trust store file: the certificate authorities client certificates are verified against. Re-read when it changes."},
	{Name: "ssl.truststore.password", Type: TypePassword, ReadOnly: true, Sensitive: true,
		Doc: "The password of the trust store file."},
	{Name: "ssl.truststore.certificates", Type: TypePassword, ReadOnly: true, Sensitive: true,
		Doc: "Trusted certificates in PEM form, with ssl.truststore.type=PEM, instead of a trust store file."},
	{Name: "ssl.client.auth", Type: TypeString, Default: "none", HasDefault: true, ReadOnly: true,
		Validate: oneOf("required", "requested", "none"),
		Doc: "Whether clients of SSL listeners present a certificate: required (the handshake fails without a " +
			"trusted one), requested (verified when presented) or none. Ignored on SASL_SSL listeners unless set " +
			"there with listener.name.<name>.ssl.client.auth, as in Kafka."},
	{Name: "ssl.enabled.protocols", Type: TypeList, Default: "TLSv1.2,TLSv1.3", HasDefault: true, ReadOnly: true,
		Validate: validTLSProtocols,
		Doc:      "The TLS versions accepted: TLSv1.2 and/or TLSv1.3."},
	{Name: "ssl.protocol", Type: TypeString, Default: "TLSv1.3", HasDefault: true, ReadOnly: true,
		Validate: validSSLProtocol,
		Doc:      "The SSLContext protocol, as in Java: TLSv1.2 caps the versions of ssl.enabled.protocols at TLS 1.2; TLSv1.3 and TLS do not."},
	{Name: "ssl.cipher.suites", Type: TypeList, ReadOnly: true,
		Doc: "The TLS 1.2 cipher suites accepted, by IANA name (e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256); empty: " +
			"Go's secure defaults. TLS 1.3 suites are not configurable in Go."},
	{Name: "ssl.principal.mapping.rules", Type: TypeString, Default: "DEFAULT", HasDefault: true, ReadOnly: true,
		Doc: "Rules mapping the distinguished name of a client certificate to a principal name, as Kafka's " +
			"(RULE:pattern/replacement/[LU], DEFAULT); the principal is User:<name>."},
	{Name: "ssl.endpoint.identification.algorithm", Type: TypeString, Default: "https", HasDefault: true, ReadOnly: true,
		Validate: oneOf("https", ""),
		Doc: "For TLS connections a broker makes as a client to other brokers of its cluster (a single Tandem node " +
			"makes none; cluster links have their own key): https verifies the server's host name, empty does not. " +
			"Listeners never verify client host names, as in Kafka."},
	{Name: "ssl.keymanager.algorithm", Type: TypeString, Default: "SunX509", HasDefault: true, ReadOnly: true,
		Validate: javaDefaultOnly("SunX509"),
		Doc:      "Kafka's Java key manager algorithm; accepted only at its default (Tandem uses Go's TLS)."},
	{Name: "ssl.trustmanager.algorithm", Type: TypeString, Default: "PKIX", HasDefault: true, ReadOnly: true,
		Validate: javaDefaultOnly("PKIX"),
		Doc:      "Kafka's Java trust manager algorithm; accepted only at its default, PKIX (Tandem uses Go's X.509 verification)."},
	{Name: "ssl.provider", Type: TypeString, ReadOnly: true, Validate: javaNullOnly,
		Doc: "Kafka's Java security provider; not settable in Tandem (Go's TLS)."},
	{Name: "ssl.secure.random.implementation", Type: TypeString, ReadOnly: true, Validate: javaNullOnly,
		Doc: "Kafka's Java SecureRandom implementation; not settable in Tandem (Go's crypto/rand)."},
	{Name: "ssl.engine.factory.class", Type: TypeString, ReadOnly: true, Validate: javaNullOnly,
		Doc: "Kafka's pluggable Java SSL engine factory; not settable in Tandem."},
}

// GetOwn returns key's value only when set for this listener
// (listener.name.<name>.<key>), ignoring the broker-wide value.
func (l ListenerConfig) GetOwn(key string) (string, bool) {
	v, ok := l.props[listenerPrefix+strings.ToLower(l.Name)+"."+key]
	return v, ok
}
