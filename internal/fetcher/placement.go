package fetcher

import "math"

// fetcherID is Kafka's AbstractFetcherManager.getFetcherId:
//
//	Utils.abs(31 * topic.hashCode() + partitionId) % numFetchersPerBroker
//
// with Java's String.hashCode (int32 overflow arithmetic over UTF-16 code
// units) and Utils.abs (Math.abs, except that Integer.MIN_VALUE maps to 0
// rather than staying negative), so partitions spread over fetchers exactly
// as Kafka spreads them.
func fetcherID(tp TopicPartition, n int) int {
	if n <= 1 {
		return 0
	}
	return int(javaAbs(31*javaStringHash(tp.Topic)+tp.Partition)) % n
}

// javaStringHash is java.lang.String.hashCode: s[0]*31^(n-1) + ... + s[n-1]
// over the UTF-16 code units of s, in int32 arithmetic (Go's signed
// overflow wraps, as Java's does).
func javaStringHash(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 { // a surrogate pair in UTF-16
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
			continue
		}
		h = 31*h + int32(r)
	}
	return h
}

// javaAbs is org.apache.kafka.common.utils.Utils.abs.
func javaAbs(n int32) int32 {
	switch {
	case n == math.MinInt32:
		return 0
	case n < 0:
		return -n
	}
	return n
}
