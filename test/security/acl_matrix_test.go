package security

// The ACL matrix of issue #10: SASL PLAIN users on a SASL_PLAINTEXT
// listener, the StandardAuthorizer (authorizer.class.name) with
// super.users, ACLs created with kadm (CreateAcls), and real clients —
// franz-go, confluent-kafka-go (librdkafka) and kcat — each doing what it
// is allowed and being refused what it is not, with Kafka's errors.

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// matrixEnv is a broker with the matrix's users, topics and ACLs:
//   - admin is a super user (super.users) and has no ACL at all;
//   - alice: READ+WRITE on topic "orders" (LITERAL); READ+WRITE on topics
//     "pay*" (PREFIXED) but a DENY READ on "payments" (DENY beats ALLOW);
//     CREATE, DELETE, DESCRIBE_CONFIGS on topics "alice-*"; READ on groups
//     "alice-*" (READ implies DESCRIBE);
//   - bob: READ on topic "orders" only.
//
// Topics "orders", "payments", "payouts" and "secret" exist, each with one
// record written by admin.
type matrixEnv struct {
	addr string
	adm  *kadm.Client
}

func matrixPass(user string) string { return user + "-matrix-pw" }

func startMatrix(t *testing.T) *matrixEnv {
	t.Helper()
	jaas := auth.PlainLoginModule + ` required`
	for _, u := range []string{"admin", "alice", "bob"} {
		jaas += ` user_` + u + `="` + matrixPass(u) + `"`
	}
	b := tandemtest.StartSASL(t, map[string]string{
		"sasl.enabled.mechanisms":                             "PLAIN",
		"listener.name.sasl_plaintext.plain.sasl.jaas.config": jaas + ";",
		"authorizer.class.name":                               "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"super.users":                                         "User:admin",
	})
	e := &matrixEnv{addr: b.Addr}
	e.adm = kadm.NewClient(e.client(t, "admin"))
	ctx := ctxT(t)
	for _, name := range []string{"orders", "payments", "payouts", "secret"} {
		if _, err := e.adm.CreateTopic(ctx, 1, 1, nil, name); err != nil {
			t.Fatalf("admin creates %s: %v", name, err)
		}
		if err := e.client(t, "admin").ProduceSync(ctx, &kgo.Record{Topic: name, Value: []byte(name + "-0")}).FirstErr(); err != nil {
			t.Fatalf("admin produces to %s: %v", name, err)
		}
	}
	prefixed := kadm.ACLPatternPrefixed
	for _, acl := range []*kadm.ACLBuilder{
		kadm.NewACLs().Allow("User:alice").Topics("orders").Operations(kadm.OpRead, kadm.OpWrite),
		kadm.NewACLs().Allow("User:alice").Topics("pay").ResourcePatternType(prefixed).Operations(kadm.OpRead, kadm.OpWrite),
		kadm.NewACLs().Deny("User:alice").Topics("payments").Operations(kadm.OpRead),
		kadm.NewACLs().Allow("User:alice").Topics("alice-").ResourcePatternType(prefixed).
			Operations(kadm.OpCreate, kadm.OpDelete, kadm.OpDescribeConfigs),
		kadm.NewACLs().Allow("User:alice").Groups("alice-").ResourcePatternType(prefixed).Operations(kadm.OpRead),
		kadm.NewACLs().Allow("User:bob").Topics("orders").Operations(kadm.OpRead),
	} {
		res, err := e.adm.CreateACLs(ctx, acl)
		if err == nil {
			for _, r := range res {
				if r.Err != nil {
					err = r.Err
				}
			}
		}
		if err != nil {
			t.Fatalf("creating ACLs: %v", err)
		}
	}
	return e
}

// client is a franz-go client authenticated as user with SASL PLAIN.
func (e *matrixEnv) client(t *testing.T, user string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return tandemtest.NewClient(t, e.addr, append([]kgo.Opt{
		kgo.SASL(plain.Auth{User: user, Pass: matrixPass(user)}.AsMechanism()),
		kgo.RetryTimeout(3 * time.Second),
	}, opts...)...)
}

// consumeOne reads one record of topic's partition 0 from the start, or
// returns the first error the client reports.
func consumeOne(t *testing.T, cl *kgo.Client) (string, error) {
	t.Helper()
	ctx := ctxT(t)
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return "", err
		}
		for _, fe := range fs.Errors() {
			return "", fe.Err
		}
		var v string
		fs.EachRecord(func(r *kgo.Record) {
			if v == "" {
				v = string(r.Value)
			}
		})
		if v != "" {
			return v, nil
		}
	}
}

