package config

import (
	"fmt"
	"net"
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

// kafkaSecurityProtocols are the names Kafka maps to themselves in its default
// listener.security.protocol.map. Only PLAINTEXT is served for now.
var kafkaSecurityProtocols = map[string]bool{
	"PLAINTEXT":      true,
	"SSL":            false,
	"SASL_PLAINTEXT": false,
	"SASL_SSL":       false,
}

// ParseListeners parses a listeners value ("PLAINTEXT://host:port,...").
// Listener names are case-insensitive (Kafka upper-cases them); each name may
// appear once. Only PLAINTEXT is supported; SSL and SASL listeners fail with
// an error wrapping ErrNotSupported.
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
		l.Name = strings.ToUpper(l.Name)
		supported, known := kafkaSecurityProtocols[l.Name]
		switch {
		case !known:
			// Custom listener names need listener.security.protocol.map.
			return nil, fmt.Errorf("listener %q: no security protocol is defined for listener name %s (listener.security.protocol.map is %w)", item, l.Name, ErrNotSupported)
		case !supported:
			return nil, fmt.Errorf("listener %q: security protocol %s is %w (only PLAINTEXT)", item, l.Name, ErrNotSupported)
		}
		if seen[l.Name] {
			return nil, fmt.Errorf("each listener must have a different name; %s appears twice", l.Name)
		}
		seen[l.Name] = true
		out = append(out, l)
	}
	return out, nil
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
		if seen[l.Addr()] {
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
	for _, l := range listeners {
		names[l.Name] = true
	}
	for _, a := range advertised {
		if !names[a.Name] {
			return fmt.Errorf("advertised listener %s is not one of listeners", a.Name)
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
	if v, ok := l.props["listener.name."+strings.ToLower(l.Name)+"."+key]; ok {
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
