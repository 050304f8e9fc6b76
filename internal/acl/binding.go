package acl

import (
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/usererr"
)

// ErrInvalidBinding classifies a binding or filter that CreateAcls,
// DeleteAcls or DescribeAcls refuse (Kafka's InvalidRequestException).
var ErrInvalidBinding = errors.New("invalid ACL")

// Validate checks a binding to be created as Kafka does: the controller's
// AclControlManager.validateNewAcl (resource type, pattern type, operation
// and permission specific and known, resource name not empty), the
// broker's AclApis.handleCreateAcls (the CLUSTER resource is called
// "kafka-cluster") and StandardAcl's principal parsing ("Type:Name").
//
// As in Kafka, a PREFIXED pattern named "*" is accepted: it is an ordinary
// prefix (names starting with "*"), not the wildcard, which is LITERAL only
// (ResourcePattern and validateNewAcl do not reject it).
func (b Binding) Validate() error {
	switch b.Type {
	case kmsg.ACLResourceTypeTopic, kmsg.ACLResourceTypeGroup, kmsg.ACLResourceTypeCluster,
		kmsg.ACLResourceTypeTransactionalId, kmsg.ACLResourceTypeDelegationToken, kmsg.ACLResourceTypeUser:
	default:
		return usererr.New(ErrInvalidBinding, "Invalid resourceType %s", b.Type)
	}
	switch b.PatternType {
	case kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLResourcePatternTypePrefixed:
	default:
		return usererr.New(ErrInvalidBinding, "Invalid patternType %s", b.PatternType)
	}
	if b.Operation <= kmsg.ACLOperationAny || b.Operation > kmsg.ACLOperationDescribeTokens {
		return usererr.New(ErrInvalidBinding, "Invalid operation %s", b.Operation)
	}
	switch b.Permission {
	case kmsg.ACLPermissionTypeAllow, kmsg.ACLPermissionTypeDeny:
	default:
		return usererr.New(ErrInvalidBinding, "Invalid permissionType %s", b.Permission)
	}
	if b.Name == "" {
		return usererr.New(ErrInvalidBinding, "Resource name should not be empty")
	}
	if b.Type == kmsg.ACLResourceTypeCluster && b.Name != ClusterName {
		return usererr.New(ErrInvalidBinding, "The only valid name for the CLUSTER resource is %s", ClusterName)
	}
	if _, err := auth.ParsePrincipal(b.Principal); err != nil {
		return usererr.New(ErrInvalidBinding, "Could not parse principal from '%s': want Type:Name, such as User:alice", b.Principal)
	}
	if b.Host == "" {
		return usererr.New(ErrInvalidBinding, "Invalid empty host: use '*' for any host")
	}
	return nil
}

// String is Kafka's way of printing an ACL (AclBinding.toString), for
// messages and logs.
func (b Binding) String() string {
	return fmt.Sprintf("(pattern=ResourcePattern(resourceType=%s, name=%s, patternType=%s), "+
		"entry=(principal=%s, host=%s, operation=%s, permissionType=%s))",
		b.Type, b.Name, b.PatternType, b.Principal, b.Host, b.Operation, b.Permission)
}

// Filter selects bindings for DescribeAcls and DeleteAcls: Kafka's
// AclBindingFilter. A nil Name, Principal or Host matches any; ANY matches
// any resource type, pattern type, operation or permission. PatternType
// MATCH matches the patterns that apply to Name: the LITERAL Name, the
// LITERAL "*" and every PREFIXED prefix of Name.
type Filter struct {
	ResourceType ResourceType
	Name         *string
	PatternType  PatternType
	Principal    *string
	Host         *string
	Operation    Operation
	Permission   Permission
}

// AnyFilter matches every binding (AclBindingFilter.ANY).
var AnyFilter = Filter{ResourceType: kmsg.ACLResourceTypeAny, PatternType: kmsg.ACLResourcePatternTypeAny,
	Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny}

// Validate refuses a filter with an UNKNOWN (or undefined) element, as
// AclControlManager.validateFilter does.
func (f Filter) Validate() error {
	if f.ResourceType <= kmsg.ACLResourceTypeUnknown || f.ResourceType > kmsg.ACLResourceTypeUser {
		return usererr.New(ErrInvalidBinding, "Unknown patternFilter: resource type %s", f.ResourceType)
	}
	if f.PatternType <= kmsg.ACLResourcePatternTypeUnknown || f.PatternType > kmsg.ACLResourcePatternTypePrefixed {
		return usererr.New(ErrInvalidBinding, "Unknown patternFilter: pattern type %s", f.PatternType)
	}
	if f.Operation <= kmsg.ACLOperationUnknown || f.Operation > kmsg.ACLOperationDescribeTokens {
		return usererr.New(ErrInvalidBinding, "Unknown entryFilter: operation %s", f.Operation)
	}
	if f.Permission <= kmsg.ACLPermissionTypeUnknown || f.Permission > kmsg.ACLPermissionTypeAllow {
		return usererr.New(ErrInvalidBinding, "Unknown entryFilter: permission type %s", f.Permission)
	}
	return nil
}

