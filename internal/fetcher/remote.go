package fetcher

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/tandem-streaming/tandem/internal/wire"
)

// KafkaSource is a Source on franz-go clients: a consumer-style view of a
// remote Kafka-protocol cluster (Apache Kafka, Redpanda, kfake, Tandem).
// Requests are raw kmsg requests sent to the partition leaders with
// Broker(id).Request, so record batches stay raw bytes. franz-go picks
// each request's version from the broker's ApiVersions (capped by any
// kgo.MaxVersions in the client options); Capabilities computes the same
// choice so the fetcher knows in advance which truncation mechanism the
// leader offers.
type KafkaSource struct {
	clients []*kgo.Client

	// warm starts, once, the broker discovery of clients[1:] alongside
	// the first metadata request (warmBrokers); warmCtx ends with Close.
	warm       sync.Once
	warmCtx    context.Context
	warmCancel context.CancelFunc
	warmWG     sync.WaitGroup
}

// NewKafkaSource creates franz-go clients from opts: one per fetcher id
// (connections), so that fetchers for the same broker do not queue behind
// each other on one connection, and one more for metadata, so that a
// metadata refresh never waits behind a fetcher's requests (a pipelined
// fetcher keeps several long polls queued on its connection).
func NewKafkaSource(opts []kgo.Opt, connections int) (*KafkaSource, error) {
	if connections < 1 {
		connections = 1
	}
	s := &KafkaSource{}
	s.warmCtx, s.warmCancel = context.WithCancel(context.Background())
	for i := 0; i <= connections; i++ {
		o := append([]kgo.Opt{kgo.ClientID("tandem-mirror-fetcher")}, opts...)
		cl, err := kgo.NewClient(o...)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("source client: %w", err)
		}
		s.clients = append(s.clients, cl)
	}
	return s, nil
}

// Close closes the clients.
func (s *KafkaSource) Close() {
	if s.warmCancel != nil {
		s.warmCancel()
		s.warmWG.Wait()
	}
	for _, cl := range s.clients {
		cl.Close()
	}
}

// Leader implements Source.
func (s *KafkaSource) Leader(broker int32, fetcherID int) LeaderEndpoint {
	cl := s.clients[1+fetcherID%(len(s.clients)-1)]
	return &kafkaLeader{cl: cl, ctl: s.clients[0], broker: broker}
}

// Metadata implements Source (Metadata request, any version; leader
// epochs need v7+, topic ids v10+).
func (s *KafkaSource) Metadata(ctx context.Context, topics []string) (*ClusterMetadata, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	req.AllowAutoTopicCreation = false
	s.warm.Do(s.warmBrokers)
	resp, err := req.RequestWith(ctx, s.clients[0])
	if err != nil {
		return nil, err
	}
	md := &ClusterMetadata{Brokers: make(map[int32]bool), Topics: make(map[string]TopicMetadata)}
	if resp.ClusterID != nil {
		md.ClusterID = *resp.ClusterID
	}
	for _, b := range resp.Brokers {
		md.Brokers[b.NodeID] = true
	}
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		tm := TopicMetadata{Err: kerr.ErrorForCode(t.ErrorCode), ID: t.TopicID, Partitions: make(map[int32]PartitionMetadata)}
		for _, p := range t.Partitions {
			pm := PartitionMetadata{Err: kerr.ErrorForCode(p.ErrorCode), Leader: p.Leader, LeaderEpoch: p.LeaderEpoch}
			if resp.Version < 7 {
				pm.LeaderEpoch = -1
			}
			tm.Partitions[p.Partition] = pm
		}
		md.Topics[*t.Topic] = tm
	}
	return md, nil
}

// warmBrokers makes the fetchers' clients (clients[1:]) discover the
// source's brokers now, in parallel with the first metadata request
// (clients[0]), rather than one by one when their workers first reach a
// broker. Each discovery costs a connection,
// ApiVersions and Metadata: three round trips, which across a WAN would
// otherwise delay every fetcher's first fetch behind client 0's own three
// (docs/mirroring.md, "Throughput across a WAN"). Failures are ignored:
// the worker's own request discovers the broker as it would have.
func (s *KafkaSource) warmBrokers() {
	for _, cl := range s.clients[1:] {
		s.warmWG.Add(1)
		go func() {
			defer s.warmWG.Done()
			ctx, cancel := context.WithTimeout(s.warmCtx, 30*time.Second)
			defer cancel()
			req := kmsg.NewPtrMetadataRequest()
			req.Topics = []kmsg.MetadataRequestTopic{} // brokers only (nil would be every topic)
			_, _ = req.RequestWith(ctx, cl)
		}()
	}
}

