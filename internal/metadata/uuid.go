package metadata

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// Kafka renders UUIDs (topic ids, cluster ids) as URL-safe base64 without
// padding: 22 characters (org.apache.kafka.common.Uuid).

// metadataTopicID is Kafka's reserved Uuid(0, 1) (the KRaft metadata topic);
// Kafka never hands it out, nor do we.
var metadataTopicID = [16]byte{15: 1}

// NewUUID returns a random version 4 UUID. Like Kafka's Uuid.randomUuid it
// never returns the zero or reserved ids, nor one whose string form starts
// with '-' (which command lines would take for a flag).
func NewUUID() [16]byte {
	for {
		var id [16]byte
		_, _ = rand.Read(id[:])   // never fails (crypto/rand, Go 1.24+)
		id[6] = id[6]&0x0f | 0x40 // version 4
		id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
		if id == ([16]byte{}) || id == metadataTopicID || UUIDString(id)[0] == '-' {
			continue
		}
		return id
	}
}

// UUIDString renders id as Kafka does.
func UUIDString(id [16]byte) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// ParseUUID parses Kafka's 22-character form.
func ParseUUID(s string) ([16]byte, error) {
	var id [16]byte
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("cluster metadata: invalid uuid %q", s)
	}
	copy(id[:], b)
	return id, nil
}
