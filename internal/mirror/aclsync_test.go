package mirror_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/link"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// ACL sync (issue #11 item 4) between two Tandems with the
// StandardAuthorizer, and from kfake.

const (
	standardAuthorizer = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
	aclSyncInterval    = 300 * time.Millisecond
	// aliceFilters selects every ACL of User:alice (and nothing else).
	aliceFilters = `{"aclFilters":[{"resourceFilter":{"resourceType":"any","patternType":"any"},` +
		`"accessFilter":{"principal":"User:alice","host":"*","operation":"any","permissionType":"any"}}]}`
)

// aclKey is an ACL as compared across clusters.
type aclKey struct {
	typ       kmsg.ACLResourceType
	name      string
	pattern   kmsg.ACLResourcePatternType
	principal string
	op        kmsg.ACLOperation
	perm      kmsg.ACLPermissionType
}

func topicACL(topic, principal string, op kmsg.ACLOperation) aclKey {
	return aclKey{kmsg.ACLResourceTypeTopic, topic, kmsg.ACLResourcePatternTypeLiteral, principal, op, kmsg.ACLPermissionTypeAllow}
}

// aclsOf lists a cluster's ACLs.
func aclsOf(t *testing.T, cl *kgo.Client) []aclKey {
	t.Helper()
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType, req.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
	req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatalf("describe ACLs: %v", err)
	}
	if resp.ErrorCode != 0 {
		t.Fatalf("describe ACLs: code %d", resp.ErrorCode)
	}
	var out []aclKey
	for _, r := range resp.Resources {
		for _, a := range r.ACLs {
			out = append(out, aclKey{r.ResourceType, r.ResourceName, r.ResourcePatternType, a.Principal, a.Operation, a.PermissionType})
		}
	}
	return out
}

