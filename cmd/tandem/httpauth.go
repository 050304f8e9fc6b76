package main

// Credentials for a secured HTTP API (docs/security.md): HTTP Basic for
// http.authentication.method=BASIC, a CA for https http.listeners, and a
// client certificate for MTLS. The flag names of the TLS files are the
// confluent CLI's (--ca-cert-path, --client-cert-path, --client-key-path).
// Each flag falls back to an environment variable, so a password need not
// be typed where ps and the shell history show it.

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tandem-streaming/tandem/internal/restclient"
	"github.com/tandem-streaming/tandem/internal/usererr"
)

const (
	httpUserEnv       = "TANDEM_HTTP_USER"
	httpPasswordEnv   = "TANDEM_HTTP_PASSWORD"
	caCertPathEnv     = "TANDEM_CA_CERT_PATH"
	clientCertPathEnv = "TANDEM_CLIENT_CERT_PATH"
	clientKeyPathEnv  = "TANDEM_CLIENT_KEY_PATH"
)

type authFlags struct {
	user, password                string
	caCert, clientCert, clientKey string
}

// authFlagEnvs pairs each flag with its environment variable.
func (a *authFlags) fields() []struct {
	flag, env string
	v         *string
} {
	return []struct {
		flag, env string
		v         *string
	}{
		{"http-user", httpUserEnv, &a.user},
		{"http-password", httpPasswordEnv, &a.password},
		{"ca-cert-path", caCertPathEnv, &a.caCert},
		{"client-cert-path", clientCertPathEnv, &a.clientCert},
		{"client-key-path", clientKeyPathEnv, &a.clientKey},
	}
}

func (a *authFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&a.user, "http-user", "", "user for HTTP Basic authentication (http.authentication.method=BASIC; default $"+httpUserEnv+")")
	fs.StringVar(&a.password, "http-password", "", "password for --http-user (default $"+httpPasswordEnv+", which ps and the shell history do not show)")
	fs.StringVar(&a.caCert, "ca-cert-path", "", "PEM file of the CA that signed an https API's certificate (default $"+caCertPathEnv+"; else the system's CAs)")
	fs.StringVar(&a.clientCert, "client-cert-path", "", "PEM client certificate for http.authentication.method=MTLS (default $"+clientCertPathEnv+")")
	fs.StringVar(&a.clientKey, "client-key-path", "", "PEM private key of --client-cert-path (default $"+clientKeyPathEnv+")")
}

// resolve reads the flags, falling back to the environment, and builds
// the client's credentials.
func (a *authFlags) resolve(cmd *cobra.Command) (restclient.Auth, error) {
	vals := map[string]string{}
	for _, f := range a.fields() {
		v := *f.v
		if fl := cmd.Flags().Lookup(f.flag); fl == nil || !fl.Changed {
			v = strings.TrimSpace(os.Getenv(f.env))
		}
		vals[f.flag] = v
	}
	out := restclient.Auth{User: vals["http-user"], Password: vals["http-password"]}
	if out.User == "" && out.Password != "" {
		return out, errors.New("a password is set (--http-password or $" + httpPasswordEnv + ") but no user: set --http-user or $" + httpUserEnv)
	}
	ca, cert, key := vals["ca-cert-path"], vals["client-cert-path"], vals["client-key-path"]
	if (cert == "") != (key == "") {
		return out, errors.New("--client-cert-path and --client-key-path go together (or $" + clientCertPathEnv + " and $" + clientKeyPathEnv + ")")
	}
	if ca == "" && cert == "" {
		return out, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return out, fmt.Errorf("--ca-cert-path: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return out, fmt.Errorf("--ca-cert-path %s: no PEM certificate in it", ca)
		}
	}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return out, fmt.Errorf("--client-cert-path/--client-key-path: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	out.TLS = cfg
	return out, nil
}

// authHint says what to do about a 401 or 403.
func authHint(err error) error {
	re, ok := errors.AsType[*restError](err)
	if !ok {
		return err
	}
	switch re.Status {
	case http.StatusUnauthorized:
		return usererr.New(err, "%s: the HTTP API needs credentials: set --http-user and $%s (BASIC), or "+
			"--client-cert-path and --client-key-path (MTLS)", re.Message, httpPasswordEnv)
	case http.StatusForbidden:
		return usererr.New(err, "%s: ask an administrator for the ACL (docs/security.md lists what each command needs)", re.Message)
	}
	return err
}

// tlsHint says which flag a failed TLS handshake asks for, or "".
func tlsHint(err error) string {
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return "the API's certificate is not trusted: set --ca-cert-path or $" + caCertPathEnv + " to the CA that signed it"
	}
	// The server's alert reaches crypto/tls clients as an unexported
	// type, so its text is what there is to go by.
	msg := err.Error()
	for _, alert := range []string{"certificate required", "bad certificate", "unknown certificate authority"} {
		if strings.Contains(msg, "remote error: tls: "+alert) {
			return "the API wants a client certificate it trusts (http.authentication.method=MTLS): " +
				"set --client-cert-path and --client-key-path"
		}
	}
	return ""
}