func expectErr(t *testing.T, what string, err error, want *kerr.Error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Errorf("%s: %v, want success", what, err)
	case want != nil && !errors.Is(err, want):
		t.Errorf("%s: %v, want %s", what, err, want.Message)
	}
}

func TestACLMatrixFranzGo(t *testing.T) {
	e := startMatrix(t)
	ctx := ctxT(t)
	produce := func(user, topic string, opts ...kgo.Opt) error {
		return e.client(t, user, opts...).ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(user)}).FirstErr()
	}

	t.Run("produce", func(t *testing.T) {
		// franz-go is idempotent by default: InitProducerId is allowed by
		// WRITE on some topic (KIP-679), without IDEMPOTENT_WRITE.
		expectErr(t, "alice → orders (LITERAL WRITE)", produce("alice", "orders"), nil)
		expectErr(t, "alice → payouts (PREFIXED WRITE)", produce("alice", "payouts"), nil)
		expectErr(t, "alice → secret", produce("alice", "secret", kgo.DisableIdempotentWrite()), kerr.TopicAuthorizationFailed)
		// bob may write nowhere: no producer id for him, and a plain
		// produce is refused on the topic.
		expectErr(t, "bob → orders (idempotent)", produce("bob", "orders"), kerr.ClusterAuthorizationFailed)
		expectErr(t, "bob → orders", produce("bob", "orders", kgo.DisableIdempotentWrite()), kerr.TopicAuthorizationFailed)
		expectErr(t, "admin (super user) → secret", produce("admin", "secret"), nil)
	})

	t.Run("consume", func(t *testing.T) {
		read := func(user, topic string) error {
			_, err := consumeOne(t, e.client(t, user, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
				topic: {0: kgo.NewOffset().AtStart()},
			})))
			return err
		}
		expectErr(t, "alice ← orders", read("alice", "orders"), nil)
		expectErr(t, "bob ← orders", read("bob", "orders"), nil)
		expectErr(t, "alice ← payouts (PREFIXED READ)", read("alice", "payouts"), nil)
		// DENY READ on "payments" beats the PREFIXED ALLOW READ on "pay".
		expectErr(t, "alice ← payments (DENY beats ALLOW)", read("alice", "payments"), kerr.TopicAuthorizationFailed)
		expectErr(t, "bob ← secret", read("bob", "secret"), kerr.TopicAuthorizationFailed)
		expectErr(t, "admin ← secret", read("admin", "secret"), nil)
	})

	t.Run("group", func(t *testing.T) {
		// alice joins a group she may read, consumes and commits.
		cl := e.client(t, "alice", kgo.ConsumerGroup("alice-g"), kgo.ConsumeTopics("orders"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
		if _, err := consumeOne(t, cl); err != nil {
			t.Fatalf("alice in group alice-g: %v", err)
		}
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatalf("alice commits in alice-g: %v", err)
		}
		offs, err := e.adm.FetchOffsets(ctx, "alice-g")
		if err != nil {
			t.Fatal(err)
		}
		if o, ok := offs.Lookup("orders", 0); !ok || o.At < 1 {
			t.Errorf("alice-g's committed offset of orders: %+v", o)
		}
		// bob may read the topic but not use a group.
		_, err = consumeOne(t, e.client(t, "bob", kgo.ConsumerGroup("bob-g"), kgo.ConsumeTopics("orders")))
		expectErr(t, "bob in group bob-g", err, kerr.GroupAuthorizationFailed)

		aliceAdm := kadm.NewClient(e.client(t, "alice"))
		commit := func(group, topic string) error {
			var os kadm.Offsets
			os.Add(kadm.Offset{Topic: topic, Partition: 0, At: 1, LeaderEpoch: -1})
			resp, err := aliceAdm.CommitOffsets(ctx, group, os)
			if err != nil {
				return err
			}
			return resp.Error()
		}
		expectErr(t, "alice commits to alice-g2", commit("alice-g2", "orders"), nil)
		expectErr(t, "alice commits to other", commit("other", "orders"), kerr.GroupAuthorizationFailed)
		// alice may describe "payments" (ALLOW WRITE implies DESCRIBE),
		// so kadm resolves it, but not read it: the broker refuses. (A
		// topic she may not describe, kadm does not even find.)
		expectErr(t, "alice commits payments to alice-g2", commit("alice-g2", "payments"), kerr.TopicAuthorizationFailed)
		expectErr(t, "alice commits secret to alice-g2", commit("alice-g2", "secret"), kerr.UnknownTopicOrPartition)
	})

	t.Run("topics", func(t *testing.T) {
		alice := kadm.NewClient(e.client(t, "alice"))
		create := func(name string) error {
			r, err := alice.CreateTopic(ctx, 1, 1, nil, name)
			if err != nil {
				return err
			}
			return r.Err
		}
		del := func(name string) error {
			r, err := alice.DeleteTopic(ctx, name)
			if err != nil {
				return err
			}
			return r.Err
		}
		expectErr(t, "alice creates alice-new (PREFIXED CREATE)", create("alice-new"), nil)
		expectErr(t, "alice creates bob-new", create("bob-new"), kerr.TopicAuthorizationFailed)
		expectErr(t, "alice deletes orders", del("orders"), kerr.TopicAuthorizationFailed)
		expectErr(t, "alice deletes secret", del("secret"), kerr.TopicAuthorizationFailed)

		// Describe configs: DESCRIBE_CONFIGS on alice-* only (kadm turns
		// an authorization error of a resource into the call's error).
		describeConfigs := func(name string) error {
			rcs, err := alice.DescribeTopicConfigs(ctx, name)
			if err == nil && len(rcs) > 0 {
				err = rcs[0].Err
			}
			return err
		}
		expectErr(t, "alice describes the configs of alice-new", describeConfigs("alice-new"), nil)
		expectErr(t, "alice describes the configs of orders", describeConfigs("orders"), kerr.TopicAuthorizationFailed)
		bcs, err := alice.DescribeBrokerConfigs(ctx)
		if err == nil && len(bcs) > 0 {
			err = bcs[0].Err
		}
		expectErr(t, "alice describes broker configs", err, kerr.ClusterAuthorizationFailed)
		expectErr(t, "alice deletes alice-new", del("alice-new"), nil)

		// Metadata lists only the topics alice may describe.
		listed, err := alice.ListTopics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		names := listed.Names()
		slices.Sort(names)
		if want := []string{"orders", "payments", "payouts"}; !slices.Equal(names, want) {
			t.Errorf("alice lists topics %v, want %v", names, want)
		}
		all, err := e.adm.ListTopics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !all.Has("secret") {
			t.Errorf("admin (super user) lists %v, without secret", all.Names())
		}
	})
}