// kafkaLeader is the LeaderEndpoint of one source broker. Fetches
// (Fetch, LinkFetch) go on the fetcher's own client cl; the other
// requests (ApiVersions, ListOffsets, OffsetForLeaderEpoch) on ctl, the
// source's metadata client: a broker answers a connection's requests in
// order, and a pipelined fetcher keeps several long polls queued on its
// connection, behind which a ListOffsets would wait for their answers.
type kafkaLeader struct {
	cl, ctl *kgo.Client
	broker  int32
}

func (l *kafkaLeader) request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	cl := l.ctl
	switch req.(type) {
	case *kmsg.FetchRequest, *wire.LinkFetchRequest:
		cl = l.cl
	}
	if cl == nil {
		cl = l.cl
	}
	return cl.Broker(int(l.broker)).Request(ctx, req)
}

// warm implements warmer: an ApiVersions on the fetch client makes it
// connect to the broker.
func (l *kafkaLeader) warm(ctx context.Context) {
	if l.ctl == nil || l.ctl == l.cl {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, _ = l.cl.Broker(int(l.broker)).Request(ctx, kmsg.NewPtrApiVersionsRequest())
}

// Capabilities sends ApiVersions and negotiates as franz-go will: the
// highest version both the broker and the client (kmsg, and any
// kgo.MaxVersions) support.
func (l *kafkaLeader) Capabilities(ctx context.Context) (Capabilities, error) {
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName, req.ClientSoftwareVersion = "tandem-mirror-fetcher", "1"
	if nv := l.cl.OptValues(kgo.SoftwareNameAndVersion); len(nv) == 2 {
		// The client's own name: a Tandem source lists its private
		// requests (LinkFetch) only to a link's client.
		if n, ok := nv[0].(string); ok && n != "" {
			req.ClientSoftwareName = n
		}
		if v, ok := nv[1].(string); ok && v != "" {
			req.ClientSoftwareVersion = v
		}
	}
	resp, err := l.request(ctx, req)
	if err != nil {
		return Capabilities{}, err
	}
	av := resp.(*kmsg.ApiVersionsResponse)
	if err := kerr.ErrorForCode(av.ErrorCode); err != nil {
		return Capabilities{}, err
	}
	var user *kversion.Versions
	if v, ok := l.cl.OptValue(kgo.MaxVersions).(*kversion.Versions); ok {
		user = v
	}
	negotiated := func(key int16, ours int16) int16 {
		v := int16(-1)
		for _, k := range av.ApiKeys {
			if k.ApiKey == key {
				v = min(k.MaxVersion, ours)
				if v < k.MinVersion {
					return -1
				}
			}
		}
		if user != nil && v >= 0 {
			um, ok := user.LookupMaxKeyVersion(key)
			if !ok {
				return -1
			}
			v = min(v, um)
		}
		return v
	}
	fetch := negotiated(kmsg.Fetch.Int16(), kmsg.NewPtrFetchRequest().MaxVersion())
	if fetch < 4 {
		return Capabilities{}, fmt.Errorf("broker %d supports Fetch up to v%d; v4 (record batches, Kafka 0.11) is required", l.broker, fetch)
	}
	epochs := negotiated(kmsg.OffsetForLeaderEpoch.Int16(), kmsg.NewPtrOffsetForLeaderEpochRequest().MaxVersion())
	// LinkFetch needs the broker to list it (a Tandem source, to a
	// link's client) and the client's MaxVersions to allow it (franz-go
	// sends no key its MaxVersions lacks; its defaults lack ours), and
	// topic ids (it names topics by id).
	pipelined := user != nil && fetch >= 13 && negotiated(wire.LinkFetchKey, wire.LinkAPIMaxVersion(wire.LinkFetchKey)) >= 0
	return Capabilities{
		Pipelined:            pipelined,
		FetchVersion:         fetch,
		TruncationOnFetch:    fetch >= 12,
		EpochFencing:         fetch >= 9,
		TopicIDs:             fetch >= 13,
		OffsetForLeaderEpoch: epochs >= 3,
	}, nil
}

// Fetch sends one sessionless, consumer-style Fetch: ReplicaID -1 (and
// ReplicaState.ID -1 from v15), read_uncommitted, SessionID 0 with
// SessionEpoch -1 (no KIP-227 session; old sources need none either).
// Topics carry both name and id; the version picks which is encoded.
func (l *kafkaLeader) Fetch(ctx context.Context, fr *FetchRequest) (*FetchResponse, error) {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.ReplicaState.ID, req.ReplicaState.Epoch = -1, -1, -1
	req.MaxWaitMillis = int32(fr.MaxWait / time.Millisecond)
	req.MinBytes, req.MaxBytes = fr.MinBytes, fr.MaxBytes
	req.IsolationLevel = 0
	req.SessionID, req.SessionEpoch = 0, -1
	for _, g := range byTopic(fr.Partitions) {
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = g[0].Topic, g[0].TopicID
		for _, p := range g {
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition = p.Partition
			rp.CurrentLeaderEpoch = p.CurrentLeaderEpoch
			rp.FetchOffset = p.FetchOffset
			rp.LastFetchedEpoch = p.LastFetchedEpoch
			rp.LogStartOffset = -1
			rp.PartitionMaxBytes = p.PartitionMaxBytes
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	kresp, err := l.request(ctx, req)
	if err != nil {
		return nil, err
	}
	resp := kresp.(*kmsg.FetchResponse)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("fetch response: %w", err)
	}
	byID := map[[16]byte]string{}
	for _, p := range fr.Partitions {
		byID[p.TopicID] = p.Topic
	}
	out := &FetchResponse{Version: resp.Version, Partitions: make(map[TopicPartition]FetchData)}
	for _, t := range resp.Topics {
		name := t.Topic
		if resp.Version >= 13 {
			name = byID[t.TopicID]
		}
		if name == "" {
			continue
		}
		for _, p := range t.Partitions {
			d := FetchData{
				Err: kerr.ErrorForCode(p.ErrorCode), HighWatermark: p.HighWatermark,
				LastStableOffset: p.LastStableOffset, LogStartOffset: p.LogStartOffset,
				Records: p.RecordBatches,
			}
			if resp.Version >= 12 && p.DivergingEpoch.Epoch >= 0 {
				d.DivergingEpoch = &EpochEndOffset{LeaderEpoch: p.DivergingEpoch.Epoch, EndOffset: p.DivergingEpoch.EndOffset}
			}
			out.Partitions[TopicPartition{name, p.Partition}] = d
		}
	}
	return out, nil
}

// ListOffsets sends ListOffsets (ReplicaID -1, read_uncommitted: "latest"
// is the high watermark) with CurrentLeaderEpoch (v4+) for fencing.
func (l *kafkaLeader) ListOffsets(ctx context.Context, qs []OffsetQuery) (map[TopicPartition]OffsetResult, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID, req.IsolationLevel = -1, 0
	for _, g := range byTopic(qs) {
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = g[0].Topic
		for _, q := range g {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.CurrentLeaderEpoch, rp.Timestamp = q.Partition, q.CurrentLeaderEpoch, q.Timestamp
			rp.MaxNumOffsets = 1 // v0 only
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	kresp, err := l.request(ctx, req)
	if err != nil {
		return nil, err
	}
	resp := kresp.(*kmsg.ListOffsetsResponse)
	out := make(map[TopicPartition]OffsetResult)
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			r := OffsetResult{Err: kerr.ErrorForCode(p.ErrorCode), Offset: p.Offset, LeaderEpoch: p.LeaderEpoch}
			if resp.Version == 0 {
				r.Offset = -1
				if len(p.OldStyleOffsets) > 0 {
					r.Offset = p.OldStyleOffsets[0]
				}
			}
			out[TopicPartition{t.Topic, p.Partition}] = r
		}
	}
	return out, nil
}

// EpochEndOffsets sends OffsetForLeaderEpoch v3+ as a consumer (ReplicaID
// -1), with CurrentLeaderEpoch for fencing.
func (l *kafkaLeader) EpochEndOffsets(ctx context.Context, qs []EpochQuery) (map[TopicPartition]EpochEndOffset, error) {
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.ReplicaID = -1
	for _, g := range byTopic(qs) {
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = g[0].Topic
		for _, q := range g {
			rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
			rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = q.Partition, q.CurrentLeaderEpoch, q.LeaderEpoch
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	kresp, err := l.request(ctx, req)
	if err != nil {
		return nil, err
	}
	resp := kresp.(*kmsg.OffsetForLeaderEpochResponse)
	if resp.Version < 3 {
		return nil, errors.New("OffsetForLeaderEpoch answered below v3")
	}
	out := make(map[TopicPartition]EpochEndOffset)
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out[TopicPartition{t.Topic, p.Partition}] = EpochEndOffset{Err: kerr.ErrorForCode(p.ErrorCode), LeaderEpoch: p.LeaderEpoch, EndOffset: p.EndOffset}
		}
	}
	return out, nil
}

// byTopic groups per-partition items by topic, topics in first-seen order
// (requests nest partitions in topics).
func byTopic[T interface{ topicPartition() TopicPartition }](items []T) [][]T {
	idx := map[string]int{}
	var out [][]T
	for _, it := range items {
		t := it.topicPartition().Topic
		i, ok := idx[t]
		if !ok {
			i = len(out)
			idx[t] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], it)
	}
	return out
}
