package link

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/usererr"
)

// ACL sync (cluster-linking.md §3.2). With acl.sync.enable, the link's
// AclSync task reads, every acl.sync.ms, the source's ACLs that
// acl.filters selects (one DescribeAcls per filter; their union is the
// desired set) and makes this cluster's ACLs follow them:
//
//   - a desired binding missing here is created;
//   - a binding the link created earlier that is no longer desired (gone
//     at the source, or no longer selected by the filters) is deleted.
//
// The link deletes only what it created. The bindings it created are kept
// with the link's metadata record (metadata.Link.SyncedACLs); a binding
// that already existed here when the source got it (made by an operator)
// is never recorded, so never deleted, and ACLs made here outside the
// filters are never looked at. The record is written before the bindings
// are created and after they are deleted, so a crash in between leaves a
// recorded binding that does not exist (forgotten at the next round),
// never an unrecorded one the link made.
//
// Each binding the source returns is checked again here against the
// filter that asked for it and Kafka's validation (acl.Binding.Validate):
// a source never widens what the destination's operator selected.
//
// The link's principal needs DESCRIBE on the source's Cluster resource
// (reference §8). A source that refuses it (CLUSTER_AUTHORIZATION_FAILED)
// or has no authorizer (SECURITY_DISABLED) puts the task IN_ERROR with a
// message saying so; mirroring is not affected. A round changes at most
// aclSyncMaxChanges bindings each way; the rest follow in the next rounds.
// cluster.link.paused pauses the task. Deleting the link, or turning ACL
// sync off, leaves the ACLs it created in place (a migration keeps its
// permissions once the link is gone); turning it on again takes them up
// where it left them.

// aclSyncMaxChanges bounds the creations, and the deletions, of one round.
const aclSyncMaxChanges = 1000

// Errors of the AclSync task (users read them in the task's error).
var (
	errACLSyncDenied   = errors.New("the source cluster refused to describe its ACLs")
	errACLSyncDisabled = errors.New("the source cluster has no authorizer")
)

// aclSyncEnabled reports acl.sync.enable.
func aclSyncEnabled(configs map[string]string) bool {
	b, _ := strconv.ParseBool(Value(configs, "acl.sync.enable"))
	return b
}

// aclSyncTask builds the AclSync task: NOT_CONFIGURED unless
// acl.sync.enable is true. It runs at once when the link starts (or its
// configs change), then every acl.sync.ms.
func (m *Manager) aclSyncTask(rt *runtime) *task {
	tk := &task{name: TaskAclSync}
	if aclSyncEnabled(rt.link.Configs) {
		tk.every, tk.atStart = Millis(rt.link.Configs, "acl.sync.ms"), true
		tk.run = func(ctx context.Context) error { return m.syncACLs(ctx, rt) }
	}
	return tk
}

// aclFilterJSON is one entry of acl.filters, with the field names of
// Confluent's JSON (reference §3.2).
type aclFilterJSON struct {
	ResourceFilter *struct {
		ResourceType string  `json:"resourceType"`
		Name         *string `json:"name"`
		PatternType  string  `json:"patternType"`
	} `json:"resourceFilter"`
	AccessFilter *struct {
		Principal      *string `json:"principal"`
		Host           *string `json:"host"`
		Operation      string  `json:"operation"`
		PermissionType string  `json:"permissionType"`
	} `json:"accessFilter"`
}

// ParseACLFilters parses acl.filters: {"aclFilters":[{"resourceFilter":
// {"resourceType","name","patternType"},"accessFilter":{"principal",
// "host","operation","permissionType"}}]}. The enum values are Kafka's
// names in any case, with or without underscores ("describeConfigs",
// "DESCRIBE_CONFIGS"); resourceType, patternType, operation and
// permissionType are required, name, principal and host optional (absent
// matches any). Unknown fields and values are refused. An empty value is
// no filters.
func ParseACLFilters(v string) ([]acl.Filter, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(v)))
	dec.DisallowUnknownFields()
	var raw struct {
		ACLFilters *[]aclFilterJSON `json:"aclFilters"`
	}
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("not the JSON of {\"aclFilters\": [...]}: %v", err)
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON object")
	}
	if raw.ACLFilters == nil {
		return nil, errors.New(`no "aclFilters" list`)
	}
	out := make([]acl.Filter, 0, len(*raw.ACLFilters))
	for i, j := range *raw.ACLFilters {
		f, err := j.filter()
		if err != nil {
			return nil, fmt.Errorf("aclFilters[%d]: %v", i, err)
		}
		out = append(out, f)
	}
	return out, nil
}

