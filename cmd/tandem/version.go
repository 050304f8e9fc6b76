package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=..."; when
// it is not, the version comes from the binary's build info.
var version = ""

// buildVersion names the code a binary was built from: the -ldflags
// version if one was given, else the module version (`go install
// ...@v1.2.3`), else the VCS revision Go stamps into binaries built in a
// checkout (with "-dirty" for uncommitted changes), else "devel".
func buildVersion(ldflags string, bi *debug.BuildInfo, ok bool) string {
	if ldflags != "" {
		return ldflags
	}
	if !ok || bi == nil {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, when string
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	v := "devel+" + rev
	if dirty {
		v += "-dirty"
	}
	if when != "" {
		v += " (" + when + ")"
	}
	return v
}

func currentVersion() string {
	bi, ok := debug.ReadBuildInfo()
	return buildVersion(version, bi, ok)
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "tandem %s %s %s/%s\n", currentVersion(),
				strings.TrimPrefix(runtime.Version(), "go"), runtime.GOOS, runtime.GOARCH)
		},
	}
}
