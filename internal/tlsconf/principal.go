package tlsconf

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// DistinguishedName is the certificate's subject in RFC 2253 form exactly as
// Java's X500Principal.getName() prints it, which is what Kafka's
// ssl.principal.mapping.rules match and what DEFAULT yields: most specific
// RDN first, keywords only for CN, C, L, ST, O, OU, STREET, DC and UID,
// other attributes as dotted OIDs with a '#'-hex DER value, and the
// characters ,=+<>#;"\ escaped with a backslash (Java escapes '=' and '#'
// anywhere, not only where RFC 2253 requires).
func DistinguishedName(cert *x509.Certificate) string {
	var seq rdnSequence
	if rest, err := asn1.Unmarshal(cert.RawSubject, &seq); err != nil || len(rest) > 0 {
		return cert.Subject.String() // unreachable for a parsed certificate
	}
	var b strings.Builder
	for i := len(seq) - 1; i >= 0; i-- {
		if i < len(seq)-1 {
			b.WriteByte(',')
		}
		for j, ava := range seq[i] {
			if j > 0 {
				b.WriteByte('+')
			}
			writeAVA(&b, ava)
		}
	}
	return b.String()
}

type attributeValue struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// rdnSET is a SET OF (encoding/asn1 treats a type named *SET as a SET).
type rdnSET []attributeValue

type rdnSequence []rdnSET

// rfc2253Keywords are the attribute keywords Java's X500Name uses in RFC
// 2253 output (AVAKeyword entries marked rfc2253Compliant).
var rfc2253Keywords = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.9":                    "STREET",
	"0.9.2342.19200300.100.1.25": "DC",
	"0.9.2342.19200300.100.1.1":  "UID",
}

func writeAVA(b *strings.Builder, ava attributeValue) {
	kw, ok := rfc2253Keywords[ava.Type.String()]
	s, isString := derString(ava.Value)
	if !ok || !isString {
		// As AVA.toRFC2253String: an OID keyword or a non-string value is
		// written as '#' followed by the hex of its DER encoding.
		if !ok {
			kw = ava.Type.String()
		}
		b.WriteString(kw)
		b.WriteString("=#")
		b.WriteString(strings.ToUpper(hex.EncodeToString(ava.Value.FullBytes)))
		return
	}
	b.WriteString(kw)
	b.WriteByte('=')
	var v strings.Builder
	for _, r := range s {
		switch {
		case strings.ContainsRune(",=+<>#;\"\\", r):
			v.WriteByte('\\')
			v.WriteRune(r)
		case r == 0:
			v.WriteString("\\00")
		default:
			v.WriteRune(r)
		}
	}
	// Leading and trailing spaces (and CRs) are escaped one by one.
	out := v.String()
	lead := len(out) - len(strings.TrimLeft(out, " \r"))
	trail := len(strings.TrimRight(out, " \r"))
	if lead >= trail {
		trail = len(out) // all blanks: escape each as a leading one
	}
	for i := 0; i < len(out); i++ {
		if i < lead || i >= trail {
			b.WriteByte('\\')
		}
		b.WriteByte(out[i])
	}
}

// derString decodes the string types Java's AVA treats as strings in RFC
// 2253 output (PrintableString, T61String, IA5String, GeneralString,
// BMPString, UTF8String). TestDistinguishedNameMatchesJava checks the
// output against Java 17 itself, which differs only where it decodes a
// BMPString's or T61String's bytes as UTF-8 (printing "\00" escapes):
// Tandem decodes them as their types say.
func derString(v asn1.RawValue) (string, bool) {
	if v.Class != asn1.ClassUniversal {
		return "", false
	}
	switch v.Tag {
	case asn1.TagPrintableString, asn1.TagIA5String, asn1.TagUTF8String, 27 /* GeneralString */ :
		return string(v.Bytes), true
	case asn1.TagT61String:
		// Java decodes T61String as ISO-8859-1.
		r := make([]rune, len(v.Bytes))
		for i, c := range v.Bytes {
			r[i] = rune(c)
		}
		return string(r), true
	case asn1.TagBMPString:
		if len(v.Bytes)%2 != 0 {
			return "", false
		}
		u := make([]uint16, len(v.Bytes)/2)
		for i := range u {
			u[i] = uint16(v.Bytes[2*i])<<8 | uint16(v.Bytes[2*i+1])
		}
		return string(utf16.Decode(u)), true
	}
	return "", false
}

// PrincipalMapper is Kafka's SslPrincipalMapper (KIP-371): rules
// "RULE:pattern/replacement/[LU]" and "DEFAULT", comma-separated, tried in
// order; the first rule whose pattern matches the whole DN gives the name.
//
// Patterns are Go regular expressions (RE2), not Java's: backreferences
// (\1), lookaround ((?=...), (?<!...)), possessive quantifiers (a*+),
// atomic groups and Java-only classes (\p{javaLowerCase}) do not exist in
// RE2, so a rule using them is refused at startup. The common rules (anchors,
// groups, lazy quantifiers, classes) behave the same. Replacements follow
// Java's Matcher.replaceAll: $n is group n ($12 is group 1 followed by "2"
// when there are fewer than 12 groups), \x is a literal x, and every match
// is replaced, Java's empty ones included (TestMappingRulesMatchJava
// compares with Java itself).
type PrincipalMapper struct {
	rules []mappingRule
}

