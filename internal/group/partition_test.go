package group

import (
	"testing"

	"github.com/tandem-streaming/tandem/internal/javautil"
)

func TestPartitionMatchesKafka(t *testing.T) {
	// Java String.hashCode values worked out by hand (and cross-checked
	// with an independent implementation), then Utils.abs(h) % 50.
	for _, tc := range []struct {
		id   string
		hash int32
		want int32
	}{
		{"", 0, 0},
		{"a", 97, 47},
		// 'A'*31 + 'a' = 65*31 + 97 = 2112, the classic collision with "BB".
		{"Aa", 2112, 12},
		{"BB", 66*31 + 66, 12},
		// The famous string whose hashCode is Integer.MIN_VALUE: Utils.abs
		// maps it to 0 where Math.abs would stay negative.
		{"polygenelubricants", -1 << 31, 0},
		// U+1F600 is two UTF-16 units: 0xD83D*31 + 0xDE00 = 1772899.
		{"😀", 0xD83D*31 + 0xDE00, 49},
		{"my-group", -1906497762, 12},
		{"franz-go-group", -1570052090, 40},
		{"console-consumer-12345", 158455506, 6},
		{"ÄÖÜ日本語", 1546455757, 7},
	} {
		if h := javautil.StringHashCode(tc.id); h != tc.hash {
			t.Errorf("hashCode(%q) = %d, want %d", tc.id, h, tc.hash)
		}
		if p := Partition(tc.id, 50); p != tc.want {
			t.Errorf("Partition(%q) = %d, want %d", tc.id, p, tc.want)
		}
	}
	if p := Partition("my-group", 1); p != 0 {
		t.Errorf("one partition: %d", p)
	}
}