func (j aclFilterJSON) filter() (acl.Filter, error) {
	var f acl.Filter
	if j.ResourceFilter == nil {
		return f, errors.New(`no "resourceFilter"`)
	}
	if j.AccessFilter == nil {
		return f, errors.New(`no "accessFilter"`)
	}
	var err error
	if f.ResourceType, err = aclEnum("resourceFilter.resourceType", j.ResourceFilter.ResourceType, kmsg.ParseACLResourceType); err != nil {
		return f, err
	}
	if f.PatternType, err = aclEnum("resourceFilter.patternType", j.ResourceFilter.PatternType, kmsg.ParseACLResourcePatternType); err != nil {
		return f, err
	}
	if f.Operation, err = aclEnum("accessFilter.operation", j.AccessFilter.Operation, kmsg.ParseACLOperation); err != nil {
		return f, err
	}
	if f.Permission, err = aclEnum("accessFilter.permissionType", j.AccessFilter.PermissionType, kmsg.ParseACLPermissionType); err != nil {
		return f, err
	}
	f.Name, f.Host = j.ResourceFilter.Name, j.AccessFilter.Host
	if p := j.AccessFilter.Principal; p != nil {
		if _, err := auth.ParsePrincipal(*p); err != nil {
			return f, fmt.Errorf("accessFilter.principal %q: want Type:Name, such as User:alice", *p)
		}
		f.Principal = p
	}
	if err := f.Validate(); err != nil {
		return f, err
	}
	return f, nil
}

// aclEnum parses one enum value of a filter; UNKNOWN is refused.
func aclEnum[T ~int8](field, v string, parse func(string) (T, error)) (T, error) {
	if strings.TrimSpace(v) == "" {
		return 0, fmt.Errorf("%s is missing", field)
	}
	e, err := parse(v)
	if err != nil || e == 0 {
		return 0, fmt.Errorf("%s %q is not a Kafka ACL value", field, v)
	}
	return e, nil
}

func validACLFilters(v string) error {
	_, err := ParseACLFilters(v)
	return err
}

// aclPlan is one round of ACL sync: what to create and delete here, and
// which bindings the link owns during the changes (recorded before them:
// owned plus what is created) and after them.
type aclPlan struct {
	create, delete []acl.Binding
	during, after  []acl.Binding
}

// planACLSync compares the desired bindings (the source's, filtered), the
// current ones here and those the link owns (created earlier). It creates
// what is desired and missing, and deletes what the link owns, exists and
// is no longer desired; at most limit of each, in binding order. A binding
// the link owns that no longer exists here (deleted by an operator) is
// forgotten, and created again if still desired. Bindings that exist here
// but the link does not own are never deleted, and not taken over when
// they are desired.
func planACLSync(desired, current, owned []acl.Binding, limit int) aclPlan {
	set := func(bs []acl.Binding) map[acl.Binding]bool {
		s := make(map[acl.Binding]bool, len(bs))
		for _, b := range bs {
			s[b] = true
		}
		return s
	}
	want, have, mine := set(desired), set(current), set(owned)
	var p aclPlan
	for b := range want {
		if !have[b] {
			p.create = append(p.create, b)
		}
	}
	for b := range mine {
		if have[b] && !want[b] {
			p.delete = append(p.delete, b)
		}
	}
	sortBindings(p.create)
	sortBindings(p.delete)
	p.create = p.create[:min(len(p.create), limit)]
	p.delete = p.delete[:min(len(p.delete), limit)]
	deleted := set(p.delete)
	for b := range mine {
		if have[b] && !deleted[b] {
			p.after = append(p.after, b)
		}
	}
	p.after = append(p.after, p.create...)
	p.during = append(slices.Clone(owned), p.create...)
	sortBindings(p.after)
	sortBindings(p.during)
	p.during = slices.Compact(p.during)
	return p
}

