// Package javautil computes the few Java functions whose exact results
// Kafka's on-disk and placement choices depend on, so Tandem makes the
// same choices: which __consumer_offsets partition owns a group, which
// fetcher thread serves a partition.
package javautil

import "unicode/utf8"

// StringHashCode is java.lang.String.hashCode: s[0]*31^(n-1) + … + s[n-1]
// with int32 overflow, over the string's UTF-16 code units (so a
// character outside the BMP contributes its two surrogates).
//
// Kafka decodes names from UTF-8; a malformed byte sequence becomes
// U+FFFD in Java and here alike, but Java's decoder replaces a maximal
// malformed subsequence with one U+FFFD where Go's decoding replaces each
// invalid byte, so names that are not valid UTF-8 could hash differently.
// Clients send UTF-8.
func StringHashCode(s string) int32 {
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

// Abs is Kafka's org.apache.kafka.common.utils.Utils.abs: Math.abs except
// that Integer.MIN_VALUE, whose absolute value does not fit, maps to 0.
func Abs(n int32) int32 {
	if n == -1<<31 {
		return 0
	}
	if n < 0 {
		return -n
	}
	return n
}
