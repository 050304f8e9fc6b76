package docs

import (
	"slices"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/link"
)

const linkConfigsDoc = "docs/link-configs.md"

// TestLinkConfigReference checks docs/link-configs.md against the link
// config registry: the page's tables under "Every key" list exactly the
// keys the link accepts, each with the registry's type and default, and
// "no (create-only)" exactly for the create-only (read-only) keys.
func TestLinkConfigReference(t *testing.T) {
	doc := readDoc(t, linkConfigsDoc)
	documented := map[string]bool{}
	for _, row := range tableRows(section(t, doc, "## Every key")) {
		if len(row) != 5 {
			t.Errorf("row %q: want 5 cells (key, type, default, changes live, meaning)", row)
			continue
		}
		spans := codeSpans(row[0])
		if len(spans) != 1 {
			t.Errorf("row %q: the key cell must be one `key`", row)
			continue
		}
		name := spans[0]
		if documented[name] {
			t.Errorf("%s is documented twice", name)
		}
		documented[name] = true
		d, ok := link.Lookup(name)
		if !ok {
			t.Errorf("%s is documented but the link does not accept it", name)
			continue
		}
		if want := strings.ToLower(d.Type.String()); row[1] != want {
			t.Errorf("%s: type %q, the registry says %q", name, row[1], want)
		}
		wantDefault := "*none*"
		if d.HasDefault {
			wantDefault = "`" + d.Default + "`"
		}
		if row[2] != wantDefault {
			t.Errorf("%s: default %s, the registry says %s", name, row[2], wantDefault)
		}
		wantLive := "yes"
		if d.ReadOnly {
			wantLive = "no (create-only)"
		}
		if row[3] != wantLive {
			t.Errorf("%s: changes live %q, the registry says %q (ReadOnly=%v)", name, row[3], wantLive, d.ReadOnly)
		}
		if d.Sensitive && !strings.Contains(row[4], "Sensitive") {
			t.Errorf("%s is sensitive; the page should say so", name)
		}
		if strings.TrimSpace(row[4]) == "" {
			t.Errorf("%s: no meaning given", name)
		}
	}
	for _, name := range link.Names() {
		if !documented[name] {
			t.Errorf("the link accepts %s but %s does not document it", name, linkConfigsDoc)
		}
	}
}

// TestLinkConfigUnknownKeys checks that the Confluent keys the page says
// Tandem does not know are indeed refused as unknown (so the page is
// updated when one of them is implemented).
func TestLinkConfigUnknownKeys(t *testing.T) {
	doc := readDoc(t, linkConfigsDoc)
	rows := tableRows(section(t, doc, "## Keys Tandem does not know"))
	// A floor only to catch a table the parser no longer finds; rows go
	// away as features land.
	if len(rows) < 5 {
		t.Fatalf("found %d rows of unknown keys", len(rows))
	}
	for _, row := range rows {
		for _, name := range codeSpans(row[0]) {
			if strings.Contains(name, "*") {
				for _, known := range link.Names() {
					if matchWildcard(name, known) {
						t.Errorf("%s is listed as unknown but the link accepts %s", name, known)
					}
				}
				continue
			}
			if _, ok := link.Lookup(name); ok {
				t.Errorf("%s is listed as unknown but the link accepts it", name)
			}
			err := link.ValidateConfigs(map[string]string{"bootstrap.servers": "src:9092", name: "1"}, nil, true)
			if err == nil || !strings.Contains(err.Error(), "unknown cluster link config '"+name+"'") {
				t.Errorf("%s=1: got %v, want an unknown-config error", name, err)
			}
		}
	}
}

func matchWildcard(pattern, s string) bool {
	prefix, _, _ := strings.Cut(pattern, "*")
	return strings.HasPrefix(s, prefix)
}

// TestLinkConfigErrors checks that the errors the page quotes are the
// ones a user gets: each `$ tandem link update dr --config K=V` example is
// validated as an update of a link, and every message quoted in the text is
// produced by the config it is quoted for.
func TestLinkConfigErrors(t *testing.T) {
	doc := readDoc(t, linkConfigsDoc)
	base := map[string]string{"bootstrap.servers": "src:9092"}
	update := func(k, v string) error {
		next := map[string]string{"bootstrap.servers": "src:9092", k: v}
		return link.ValidateConfigs(next, base, false)
	}
	// The transcripts: a command, then the CLI's error line.
	lines := strings.Split(doc, "\n")
	examples := 0
	for i, l := range lines {
		cmd, ok := strings.CutPrefix(l, "$ tandem link update dr --config ")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(cmd, "=")
		if i+1 >= len(lines) {
			t.Fatalf("%q has no output line", l)
		}
		out := lines[i+1]
		msg, ok := strings.CutPrefix(out, "tandem: ")
		msg, ok2 := strings.CutSuffix(msg, " (error code 40002)")
		if !ok || !ok2 {
			t.Errorf("output of %q is not a CLI error line: %q", l, out)
			continue
		}
		err := update(k, v)
		if err == nil || err.Error() != msg {
			t.Errorf("%s=%s: the page says %q, the link says %v", k, v, msg, err)
		}
		examples++
	}
	if examples < 2 {
		t.Errorf("found %d error transcripts", examples)
	}
	// Messages quoted in the text, and the configs that produce them.
	for _, c := range []struct {
		configs  map[string]string
		creating bool
	}{
		{configs: map[string]string{"link.mode": "SOURCE", "connection.mode": "INBOUND"}, creating: true},
		{configs: map[string]string{"link.mode": "SOURCE", "cluster.link.prefix": "x."}, creating: true},
		{configs: map[string]string{"connection.mode": "INBOUND"}, creating: true},
		{configs: map[string]string{"local.listener.name": "INTERNAL"}, creating: true},
		{configs: map[string]string{"cluster.link.prefix": "x."}},
		{configs: map[string]string{"consumer.group.prefix.enable": "true"}, creating: true},
		{configs: map[string]string{"security.protocol": "SASL_SSL"}, creating: true},
		{configs: map[string]string{"acl.sync.enable": "true", "cluster.link.prefix": "dr.",
			"acl.filters": `{"aclFilters":[{"resourceFilter":{"resourceType":"any","patternType":"any"},"accessFilter":{"operation":"any","permissionType":"any"}}]}`}, creating: true},
	} {
		configs := map[string]string{"bootstrap.servers": "src:9092"}
		for k, v := range c.configs {
			configs[k] = v
		}
		prev := base
		if c.creating {
			prev = nil
		}
		err := link.ValidateConfigs(configs, prev, c.creating)
		if err == nil {
			t.Errorf("%v: accepted", c.configs)
			continue
		}
		msg := err.Error()
		if !slices.ContainsFunc(codeSpans(doc), func(s string) bool { return s == msg }) &&
			!strings.Contains(strings.Join(strings.Fields(doc), " "), msg) {
			t.Errorf("%v: the page does not quote the error %q", c.configs, msg)
		}
	}
}
