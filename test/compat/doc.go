// Package compat holds interoperability tests that drive a Kafka-compatible
// broker with real third-party clients: franz-go (kgo, kadm), IBM Sarama at
// its default V2_8_0_0 and at MaxVersion, segmentio/kafka-go (Writer/Reader
// and the low-level Conn), librdkafka through confluent-kafka-go (cgo, its
// bundled librdkafka), and librdkafka through the kcat binary (Debian's,
// librdkafka 2.0.2).
//
// The tests are broker-agnostic: startBroker (broker_test.go) is the only
// place that knows which broker runs. Every test creates its topics with
// kadm, produces a generated record set (null and empty keys, empty and
// ~100 KiB values, repeated and empty headers, explicit non-monotonic
// timestamps) and checks record by record what comes back: partition,
// contiguous offsets from 0, key, value, headers in order, timestamp, plus
// ListOffsets (earliest, latest, read_committed latest) and, through a
// franz-go reference read, the codec and producer ID of every batch.
//
//	TestCompat/<client>/<codec>       one client produces and consumes
//	TestCross/<producer>_to_<consumer>/<codec>
//	TestIdempotent/<client>           idempotent producers
//	TestAdmin, TestApiVersions        kadm administration, ApiVersions
//	TestACLsSarama, TestACLsConfluent  CreateAcls, DescribeAcls, DeleteAcls
//
// kcat tests skip when kcat is not on PATH, except under CI=true, where they
// fail (scripts/ci-deps.txt lists the Debian packages). Known kfake
// limitations (broker_test.go) turn into skips only when the broker reports
// cluster ID "kfake".
//
// Run with: go test ./test/compat/
package compat
