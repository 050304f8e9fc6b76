package main

import (
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/auth"
)

// TestLinkCreateAPIKey: --source-api-key/--source-api-secret become the
// confluent CLI's SASL_SSL + PLAIN configs, with a JAAS line that Kafka's
// parser reads back to the same key and secret however they are spelled,
// and the secret is never printed.
func TestLinkCreateAPIKey(t *testing.T) {
	e := newCLIEnv(t)
	const key, secret = `KEY"1`, `s3\cr"et; x=y`
	out, errOut, err := e.run(t, "link", "create", "cloud", "--source-bootstrap-server", "pkc-1.example.com:9092",
		"--source-api-key", key, "--source-api-secret", secret, "--no-validate")
	if err != nil {
		t.Fatal(err, errOut)
	}
	if strings.Contains(out+errOut, "s3") {
		t.Errorf("the output shows the secret:\n%s%s", out, errOut)
	}
	got := e.sim.creates[len(e.sim.creates)-1].Configs
	if got["security.protocol"] != "SASL_SSL" || got["sasl.mechanism"] != "PLAIN" {
		t.Errorf("configs = %v", got)
	}
	j, err := auth.ParseJAAS(got["sasl.jaas.config"])
	if err != nil {
		t.Fatal(err)
	}
	if j.LoginModule != auth.PlainLoginModule || j.Flag != "required" || j.Options["username"] != key || j.Options["password"] != secret {
		t.Errorf("JAAS %q parses to %+v", got["sasl.jaas.config"], j)
	}
	// Whatever a key or secret holds, the JAAS line reads back to it.
	for _, v := range []string{`a b`, `x=y;z`, `//not a comment`, `/*nor this*/`, `ü€`, `\\"\"`, `'single'`} {
		cfg := map[string]string{}
		if err := apiKeyConfigs(cfg, v, v+"s"); err != nil {
			t.Fatal(err)
		}
		j, err := auth.ParseJAAS(cfg["sasl.jaas.config"])
		if err != nil || j.Options["username"] != v || j.Options["password"] != v+"s" {
			t.Errorf("%q: %+v %v", v, j, err)
		}
	}
	// The same settings through --config agree; different ones do not.
	e.mustRun(t, "link", "create", "cloud2", "--source-bootstrap-server", "h:9092", "--source-api-key", "k",
		"--source-api-secret", "s", "--config", "security.protocol=SASL_SSL,sasl.mechanism=PLAIN", "--no-validate")
	before := len(e.sim.creates)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--source-api-key", "k"}, "--source-api-key and --source-api-secret go together"},
		{[]string{"--source-api-secret", "s"}, "--source-api-key and --source-api-secret go together"},
		{[]string{"--source-api-key", "k", "--source-api-secret", "s", "--config", "sasl.mechanism=SCRAM-SHA-512"},
			`--source-api-key/--source-api-secret set sasl.mechanism=PLAIN, but --config sets sasl.mechanism="SCRAM-SHA-512"`},
		{[]string{"--source-api-key", "k", "--source-api-secret", "s", "--config", "sasl.jaas.config=x"},
			"--source-api-key/--source-api-secret and --config sasl.jaas.config disagree: give one of them"},
	} {
		_, _, err := e.run(t, append([]string{"link", "create", "x", "--source-bootstrap-server", "h:9092"}, tc.args...)...)
		if err == nil || err.Error() != tc.msg {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.msg)
		}
	}
	if len(e.sim.creates) != before {
		t.Error("a refused command sent a request")
	}
}
