package main

// Shared plumbing of `tandem link` and `tandem mirror`: a small client for
// Tandem's REST v3 API (cluster-linking.md §5), the --url / -o flags, and
// the human (aligned tables, like the confluent CLI's), JSON and YAML
// output.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/tandem-streaming/tandem/internal/config"
	"github.com/tandem-streaming/tandem/internal/restclient"
	"github.com/tandem-streaming/tandem/internal/usererr"
)

const (
	defaultRESTURL = "http://127.0.0.1:8090"
	restURLEnv     = "TANDEM_URL"
	// confluentURLEnv is the confluent CLI's variable for the same URL
	// (cluster-linking.md §6.2), read after TANDEM_URL so that a shell
	// set up for the confluent CLI needs nothing more.
	confluentURLEnv = "CONFLUENT_REST_URL"
	// urlSources is where the URL comes from, for help and hints.
	urlSources = "--url, $" + restURLEnv + " or $" + confluentURLEnv
	// restTimeout bounds one request. Creating a link with validation
	// makes the broker reach the source cluster, so leave it room.
	restTimeout = 60 * time.Second
)

// clientFlags are the flags every link and mirror command has.
type clientFlags struct {
	url    string
	output string
	auth   authFlags // credentials for a secured HTTP API (httpauth.go)
}

func (f *clientFlags) register(cmd *cobra.Command) {
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.url, "url", defaultRESTURL,
		"Tandem HTTP API URL (when not given: $"+restURLEnv+", else $"+confluentURLEnv+")")
	pf.StringVarP(&f.output, "output", "o", "human", "output format: human, json or yaml")
	f.auth.register(pf)
}

// session is what a command needs to talk to the broker and print.
type session struct {
	c   *restClient
	out printer
	err io.Writer // warnings
}

// newSession resolves the flags: the URL from --url, else TANDEM_URL,
// else CONFLUENT_REST_URL, else the default.
func (f *clientFlags) newSession(cmd *cobra.Command) (*session, error) {
	p, err := newPrinter(cmd.OutOrStdout(), f.output)
	if err != nil {
		return nil, err
	}
	c, err := newRESTClient(f.restURL(cmd))
	if err != nil {
		return nil, err
	}
	a, err := f.auth.resolve(cmd)
	if err != nil {
		return nil, err
	}
	c.SetAuth(a)
	return &session{c: c, out: p, err: cmd.ErrOrStderr()}, nil
}

// restURL is the URL to use: the flag when given, else the first
// environment variable set to something, else the flag's default.
func (f *clientFlags) restURL(cmd *cobra.Command) string {
	if cmd.Flags().Changed("url") {
		return f.url
	}
	for _, env := range []string{restURLEnv, confluentURLEnv} {
		if v := strings.TrimSpace(os.Getenv(env)); v != "" {
			return v
		}
	}
	return f.url
}

// restClient is the shared REST client with the CLI's error wording.
type restClient struct{ *restclient.Client }

// restError is an error answer of the API.
type restError = restclient.Error

// normalizeRESTURL is restclient.NormalizeURL with the CLI's hint.
func normalizeRESTURL(raw string) (string, error) {
	if strings.TrimSpace(raw) == "" {
		return "", errors.New("the REST URL is empty (set " + urlSources + ")")
	}
	return restclient.NormalizeURL(raw)
}

func newRESTClient(raw string) (*restClient, error) {
	if _, err := normalizeRESTURL(raw); err != nil {
		return nil, err
	}
	c, err := restclient.New(raw, "tandem-cli/"+version, restTimeout)
	if err != nil {
		return nil, err
	}
	return &restClient{c}, nil
}

// hint adds what to do when nothing answered.
func (c *restClient) hint(err error) error {
	if errors.Is(err, restclient.ErrUnreachable) {
		var cause error = err
		if ue, ok := errors.AsType[*url.Error](err); ok {
			cause = ue.Err // "dial tcp ...: connection refused", without the request
		}
		if h := tlsHint(err); h != "" {
			return usererr.New(err, "cannot talk TLS to the Tandem HTTP API at %s: %v (%s)", c.Base, cause, h)
		}
		return usererr.New(err, "cannot reach the Tandem HTTP API at %s (is the broker running? set %s): %v",
			c.Base, urlSources, cause)
	}
	return authHint(err)
}