type mappingRule struct {
	isDefault   bool
	pattern     string
	replacement string
	lower       bool
	upper       bool
	full        *regexp.Regexp // ^(?:pattern)$: Java's Matcher.matches
	re          *regexp.Regexp // pattern: Java's String.replaceAll
	after       *regexp.Regexp // ^(?s:.)(?:pattern): the pattern one rune into a text
}

// ErrNoMatchingRule is returned (wrapped) when no rule applies to a DN:
// Kafka's NoMatchingRule, which fails the authentication.
var ErrNoMatchingRule = errors.New("no ssl.principal.mapping.rules rule applies")

// NewPrincipalMapper parses ssl.principal.mapping.rules; an empty value is
// Kafka's default, "DEFAULT".
func NewPrincipalMapper(rules string) (*PrincipalMapper, error) {
	if strings.TrimSpace(rules) == "" {
		rules = "DEFAULT"
	}
	parsed, err := parseRules(rules)
	if err != nil {
		return nil, fmt.Errorf("ssl.principal.mapping.rules: %w", err)
	}
	return &PrincipalMapper{rules: parsed}, nil
}

// Name maps a DN (RFC 2253) to a principal name with the first rule that
// applies.
func (m *PrincipalMapper) Name(dn string) (string, error) {
	for _, r := range m.rules {
		if name, ok := r.apply(dn); ok {
			return name, nil
		}
	}
	return "", fmt.Errorf("%w to %q (rules %s)", ErrNoMatchingRule, dn, m)
}

