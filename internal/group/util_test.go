package group

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func decodeGroupValue(t *testing.T, r Record) *kmsg.GroupMetadataValue {
	t.Helper()
	var k kmsg.GroupMetadataKey
	if err := k.ReadFrom(r.Key); err != nil || k.Version != groupMetadataKeyVersion {
		t.Fatalf("not a group metadata key: %x (%v)", r.Key, err)
	}
	v := new(kmsg.GroupMetadataValue)
	if err := v.ReadFrom(r.Value); err != nil {
		t.Fatalf("group metadata value: %v", err)
	}
	if v.Version != groupMetadataValueVersion {
		t.Fatalf("value version %d", v.Version)
	}
	return v
}
