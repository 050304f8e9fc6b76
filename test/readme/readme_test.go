// Package readme runs the README's quickstart as a user would: every shell
// command of its "Quickstart" section, in order, against the brokers the
// section itself starts (issue #13: "The quickstart runs as written from a
// fresh clone, linking section included (a test runs the README's
// commands)").
//
// `go run ./cmd/tandem` is replaced by a binary built once; commands run
// with bash in a fresh directory, so ./tandem-data lands there. Lines
// starting `tandem serve` are started in the background and waited for on
// their HTTP readiness probe. A `NAME=$(...)` line sets NAME for the
// commands after it, as in a shell session.
//
// The README uses fixed ports (9092, 8090, 9192, 8190), as a user on a
// fresh machine would; the test fails if they are taken.
package readme

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// expect names, for commands containing the key, a string their output must
// contain. Commands are retried until it appears (a mirror fills shortly
// after it is created, as a user typing the next command would see).
var expect = map[string]string{
	"-t demo -e -f":          "offset 1 key k2 value world",
	"-G mygroup":             "world",
	"/topics":                `"topic_name":"payments"`,
	"/metrics":               `tandem_log_end_offset{partition="0",topic="demo"} 2`,
	"link create dr":         "dr",
	"mirror create orders":   "orders",
	"mirror describe orders": "orders",
	"-t orders -e -f":        "offset 2 o3",
	"mirror failover orders": "orders",
}

func TestQuickstart(t *testing.T) {
	for _, tool := range []string{"kcat", "jq", "curl", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not installed (scripts/ci-deps.txt installs it in CI)", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
	cmds := quickstartCommands(t, "../../README.md")
	if len(cmds) < 10 {
		t.Fatalf("found %d commands in the README quickstart", len(cmds))
	}
	for _, port := range []string{"9092", "8090", "9192", "8190"} {
		if l, err := net.Listen("tcp", "127.0.0.1:"+port); err != nil {
			t.Fatalf("port %s is taken; the README's commands need it: %v", port, err)
		} else {
			l.Close()
		}
	}

	bin := filepath.Join(t.TempDir(), "tandem")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/tandem").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	env := os.Environ()
	for _, c := range cmds {
		line := strings.ReplaceAll(c, "go run ./cmd/tandem", bin)
		if strings.HasPrefix(line, bin+" serve") {
			startServer(t, dir, env, line)
			continue
		}
		if m := regexp.MustCompile(`^([A-Z_]+)=(.*)$`).FindStringSubmatch(line); m != nil {
			out := run(t, dir, env, line+"\nprintf %s \"$"+m[1]+"\"")
			if strings.TrimSpace(out) == "" || strings.Contains(out, "null") {
				t.Fatalf("%s set %s to %q", c, m[1], out)
			}
			env = append(env, m[1]+"="+strings.TrimSpace(out))
			continue
		}
		want := ""
		for k, v := range expect {
			if strings.Contains(c, k) {
				want = v
			}
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			out := run(t, dir, env, line)
			if strings.Contains(out, want) {
				t.Logf("$ %s\n%s", c, out)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("$ %s\noutput does not contain %q:\n%s", c, want, out)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
}

// quickstartCommands returns the commands of the ```sh blocks between
// "## Quickstart" and the next level-2 heading, with continuation lines
// joined and comment-only lines dropped.
func quickstartCommands(t *testing.T, path string) []string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cmds []string
	in, block := false, false
	cur := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "## "):
			in = l == "## Quickstart"
			continue
		case !in:
			continue
		case strings.HasPrefix(l, "```"):
			block = l == "```sh"
			continue
		case !block:
			continue
		}
		s := strings.TrimSpace(l)
		if cur == "" && (s == "" || strings.HasPrefix(s, "#")) {
			continue
		}
		if strings.HasSuffix(s, "\\") {
			cur += strings.TrimSuffix(s, "\\") + " "
			continue
		}
		cmds = append(cmds, cur+s)
		cur = ""
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cmds
}

func run(t *testing.T, dir string, env []string, line string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-o", "pipefail", "-c", line)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("$ %s\n%v\n%s", line, err, out)
	}
	return string(out)
}

// startServer starts a `tandem serve` line in the background and waits for
// its HTTP readiness probe.
func startServer(t *testing.T, dir string, env []string, line string) {
	t.Helper()
	logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("serve-%d.log", time.Now().UnixNano())))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-c", "exec "+line)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
	})
	http0 := "127.0.0.1:8090"
	if m := regexp.MustCompile(`--http.listeners=http://(\S+)`).FindStringSubmatch(line); m != nil {
		http0 = m[1]
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + http0 + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("%s: not ready after 30s (%v)\n%s", line, err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
