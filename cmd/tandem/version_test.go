package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
)

func TestBuildVersion(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	tests := []struct {
		name    string
		ldflags string
		bi      *debug.BuildInfo
		want    string
	}{
		{"ldflags win", "v0.3.0", &debug.BuildInfo{Main: debug.Module{Version: "v0.2.0"}}, "v0.3.0"},
		{"module version", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.2.0"}}, "v0.2.0"},
		{"checkout", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: vcs("vcs.revision", "553c7541234567890abcdef", "vcs.time", "2026-12-03T11:00:00Z", "vcs.modified", "false")},
			"devel+553c75412345 (2026-12-03T11:00:00Z)"},
		{"dirty checkout", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: vcs("vcs.revision", "abc", "vcs.modified", "true")}, "devel+abc-dirty"},
		{"no vcs", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel"},
		{"no build info", "", nil, "devel"},
	}
	for _, tt := range tests {
		if got := buildVersion(tt.ldflags, tt.bi, tt.bi != nil); got != tt.want {
			t.Errorf("%s: buildVersion = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// A binary built in this checkout reports its revision, both ways.
func TestVersionFromBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "tandem")
	// -buildvcs=auto as the Makefile builds: GOFLAGS may turn stamping off.
	if out, err := exec.Command("go", "build", "-buildvcs=auto", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	rev, err := exec.Command("git", "rev-parse", "HEAD").Output()
	inGit := err == nil
	// cmd/go stamps VCS information only where .git is a directory
	// (its vcs root detection, cmd/go/internal/vcs); in a git worktree
	// .git is a file and the binary says just "devel".
	if top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output(); inGit && err == nil {
		fi, err := os.Stat(filepath.Join(strings.TrimSpace(string(top)), ".git"))
		inGit = err == nil && fi.IsDir()
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("tandem %v: %v\n%s", args, err, out)
		}
		s := string(out)
		if !strings.HasPrefix(s, "tandem ") || strings.Contains(s, "tandem dev\n") {
			t.Errorf("tandem %v = %q", args, s)
		}
		// Go stamps a pseudo-version holding the revision's first 12 digits.
		if inGit && !strings.Contains(s, strings.TrimSpace(string(rev))[:12]) {
			t.Errorf("tandem %v = %q, want revision %s", args, s, rev)
		}
		if !inGit && !regexp.MustCompile(`^tandem \S+`).MatchString(s) {
			t.Errorf("tandem %v = %q", args, s)
		}
	}
}
