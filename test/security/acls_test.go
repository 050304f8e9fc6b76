package security

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// bobPass is bob's PLAIN password on the ACL test broker.
const bobPass = "bob-secret"

// startACLs starts a SASL_PLAINTEXT broker with Kafka's StandardAuthorizer,
// User:admin as super user and the PLAIN users admin, alice and bob.
func startACLs(t *testing.T) *env {
	t.Helper()
	b := tandemtest.StartSASL(t, map[string]string{
		"sasl.enabled.mechanisms": "PLAIN",
		"listener.name.sasl_plaintext.plain.sasl.jaas.config": auth.PlainLoginModule +
			` required username="admin" password="` + adminPass + `" user_admin="` + adminPass +
			`" user_alice="` + alicePass + `" user_bob="` + bobPass + `";`,
		"authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"super.users":           "User:admin",
	})
	e := &env{SASLBroker: b}
	e.admin = kadm.NewClient(e.client(t, plain.Auth{User: "admin", Pass: adminPass}.AsMechanism()))
	return e
}

// TestACLsOverSASL: two users authenticated with SASL/PLAIN over
// SASL_PLAINTEXT; the super user grants alice what a producer and a
// consumer group need with kadm CreateACLs, and bob, with no ACL, is
// refused, including the ACL APIs themselves (ALTER/DESCRIBE on the
// cluster). Deleting alice's WRITE takes her write access away.
func TestACLsOverSASL(t *testing.T) {
	e := startACLs(t)
	ctx := ctxT(t)
	topic := e.topic(t, "payments")
	alice := plain.Auth{User: "alice", Pass: alicePass}.AsMechanism()
	bob := plain.Auth{User: "bob", Pass: bobPass}.AsMechanism()

	grants := []*kadm.ACLBuilder{
		kadm.NewACLs().Topics(topic).Allow("User:alice").Operations(kadm.OpWrite, kadm.OpRead),
		kadm.NewACLs().Groups("alice-").ResourcePatternType(kadm.ACLPatternPrefixed).Allow("User:alice").Operations(kadm.OpRead),
	}
	for _, g := range grants {
		res, err := e.admin.CreateACLs(ctx, g)
		if err == nil {
			for _, r := range res {
				err = errors.Join(err, r.Err)
			}
		}
		if err != nil {
			t.Fatalf("admin CreateACLs: %v", err)
		}
	}

	produce := func(m sasl.Mechanism, v string) error {
		cl := e.client(t, m)
		defer cl.Close()
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return cl.ProduceSync(pctx, &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr()
	}
	if err := produce(alice, "a-1"); err != nil {
		t.Fatalf("alice produce: %v", err)
	}
	if err := produce(bob, "b-1"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("bob produce: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	cons := e.client(t, alice, kgo.ConsumeTopics(topic), kgo.ConsumerGroup("alice-reader"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	fs := cons.PollFetches(ctx)
	if err := fs.Err0(); err != nil || fs.NumRecords() != 1 || string(fs.Records()[0].Value) != "a-1" {
		t.Fatalf("alice consume in group alice-reader: %v %d", err, fs.NumRecords())
	}
	if err := cons.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("alice commit: %v", err)
	}

	bobAdm := kadm.NewClient(e.client(t, bob))
	res, err := bobAdm.CreateACLs(ctx, kadm.NewACLs().Topics(topic).Allow("User:bob").Operations(kadm.OpWrite))
	if err != nil || len(res) != 1 || !errors.Is(res[0].Err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("bob CreateACLs: %v %+v", err, res)
	}
	all := kadm.NewACLs().AnyResource().Allow().AllowHosts().Deny().DenyHosts().Operations().ResourcePatternType(kadm.ACLPatternAny)
	dres, err := bobAdm.DescribeACLs(ctx, all)
	if err != nil || len(dres) == 0 || !errors.Is(dres[0].Err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("bob DescribeACLs: %v %+v", err, dres)
	}
	dres, err = e.admin.DescribeACLs(ctx, all)
	if err != nil || len(dres) != 1 || dres[0].Err != nil || len(dres[0].Described) != 3 {
		t.Fatalf("admin DescribeACLs: %v %+v", err, dres)
	}

	del, err := e.admin.DeleteACLs(ctx, kadm.NewACLs().Topics(topic).Allow("User:alice").AllowHosts().
		Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral))
	if err != nil || len(del) != 1 || del[0].Err != nil || len(del[0].Deleted) != 1 {
		t.Fatalf("admin DeleteACLs: %v %+v", err, del)
	}
	// Without WRITE on any topic, her idempotent producer is refused
	// already at InitProducerId (Kafka: CLUSTER_AUTHORIZATION_FAILED).
	if err := produce(alice, "a-2"); !errors.Is(err, kerr.TopicAuthorizationFailed) && !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("alice produce after her WRITE was deleted: %v", err)
	}
}

// TestACLsKcat: librdkafka (kcat) authenticating as alice may produce to
// the topic she was granted, and as bob may not.
func TestACLsKcat(t *testing.T) {
	bin := kcatBinary(t)
	e := startACLs(t)
	ctx := ctxT(t)
	topic := e.topic(t, "kcat-acl")
	res, err := e.admin.CreateACLs(ctx, kadm.NewACLs().Topics(topic).Allow("User:alice").Operations(kadm.OpWrite))
	if err != nil || res[0].Err != nil {
		t.Fatalf("grant: %v %+v", err, res)
	}
	kcat := func(user, pass string) (string, error) {
		cmd := exec.CommandContext(ctx, bin, "-P", "-b", e.Addr, "-t", topic,
			"-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=PLAIN",
			"-X", "sasl.username="+user, "-X", "sasl.password="+pass, "-X", "message.timeout.ms=5000")
		cmd.Stdin = strings.NewReader(user + "-value\n")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := kcat("alice", alicePass); err != nil {
		t.Fatalf("kcat as alice: %v\n%s", err, out)
	}
	out, err := kcat("bob", bobPass)
	if err == nil || !strings.Contains(out, "Topic authorization failed") {
		t.Fatalf("kcat as bob: %v, want Topic authorization failed:\n%s", err, out)
	}
	e.checkTopic(t, topic, []string{"alice-value"})
}
