package group

import "unicode/utf8"

// Partition returns the __consumer_offsets partition that owns groupID:
// Kafka's Utils.abs(groupId.hashCode()) % offsets.topic.num.partitions
// (GroupCoordinatorService.partitionFor). Every Kafka-compatible tool that
// reads __consumer_offsets, and any future second node, must agree on
// this, so it is computed exactly as Java does.
func Partition(groupID string, numPartitions int32) int32 {
	return javaAbs(javaStringHashCode(groupID)) % numPartitions
}

// javaStringHashCode is java.lang.String.hashCode: s[0]*31^(n-1) + … +
// s[n-1] with int32 overflow, over the string's UTF-16 code units (so a
// character outside the BMP contributes its two surrogates).
//
// Kafka decodes group ids from UTF-8; a malformed byte sequence becomes
// U+FFFD in Java and here alike, but Java's decoder replaces a maximal
// malformed subsequence with one U+FFFD where Go's decoding replaces each
// invalid byte, so ids that are not valid UTF-8 could hash differently.
// Clients send UTF-8.
func javaStringHashCode(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 && r <= utf8.MaxRune {
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
			continue
		}
		h = 31*h + int32(r)
	}
	return h
}

// javaAbs is Kafka's Utils.abs: Math.abs except that Integer.MIN_VALUE,
// whose absolute value does not fit, maps to 0.
func javaAbs(n int32) int32 {
	if n == -1<<31 {
		return 0
	}
	if n < 0 {
		return -n
	}
	return n
}
