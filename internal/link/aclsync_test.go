package link

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
)

// aclFiltersAll selects every ACL (the second filter of reference §3.2).
const aclFiltersAll = `{"aclFilters":[{"resourceFilter":{"resourceType":"any","patternType":"any"},"accessFilter":{"operation":"any","permissionType":"any"}}]}`

func ptr(s string) *string { return &s }

// TestParseACLFilters: the JSON of reference §3.2 with its field names and
// value spellings (lower case, camelCase operations, Kafka's upper case
// names); invalid JSON, unknown fields and values, missing required
// fields refused with what is wrong.
func TestParseACLFilters(t *testing.T) {
	got, err := ParseACLFilters(`{"aclFilters":[
     {"resourceFilter":{"resourceType":"topic","name":"foo","patternType":"prefixed"},
      "accessFilter":{"principal":"User:Bob","host":"*","operation":"describeConfigs","permissionType":"allow"}},
     {"resourceFilter":{"resourceType":"any","patternType":"any"},
      "accessFilter":{"operation":"any","permissionType":"any"}},
     {"resourceFilter":{"resourceType":"TRANSACTIONAL_ID","patternType":"MATCH","name":"tx"},
      "accessFilter":{"operation":"IDEMPOTENT_WRITE","permissionType":"DENY"}}]}`)
	if err != nil {
		t.Fatal(err)
	}
	want := []acl.Filter{
		{ResourceType: kmsg.ACLResourceTypeTopic, Name: ptr("foo"), PatternType: kmsg.ACLResourcePatternTypePrefixed,
			Principal: ptr("User:Bob"), Host: ptr("*"), Operation: kmsg.ACLOperationDescribeConfigs, Permission: kmsg.ACLPermissionTypeAllow},
		acl.AnyFilter,
		{ResourceType: kmsg.ACLResourceTypeTransactionalId, Name: ptr("tx"), PatternType: kmsg.ACLResourcePatternTypeMatch,
			Operation: kmsg.ACLOperationIdempotentWrite, Permission: kmsg.ACLPermissionTypeDeny},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d filters", len(got))
	}
	str := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return *p
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ResourceType != w.ResourceType || g.PatternType != w.PatternType || g.Operation != w.Operation || g.Permission != w.Permission ||
			str(g.Name) != str(w.Name) || str(g.Principal) != str(w.Principal) || str(g.Host) != str(w.Host) {
			t.Errorf("filter %d: %+v, want %+v", i, g, w)
		}
	}
	if fs, err := ParseACLFilters("  "); err != nil || fs != nil {
		t.Errorf("empty: %v %v", fs, err)
	}

	rf := `"resourceFilter":{"resourceType":"topic","patternType":"literal"}`
	af := `"accessFilter":{"operation":"read","permissionType":"allow"}`
	for _, c := range []struct{ in, want string }{
		{`{"aclFilters":[`, "not the JSON"},
		{`{"aclFilter":[]}`, `unknown field "aclFilter"`},
		{`{}`, `no "aclFilters" list`},
		{`{"aclFilters":[]} x`, "trailing data"},
		{`{"aclFilters":[{` + af + `}]}`, `aclFilters[0]: no "resourceFilter"`},
		{`{"aclFilters":[{` + rf + `}]}`, `aclFilters[0]: no "accessFilter"`},
		{`{"aclFilters":[{"resourceFilter":{"resourceType":"topics","patternType":"literal"},` + af + `}]}`, `resourceFilter.resourceType "topics" is not a Kafka ACL value`},
		{`{"aclFilters":[{"resourceFilter":{"resourceType":"topic"},` + af + `}]}`, `resourceFilter.patternType is missing`},
		{`{"aclFilters":[{"resourceFilter":{"resourceType":"unknown","patternType":"any"},` + af + `}]}`, `resourceType "unknown"`},
		{`{"aclFilters":[{` + rf + `,"accessFilter":{"operation":"fly","permissionType":"allow"}}]}`, `accessFilter.operation "fly"`},
		{`{"aclFilters":[{` + rf + `,"accessFilter":{"operation":"read","permissionType":"maybe"}}]}`, `accessFilter.permissionType "maybe"`},
		{`{"aclFilters":[{` + rf + `,"accessFilter":{"operation":"read","permissionType":"allow","principal":"Bob"}}]}`, `accessFilter.principal "Bob"`},
		{`{"aclFilters":[{` + rf + `,"accessFilter":{"operation":"read","permissionType":"allow","user":"Bob"}}]}`, `unknown field "user"`},
	} {
		_, err := ParseACLFilters(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.in, err, c.want)
		}
	}
	// Through the config registry: refused at create with the key named.
	err = ValidateConfigs(map[string]string{"bootstrap.servers": "src:9092", "acl.filters": `{"aclFilters":[{"resourceFilter":{"resourceType":"topics","patternType":"literal"},` + af + `}]}`}, nil, true)
	if err == nil || !strings.Contains(err.Error(), `invalid cluster link config acl.filters=`) || !strings.Contains(err.Error(), `"topics" is not a Kafka ACL value`) {
		t.Errorf("registry: %v", err)
	}
}

