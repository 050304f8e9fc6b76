package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
	"github.com/tandem-streaming/tandem/internal/tlsconf/tlstest"
)

// TestCLIBasicCredentials runs the CLI against a broker with
// http.authentication.method=BASIC whose user alice is a PLAIN JAAS user.
func TestCLIBasicCredentials(t *testing.T) {
	b := tandemtest.StartSASL(t, map[string]string{
		"sasl.enabled.mechanisms":                             "PLAIN",
		"listener.name.sasl_plaintext.plain.sasl.jaas.config": auth.PlainLoginModule + ` required user_alice="s3cret";`,
		"http.authentication.method":                          "BASIC",
	})
	srv := struct{ URL string }{"http://" + b.Node.HTTPAddr()}
	for _, env := range []string{httpUserEnv, httpPasswordEnv, caCertPathEnv, clientCertPathEnv, clientKeyPathEnv} {
		t.Setenv(env, "")
	}
	_, _, err := runCLI(t, "link", "list", "--url", srv.URL)
	if err == nil || !strings.Contains(err.Error(), "--http-user") || !strings.Contains(err.Error(), "credentials are required") {
		t.Fatalf("without credentials: %v", err)
	}
	_, _, err = runCLI(t, "link", "list", "--url", srv.URL, "--http-user", "alice", "--http-password", "wrong")
	if err == nil || !strings.Contains(err.Error(), "invalid username or password") {
		t.Fatalf("wrong password: %v", err)
	}
	if _, _, err := runCLI(t, "link", "list", "--url", srv.URL, "--http-user", "alice", "--http-password", "s3cret"); err != nil {
		t.Fatalf("flags: %v", err)
	}
	t.Setenv(httpUserEnv, "alice")
	t.Setenv(httpPasswordEnv, "s3cret")
	if _, _, err := runCLI(t, "link", "list", "--url", srv.URL); err != nil {
		t.Fatalf("environment: %v", err)
	}
	t.Setenv(httpUserEnv, "")
	if _, _, err := runCLI(t, "link", "list", "--url", srv.URL); err == nil || !strings.Contains(err.Error(), "no user") {
		t.Fatalf("password without user: %v", err)
	}
	if logs := b.Logs.String(); strings.Contains(logs, "s3cret") || !strings.Contains(logs, "authentication failed") {
		t.Errorf("broker logs (want the failure, never the password):\n%s", logs)
	}
}

func TestCLIMutualTLS(t *testing.T) {
	for _, env := range []string{httpUserEnv, httpPasswordEnv, caCertPathEnv, clientCertPathEnv, clientKeyPathEnv} {
		t.Setenv(env, "")
	}
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	b := tandemtest.Start(t,
		tandemtest.Config("http.listeners", "https://127.0.0.1:0"),
		tandemtest.Config("http.authentication.method", "MTLS"),
		tandemtest.Config("http.ssl.client.auth", "required"),
		tandemtest.Config("http.ssl.keystore.type", "PEM"),
		tandemtest.Config("http.ssl.keystore.location", ca.Server(t).WriteKeystorePEM(t, filepath.Join(dir, "server.pem"), "")),
		tandemtest.Config("http.ssl.truststore.type", "PEM"),
		tandemtest.Config("http.ssl.truststore.location", ca.WriteTruststorePEM(t, filepath.Join(dir, "ca.pem"))))
	url := "https://" + b.HTTPAddr()
	caPath := filepath.Join(dir, "ca.pem")
	client := ca.Client(t, "ops")
	certPath := tlstest.WriteFile(t, filepath.Join(dir, "client.crt"), client.CertPEM)
	keyPath := tlstest.WriteFile(t, filepath.Join(dir, "client.key"), client.KeyPEM)

	out, _, err := runCLI(t, "link", "list", "--url", url, "--ca-cert-path", caPath,
		"--client-cert-path", certPath, "--client-key-path", keyPath)
	if err != nil {
		t.Fatalf("with the client certificate: %v", err)
	}
	if !strings.Contains(out, "Name | ID") {
		t.Errorf("output: %q", out)
	}
	// The environment works as well as the flags.
	t.Setenv(caCertPathEnv, caPath)
	t.Setenv(clientCertPathEnv, certPath)
	t.Setenv(clientKeyPathEnv, keyPath)
	if _, _, err := runCLI(t, "group", "list", "--url", url); err != nil {
		t.Fatalf("environment: %v", err)
	}
	t.Setenv(clientCertPathEnv, "")
	t.Setenv(clientKeyPathEnv, "")
	_, _, err = runCLI(t, "link", "list", "--url", url)
	if err == nil || !strings.Contains(err.Error(), "--client-cert-path") {
		t.Fatalf("without a client certificate: %v", err)
	}
	t.Setenv(caCertPathEnv, "")
	_, _, err = runCLI(t, "link", "list", "--url", url)
	if err == nil || !strings.Contains(err.Error(), "--ca-cert-path") {
		t.Fatalf("without the CA: %v", err)
	}
	if _, _, err := runCLI(t, "link", "list", "--url", url, "--client-cert-path", certPath); err == nil ||
		!strings.Contains(err.Error(), "go together") {
		t.Fatalf("certificate without key: %v", err)
	}
}
