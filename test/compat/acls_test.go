package compat

import (
	"context"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// startACLBroker starts a Tandem broker with Kafka's StandardAuthorizer
// selected and the PLAINTEXT principal (User:ANONYMOUS) as super user, so
// the clients below may manage ACLs.
func startACLBroker(t *testing.T) string {
	t.Helper()
	return tandemtest.Start(t,
		tandemtest.Config("authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer"),
		tandemtest.Config("super.users", "User:ANONYMOUS")).Addr()
}

// TestACLsSarama creates, lists and deletes ACLs with Sarama's
// ClusterAdmin at V2_1_0_0 (CreateAcls/DescribeAcls/DeleteAcls v1) and
// V2_8_0_0 (v2, flexible; CreateACLs still v1).
func TestACLsSarama(t *testing.T) {
	for _, v := range []sarama.KafkaVersion{sarama.V2_1_0_0, sarama.V2_8_0_0} {
		t.Run(v.String(), func(t *testing.T) {
			addr := startACLBroker(t)
			cfg := sarama.NewConfig()
			cfg.Version = v
			admin, err := sarama.NewClusterAdmin([]string{addr}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer admin.Close()
			res := sarama.Resource{ResourceType: sarama.AclResourceTopic, ResourceName: "orders",
				ResourcePatternType: sarama.AclPatternLiteral}
			read := sarama.Acl{Principal: "User:alice", Host: "*", Operation: sarama.AclOperationRead,
				PermissionType: sarama.AclPermissionAllow}
			if err := admin.CreateACL(res, read); err != nil {
				t.Fatal(err)
			}
			pre := sarama.Resource{ResourceType: sarama.AclResourceGroup, ResourceName: "app-",
				ResourcePatternType: sarama.AclPatternPrefixed}
			deny := sarama.Acl{Principal: "User:bob", Host: "10.1.2.3", Operation: sarama.AclOperationDescribe,
				PermissionType: sarama.AclPermissionDeny}
			if err := admin.CreateACLs([]*sarama.ResourceAcls{{Resource: pre, Acls: []*sarama.Acl{&deny}}}); err != nil {
				t.Fatal(err)
			}
			all := sarama.AclFilter{ResourceType: sarama.AclResourceAny, ResourcePatternTypeFilter: sarama.AclPatternAny,
				Operation: sarama.AclOperationAny, PermissionType: sarama.AclPermissionAny}
			got, err := admin.ListAcls(all)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[0].Resource != res || len(got[0].Acls) != 1 || *got[0].Acls[0] != read ||
				got[1].Resource != pre || len(got[1].Acls) != 1 || *got[1].Acls[0] != deny {
				t.Fatalf("ListAcls = %+v", got)
			}
			name := "app-payments"
			match := all
			match.ResourceName, match.ResourcePatternTypeFilter = &name, sarama.AclPatternMatch
			deleted, err := admin.DeleteACL(match, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(deleted) != 1 || deleted[0].Resource != pre || deleted[0].Acl != deny || deleted[0].Err != sarama.ErrNoError {
				t.Fatalf("DeleteACL(MATCH app-payments) = %+v", deleted)
			}
			if got, err := admin.ListAcls(all); err != nil || len(got) != 1 {
				t.Fatalf("after delete: %+v %v", got, err)
			}
		})
	}
}

// TestACLsConfluent does the same with librdkafka's admin API
// (confluent-kafka-go), which sends the newest versions it knows.
func TestACLsConfluent(t *testing.T) {
	addr := startACLBroker(t)
	ac, err := kafka.NewAdminClient(&kafka.ConfigMap{"bootstrap.servers": addr})
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bindings := kafka.ACLBindings{
		{Type: kafka.ResourceTopic, Name: "orders", ResourcePatternType: kafka.ResourcePatternTypeLiteral,
			Principal: "User:alice", Host: "*", Operation: kafka.ACLOperationRead, PermissionType: kafka.ACLPermissionTypeAllow},
		{Type: kafka.ResourceGroup, Name: "app-", ResourcePatternType: kafka.ResourcePatternTypePrefixed,
			Principal: "User:bob", Host: "*", Operation: kafka.ACLOperationAll, PermissionType: kafka.ACLPermissionTypeDeny},
		// Invalid: the cluster resource is "kafka-cluster".
		{Type: kafka.ResourceBroker, Name: "other", ResourcePatternType: kafka.ResourcePatternTypeLiteral,
			Principal: "User:bob", Host: "*", Operation: kafka.ACLOperationAlter, PermissionType: kafka.ACLPermissionTypeAllow},
	}
	res, err := ac.CreateACLs(ctx, bindings)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || res[0].Error.Code() != kafka.ErrNoError || res[1].Error.Code() != kafka.ErrNoError ||
		res[2].Error.Code() != kafka.ErrInvalidRequest {
		t.Fatalf("CreateACLs = %+v", res)
	}
	all := kafka.ACLBindingFilter{Type: kafka.ResourceAny, ResourcePatternType: kafka.ResourcePatternTypeAny,
		Operation: kafka.ACLOperationAny, PermissionType: kafka.ACLPermissionTypeAny}
	desc, err := ac.DescribeACLs(ctx, all)
	if err != nil || desc.Error.Code() != kafka.ErrNoError {
		t.Fatalf("DescribeACLs: %v %v", err, desc)
	}
	if len(desc.ACLBindings) != 2 || desc.ACLBindings[0] != bindings[0] || desc.ACLBindings[1] != bindings[1] {
		t.Fatalf("DescribeACLs = %+v", desc.ACLBindings)
	}
	del, err := ac.DeleteACLs(ctx, kafka.ACLBindingFilters{all})
	if err != nil || len(del) != 1 || del[0].Error.Code() != kafka.ErrNoError || len(del[0].ACLBindings) != 2 {
		t.Fatalf("DeleteACLs: %v %+v", err, del)
	}
}
