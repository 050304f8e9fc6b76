package link

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/pwenc"
)

// TestSecretsAtRest: sensitive link configs reach the store only
// encrypted with password.encoder.secret; without a secret they are
// refused; a restart whose secret cannot decrypt them fails that link
// (FAILED, AUTHENTICATION_ERROR, a clear message) but not the Manager;
// setting the config again or rotating with password.encoder.old.secret
// brings the link back. No password reaches an error, a log line, the
// store or a description.
func TestSecretsAtRest(t *testing.T) {
	store, err := metadata.OpenBolt(t.TempDir(), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	c := &storeCluster{Store: store}
	logPath := filepath.Join(t.TempDir(), "log")
	logs, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	start := func(secret, old string) *Manager {
		t.Helper()
		enc, err := pwenc.New(secret, old, 0)
		if err != nil {
			t.Fatal(err)
		}
		m, err := NewManager(store, c, &modeData{mode: map[string]dataPathMode{}}, logger, WithPasswordEncoder(enc))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	jaas := func(pw string) string {
		return `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="` + pw + `";`
	}
	cfg := map[string]string{"bootstrap.servers": "127.0.0.1:1", "availability.check.ms": "3600000", "topic.config.sync.ms": "3600000",
		"request.timeout.ms": "200", "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN", "sasl.jaas.config": jaas("pw-one")}
	passwords := []string{"pw-one", "pw-two"}
	noPassword := func(what, s string) {
		t.Helper()
		for _, pw := range passwords {
			if strings.Contains(s, pw) {
				t.Errorf("%s holds a password:\n%s", what, s)
			}
		}
	}
	stored := func() string { l, _ := store.Link("l"); return l.Configs["sasl.jaas.config"] }

	// No secret: refused, validate-only too, and nothing is stored.
	m := start("", "")
	for _, validateOnly := range []bool{true, false} {
		err := m.CreateLink(context.Background(), "l", "", cfg, validateOnly, false)
		if !errors.Is(err, ErrInvalidConfig) || !errors.Is(err, pwenc.ErrNoSecret) ||
			!strings.Contains(err.Error(), "cluster link 'l' cannot store sasl.jaas.config: sensitive link configs are stored encrypted with the broker's password.encoder.secret, which is not set") {
			t.Fatalf("without a secret (validate only %v): %v", validateOnly, err)
		}
		noPassword("the error", err.Error())
	}
	if _, ok := store.Link("l"); ok {
		t.Fatal("the link was stored")
	}
	m.Close()

	// With a secret: stored encrypted, used in clear.
	m = start("secret-one", "")
	if err := m.CreateLink(context.Background(), "l", "", cfg, false, false); err != nil {
		t.Fatal(err)
	}
	if v := stored(); !pwenc.IsEncoded(v) {
		t.Fatalf("stored %q", v)
	}
	if got := m.runtimeOf("l").link.Configs["sasl.jaas.config"]; got != jaas("pw-one") {
		t.Fatalf("the runtime has %q", got)
	}
	li, _ := m.Link("l")
	noPassword("the described link", strings.Join(slicesOf(li.Link.Configs), "\n"))
	for _, e := range Describe(li.Link.Configs) {
		if e.Sensitive && (!e.IsNull || e.Value != "") {
			t.Errorf("%s described as %q", e.Name, e.Value)
		}
	}
	// An update sends the stored configs back with a change: the
	// unchanged (encrypted) secret is kept, not taken as a new password.
	next := maps.Clone(li.Link.Configs)
	next["request.timeout.ms"] = "300"
	if err := m.AlterLinkConfigs("l", next, false); err != nil {
		t.Fatal(err)
	}
	if got := m.runtimeOf("l").link.Configs["sasl.jaas.config"]; got != jaas("pw-one") {
		t.Fatalf("after an update the runtime has %q", got)
	}
	m.Close()

	// A restart with another secret: the broker's links start, this one
	// FAILED with why; nothing else breaks.
	m = start("secret-other", "")
	li, err = m.Link("l")
	if err != nil || li.State != LinkFailed || li.ErrorCode != "AUTHENTICATION_ERROR" ||
		!strings.Contains(li.ErrorMessage, "cluster link 'l': the stored value of sasl.jaas.config cannot be decrypted: this broker's password.encoder.secret") {
		t.Fatalf("after a restart with another secret: %+v %v", li, err)
	}
	if err := m.CreateMirror(context.Background(), "l", "t", "", nil, false); err == nil {
		t.Fatal("mirror created over a failed link")
	}
	// Updating without the secret is refused (the stored value cannot be
	// read); setting it again brings the link back.
	next = maps.Clone(li.Link.Configs)
	next["request.timeout.ms"] = "400"
	if err := m.AlterLinkConfigs("l", next, false); !errors.Is(err, ErrSecrets) {
		t.Fatalf("update keeping an unreadable secret: %v", err)
	}
	next["sasl.jaas.config"] = jaas("pw-two")
	if err := m.AlterLinkConfigs("l", next, false); err != nil {
		t.Fatal(err)
	}
	if li, _ := m.Link("l"); li.State == LinkFailed || m.runtimeOf("l").link.Configs["sasl.jaas.config"] != jaas("pw-two") {
		t.Fatalf("after setting the secret again: %+v", li)
	}
	m.Close()

	// No secret at all: FAILED, saying so.
	m = start("", "")
	if li, _ := m.Link("l"); li.State != LinkFailed || !strings.Contains(li.ErrorMessage, "this broker has no password.encoder.secret") {
		t.Fatalf("without a secret: %+v", li)
	}
	m.Close()

	// Rotation: the old secret reads, the value is re-encrypted with the
	// new one, which then reads it alone.
	m = start("secret-new", "secret-other")
	if got := m.runtimeOf("l"); got == nil || got.link.Configs["sasl.jaas.config"] != jaas("pw-two") {
		t.Fatal("rotation: the link did not start with its password")
	}
	m.Close()
	m = start("secret-new", "")
	if got := m.runtimeOf("l"); got == nil || got.link.Configs["sasl.jaas.config"] != jaas("pw-two") {
		li, _ := m.Link("l")
		t.Fatalf("after rotation, the new secret alone: %+v", li)
	}
	m.Close()

	logged, err := os.ReadFile(logPath)
	if err != nil || !strings.Contains(string(logged), "starting cluster link") {
		t.Fatalf("the logs (%v) lack the failed start:\n%s", err, logged)
	}
	noPassword("the logs", string(logged))
	noPassword("the stored value", stored())
}

func slicesOf(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

// TestClearSecretsEncryptedAtStart: a link stored before links encrypted
// their secrets (sensitive values in clear) starts with them, and they are
// stored again encrypted once the broker has a secret.
func TestClearSecretsEncryptedAtStart(t *testing.T) {
	store, err := metadata.OpenBolt(t.TempDir(), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	jaas := `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="old-clear-pw";`
	if err := store.CreateLink(metadata.Link{Name: "l", Configs: map[string]string{"bootstrap.servers": "127.0.0.1:1",
		"availability.check.ms": "3600000", "topic.config.sync.ms": "3600000", "request.timeout.ms": "200",
		"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN", "sasl.jaas.config": jaas}}); err != nil {
		t.Fatal(err)
	}
	enc, _ := pwenc.New("secret", "", 0)
	m, err := NewManager(store, &storeCluster{Store: store}, &modeData{mode: map[string]dataPathMode{}}, testLogger(), WithPasswordEncoder(enc))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if rt := m.runtimeOf("l"); rt == nil || rt.link.Configs["sasl.jaas.config"] != jaas {
		t.Fatal("the link did not start with its password")
	}
	if l, _ := store.Link("l"); !pwenc.IsEncoded(l.Configs["sasl.jaas.config"]) {
		t.Fatalf("still stored in clear: %q", l.Configs["sasl.jaas.config"])
	}
}