// String lists the rules as Kafka's SslPrincipalMapper.toString does.
func (m *PrincipalMapper) String() string {
	parts := make([]string, len(m.rules))
	for i, r := range m.rules {
		parts[i] = r.String()
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func (r mappingRule) String() string {
	if r.isDefault {
		return "DEFAULT"
	}
	s := "RULE:" + r.pattern + "/" + r.replacement
	switch {
	case r.lower:
		s += "/L"
	case r.upper:
		s += "/U"
	}
	return s
}

// parseRules splits and parses the rules as Kafka's RULE_SPLITTER and
// RULE_PARSER regexes do: blanks around rules are dropped, empty rules are
// ignored, a pattern or replacement runs to the next unescaped '/' (a
// backslash escapes any character and stays in the text), and anything after
// the flag before the next comma is an error.
func parseRules(s string) ([]mappingRule, error) {
	var out []mappingRule
	i := 0
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' }
	for {
		for i < len(s) && (isSpace(s[i]) || s[i] == ',') {
			i++
		}
		if i >= len(s) {
			return out, nil
		}
		start := i
		var r mappingRule
		switch {
		case strings.HasPrefix(s[i:], "DEFAULT"):
			r.isDefault = true
			i += len("DEFAULT")
		case strings.HasPrefix(s[i:], "RULE:"):
			i += len("RULE:")
			var ok bool
			if r.pattern, i, ok = untilSlash(s, i); !ok {
				return nil, fmt.Errorf("invalid rule %q: want RULE:pattern/replacement/[LU]", ruleText(s, start))
			}
			if r.replacement, i, ok = untilSlash(s, i); !ok {
				return nil, fmt.Errorf("invalid rule %q: want RULE:pattern/replacement/[LU]", ruleText(s, start))
			}
			if i < len(s) && (s[i] == 'L' || s[i] == 'U') {
				r.lower, r.upper = s[i] == 'L', s[i] == 'U'
				i++
			}
			if err := r.compile(); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("invalid rule %q: want DEFAULT or RULE:pattern/replacement/[LU]", ruleText(s, start))
		}
		j := i
		for j < len(s) && isSpace(s[j]) {
			j++
		}
		if j < len(s) && s[j] != ',' {
			return nil, fmt.Errorf("invalid rule %q, unmatched substring %q", ruleText(s, start), strings.TrimSpace(ruleText(s, i)))
		}
		out = append(out, r)
		i = j
	}
}

// ruleText is s from start to the next comma, for messages.
func ruleText(s string, start int) string {
	rest := s[start:]
	if k := strings.IndexByte(rest, ','); k >= 0 {
		rest = rest[:k]
	}
	return strings.TrimSpace(rest)
}

// untilSlash reads from i to the next unescaped '/', returning the text
// (escapes kept) and the index after the slash.
func untilSlash(s string, i int) (string, int, bool) {
	start := i
	for i < len(s) {
		switch s[i] {
		case '\\':
			if i+1 >= len(s) {
				return "", i, false
			}
			i += 2
		case '/':
			return s[start:i], i + 1, true
		default:
			i++
		}
	}
	return "", i, false
}

func (r *mappingRule) compile() error {
	var err error
	if r.re, err = regexp.Compile(r.pattern); err != nil {
		return fmt.Errorf("rule %s: pattern %q is not a valid Go (RE2) regular expression (Java-only syntax such as backreferences and lookaround is not supported): %w", r, r.pattern, err)
	}
	r.full = regexp.MustCompile(`^(?:` + r.pattern + `)$`)
	r.after = regexp.MustCompile(`^(?s:.)(?:` + r.pattern + `)`)
	// Java resolves group references when a rule applies; Tandem checks them
	// now so a broken rule fails at startup, not at a client's handshake.
	if _, err := r.expand(nil, "", r.re.NumSubexp(), nil); err != nil {
		return fmt.Errorf("rule %s: replacement: %w", r, err)
	}
	return nil
}

func (r mappingRule) apply(dn string) (string, bool) {
	if r.isDefault {
		return dn, true
	}
	if !r.full.MatchString(dn) {
		return "", false
	}
	// String.replaceAll: every match of the pattern is replaced.
	var b strings.Builder
	last := 0
	for _, m := range r.javaMatches(dn) {
		b.WriteString(dn[last:m[0]])
		out, _ := r.expand(nil, dn, r.re.NumSubexp(), m)
		b.Write(out)
		last = m[1]
	}
	b.WriteString(dn[last:])
	name := b.String()
	switch {
	case r.lower:
		name = strings.ToLower(name)
	case r.upper:
		name = strings.ToUpper(name)
	}
	return name, true
}

// javaMatches lists the matches Java's Matcher.find finds one after the
// other in dn. Go's FindAll skips an empty match right after a previous
// match; Java takes it ("abc".replaceAll(".*", "x") is "xx" in Java, and
// RULE:(.*)/$1@R/ maps "CN=a" to "CN=a@R@R" in Kafka). Such a match starts
// where a non-empty one ended, at e; it exists when the pattern, tried at e
// with the rune before e as context (all an RE2 assertion looks at, and ^
// does not match there), prefers an empty match.
func (r mappingRule) javaMatches(dn string) [][]int {
	matches := r.re.FindAllStringSubmatchIndex(dn, -1)
	var out [][]int
	for i, m := range matches {
		out = append(out, m)
		e := m[1]
		if m[0] == e || (i+1 < len(matches) && matches[i+1][0] == e) {
			continue
		}
		_, w := utf8.DecodeLastRuneInString(dn[:e])
		em := r.after.FindStringSubmatchIndex(dn[e-w:])
		if em == nil || em[1] != w {
			continue
		}
		for j := range em {
			if em[j] >= 0 {
				em[j] += e - w
			}
		}
		em[0] = e
		out = append(out, em)
	}
	return out
}

// expand appends the replacement for one match (m, as from
// FindStringSubmatchIndex; nil only to validate) with Java's rules, after
// Kafka's escapeLiteralBackReferences: a reference to a group that does not
// exist is literal text when the pattern has groups ("$4" with 3 groups),
// and an error when it has none (Java throws then). Named references
// (${name}) are not supported.
func (r mappingRule) expand(dst []byte, dn string, groups int, m []int) ([]byte, error) {
	repl := r.replacement
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		switch c {
		case '\\':
			i++
			if i >= len(repl) {
				return nil, errors.New("character to be escaped is missing")
			}
			dst = append(dst, repl[i])
		case '$':
			i++
			if i >= len(repl) {
				return nil, errors.New("illegal group reference: group index is missing")
			}
			if repl[i] == '{' {
				return nil, errors.New("named group references (${name}) are not supported")
			}
			if repl[i] < '0' || repl[i] > '9' {
				return nil, errors.New("illegal group reference")
			}
			// Kafka escapes a reference to a missing group (truncating
			// digits first: $123 -> $12 -> $1) when there are groups.
			j := i
			for j < len(repl) && repl[j] >= '0' && repl[j] <= '9' {
				j++
			}
			digits := repl[i:j]
			if groups > 0 && digits[0] != '0' {
				n := atoi(digits)
				for n > groups && n >= 10 {
					n /= 10
				}
				if n > groups {
					dst = append(dst, '$')
					i-- // the digits follow as literal text
					continue
				}
			}
			// Java takes the first digit, then more while the number stays
			// a valid group.
			ref := int(repl[i] - '0')
			for i+1 < len(repl) && repl[i+1] >= '0' && repl[i+1] <= '9' {
				next := ref*10 + int(repl[i+1]-'0')
				if next > groups {
					break
				}
				ref = next
				i++
			}
			if ref > groups {
				return nil, fmt.Errorf("no group %d in the pattern", ref)
			}
			if m != nil && m[2*ref] >= 0 {
				dst = append(dst, dn[m[2*ref]:m[2*ref+1]]...)
			}
		default:
			dst = append(dst, c)
		}
	}
	return dst, nil
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
		if n > 1<<20 {
			return n
		}
	}
	return n
}
