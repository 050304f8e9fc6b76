// Package restclient is a small client for Tandem's REST v3 API
// (/kafka/v3, cluster-linking.md §5), shared by the `tandem link|mirror`
// CLI and the benchmarks that drive cluster links. The bodies it sends and
// reads are the internal/restapi types.
package restclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tandem-streaming/tandem/internal/restapi"
	"github.com/tandem-streaming/tandem/internal/usererr"
)

// ErrUnreachable wraps a transport failure (nothing answered).
var ErrUnreachable = errors.New("cannot reach the HTTP API")

// Error is an error answer of the API ({"error_code","message"}).
type Error struct {
	Status  int
	Code    int
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s (error code %d)", e.Message, e.Code) }

// Client talks to one broker's /kafka/v3 API.
type Client struct {
	// Base is scheme://host[:port][/prefix], without a trailing slash.
	Base      string
	hc        *http.Client
	userAgent string
	clusterID string // discovered on first use
	auth      Auth
}

// Auth is what a secured HTTP API asks of its clients
// (http.authentication.method, https http.listeners).
type Auth struct {
	// User and Password are sent as HTTP Basic credentials when User is
	// set (http.authentication.method=BASIC).
	User, Password string
	// TLS, when set, is used for https URLs: the CAs the server's
	// certificate is verified with and, for MTLS, the client certificate.
	TLS *tls.Config
}

// SetAuth makes every later request carry a's credentials.
func (c *Client) SetAuth(a Auth) {
	c.auth = a
	if a.TLS != nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = a.TLS
		c.hc.Transport = tr
	}
}

// NormalizeURL accepts host:port, http(s)://host:port, and URLs ending in
// /kafka or /kafka/v3 (as the confluent CLI's --url does for the embedded
// REST API, §6.2), and returns the base the API paths are appended to.
func NormalizeURL(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", errors.New("the REST URL is empty")
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("invalid REST URL %q: want http://HOST:PORT", raw)
	}
	p := strings.TrimRight(u.Path, "/")
	p = strings.TrimSuffix(p, "/v3")
	p = strings.TrimSuffix(p, "/kafka")
	u.Path, u.RawPath, u.RawQuery, u.Fragment = p, "", "", ""
	return strings.TrimRight(u.String(), "/"), nil
}

// New returns a client for raw (see NormalizeURL); timeout bounds one
// request.
func New(raw, userAgent string, timeout time.Duration) (*Client, error) {
	base, err := NormalizeURL(raw)
	if err != nil {
		return nil, err
	}
	return &Client{Base: base, hc: &http.Client{Timeout: timeout}, userAgent: userAgent}, nil
}

// Do sends one request. path is below /kafka/v3; body, when non-nil, is
// sent as JSON; out, when non-nil, receives the JSON answer. An error
// answer is an *Error; a transport failure wraps ErrUnreachable.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	target := c.Base + "/kafka/v3" + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.auth.User != "" {
		req.SetBasicAuth(c.auth.User, c.auth.Password)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return usererr.New(ErrUnreachable, "cannot reach the HTTP API at %s: %w", c.Base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		// error_code is never 0, so 0 means the answer is not an
		// error body (a proxy's page, say).
		var eb restapi.ErrorBody
		if json.Unmarshal(data, &eb) == nil && eb.ErrorCode != 0 && eb.Message != "" {
			return &Error{Status: resp.StatusCode, Code: eb.ErrorCode, Message: eb.Message}
		}
		msg := strings.TrimSpace(string(data))
		if msg == "" || !utf8.ValidString(msg) || len(msg) > 500 {
			msg = http.StatusText(resp.StatusCode)
		}
		return &Error{Status: resp.StatusCode, Code: resp.StatusCode, Message: msg}
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: unexpected answer: %w", method, path, err)
	}
	return nil
}

// Cluster returns the cluster id, from GET /kafka/v3/clusters (data[0],
// as the confluent CLI does for Confluent Platform, §6.2).
func (c *Client) Cluster(ctx context.Context) (string, error) {
	if c.clusterID != "" {
		return c.clusterID, nil
	}
	var list restapi.List[restapi.Cluster]
	if err := c.Do(ctx, http.MethodGet, "/clusters", nil, nil, &list); err != nil {
		return "", err
	}
	if len(list.Data) == 0 || list.Data[0].ClusterID == "" {
		return "", fmt.Errorf("no clusters found at %s", c.Base)
	}
	c.clusterID = list.Data[0].ClusterID
	return c.clusterID, nil
}

// InCluster is Do for a path below /kafka/v3/clusters/{cluster_id}.
func (c *Client) InCluster(ctx context.Context, method, path string, query url.Values, body, out any) error {
	cid, err := c.Cluster(ctx)
	if err != nil {
		return err
	}
	return c.Do(ctx, method, "/clusters/"+url.PathEscape(cid)+path, query, body, out)
}