// sortBindings sorts in Kafka's order of a binding's fields (the order the
// metadata store keeps them in).
func sortBindings(bs []acl.Binding) {
	slices.SortFunc(bs, func(a, b acl.Binding) int {
		if c := int(a.Type) - int(b.Type); c != 0 {
			return c
		}
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		if c := int(a.PatternType) - int(b.PatternType); c != 0 {
			return c
		}
		if c := strings.Compare(a.Principal, b.Principal); c != 0 {
			return c
		}
		if c := strings.Compare(a.Host, b.Host); c != 0 {
			return c
		}
		if c := int(a.Operation) - int(b.Operation); c != 0 {
			return c
		}
		return int(a.Permission) - int(b.Permission)
	})
}

// exactFilter matches one binding and nothing else.
func exactFilter(b acl.Binding) acl.Filter {
	return acl.Filter{ResourceType: b.Type, Name: &b.Name, PatternType: b.PatternType,
		Principal: &b.Principal, Host: &b.Host, Operation: b.Operation, Permission: b.Permission}
}

// syncACLs is one round of the AclSync task.
func (m *Manager) syncACLs(ctx context.Context, rt *runtime) error {
	if rt.condition() == linkCondPaused {
		return nil // cluster.link.paused pauses every activity of the link
	}
	name := rt.link.Name
	filters, err := ParseACLFilters(Value(rt.link.Configs, "acl.filters"))
	if err != nil {
		return usererr.New(ErrInvalidConfig, "invalid cluster link config acl.filters of cluster link '%s': %v", name, err)
	}
	if len(filters) == 0 {
		return usererr.New(ErrInvalidConfig, "ACL sync of cluster link '%s' is enabled but acl.filters is not set: no ACL is selected", name)
	}
	cctx, cancel := context.WithTimeout(ctx, Millis(rt.link.Configs, "request.timeout.ms"))
	defer cancel()
	desired, skipped, err := describeSourceACLs(cctx, rt.client, filters)
	if err != nil {
		return m.aclSourceError(rt, err)
	}
	stored, ok := m.store.Link(name)
	if !ok || stored.ID != rt.link.ID {
		return nil // the link is being deleted or replaced
	}
	p := planACLSync(desired, m.store.ACLs(), stored.SyncedACLs, aclSyncMaxChanges)
	if len(p.create) > 0 {
		if err := m.setSyncedACLs(rt, p.during); err != nil {
			return err
		}
		if err := m.store.CreateACLs(p.create); err != nil {
			return fmt.Errorf("ACL sync of cluster link '%s': creating %d ACLs here: %w", name, len(p.create), err)
		}
	}
	if len(p.delete) > 0 {
		fs := make([]acl.Filter, len(p.delete))
		for i, b := range p.delete {
			fs[i] = exactFilter(b)
		}
		if _, err := m.store.DeleteACLs(fs); err != nil {
			return fmt.Errorf("ACL sync of cluster link '%s': deleting %d ACLs here: %w", name, len(p.delete), err)
		}
	}
	if err := m.setSyncedACLs(rt, p.after); err != nil {
		return err
	}
	level := m.logger.Debug
	if len(p.create)+len(p.delete)+skipped > 0 {
		level = m.logger.Info
	}
	level("cluster link ACL sync", "link", name, "source_acls", len(desired), "created", len(p.create),
		"deleted", len(p.delete), "synced", len(p.after), "skipped", skipped)
	return nil
}