func (c *restClient) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	return c.hint(c.Do(ctx, method, path, query, body, out))
}

func (c *restClient) cluster(ctx context.Context) (string, error) {
	id, err := c.Cluster(ctx)
	return id, c.hint(err)
}

func (c *restClient) inCluster(ctx context.Context, method, path string, query url.Values, body, out any) error {
	return c.hint(c.InCluster(ctx, method, path, query, body, out))
}

// linkPath is /links/{name}, escaped.
func linkPath(name string) string { return "/links/" + url.PathEscape(name) }

// --config values: k=v[,k=v...] or a Java-properties file.

// parseConfigFlags merges --config values. A value with "=" is a list of
// k=v pairs separated by commas; a comma-separated piece without "=" is
// part of the previous value (so JSON filters with commas work). A value
// without "=" is a properties file. Later values win.
func parseConfigFlags(values []string) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range values {
		if !strings.Contains(v, "=") {
			props, err := readPropertiesFile(v)
			if err != nil {
				return nil, err
			}
			for k, pv := range props {
				out[k] = pv
			}
			continue
		}
		var pairs []string
		for piece := range strings.SplitSeq(v, ",") {
			if len(pairs) > 0 && !strings.Contains(piece, "=") {
				pairs[len(pairs)-1] += "," + piece
				continue
			}
			pairs = append(pairs, piece)
		}
		for _, p := range pairs {
			k, pv, _ := strings.Cut(p, "=")
			k = strings.TrimSpace(k)
			if k == "" {
				return nil, fmt.Errorf("--config %q: %q has no name before '='", v, p)
			}
			out[k] = pv
		}
	}
	return out, nil
}

func readPropertiesFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("--config %q: not NAME=VALUE and no such properties file", path)
		}
		return nil, fmt.Errorf("--config: %w", err)
	}
	defer f.Close()
	props, err := config.ParseProperties(f)
	if err != nil {
		return nil, fmt.Errorf("--config %s: %w", path, err)
	}
	return props, nil
}

// Output.

type printer struct {
	w      io.Writer
	format string // human, json, yaml
}

func newPrinter(w io.Writer, format string) (printer, error) {
	switch format {
	case "human", "json", "yaml":
		return printer{w: w, format: format}, nil
	}
	return printer{}, fmt.Errorf("invalid --output %q: want human, json or yaml", format)
}

func (p printer) human() bool { return p.format == "human" }

// structured prints v as JSON (indented) or YAML.
func (p printer) structured(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if p.format == "yaml" {
		y, err := jsonToYAML(b)
		if err != nil {
			return err
		}
		_, err = io.WriteString(p.w, y)
		return err
	}
	_, err = fmt.Fprintf(p.w, "%s\n", b)
	return err
}

func (p printer) printf(format string, args ...any) {
	fmt.Fprintf(p.w, format, args...)
}

// table prints rows under headers, columns padded and separated by " | ",
// with a dashed rule under the header, like `confluent ... list`.
func (p printer) table(headers []string, rows [][]string) {
	widths := make([]int, len(headers))
	for i, h := range headers {
		widths[i] = utf8.RuneCountInString(h)
	}
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		for i, c := range cells {
			if i > 0 {
				b.WriteString(" | ")
			} else {
				b.WriteString("  ")
			}
			b.WriteString(c)
			if i < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)))
			}
		}
		fmt.Fprintln(p.w, strings.TrimRight(b.String(), " "))
	}
	line(headers)
	var rule strings.Builder
	for i, w := range widths {
		if i > 0 {
			rule.WriteString("+")
		}
		if i == 0 {
			w++ // the two-space indent, less the separator's leading space
		}
		rule.WriteString(strings.Repeat("-", w+2))
	}
	fmt.Fprintln(p.w, rule.String())
	for _, r := range rows {
		line(r)
	}
}

