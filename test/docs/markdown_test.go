// Package docs checks the user documentation in docs/ against the code it
// describes (issue #13: "docs/ reviewed against the binary: every key in
// the link-config reference exists, every metric in the list is
// exported"). Each reference page has a test here that fails when the page
// and the code disagree, in either direction.
package docs

import (
	"os"
	"strings"
	"testing"
)

// readDoc returns a file of the repository, relative to its root.
func readDoc(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile("../../" + path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// section returns the text of the markdown section whose heading line is
// heading (e.g. "## Every key"), up to the next heading of the same or a
// higher level.
func section(t *testing.T, doc, heading string) string {
	t.Helper()
	level := strings.IndexByte(heading, ' ')
	lines := strings.Split(doc, "\n")
	start := -1
	fence := false
	for i, l := range lines {
		if strings.HasPrefix(l, "```") {
			fence = !fence
		}
		if fence {
			continue
		}
		if start < 0 {
			if l == heading {
				start = i + 1
			}
			continue
		}
		if n := headingLevel(l); n > 0 && n <= level {
			return strings.Join(lines[start:i], "\n")
		}
	}
	if start < 0 {
		t.Fatalf("no section %q", heading)
	}
	return strings.Join(lines[start:], "\n")
}

func headingLevel(l string) int {
	n := 0
	for n < len(l) && l[n] == '#' {
		n++
	}
	if n == 0 || n >= len(l) || l[n] != ' ' {
		return 0
	}
	return n
}

// tableRows returns the body rows of every markdown table in text, each
// as its trimmed cells (header and separator rows are skipped).
func tableRows(text string) [][]string {
	var rows [][]string
	inTable := false
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "|") {
			inTable = false
			continue
		}
		if !inTable { // the header row
			inTable = true
			continue
		}
		cells := splitRow(l)
		if len(cells) > 0 && strings.Trim(cells[0], "-: ") == "" {
			continue // the separator row
		}
		rows = append(rows, cells)
	}
	return rows
}

// splitRow splits a table row on the pipes that are not inside a code
// span or escaped.
func splitRow(l string) []string {
	l = strings.TrimSuffix(strings.TrimPrefix(l, "|"), "|")
	var cells []string
	var cur strings.Builder
	code := false
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case c == '\\' && i+1 < len(l) && l[i+1] == '|':
			cur.WriteByte('|')
			i++
			continue
		case c == '`':
			code = !code
		case c == '|' && !code:
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

// codeSpans returns the contents of the `code spans` of s, in order.
func codeSpans(s string) []string {
	var out []string
	for {
		i := strings.IndexByte(s, '`')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(s[i+1:], '`')
		if j < 0 {
			return out
		}
		out = append(out, s[i+1:i+1+j])
		s = s[i+1+j+1:]
	}
}