// setSyncedACLs records the bindings the link owns in its metadata record,
// retried over concurrent changes of the record (a config update).
func (m *Manager) setSyncedACLs(rt *runtime, owned []acl.Binding) error {
	for range 10 {
		l, ok := m.store.Link(rt.link.Name)
		if !ok || l.ID != rt.link.ID {
			return errUnknownLink(rt.link.Name)
		}
		if slices.Equal(l.SyncedACLs, owned) {
			return nil
		}
		l.SyncedACLs = owned
		_, err := m.store.CompareAndSetLink(l)
		if err == nil {
			return nil
		}
		if !errors.Is(err, metadata.ErrConflict) {
			return fmt.Errorf("ACL sync of cluster link '%s': recording its ACLs: %w", rt.link.Name, err)
		}
	}
	return fmt.Errorf("ACL sync of cluster link '%s': recording its ACLs: %w", rt.link.Name, metadata.ErrConflict)
}

// describeSourceACLs asks the source for the ACLs of each filter and
// returns their union, each binding checked against its filter and
// Kafka's validation; skipped counts those that failed.
func describeSourceACLs(ctx context.Context, cl *kgo.Client, filters []acl.Filter) (out []acl.Binding, skipped int, err error) {
	seen := map[acl.Binding]bool{}
	for _, f := range filters {
		req := kmsg.NewPtrDescribeACLsRequest()
		req.ResourceType, req.ResourceName, req.ResourcePatternType = f.ResourceType, f.Name, f.PatternType
		req.Principal, req.Host, req.Operation, req.PermissionType = f.Principal, f.Host, f.Operation, f.Permission
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return nil, 0, err
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			if resp.ErrorMessage != nil && *resp.ErrorMessage != "" {
				return nil, 0, fmt.Errorf("%w: %s", err, *resp.ErrorMessage)
			}
			return nil, 0, err
		}
		for _, r := range resp.Resources {
			for _, a := range r.ACLs {
				b := acl.Binding{
					Pattern: acl.Pattern{Type: r.ResourceType, Name: r.ResourceName, PatternType: r.ResourcePatternType},
					Entry:   acl.Entry{Principal: a.Principal, Host: a.Host, Operation: a.Operation, Permission: a.PermissionType},
				}
				if !f.Matches(b) || b.Validate() != nil {
					skipped++
					continue
				}
				if !seen[b] {
					seen[b] = true
					out = append(out, b)
				}
			}
		}
	}
	sortBindings(out)
	return out, skipped, nil
}

// aclSourceError explains a failed DescribeAcls on the source: a missing
// permission names the one the link needs.
func (m *Manager) aclSourceError(rt *runtime, err error) error {
	name := rt.link.Name
	// The principal is known for SASL (User:<name>); with TLS client
	// certificates the source maps it by its own rules.
	who, grant := "the link's principal", "<the link's principal>"
	if rt.sec.user != "" {
		who, grant = "the link's principal User:"+rt.sec.user, "User:"+rt.sec.user
	}
	switch {
	case errors.Is(err, kerr.ClusterAuthorizationFailed):
		return usererr.New(errors.Join(errACLSyncDenied, err),
			"ACL sync of cluster link '%s': the source cluster refused DescribeAcls (CLUSTER_AUTHORIZATION_FAILED): %s needs DESCRIBE on the source's Cluster resource; grant it on the source (kafka-acls --add --allow-principal %s --operation Describe --cluster)",
			name, who, grant)
	case errors.Is(err, kerr.SecurityDisabled):
		return usererr.New(errors.Join(errACLSyncDisabled, err),
			"ACL sync of cluster link '%s': the source cluster has no authorizer (SECURITY_DISABLED), so it has no ACLs to sync; configure authorizer.class.name on the source, or set acl.sync.enable=false", name)
	}
	if aerr, ok := authFailure(err, rt.sec, rt.watch); ok {
		return aerr
	}
	return fmt.Errorf("%w: ACL sync of cluster link '%s': describing the source's ACLs: %w", errSourceUnreachable, name, sourceError(err))
}

// SyncedACLs returns the ACL bindings of this cluster that link's ACL sync
// created and keeps in sync; on reports whether the link syncs ACLs.
func (m *Manager) SyncedACLs(link string) (bindings []acl.Binding, on bool) {
	if m == nil {
		return nil, false
	}
	l, ok := m.store.Link(link)
	if !ok {
		return nil, false
	}
	return l.SyncedACLs, aclSyncEnabled(l.Configs)
}