func binding(res, name, principal string, op kmsg.ACLOperation) acl.Binding {
	t, _ := kmsg.ParseACLResourceType(res)
	return acl.Binding{
		Pattern: acl.Pattern{Type: t, Name: name, PatternType: kmsg.ACLResourcePatternTypeLiteral},
		Entry:   acl.Entry{Principal: principal, Host: "*", Operation: op, Permission: kmsg.ACLPermissionTypeAllow},
	}
}

// TestPlanACLSync: the round logic, desired (source) × current (here) ×
// owned (created by the link earlier).
func TestPlanACLSync(t *testing.T) {
	a := binding("topic", "a", "User:alice", kmsg.ACLOperationRead)
	b := binding("topic", "b", "User:bob", kmsg.ACLOperationWrite)
	c := binding("group", "g", "User:carol", kmsg.ACLOperationRead)
	local := binding("topic", "local", "User:ops", kmsg.ACLOperationAll)
	bs := func(x ...acl.Binding) []acl.Binding { return x }
	for _, tt := range []struct {
		name                     string
		desired, current, owned  []acl.Binding
		limit                    int
		create, del, during, aft []acl.Binding
	}{
		{name: "nothing anywhere"},
		{name: "new at the source", desired: bs(a, b), current: bs(local),
			create: bs(a, b), during: bs(a, b), aft: bs(a, b)},
		{name: "in sync", desired: bs(a, b), current: bs(a, b, local), owned: bs(a, b),
			during: bs(a, b), aft: bs(a, b)},
		{name: "deleted at the source", desired: bs(a), current: bs(a, b, local), owned: bs(a, b),
			del: bs(b), during: bs(a, b), aft: bs(a)},
		{name: "changed at the source (delete + create)", desired: bs(a, c), current: bs(a, b), owned: bs(a, b),
			create: bs(c), del: bs(b), during: bs(a, b, c), aft: bs(a, c)},
		{name: "local ACL never deleted", desired: nil, current: bs(local, a), owned: bs(a),
			del: bs(a), during: bs(a)},
		{name: "local ACL equal to a source one: not taken over", desired: bs(local), current: bs(local)},
		{name: "owned deleted here by an operator, still at the source: re-created", desired: bs(a), current: nil, owned: bs(a),
			create: bs(a), during: bs(a), aft: bs(a)},
		{name: "owned deleted here and at the source: forgotten", desired: nil, current: nil, owned: bs(a),
			during: bs(a)},
		{name: "bounded", desired: bs(a, b, c), current: bs(local), limit: 2,
			create: bs(a, b), during: bs(a, b), aft: bs(a, b)},
		{name: "bounded deletes kept for the next round", desired: nil, current: bs(a, b, c), owned: bs(a, b, c), limit: 1,
			del: bs(a), during: bs(a, b, c), aft: bs(b, c)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			limit := tt.limit
			if limit == 0 {
				limit = aclSyncMaxChanges
			}
			p := planACLSync(tt.desired, tt.current, tt.owned, limit)
			for _, x := range [][]acl.Binding{tt.create, tt.del, tt.during, tt.aft} {
				sortBindings(x)
			}
			check := func(what string, got, want []acl.Binding) {
				if !slices.Equal(got, want) {
					t.Errorf("%s: %v, want %v", what, got, want)
				}
			}
			check("create", p.create, tt.create)
			check("delete", p.delete, tt.del)
			check("owned during", p.during, tt.during)
			check("owned after", p.after, tt.aft)
			for _, b := range p.delete {
				if !slices.Contains(tt.owned, b) {
					t.Errorf("deletes %v, which the link does not own", b)
				}
			}
		})
	}
}

// TestACLSyncOffClearsFilters: turning ACL sync off clears acl.filters in
// the same alter (reference §1.2).
func TestACLSyncOffClearsFilters(t *testing.T) {
	prev := map[string]string{"acl.sync.enable": "true", "acl.filters": aclFiltersAll}
	next := maps.Clone(prev)
	next["acl.sync.enable"] = "false"
	if out := clearFiltersTurnedOff(prev, next); out["acl.filters"] != "" {
		t.Errorf("acl.filters kept: %q", out["acl.filters"])
	}
	if out := clearFiltersTurnedOff(prev, prev); out["acl.filters"] != aclFiltersAll {
		t.Errorf("acl.filters cleared while on")
	}
}
