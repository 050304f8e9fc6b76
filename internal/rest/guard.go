package rest

import (
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/tandem-streaming/tandem/internal/ratelog"
)

// Authentication is opt-in (authn.go) and off by default, so the HTTP
// surface itself must not be usable from a web page the operator happens
// to open:
//
//   - A page can POST cross-site without a CORS preflight only with a
//     "simple" Content-Type (text/plain, form encodings). Every request
//     with a body here must be application/json (415 otherwise, before
//     anything is read or changed), as Confluent REST's JAX-RS resources
//     (@Consumes(APPLICATION_JSON)) answer; the API answers no preflight,
//     so a browser never sends a cross-site JSON POST.
//   - DNS rebinding points an attacker's name at 127.0.0.1, making the
//     browser treat this API as same-origin with the attacker's page; the
//     Host header then still carries the attacker's name. HostPolicy
//     admits only names the operator configured (checkHost).

// jsonBody reports whether the request declares a JSON body:
// application/json or an application/*+json type, parameters (charset)
// allowed.
func jsonBody(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// needsJSON reports whether the method carries a request body in this API.
// Every POST, PUT and PATCH route takes a JSON body; DELETE and GET take
// none (and cannot be sent cross-site with a body by a browser anyway).
func needsJSON(method string) bool {
	return method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch
}

// unsupportedMediaType is the 415 answer, in the Confluent error shape.
func unsupportedMediaType(r *http.Request) *apiError {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return httpError(http.StatusUnsupportedMediaType,
			"HTTP 415 Unsupported Media Type: %s needs a JSON body with Content-Type: application/json", r.Method)
	}
	return httpError(http.StatusUnsupportedMediaType,
		"HTTP 415 Unsupported Media Type: Content-Type %s is not application/json", strconv.Quote(truncate(ct, 100)))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// HostPolicy decides which Host header values the HTTP API answers.
// IP literals and the loopback names are always admitted: DNS rebinding
// needs a domain name the attacker controls, so a Host that is an address
// (or localhost, which no public resolver serves) cannot come from it.
type HostPolicy struct {
	any      bool
	names    map[string]bool
	suffixes []string // ".corp.example" for "*.corp.example"
}

// NewHostPolicy admits the given host names (listener and advertised
// hosts, this machine's name) plus allowed (http.allowed.hosts: names,
// "*.domain", or "*" for any). Empty and wildcard-address hosts are
// ignored: they name no host a client would type.
func NewHostPolicy(hosts, allowed []string) *HostPolicy {
	p := &HostPolicy{names: map[string]bool{"localhost": true}}
	for _, h := range hosts {
		h = normHost(h)
		if h == "" || net.ParseIP(h) != nil {
			continue // addresses are admitted anyway
		}
		p.names[h] = true
	}
	for _, a := range allowed {
		a = normHost(a)
		switch {
		case a == "*":
			p.any = true
		case strings.HasPrefix(a, "*."):
			p.suffixes = append(p.suffixes, a[1:])
		case a != "":
			p.names[a] = true
		}
	}
	return p
}

// normHost lower-cases a host name and drops a trailing dot (an absolute
// DNS name is the same host).
func normHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
}

// Allows reports whether a request with this Host header is answered.
// The port is not compared: the listener that accepted the connection
// fixed it, and a rebinding attacker can use any port anyway.
func (p *HostPolicy) Allows(hostHeader string) bool {
	if p == nil || p.any {
		return true
	}
	host := hostHeader
	if h, _, err := net.SplitHostPort(hostHeader); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" {
		// HTTP/1.0 without Host: no browser sends that (net/http
		// already refuses HTTP/1.1 without Host).
		return true
	}
	if net.ParseIP(host) != nil {
		return true
	}
	host = normHost(host)
	if p.names[host] || strings.HasSuffix(host, ".localhost") {
		return true
	}
	for _, s := range p.suffixes {
		if strings.HasSuffix(host, s) {
			return true
		}
	}
	return false
}

// CheckHost wraps next (the whole HTTP surface: the API, /metrics, pprof)
// so that a request whose Host p does not admit is answered 421 Misdirected
// Request (RFC 9110 §15.5.20: this server is not configured to answer for
// that authority) with a Confluent error body, before next runs. 421
// rather than 403: nothing about the client is refused, only the name it
// used, and the message says which key admits it. warn is called (it should
// be rate-limited) for each refusal; it may be nil.
func CheckHost(next http.Handler, p *HostPolicy, warn func(r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.Allows(r.Host) {
			next.ServeHTTP(w, r)
			return
		}
		if warn != nil {
			warn(r)
		}
		// The connection may carry further requests with other Host
		// values; closing it keeps one refusal per connection cheap.
		w.Header().Set("Connection", "close")
		WriteJSON(w, http.StatusMisdirectedRequest, errorBody{
			ErrorCode: http.StatusMisdirectedRequest,
			Message: "HTTP 421 Misdirected Request: host " + quoteHost(r.Host) +
				" is not one this broker answers to; add it to http.allowed.hosts",
		})
	})
}

func quoteHost(h string) string { return strconv.Quote(truncate(h, 100)) }

// LogHostRefusal is a CheckHost warn function that logs through logger
// (rate-limited: a refusal is one line per request).
func LogHostRefusal(logger *ratelog.Logger) func(*http.Request) {
	return func(r *http.Request) {
		logger.Warn("http: refused request for unknown host (see http.allowed.hosts)",
			"host", truncate(r.Host, 100), "method", r.Method, "path", truncate(r.URL.Path, 200), "remote", r.RemoteAddr)
	}
}
