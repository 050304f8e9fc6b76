package mirror

import (
	"testing"

	"github.com/tandem-streaming/tandem/internal/fetcher"
	"github.com/tandem-streaming/tandem/internal/link"
	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/record"
)

// A link's configs reach the fetcher, defaults included: a link fetches
// over 8 sessions per source broker unless told otherwise (docs/mirroring.md,
// "Throughput across a WAN").
func TestFetcherConfig(t *testing.T) {
	for _, tc := range []struct {
		configs map[string]string
		want    fetcher.Config
	}{
		{map[string]string{"bootstrap.servers": "127.0.0.1:9092"},
			fetcher.Config{NumFetchers: 8, PartitionMaxBytes: 1 << 20, FetchMaxBytes: 10 << 20}},
		{map[string]string{"bootstrap.servers": "127.0.0.1:9092", "num.replica.fetchers": "2",
			"replica.fetch.max.bytes": "4096", "replica.fetch.response.max.bytes": "65536"},
			fetcher.Config{NumFetchers: 2, PartitionMaxBytes: 4096, FetchMaxBytes: 65536}},
	} {
		got, err := fetcherConfig(metadata.Link{Name: "l", Configs: tc.configs}, nil, link.ClientOpts)
		if err != nil {
			t.Fatal(err)
		}
		if got.NumFetchers != tc.want.NumFetchers || got.PartitionMaxBytes != tc.want.PartitionMaxBytes || got.FetchMaxBytes != tc.want.FetchMaxBytes {
			t.Errorf("%v: fetchers %d, partition max %d, response max %d; want %d, %d, %d", tc.configs,
				got.NumFetchers, got.PartitionMaxBytes, got.FetchMaxBytes, tc.want.NumFetchers, tc.want.PartitionMaxBytes, tc.want.FetchMaxBytes)
		}
	}
}

// maxProducerID reads the producer id of every whole batch: batches
// without one, and a partial trailing batch, do not count.
func TestMaxProducerID(t *testing.T) {
	batch := func(pid int64) []byte {
		b := record.NewBuilder()
		b.ProducerID = pid
		if pid >= 0 {
			b.ProducerEpoch, b.BaseSequence = 0, 0
		}
		return b.Append(1, nil, []byte("v")).Build()
	}
	var records []byte
	if got := maxProducerID(records); got != record.NoProducerID {
		t.Fatalf("no batches: %d", got)
	}
	records = append(records, batch(-1)...)
	if got := maxProducerID(records); got != record.NoProducerID {
		t.Fatalf("a batch without a producer id: %d", got)
	}
	records = append(append(append(records, batch(7)...), batch(42)...), batch(3)...)
	if got := maxProducerID(records); got != 42 {
		t.Fatalf("batches of producers 7, 42, 3: %d", got)
	}
	partial := batch(9000)
	if got := maxProducerID(append(records, partial[:len(partial)-1]...)); got != 42 {
		t.Fatalf("with a partial trailing batch of producer 9000: %d", got)
	}
}