// changeACLs creates add and deletes del on a cluster.
func changeACLs(t *testing.T, cl *kgo.Client, add, del []aclKey) {
	t.Helper()
	if len(add) > 0 {
		req := kmsg.NewPtrCreateACLsRequest()
		for _, a := range add {
			c := kmsg.NewCreateACLsRequestCreation()
			c.ResourceType, c.ResourceName, c.ResourcePatternType = a.typ, a.name, a.pattern
			c.Principal, c.Host, c.Operation, c.PermissionType = a.principal, "*", a.op, a.perm
			req.Creations = append(req.Creations, c)
		}
		resp, err := req.RequestWith(ctxT(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resp.Results {
			if r.ErrorCode != 0 {
				t.Fatalf("create ACLs: code %d %v", r.ErrorCode, r.ErrorMessage)
			}
		}
	}
	if len(del) > 0 {
		req := kmsg.NewPtrDeleteACLsRequest()
		for _, a := range del {
			f := kmsg.NewDeleteACLsRequestFilter()
			f.ResourceType, f.ResourceName, f.ResourcePatternType = a.typ, kmsg.StringPtr(a.name), a.pattern
			f.Principal, f.Host, f.Operation, f.PermissionType = kmsg.StringPtr(a.principal), kmsg.StringPtr("*"), a.op, a.perm
			req.Filters = append(req.Filters, f)
		}
		resp, err := req.RequestWith(ctxT(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resp.Results {
			if r.ErrorCode != 0 {
				t.Fatalf("delete ACLs: code %d %v", r.ErrorCode, r.ErrorMessage)
			}
		}
	}
}

// waitACLs waits until the destination holds every ACL of want and none
// of gone, and returns how long it took.
func waitACLs(t *testing.T, adm *kgo.Client, want, gone []aclKey) time.Duration {
	t.Helper()
	return waitUntil(t, 20*time.Second, "destination ACLs", func() bool {
		have := aclsOf(t, adm)
		for _, a := range want {
			if !slices.Contains(have, a) {
				return false
			}
		}
		for _, a := range gone {
			if slices.Contains(have, a) {
				return false
			}
		}
		return true
	})
}

// secureSource is a Tandem with the StandardAuthorizer behind a SASL PLAIN
// listener: admin is a super user, "link" may read every topic and
// describe the cluster, "nodesc" may read every topic only.
func secureSource(t *testing.T) (*tandemtest.SASLBroker, *kgo.Client) {
	t.Helper()
	src := tandemtest.StartSASL(t, map[string]string{
		"sasl.enabled.mechanisms": "PLAIN",
		"listener.name.sasl_plaintext.plain.sasl.jaas.config": auth.PlainLoginModule +
			` required username="admin" password="admin-pw" user_admin="admin-pw" user_link="link-pw" user_nodesc="nodesc-pw";`,
		"authorizer.class.name": standardAuthorizer,
		"super.users":           "User:admin",
	})
	admin := newClient(t, src.Addr, kgo.SASL(plain.Auth{User: "admin", Pass: "admin-pw"}.AsMechanism()))
	if _, err := kadm.NewClient(admin).CreateTopic(ctxT(t), 1, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	all := func(p string) aclKey { return topicACL("*", p, kmsg.ACLOperationAll) }
	changeACLs(t, admin, []aclKey{all("User:link"), all("User:nodesc"),
		{kmsg.ACLResourceTypeCluster, "kafka-cluster", kmsg.ACLResourcePatternTypeLiteral, "User:link", kmsg.ACLOperationDescribe, kmsg.ACLPermissionTypeAllow}}, nil)
	return src, admin
}

// secureDestination is a Tandem with the StandardAuthorizer whose
// (PLAINTEXT, ANONYMOUS) clients are super users, and its admin client.
func secureDestination(t *testing.T) (*tandemtest.Broker, *kgo.Client) {
	t.Helper()
	dst := tandemtest.Start(t, tandemtest.Config("authorizer.class.name", standardAuthorizer),
		tandemtest.Config("super.users", "User:ANONYMOUS"), tandemtest.Config("password.encoder.secret", "broker-secret"))
	return dst, newClient(t, dst.Addr())
}

func aclLinkConfigs(bootstrap, user, password string) map[string]string {
	cfg := saslLinkConfigs(bootstrap, "PLAIN", user, password)
	cfg["acl.sync.enable"], cfg["acl.filters"], cfg["acl.sync.ms"] = "true", aliceFilters, "300"
	return cfg
}

func aclTask(t *testing.T, lm *link.Manager, name string) link.TaskStatus {
	t.Helper()
	li, err := lm.Link(name)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range li.Tasks {
		if tk.Name == link.TaskAclSync {
			return tk
		}
	}
	t.Fatalf("link %s has no AclSync task", name)
	return link.TaskStatus{}
}

// TestACLSyncBetweenSecuredTandems: ACLs created, changed (delete +
// create) and deleted at the source appear and disappear at the
// destination within about one acl.sync.ms; ACLs the filter does not
// select are not copied; ACLs made at the destination, even ones the
// source also had, are never deleted; mirroring goes on.
func TestACLSyncBetweenSecuredTandems(t *testing.T) {
	t.Parallel()
	src, admin := secureSource(t)
	dst, dcl := secureDestination(t)
	dadm := dcl

	read := topicACL("orders", "User:alice", kmsg.ACLOperationRead)
	write := topicACL("orders", "User:alice", kmsg.ACLOperationWrite)
	describe := topicACL("orders", "User:alice", kmsg.ACLOperationDescribe)
	group := aclKey{kmsg.ACLResourceTypeGroup, "app", kmsg.ACLResourcePatternTypePrefixed, "User:alice", kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow}
	shared := topicACL("shared", "User:alice", kmsg.ACLOperationRead)    // at both ends, made here by an operator
	localOnly := topicACL("local", "User:alice", kmsg.ACLOperationWrite) // only here
	bob := topicACL("orders", "User:bob", kmsg.ACLOperationRead)         // not selected by the filter
	changeACLs(t, admin, []aclKey{read, write, group, shared, bob}, nil)
	changeACLs(t, dcl, []aclKey{shared, localOnly}, nil)
	produceN(t, admin, "orders", 50)

	lm := dst.Node.Links()
	if err := lm.CreateLink(ctxT(t), "acl", "", aclLinkConfigs(src.Addr, "link", "link-pw"), false, true); err != nil {
		t.Fatal(err)
	}
	if err := lm.CreateMirror(ctxT(t), "acl", "orders", "", nil, false); err != nil {
		t.Fatal(err)
	}
	took := waitACLs(t, dadm, []aclKey{read, write, group, shared, localOnly}, []aclKey{bob})
	t.Logf("created at the destination after %v", took)
	if synced, on := lm.SyncedACLs("acl"); !on || len(synced) != 3 {
		t.Errorf("the link records %d synced ACLs (on=%v), want 3 (read, write, group): %v", len(synced), on, synced)
	}

	// Changed at the source: WRITE replaced by DESCRIBE.
	changeACLs(t, admin, []aclKey{describe}, []aclKey{write})
	took = waitACLs(t, dadm, []aclKey{read, describe, group, shared, localOnly}, []aclKey{write, bob})
	t.Logf("changed at the destination after %v", took)
	if took > 10*aclSyncInterval {
		t.Errorf("the change took %v, acl.sync.ms is %v", took, aclSyncInterval)
	}

	// What the link created is known after a restart of the destination
	// (kept in the link's metadata record).
	dst.Restart()
	lm = dst.Node.Links()

	// Deleted at the source, the shared one too: only what the link
	// created goes.
	changeACLs(t, admin, nil, []aclKey{read, describe, group, shared})
	took = waitACLs(t, dadm, []aclKey{shared, localOnly}, []aclKey{read, describe, group, write})
	t.Logf("deleted at the destination after %v", took)
	// Two more rounds later the local ones are still there.
	runs := aclTask(t, lm, "acl").Runs
	waitUntil(t, 20*time.Second, "two more AclSync rounds", func() bool { return aclTask(t, lm, "acl").Runs >= runs+2 })
	if have := aclsOf(t, dadm); !slices.Contains(have, shared) || !slices.Contains(have, localOnly) {
		t.Fatalf("local ACLs were touched: %v", have)
	}
	if synced, _ := lm.SyncedACLs("acl"); len(synced) != 0 {
		t.Errorf("the link still records %v", synced)
	}
	if tk := aclTask(t, lm, "acl"); tk.State != link.TaskActive || tk.Runs == 0 {
		t.Errorf("AclSync task %+v", tk)
	}
	produceN(t, admin, "orders", 50)
	sameBytes(t, admin, newClient(t, dst.Addr()), "orders", "orders")

	// Turning ACL sync off clears its filters; what it created stays.
	changeACLs(t, admin, []aclKey{read}, nil)
	waitACLs(t, dadm, []aclKey{read}, nil)
	li, _ := lm.Link("acl")
	cfg := li.Link.Configs
	cfg["acl.sync.enable"] = "false"
	if err := lm.AlterLinkConfigs("acl", cfg, false); err != nil {
		t.Fatal(err)
	}
	li, _ = lm.Link("acl")
	if _, ok := li.Link.Configs["acl.filters"]; ok {
		t.Error("acl.filters kept after acl.sync.enable=false")
	}
	if tk := aclTask(t, lm, "acl"); tk.State != link.TaskNotConfigured {
		t.Errorf("AclSync after turning it off: %+v", tk)
	}
	if !slices.Contains(aclsOf(t, dadm), read) {
		t.Error("turning ACL sync off deleted what it created")
	}
}

// TestACLSyncDeniedByTheSource: a link whose principal lacks DESCRIBE on
// the source's cluster has its AclSync task IN_ERROR with a message
// naming the permission, while its mirrors keep mirroring.
func TestACLSyncDeniedByTheSource(t *testing.T) {
	t.Parallel()
	src, admin := secureSource(t)
	dst, _ := secureDestination(t)
	produceN(t, admin, "orders", 20)
	lm := dst.Node.Links()
	if err := lm.CreateLink(ctxT(t), "nodesc", "", aclLinkConfigs(src.Addr, "nodesc", "nodesc-pw"), false, true); err != nil {
		t.Fatal(err)
	}
	if err := lm.CreateMirror(ctxT(t), "nodesc", "orders", "", nil, false); err != nil {
		t.Fatal(err)
	}
	var tk link.TaskStatus
	waitUntil(t, 20*time.Second, "AclSync IN_ERROR", func() bool {
		tk = aclTask(t, lm, "nodesc")
		return tk.State == link.TaskInError
	})
	t.Logf("task error: %s %s", tk.ErrorCode, tk.ErrorMessage)
	for _, want := range []string{"CLUSTER_AUTHORIZATION_FAILED", "User:nodesc needs DESCRIBE on the source's Cluster resource", "cluster link 'nodesc'"} {
		if !strings.Contains(tk.ErrorMessage, want) {
			t.Errorf("task error %q does not say %q", tk.ErrorMessage, want)
		}
	}
	if tk.ErrorCode != "AUTHENTICATION_ERROR" || strings.Contains(tk.ErrorMessage, "nodesc-pw") {
		t.Errorf("task error %s %q", tk.ErrorCode, tk.ErrorMessage)
	}
	produceN(t, admin, "orders", 30)
	sameBytes(t, admin, newClient(t, dst.Addr()), "orders", "orders")
	if li, _ := lm.Link("nodesc"); li.State != link.LinkActive {
		t.Errorf("link %s %q", li.State, li.ErrorMessage)
	}
}

// TestACLSyncFromKfake syncs ACLs from franz-go's kfake (which keeps ACLs
// and answers DescribeAcls like Kafka), and a source without an
// authorizer puts the task IN_ERROR saying so.
func TestACLSyncFromKfake(t *testing.T) {
	t.Parallel()
	src, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("PLAIN", "link", "link-pw"), kfake.SeedTopics(1, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Close)
	seed := src.ListenAddrs()[0]
	admin := newClient(t, seed, kgo.SASL(plain.Auth{User: "link", Pass: "link-pw"}.AsMechanism()))
	read := topicACL("orders", "User:alice", kmsg.ACLOperationRead)
	write := topicACL("orders", "User:alice", kmsg.ACLOperationWrite)
	changeACLs(t, admin, []aclKey{read, write, topicACL("orders", "User:bob", kmsg.ACLOperationRead)}, nil)
	dst, dcl := secureDestination(t)
	dadm := dcl
	lm := dst.Node.Links()
	if err := lm.CreateLink(context.Background(), "kf", "", aclLinkConfigs(seed, "link", "link-pw"), false, true); err != nil {
		t.Fatal(err)
	}
	waitACLs(t, dadm, []aclKey{read, write}, []aclKey{topicACL("orders", "User:bob", kmsg.ACLOperationRead)})
	changeACLs(t, admin, nil, []aclKey{write})
	waitACLs(t, dadm, []aclKey{read}, []aclKey{write})

	// A kfake without ACLs answers DescribeAcls, but Tandem's own source
	// without an authorizer says SECURITY_DISABLED: the task says so.
	plainSrc := tandemtest.Start(t)
	cfg := map[string]string{"bootstrap.servers": plainSrc.Addr(), "acl.sync.enable": "true", "acl.filters": aliceFilters, "acl.sync.ms": "300"}
	if err := lm.CreateLink(ctxT(t), "open", "", cfg, false, true); err != nil {
		t.Fatal(err)
	}
	var tk link.TaskStatus
	waitUntil(t, 20*time.Second, "AclSync IN_ERROR", func() bool {
		tk = aclTask(t, lm, "open")
		return tk.State == link.TaskInError
	})
	if !strings.Contains(tk.ErrorMessage, "no authorizer (SECURITY_DISABLED)") || tk.ErrorCode != "MISCONFIGURATION_ERROR" {
		t.Errorf("task error %s %q", tk.ErrorCode, tk.ErrorMessage)
	}
}