// TestACLMatrixAuthorizedOperations: the KIP-430 fields, asked for by a
// real client, reflect the ACLs through Kafka's implied operations.
func TestACLMatrixAuthorizedOperations(t *testing.T) {
	e := startMatrix(t)
	ctx := ctxT(t)
	bits := func(ops ...kmsg.ACLOperation) int32 {
		var b int32
		for _, op := range ops {
			b |= 1 << op
		}
		return b
	}
	allCluster := bits(kmsg.ACLOperationCreate, kmsg.ACLOperationAlter, kmsg.ACLOperationDescribe,
		kmsg.ACLOperationClusterAction, kmsg.ACLOperationDescribeConfigs, kmsg.ACLOperationAlterConfigs,
		kmsg.ACLOperationIdempotentWrite)
	for user, want := range map[string]int32{"alice": 0, "admin": allCluster} {
		req := kmsg.NewPtrDescribeClusterRequest()
		req.IncludeClusterAuthorizedOperations = true
		resp, err := req.RequestWith(ctx, e.client(t, user))
		if err != nil {
			t.Fatal(err)
		}
		if resp.ClusterAuthorizedOperations != want {
			t.Errorf("%s: cluster authorized operations %#x, want %#x", user, resp.ClusterAuthorizedOperations, want)
		}
	}

	// alice's READ and WRITE on orders imply DESCRIBE.
	meta := kmsg.NewPtrMetadataRequest()
	meta.IncludeTopicAuthorizedOperations = true
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("orders")
	meta.Topics = append(meta.Topics, mt)
	mresp, err := meta.RequestWith(ctx, e.client(t, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mresp.Topics[0].AuthorizedOperations, bits(kmsg.ACLOperationRead, kmsg.ACLOperationWrite, kmsg.ACLOperationDescribe); got != want {
		t.Errorf("alice's operations on orders %#x, want %#x", got, want)
	}

	// alice's READ on groups alice-* implies DESCRIBE.
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: "orders", Partition: 0, At: 1, LeaderEpoch: -1})
	if _, err := e.adm.CommitOffsets(ctx, "alice-ops", os); err != nil {
		t.Fatal(err)
	}
	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Groups, dg.IncludeAuthorizedOperations = []string{"alice-ops"}, true
	dresp, err := dg.RequestWith(ctx, e.client(t, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := dresp.Groups[0].AuthorizedOperations, bits(kmsg.ACLOperationRead, kmsg.ACLOperationDescribe); got != want {
		t.Errorf("alice's operations on group alice-ops %#x, want %#x", got, want)
	}
}

// TestACLMatrixLibrdkafka: confluent-kafka-go and kcat (both librdkafka)
// are allowed and refused the same way.
func TestACLMatrixLibrdkafka(t *testing.T) {
	e := startMatrix(t)
	conf := func(user string) *kafka.ConfigMap {
		return &kafka.ConfigMap{
			"bootstrap.servers": e.addr, "security.protocol": "SASL_PLAINTEXT",
			"sasl.mechanisms": "PLAIN", "sasl.username": user, "sasl.password": matrixPass(user),
			"log_level": 0,
		}
	}
	produce := func(user, topic string) error {
		p, err := kafka.NewProducer(conf(user))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		reports := make(chan kafka.Event, 1)
		if err := p.Produce(&kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: 0}, Value: []byte(user)}, reports); err != nil {
			return err
		}
		select {
		case ev := <-reports:
			if m, ok := ev.(*kafka.Message); ok {
				return m.TopicPartition.Error
			}
			return errors.New("unexpected event")
		case <-time.After(20 * time.Second):
			return errors.New("no delivery report")
		}
	}
	rdCode := func(err error) kafka.ErrorCode {
		var ke kafka.Error
		if errors.As(err, &ke) {
			return ke.Code()
		}
		return kafka.ErrNoError
	}
	t.Run("confluent produce", func(t *testing.T) {
		if err := produce("alice", "orders"); err != nil {
			t.Errorf("alice → orders: %v", err)
		}
		if err := produce("bob", "orders"); rdCode(err) != kafka.ErrTopicAuthorizationFailed {
			t.Errorf("bob → orders: %v, want Topic authorization failed", err)
		}
	})
	t.Run("confluent group", func(t *testing.T) {
		consume := func(user, group string) (string, error) {
			cc := conf(user)
			_ = cc.SetKey("group.id", group)
			_ = cc.SetKey("auto.offset.reset", "earliest")
			c, err := kafka.NewConsumer(cc)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Subscribe("orders", nil); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(20 * time.Second)
			for time.Now().Before(deadline) {
				switch ev := c.Poll(100).(type) {
				case *kafka.Message:
					if ev.TopicPartition.Error != nil {
						return "", ev.TopicPartition.Error
					}
					return string(ev.Value), nil
				case kafka.Error:
					return "", ev
				}
			}
			return "", errors.New("nothing consumed")
		}
		if v, err := consume("alice", "alice-rd"); err != nil || v == "" {
			t.Errorf("alice in alice-rd: %q %v", v, err)
		}
		if _, err := consume("bob", "bob-rd"); rdCode(err) != kafka.ErrGroupAuthorizationFailed {
			t.Errorf("bob in bob-rd: %v, want Group authorization failed", err)
		}
	})
	t.Run("kcat", func(t *testing.T) {
		run := func(user, stdin string, args ...string) string {
			stdout, stderr, _ := kcat(t, stdin, "PLAIN", user, matrixPass(user), append([]string{"-b", e.addr, "-m", "15"}, args...)...)
			return stdout + stderr
		}
		if out := run("alice", "", "-C", "-t", "orders", "-p", "0", "-o", "beginning", "-c", "1", "-e"); !strings.Contains(out, "orders-0") {
			t.Errorf("kcat alice consumes orders:\n%s", out)
		}
		if out := run("alice", "", "-C", "-t", "payments", "-p", "0", "-o", "beginning", "-c", "1", "-e"); !strings.Contains(out, "Topic authorization failed") {
			t.Errorf("kcat alice consumes payments (DENY): want Topic authorization failed, got\n%s", out)
		}
		if out := run("bob", "from-kcat\n", "-P", "-t", "orders", "-p", "0"); !strings.Contains(out, "Topic authorization failed") {
			t.Errorf("kcat bob produces to orders: want Topic authorization failed, got\n%s", out)
		}
	})
}