// fields prints name/value pairs in a box, like `confluent ... describe`.
func (p printer) fields(pairs [][2]string) {
	var wk, wv int
	for _, kv := range pairs {
		wk = max(wk, utf8.RuneCountInString(kv[0]))
		wv = max(wv, utf8.RuneCountInString(kv[1]))
	}
	rule := "+" + strings.Repeat("-", wk+2) + "+" + strings.Repeat("-", wv+2) + "+"
	fmt.Fprintln(p.w, rule)
	for _, kv := range pairs {
		fmt.Fprintf(p.w, "| %s%s | %s%s |\n",
			kv[0], strings.Repeat(" ", wk-utf8.RuneCountInString(kv[0])),
			kv[1], strings.Repeat(" ", wv-utf8.RuneCountInString(kv[1])))
	}
	fmt.Fprintln(p.w, rule)
}

func i64(n int64) string { return strconv.FormatInt(n, 10) }

// YAML. The shapes printed are plain JSON trees, so they are written from
// their JSON encoding (keeping key order): objects become block mappings,
// arrays block sequences, and strings are plain only when YAML would read
// them back as the same string; otherwise they are double-quoted with
// JSON's escapes, which are also YAML's.

type yamlNode struct {
	scalar string // set for scalars (already YAML text)
	isObj  bool
	isArr  bool
	keys   []string
	kids   []*yamlNode
}

func jsonToYAML(data []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := readYAMLNode(dec)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if n.scalar != "" || len(n.kids) == 0 {
		b.WriteString(n.inline())
		b.WriteString("\n")
	} else {
		n.write(&b, 0)
	}
	return b.String(), nil
}

func readYAMLNode(dec *json.Decoder) (*yamlNode, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		n := &yamlNode{isObj: t == '{', isArr: t == '['}
		for dec.More() {
			if n.isObj {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, kt.(string))
			}
			kid, err := readYAMLNode(dec)
			if err != nil {
				return nil, err
			}
			n.kids = append(n.kids, kid)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
		return n, nil
	case string:
		return &yamlNode{scalar: yamlString(t)}, nil
	case json.Number:
		return &yamlNode{scalar: t.String()}, nil
	case bool:
		return &yamlNode{scalar: strconv.FormatBool(t)}, nil
	case nil:
		return &yamlNode{scalar: "null"}, nil
	}
	return nil, fmt.Errorf("yaml: unexpected JSON token %v", tok)
}

// inline is the one-line form of a scalar or an empty collection.
func (n *yamlNode) inline() string {
	switch {
	case n.isObj:
		return "{}"
	case n.isArr:
		return "[]"
	}
	return n.scalar
}

func (n *yamlNode) simple() bool { return !(n.isObj || n.isArr) || len(n.kids) == 0 }

// write writes a non-empty collection as a block at indent.
func (n *yamlNode) write(b *strings.Builder, indent int) {
	pad := strings.Repeat(" ", indent)
	for i, kid := range n.kids {
		var head string
		if n.isObj {
			head = pad + yamlString(n.keys[i]) + ":"
		} else {
			head = pad + "-"
		}
		if kid.simple() {
			b.WriteString(head + " " + kid.inline() + "\n")
			continue
		}
		if n.isObj {
			b.WriteString(head + "\n")
			kid.write(b, indent+2)
			continue
		}
		// A collection inside a sequence starts on the dash's line.
		var sub strings.Builder
		kid.write(&sub, indent+2)
		b.WriteString(pad + "- " + sub.String()[indent+2:])
	}
}

// yamlString writes s as a plain scalar when that is unambiguous, else
// double-quoted.
func yamlString(s string) string {
	if yamlPlainOK(s) {
		return s
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// yamlPlainOK: starts with a letter, holds only letters, digits and
// _ . / - and ":" (never ": "), and is not a word YAML 1.1 reads as a
// boolean or null.
func yamlPlainOK(s string) bool {
	if s == "" {
		return false
	}
	c := s[0]
	if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '_' || c == '.' || c == '/' || c == '-':
		case c == ':' && i+1 < len(s) && s[i+1] != ' ':
		default:
			return false
		}
	}
	switch strings.ToLower(s) {
	case "y", "n", "yes", "no", "on", "off", "true", "false", "null":
		return false
	}
	return true
}
