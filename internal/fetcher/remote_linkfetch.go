package fetcher

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tandem-streaming/tandem/internal/wire"
)

// LinkFetch implements PipelinedEndpoint: Tandem's LinkFetch
// (wire.LinkFetchKey), sent like the other requests with
// Broker(id).Request, which franz-go pipelines on one connection when
// several goroutines call it.
func (l *kafkaLeader) LinkFetch(ctx context.Context, fr *PipelinedFetchRequest) (*PipelinedFetchResponse, error) {
	req := &wire.LinkFetchRequest{
		SessionID:     fr.SessionID,
		MaxWaitMillis: int32(fr.MaxWait / time.Millisecond), LingerMillis: int32(fr.Linger / time.Millisecond),
		MinBytes: fr.MinBytes, MaxBytes: fr.MaxBytes,
	}
	names := map[[16]byte]string{}
	for _, g := range byTopic(fr.Partitions) {
		t := wire.LinkFetchTopic{TopicID: g[0].TopicID}
		names[t.TopicID] = g[0].Topic
		for _, p := range g {
			rp := wire.LinkFetchPartition{Partition: p.Partition, CurrentLeaderEpoch: p.CurrentLeaderEpoch,
				FetchOffset: p.FetchOffset, LastFetchedEpoch: p.LastFetchedEpoch, PartitionMaxBytes: p.PartitionMaxBytes}
			if p.Continue {
				rp.FetchOffset, rp.LastFetchedEpoch = wire.LinkFetchContinue, -1
			}
			t.Partitions = append(t.Partitions, rp)
		}
		req.Topics = append(req.Topics, t)
	}
	kresp, err := l.request(ctx, req)
	if err != nil {
		return nil, err
	}
	resp, ok := kresp.(*wire.LinkFetchResponse)
	if !ok {
		return nil, fmt.Errorf("LinkFetch answered with %T", kresp)
	}
	out := &PipelinedFetchResponse{Err: kerr.ErrorForCode(resp.ErrorCode), Sequence: resp.Sequence, Partitions: make(map[TopicPartition]PipelinedData)}
	if out.Err != nil {
		if resp.ErrorMessage != nil {
			out.Err = fmt.Errorf("%w: %s", out.Err, *resp.ErrorMessage)
		}
		return out, nil
	}
	for _, t := range resp.Topics {
		name, ok := names[t.TopicID]
		if !ok {
			continue
		}
		for _, p := range t.Partitions {
			d := PipelinedData{FetchOffset: p.FetchOffset, NextOffset: p.NextOffset, FetchData: FetchData{
				Err: kerr.ErrorForCode(p.ErrorCode), HighWatermark: p.HighWatermark,
				LastStableOffset: p.LastStableOffset, LogStartOffset: p.LogStartOffset, Records: p.Records,
			}}
			if p.DivergingEpoch.Epoch >= 0 {
				d.DivergingEpoch = &EpochEndOffset{LeaderEpoch: p.DivergingEpoch.Epoch, EndOffset: p.DivergingEpoch.EndOffset}
			}
			out.Partitions[TopicPartition{name, p.Partition}] = d
		}
	}
	return out, nil
}
