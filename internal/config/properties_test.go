package config

import (
	"errors"
	"maps"
	"os"
	"strings"
	"testing"
)

func TestParseProperties(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
	}{
		{"equals", "a=b", map[string]string{"a": "b"}},
		{"colon", "a: b", map[string]string{"a": "b"}},
		{"space", "a b", map[string]string{"a": "b"}},
		{"tab", "a\tb", map[string]string{"a": "b"}},
		{"spaces around equals", "a   =   b", map[string]string{"a": "b"}},
		{"space then colon", "a   :b", map[string]string{"a": "b"}},
		{"only one separator skipped", "a = = b", map[string]string{"a": "= b"}},
		{"equals in value", "a=b=c:d", map[string]string{"a": "b=c:d"}},
		{"empty value", "a=", map[string]string{"a": ""}},
		{"key only", "a", map[string]string{"a": ""}},
		{"trailing whitespace kept", "a=b  ", map[string]string{"a": "b  "}},
		{"leading whitespace ignored", "   \t a=b", map[string]string{"a": "b"}},
		{"comments and blanks", "# c\n! c\n   # indented\n\n  \na=b", map[string]string{"a": "b"}},
		{"comment does not continue", "# c \\\na=b", map[string]string{"a": "b"}},
		{"continuation", "a=b\\\n    c\\\n\td", map[string]string{"a": "bcd"}},
		{"continued line starting with # is value", "a=b\\\n  #c", map[string]string{"a": "b#c"}},
		{"continuation in key", "ke\\\n  y=v", map[string]string{"key": "v"}},
		{"empty continuation ends line", "a=b\\\n\nc=d", map[string]string{"a": "b", "c": "d"}},
		{"continuation at EOF", "a=b\\", map[string]string{"a": "b"}},
		{"even backslashes do not continue", "a=b\\\\\nc=d", map[string]string{"a": "b\\", "c": "d"}},
		{"three backslashes continue", "a=b\\\\\\\nc", map[string]string{"a": "b\\c"}},
		{"escapes", `a=\t\n\r\f\\\u0041\u00e9`, map[string]string{"a": "\t\n\r\f\\Aé"}},
		{"surrogate pair", `a=\uD83D\uDE00`, map[string]string{"a": "😀"}},
		{"unknown escape keeps char", `a=\q\#\=`, map[string]string{"a": "q#="}},
		{"escaped separator in key", `a\=b\:c\ d=v`, map[string]string{"a=b:c d": "v"}},
		{"utf8", "grüße=日本", map[string]string{"grüße": "日本"}},
		{"crlf", "a=1\r\nb=2\r\n", map[string]string{"a": "1", "b": "2"}},
		{"cr", "a=1\rb=2\r", map[string]string{"a": "1", "b": "2"}},
		{"crlf continuation", "a=1\\\r\n  2", map[string]string{"a": "12"}},
		{"last wins", "a=1\na=2", map[string]string{"a": "2"}},
		{"server.properties", `
# Tandem
node.id=3
listeners=PLAINTEXT://:9092
log.dirs=/var/lib/tandem
log.retention.hours = 24
`, map[string]string{"node.id": "3", "listeners": "PLAINTEXT://:9092", "log.dirs": "/var/lib/tandem", "log.retention.hours": "24"}},
		{"empty input", "", map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProperties(strings.NewReader(tt.in))
			if err != nil {
				t.Fatalf("ParseProperties(%q): %v", tt.in, err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("ParseProperties(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParsePropertiesErrors(t *testing.T) {
	tests := []struct {
		in       string
		wantLine string
	}{
		{`a=\u12`, "line 1:"},
		{`a=\u12zz`, "line 1:"},
		{"x=1\n\n# c\nb=\\uXYZW", "line 4:"},
		{"x=1\ny=2\\\n  ok\\\n  \\u00G0", "line 4:"},
		{"\\u12=v", "line 1:"},
	}
	for _, tt := range tests {
		_, err := ParseProperties(strings.NewReader(tt.in))
		if !errors.Is(err, ErrMalformedProperties) {
			t.Errorf("ParseProperties(%q) error = %v, want ErrMalformedProperties", tt.in, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.wantLine) {
			t.Errorf("ParseProperties(%q) error = %q, want it to name %q", tt.in, err, tt.wantLine)
		}
	}
}

// escapeProperty writes s the way java.util.Properties.store does, so that
// parsing it yields s again.
func escapeProperty(s string, isKey bool) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == ' ' && (isKey || i == 0):
			b.WriteString(`\ `)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\f':
			b.WriteString(`\f`)
		case strings.ContainsRune(`\=:#!`, r):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func FuzzParseProperties(f *testing.F) {
	f.Add("a b", "c=d")
	f.Add(" #x", "\\u0041\n")
	f.Add("", "   ")
	f.Fuzz(func(t *testing.T, key, value string) {
		if !isValidUTF8(key) || !isValidUTF8(value) {
			t.Skip()
		}
		in := "# header\n" + escapeProperty(key, true) + "=" + escapeProperty(value, false) + "\n"
		got, err := ParseProperties(strings.NewReader(in))
		if err != nil {
			t.Fatalf("ParseProperties(%q): %v", in, err)
		}
		if len(got) != 1 || got[key] != value {
			t.Fatalf("round trip of %q=%q via %q gave %q", key, value, in, got)
		}
		// Arbitrary input must never panic.
		_, _ = ParseProperties(strings.NewReader(key + "\n" + value))
	})
}

func isValidUTF8(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// The sample shipped in config/ loads as it is and sets only defaults
// (other than paths), so following it changes nothing by surprise.
func TestSampleServerProperties(t *testing.T) {
	f, err := os.Open("../../config/server.properties")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	props, err := ParseProperties(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(props) < 10 {
		t.Fatalf("sample has %d keys", len(props))
	}
	if _, err := LoadBroker(props); err != nil {
		t.Fatalf("sample refused: %v", err)
	}
	for k, v := range props {
		if k == "log.dirs" {
			continue
		}
		d, ok := brokerRegistry.Lookup(k)
		if !ok {
			t.Errorf("%s: not a broker key", k)
			continue
		}
		if canonicalValue(d.Type, v) != canonicalValue(d.Type, d.Default) {
			t.Errorf("sample sets %s=%s, default is %s: say so in a comment or use the default", k, v, d.Default)
		}
	}
}