// Matches is AclBindingFilter.matches: ResourcePatternFilter.matches on
// the pattern and AccessControlEntryFilter.matches on the entry.
func (f Filter) Matches(b Binding) bool {
	return f.matchesPattern(b.Pattern) && f.matchesEntry(b.Entry)
}

func (f Filter) matchesPattern(p Pattern) bool {
	if f.ResourceType != kmsg.ACLResourceTypeAny && f.ResourceType != p.Type {
		return false
	}
	anyPattern := f.PatternType == kmsg.ACLResourcePatternTypeAny
	match := f.PatternType == kmsg.ACLResourcePatternTypeMatch
	if !anyPattern && !match && f.PatternType != p.PatternType {
		return false
	}
	if f.Name == nil {
		return true
	}
	if anyPattern || f.PatternType == p.PatternType {
		return *f.Name == p.Name
	}
	// MATCH: the patterns that would apply to a resource named *f.Name.
	switch p.PatternType {
	case kmsg.ACLResourcePatternTypeLiteral:
		return *f.Name == p.Name || p.Name == Wildcard
	case kmsg.ACLResourcePatternTypePrefixed:
		return strings.HasPrefix(*f.Name, p.Name)
	}
	return false
}

func (f Filter) matchesEntry(e Entry) bool {
	if f.Principal != nil && *f.Principal != e.Principal {
		return false
	}
	if f.Host != nil && *f.Host != e.Host {
		return false
	}
	if f.Operation != kmsg.ACLOperationAny && f.Operation != e.Operation {
		return false
	}
	return f.Permission == kmsg.ACLPermissionTypeAny || f.Permission == e.Permission
}

// ParseSuperUsers reads super.users: principals separated by semicolons,
// blanks around them ignored, each "Type:Name"
// (StandardAuthorizer.getConfiguredSuperUsers).
func ParseSuperUsers(s string) ([]auth.Principal, error) {
	var out []auth.Principal
	for part := range strings.SplitSeq(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := auth.ParsePrincipal(part)
		if err != nil {
			return nil, fmt.Errorf("expected a string in format principalType:principalName but got %q", part)
		}
		out = append(out, p)
	}
	return out, nil
}

// SupportedOperations lists the operations that apply to a resource type,
// in code order (Kafka's AclEntry.supportedOperations; the
// authorized-operations fields of KIP-430 report a subset of these).
func SupportedOperations(t ResourceType) []Operation {
	switch t {
	case kmsg.ACLResourceTypeTopic:
		return []Operation{kmsg.ACLOperationRead, kmsg.ACLOperationWrite, kmsg.ACLOperationCreate,
			kmsg.ACLOperationDelete, kmsg.ACLOperationAlter, kmsg.ACLOperationDescribe,
			kmsg.ACLOperationDescribeConfigs, kmsg.ACLOperationAlterConfigs}
	case kmsg.ACLResourceTypeGroup:
		return []Operation{kmsg.ACLOperationRead, kmsg.ACLOperationDelete, kmsg.ACLOperationDescribe,
			kmsg.ACLOperationDescribeConfigs, kmsg.ACLOperationAlterConfigs}
	case kmsg.ACLResourceTypeCluster:
		return []Operation{kmsg.ACLOperationCreate, kmsg.ACLOperationAlter, kmsg.ACLOperationDescribe,
			kmsg.ACLOperationClusterAction, kmsg.ACLOperationDescribeConfigs, kmsg.ACLOperationAlterConfigs,
			kmsg.ACLOperationIdempotentWrite}
	case kmsg.ACLResourceTypeTransactionalId:
		return []Operation{kmsg.ACLOperationWrite, kmsg.ACLOperationDescribe}
	case kmsg.ACLResourceTypeDelegationToken:
		return []Operation{kmsg.ACLOperationDescribe}
	case kmsg.ACLResourceTypeUser:
		return []Operation{kmsg.ACLOperationCreateTokens, kmsg.ACLOperationDescribeTokens}
	}
	return nil
}

// AuthorizedOperations is the authorized-operations bit field of KIP-430
// (Kafka's AuthHelper.authorizedOperations): bit op set for each operation
// of SupportedOperations(res.Type) that a allows ctx on res. With a nil
// Authorizer (authorization off) every supported operation is set.
func AuthorizedOperations(a Authorizer, ctx RequestContext, res Resource) int32 {
	var bits int32
	for _, op := range SupportedOperations(res.Type) {
		if a == nil || a.Authorize(ctx, op, res) {
			bits |= 1 << op
		}
	}
	return bits
}
