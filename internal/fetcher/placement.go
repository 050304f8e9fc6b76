package fetcher

import "github.com/tandem-streaming/tandem/internal/javautil"

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
	return int(javautil.Abs(31*javautil.StringHashCode(tp.Topic)+tp.Partition)) % n
}
