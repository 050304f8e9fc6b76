package config

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
)

// ErrMalformedProperties is returned (wrapped, with a line number) when a
// .properties file cannot be parsed.
var ErrMalformedProperties = errors.New("malformed properties file")

// ParseProperties reads a Java .properties file, following the grammar of
// java.util.Properties.load:
//
//   - A logical line is one or more natural lines; a natural line ending in an
//     odd number of backslashes continues onto the next one, whose leading
//     whitespace is dropped.
//   - Lines whose first non-blank character is '#' or '!' are comments (a
//     comment never continues), blank lines are skipped.
//   - The key ends at the first unescaped '=', ':' or whitespace; whitespace
//     and at most one '=' or ':' after it are skipped and the rest of the line
//     is the value (trailing whitespace is kept, as Java does).
//   - Escapes \t \n \r \f and \uXXXX are decoded; a backslash before any other
//     character yields that character.
//
// NB: Java's load(InputStream) reads ISO-8859-1; we read UTF-8 (what
// load(Reader) does with a UTF-8 reader) because that is what Go and modern
// editors write. Later keys replace earlier ones, as in Java.
func ParseProperties(r io.Reader) (map[string]string, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading properties file: %w", err)
	}
	lines := splitNaturalLines(string(data))
	props := make(map[string]string)
	for i := 0; i < len(lines); i++ {
		first := strings.TrimLeft(lines[i], propsBlank)
		if first == "" || first[0] == '#' || first[0] == '!' {
			continue
		}
		// Join continuation lines; remember where each natural line starts in
		// the logical line so errors can name the right line.
		ll := logicalLine{}
		seg := first
		lineNo := i + 1
		for {
			cont := endsWithOddBackslashes(seg)
			if cont {
				seg = seg[:len(seg)-1]
			}
			ll.add(seg, lineNo)
			if !cont || i+1 >= len(lines) {
				break
			}
			i++
			lineNo = i + 1
			seg = strings.TrimLeft(lines[i], propsBlank)
		}
		key, value, err := ll.keyValue()
		if err != nil {
			return nil, err
		}
		props[key] = value
	}
	return props, nil
}

// propsBlank is the whitespace set of java.util.Properties.
const propsBlank = " \t\f"

// splitNaturalLines splits on \n, \r and \r\n.
func splitNaturalLines(s string) []string {
	var lines []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\n':
			lines = append(lines, s[start:i])
			start = i + 1
		case '\r':
			lines = append(lines, s[start:i])
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			start = i + 1
		}
	}
	if start < len(s) {
		lines = append(lines, s[start:])
	}
	return lines
}

func endsWithOddBackslashes(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// logicalLine is a logical line plus the natural line number at which each of
// its pieces starts.
type logicalLine struct {
	text   string
	starts []int // byte offset in text where each natural line starts
	lines  []int // the line number of each piece
}

func (l *logicalLine) add(seg string, line int) {
	l.starts = append(l.starts, len(l.text))
	l.lines = append(l.lines, line)
	l.text += seg
}

// lineAt returns the natural line number holding byte offset off.
func (l *logicalLine) lineAt(off int) int {
	n := l.lines[0]
	for i, s := range l.starts {
		if s <= off {
			n = l.lines[i]
		}
	}
	return n
}

// keyValue splits the logical line into its unescaped key and value.
func (l *logicalLine) keyValue() (string, string, error) {
	s := l.text
	keyEnd := len(s)
	valStart := len(s)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' {
			i++ // the escaped character never ends the key
			continue
		}
		if c == '=' || c == ':' {
			keyEnd, valStart = i, i+1
			break
		}
		if strings.IndexByte(propsBlank, c) >= 0 {
			keyEnd = i
			j := i
			for j < len(s) && strings.IndexByte(propsBlank, s[j]) >= 0 {
				j++
			}
			if j < len(s) && (s[j] == '=' || s[j] == ':') {
				j++
			}
			valStart = j
			break
		}
	}
	for valStart < len(s) && strings.IndexByte(propsBlank, s[valStart]) >= 0 {
		valStart++
	}
	key, err := l.unescape(0, keyEnd)
	if err != nil {
		return "", "", err
	}
	value, err := l.unescape(valStart, len(s))
	if err != nil {
		return "", "", err
	}
	return key, value, nil
}

// unescape decodes the escapes in text[from:to].
func (l *logicalLine) unescape(from, to int) (string, error) {
	s := l.text[from:to]
	if strings.IndexByte(s, '\\') < 0 {
		return s, nil
	}
	var b strings.Builder
	var units []uint16 // pending \u code units, so surrogate pairs combine
	flush := func() {
		if len(units) > 0 {
			b.WriteString(string(utf16.Decode(units)))
			units = units[:0]
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			flush()
			b.WriteByte(c)
			continue
		}
		i++
		switch c = s[i]; c {
		case 'u':
			if i+5 > len(s) {
				return "", fmt.Errorf("%w: line %d: malformed \\uxxxx encoding", ErrMalformedProperties, l.lineAt(from+i))
			}
			var u uint16
			for _, h := range []byte(s[i+1 : i+5]) {
				d, ok := hexDigit(h)
				if !ok {
					return "", fmt.Errorf("%w: line %d: malformed \\uxxxx encoding", ErrMalformedProperties, l.lineAt(from+i))
				}
				u = u<<4 | uint16(d)
			}
			units = append(units, u)
			i += 4
			continue
		case 't':
			c = '\t'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 'f':
			c = '\f'
		}
		flush()
		b.WriteByte(c)
	}
	flush()
	return b.String(), nil
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
