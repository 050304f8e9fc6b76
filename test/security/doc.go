// Package security runs real Kafka clients against Tandem's SASL listeners
// (issue #10): franz-go (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, and KIP-368
// re-authentication), kcat (librdkafka: PLAIN, SCRAM-SHA-512), confluent-kafka-go
// (its bundled librdkafka: SCRAM-SHA-512, PLAIN), Sarama (SCRAM through
// xdg-go/scram, and PLAIN and SCRAM-SHA-512 over the raw-token framing of
// SaslHandshake v0) and kafka-go (sasl/scram, sasl/plain), each over
// SASL_PLAINTEXT and over SASL_SSL (a real TLS handshake with a test CA).
// Each produces and consumes; a wrong password and an unknown user get
// SASL_AUTHENTICATION_FAILED with Kafka's message while the broker logs one
// line, never a password, and keeps serving. SCRAM users are created the
// way kafka-configs --alter --add-config 'SCRAM-SHA-512=[password=...]'
// does: AlterUserScramCredentials (kadm), whose semantics and
// authorization are checked too.
//
// The ACL matrix (acl_matrix_test.go) runs the same clients against the
// StandardAuthorizer with ACLs created by kadm: LITERAL and PREFIXED
// grants, a DENY that beats an ALLOW, a super user, and Kafka's errors for
// every refusal.
//
// With Kafka's StandardAuthorizer selected, two PLAIN users (franz-go and
// kcat) get what their ACLs allow and no more, and the ACL APIs need ALTER
// or DESCRIBE on the cluster (acls_test.go).
//
// kcat tests skip when kcat is not on PATH, except under CI=true.
//
// Run with: go test ./test/security/
package security
