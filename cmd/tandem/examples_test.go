package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// exampleLines returns the `tandem ...` command lines of cmd's Example.
func exampleLines(cmd *cobra.Command) [][]string {
	var out [][]string
	for _, line := range strings.Split(strings.ReplaceAll(cmd.Example, "\\\n", " "), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "tandem" {
			out = append(out, f[1:])
		}
	}
	return out
}

// TestEveryHelpExampleIsRun: every command whose --help shows examples has
// them run by a test (issue #13: "every example in --help output is run by
// a test"). link/mirror examples run in TestHelpExamplesWork against live
// brokers; the data-directory and demo examples run here.
func TestEveryHelpExampleIsRun(t *testing.T) {
	covered := map[string]bool{
		// TestHelpExamplesWork, against live brokers.
		"tandem link create": true, "tandem link update": true, "tandem mirror create": true,
		// Here.
		"tandem check": true, "tandem recover-metadata": true, "tandem demo": true,
		"tandem mirror state-transition-error list": true,
		// TestMirrorFailbackCommands.
		"tandem mirror truncate-and-restore": true, "tandem mirror reverse-and-start": true, "tandem mirror reverse-and-pause": true,
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, args := range exampleLines(c) {
			// An example may show another command (link configuration
			// update shows link update): what counts is the one it runs.
			ran, _, err := rootCmd().Find(args)
			if err != nil || !covered[ran.CommandPath()] {
				t.Errorf("%s: example %q is run by no test", c.CommandPath(), strings.Join(args, " "))
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(rootCmd())

	// mirror state-transition-error list, on a live link and mirror.
	src, dst := tandemtest.Start(t), tandemtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(tandemtest.NewClient(t, src.Addr())).CreateTopic(ctx, 1, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	url := "http://" + dst.HTTPAddr()
	for _, args := range [][]string{
		{"link", "create", "east", "--source-bootstrap-server", src.Addr(), "--url", url},
		{"mirror", "create", "orders", "--link", "east", "--url", url},
	} {
		if _, errOut, err := runCLI(t, args...); err != nil {
			t.Fatalf("tandem %v: %v %s", args, err, errOut)
		}
	}
	c, _, err := rootCmd().Find([]string{"mirror", "state-transition-error", "list"})
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range exampleLines(c) {
		if _, errOut, err := runCLI(t, append(args, "--url", url)...); err != nil {
			t.Errorf("tandem %s: %v %s", strings.Join(args, " "), err, errOut)
		}
	}

	// check and recover-metadata on the data directory of a broker that
	// ran and stopped, in place of /var/lib/tandem.
	b := tandemtest.Start(t)
	b.Stop()
	for _, path := range []string{"check", "recover-metadata"} {
		c, _, err := rootCmd().Find([]string{path})
		if err != nil {
			t.Fatal(err)
		}
		lines := exampleLines(c)
		if len(lines) == 0 {
			t.Fatalf("tandem %s has no examples", path)
		}
		for _, args := range lines {
			for i, a := range args {
				args[i] = strings.ReplaceAll(a, "/var/lib/tandem", b.Dir)
			}
			root := rootCmd()
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&out)
			root.SetArgs(args)
			if err := root.Execute(); err != nil {
				t.Errorf("tandem %s: %v\n%s", strings.Join(args, " "), err, out.String())
			}
		}
	}

	// Each demo example starts, mirrors, and stops cleanly.
	c, _, err = rootCmd().Find([]string{"demo"})
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range exampleLines(c) {
		for i, a := range args {
			if a == "./tandem-demo" {
				args[i] = filepath.Join(t.TempDir(), "demo")
			}
		}
		d := startDemo(t, args[1:]...)
		waitOutput(t, d.out, "Ctrl-C stops", 30*time.Second)
		if err := d.stop(); err != nil {
			t.Errorf("tandem %s: %v\n%s", strings.Join(args, " "), err, d.out.String())
		}
	}
}
