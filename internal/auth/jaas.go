package auth

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// JAASEntry is one login module of a sasl.jaas.config value, as Kafka's
// JaasConfig parses it:
//
//	org.apache.kafka.common.security.plain.PlainLoginModule required
//	    username="alice" password="alice-secret";
type JAASEntry struct {
	LoginModule string            // class name
	Flag        string            // required, requisite, sufficient or optional
	Options     map[string]string // key=value pairs, values unquoted
}

// ErrJAAS is wrapped by every error of ParseJAAS. Its messages never quote
// option values: sasl.jaas.config holds passwords.
var ErrJAAS = errors.New("invalid sasl.jaas.config")

// Login module classes of the mechanisms Tandem implements.
const (
	PlainLoginModule = "org.apache.kafka.common.security.plain.PlainLoginModule"
	ScramLoginModule = "org.apache.kafka.common.security.scram.ScramLoginModule"
)

// ParseJAAS parses a sasl.jaas.config value. As Kafka requires for the
// sasl.jaas.config property, it must hold exactly one login module,
// terminated by ';'. Values are words or double-quoted strings with
// backslash escapes (java.io.StreamTokenizer's rules, which JaasConfig
// uses); // and /* */ comments are skipped.
func ParseJAAS(s string) (JAASEntry, error) {
	p := &jaasParser{s: s}
	var entries []JAASEntry
	for {
		tok, err := p.next()
		if err != nil {
			return JAASEntry{}, err
		}
		if tok.kind == tokEOF {
			break
		}
		if tok.kind != tokWord {
			return JAASEntry{}, fmt.Errorf("%w: expected a login module class name at offset %d", ErrJAAS, tok.pos)
		}
		e := JAASEntry{LoginModule: tok.text, Options: map[string]string{}}
		flag, err := p.next()
		if err != nil {
			return JAASEntry{}, err
		}
		switch f := strings.ToLower(flag.text); {
		case flag.kind == tokWord && (f == "required" || f == "requisite" || f == "sufficient" || f == "optional"):
			e.Flag = f
		default:
			return JAASEntry{}, fmt.Errorf("%w: login module %s: expected a control flag (required, requisite, sufficient or optional) at offset %d", ErrJAAS, e.LoginModule, flag.pos)
		}
		for {
			key, err := p.next()
			if err != nil {
				return JAASEntry{}, err
			}
			if key.kind == tokSemi {
				break
			}
			if key.kind != tokWord {
				return JAASEntry{}, fmt.Errorf("%w: login module %s: expected an option name or ';' at offset %d", ErrJAAS, e.LoginModule, key.pos)
			}
			eq, err := p.next()
			if err != nil {
				return JAASEntry{}, err
			}
			if eq.kind != tokEq {
				return JAASEntry{}, fmt.Errorf("%w: login module %s: option %s: expected '=' at offset %d", ErrJAAS, e.LoginModule, key.text, eq.pos)
			}
			val, err := p.next()
			if err != nil {
				return JAASEntry{}, err
			}
			if val.kind != tokWord && val.kind != tokQuoted {
				return JAASEntry{}, fmt.Errorf("%w: login module %s: option %s: expected a value at offset %d", ErrJAAS, e.LoginModule, key.text, val.pos)
			}
			e.Options[key.text] = val.text
		}
		entries = append(entries, e)
	}
	switch len(entries) {
	case 0:
		return JAASEntry{}, fmt.Errorf("%w: no login module (want e.g. %s required username=\"...\" password=\"...\";)", ErrJAAS, PlainLoginModule)
	case 1:
		return entries[0], nil
	}
	return JAASEntry{}, fmt.Errorf("%w: %d login modules, want exactly 1", ErrJAAS, len(entries))
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokWord
	tokQuoted
	tokEq
	tokSemi
)

type token struct {
	kind tokKind
	text string
	pos  int
}

type jaasParser struct {
	s string
	i int
}

func isWordChar(r byte) bool {
	return r == '-' || r == '_' || r == '$' || r == '.' || r >= 0x80 ||
		unicode.IsLetter(rune(r)) || unicode.IsDigit(rune(r))
}

func (p *jaasParser) next() (token, error) {
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			p.i++
		case strings.HasPrefix(p.s[p.i:], "//"):
			if j := strings.IndexByte(p.s[p.i:], '\n'); j >= 0 {
				p.i += j + 1
			} else {
				p.i = len(p.s)
			}
		case strings.HasPrefix(p.s[p.i:], "/*"):
			j := strings.Index(p.s[p.i+2:], "*/")
			if j < 0 {
				return token{}, fmt.Errorf("%w: unterminated comment at offset %d", ErrJAAS, p.i)
			}
			p.i += j + 4
		default:
			return p.lex()
		}
	}
	return token{kind: tokEOF, pos: p.i}, nil
}

func (p *jaasParser) lex() (token, error) {
	start := p.i
	c := p.s[p.i]
	switch {
	case c == '=':
		p.i++
		return token{kind: tokEq, pos: start}, nil
	case c == ';':
		p.i++
		return token{kind: tokSemi, pos: start}, nil
	case c == '"':
		var b strings.Builder
		for p.i++; p.i < len(p.s); p.i++ {
			c := p.s[p.i]
			switch c {
			case '"':
				p.i++
				return token{kind: tokQuoted, text: b.String(), pos: start}, nil
			case '\\':
				if p.i+1 >= len(p.s) {
					break
				}
				p.i++
				switch e := p.s[p.i]; e {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				case 'r':
					b.WriteByte('\r')
				default:
					b.WriteByte(e)
				}
			default:
				b.WriteByte(c)
			}
		}
		return token{}, fmt.Errorf("%w: unterminated quoted value starting at offset %d", ErrJAAS, start)
	case isWordChar(c):
		for p.i < len(p.s) && isWordChar(p.s[p.i]) {
			p.i++
		}
		return token{kind: tokWord, text: p.s[start:p.i], pos: start}, nil
	}
	return token{}, fmt.Errorf("%w: unexpected character %q at offset %d", ErrJAAS, c, start)
}
