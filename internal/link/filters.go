package link

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
)

// Name filters: the JSON filters Confluent links take to select topics
// (auto.create.mirror.topics.filters, {"topicFilters":[…]}) and consumer
// groups (consumer.offset.group.filters, {"groupFilters":[…]}), with the
// same rules for both (cluster-linking.md §2.1, §3.1):
//
//   - patternType LITERAL matches the name exactly, and the name "*"
//     matches every name; PREFIXED matches names starting with it.
//   - filterType INCLUDE (the default) or EXCLUDE.
//   - A name is selected when some INCLUDE filter matches it and no
//     EXCLUDE filter does: EXCLUDE wins, and a name no filter matches is
//     not selected. No filters (an empty config) select nothing.
//
// Enum values are accepted in any case; unknown fields, an empty name and
// "*" as a prefix are refused, so a typo never widens or empties a
// selection silently.

// Pattern and filter types.
const (
	PatternLiteral  = "LITERAL"
	PatternPrefixed = "PREFIXED"
	FilterInclude   = "INCLUDE"
	FilterExclude   = "EXCLUDE"
)

// NameFilter is one filter.
type NameFilter struct {
	Name        string `json:"name"`
	PatternType string `json:"patternType,omitempty"`
	FilterType  string `json:"filterType,omitempty"`
}

// NameFilters is a parsed filter list.
type NameFilters []NameFilter

func (f NameFilter) matches(name string) bool {
	if f.PatternType == PatternPrefixed {
		return strings.HasPrefix(name, f.Name)
	}
	return f.Name == "*" || f.Name == name
}

// Match reports whether the filters select name.
func (fs NameFilters) Match(name string) bool {
	included := false
	for _, f := range fs {
		if !f.matches(name) {
			continue
		}
		if f.FilterType == FilterExclude {
			return false
		}
		included = true
	}
	return included
}

// ParseNameFilters parses a filter config whose JSON object holds the
// list under key ("topicFilters", "groupFilters"). An empty or blank
// value is no filters.
func ParseNameFilters(value, key string) (NameFilters, error) {
	if strings.TrimSpace(value) == "" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(value)))
	dec.DisallowUnknownFields()
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON object")
	}
	for k := range raw {
		if k != key {
			return nil, fmt.Errorf("unknown field %q (want {%q: [...]})", k, key)
		}
	}
	list, ok := raw[key]
	if !ok {
		return nil, fmt.Errorf("no %q list", key)
	}
	ldec := json.NewDecoder(bytes.NewReader(list))
	ldec.DisallowUnknownFields()
	var fs NameFilters
	if err := ldec.Decode(&fs); err != nil {
		return nil, fmt.Errorf("%s: %v", key, err)
	}
	for i := range fs {
		f := &fs[i]
		f.PatternType = strings.ToUpper(strings.TrimSpace(f.PatternType))
		f.FilterType = strings.ToUpper(strings.TrimSpace(f.FilterType))
		if f.PatternType == "" {
			f.PatternType = PatternLiteral
		}
		if f.FilterType == "" {
			f.FilterType = FilterInclude
		}
		switch {
		case f.Name == "":
			return nil, fmt.Errorf("%s[%d]: name is empty", key, i)
		case f.PatternType != PatternLiteral && f.PatternType != PatternPrefixed:
			return nil, fmt.Errorf("%s[%d]: patternType %q (LITERAL or PREFIXED)", key, i, f.PatternType)
		case f.FilterType != FilterInclude && f.FilterType != FilterExclude:
			return nil, fmt.Errorf("%s[%d]: filterType %q (INCLUDE or EXCLUDE)", key, i, f.FilterType)
		case f.PatternType == PatternPrefixed && f.Name == "*":
			return nil, fmt.Errorf("%s[%d]: \"*\" matches every name only as a LITERAL pattern", key, i)
		}
	}
	return fs, nil
}

// filteredFeatures are the link features that have filters: each enable
// key with its filters key.
var filteredFeatures = [][2]string{
	{"consumer.offset.sync.enable", "consumer.offset.group.filters"},
	{"auto.create.mirror.topics.enable", "auto.create.mirror.topics.filters"},
	{"acl.sync.enable", "acl.filters"},
}

// clearFiltersTurnedOff returns next without the filters of each feature
// that next turns off (on in prev, off in next): turning off a feature
// that has filters clears its filters, in the same alter, as Confluent
// does (cluster-linking.md §1.2). Turning it on again starts from no
// filters, which selects nothing. A feature that was already off keeps
// filters set meanwhile (to be in place before it is turned on). next is
// not modified.
func clearFiltersTurnedOff(prev, next map[string]string) map[string]string {
	out := maps.Clone(next)
	for _, f := range filteredFeatures {
		was, _ := strconv.ParseBool(Value(prev, f[0]))
		is, _ := strconv.ParseBool(Value(next, f[0]))
		if was && !is {
			delete(out, f[1])
		}
	}
	return out
}
