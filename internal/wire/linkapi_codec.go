package wire

// Codecs of the Tandem-private link requests (linkapi.go,
// docs/design/links-bidirectional.md §2.4): the one exception to "codecs
// come from kmsg". kmsg cannot be taught new keys, so these are written by
// hand with kbin, the reader/writer kmsg is built on, and implement
// kmsg.Request / kmsg.Response so franz-go's kgo.Client.Request sends them
// (it needs the key listed in the broker's ApiVersions and in the client's
// kgo.MaxVersions; link/client.go adds them).
//
// Every version is flexible (KIP-482): compact strings and arrays, a
// tagged-field section after each struct. Unknown tagged fields are skipped
// when reading and none are written. v0 is the only version.
//
// Wire layout (v0), in field order, each struct followed by its tags:
//
//	LinkPeerRequest:  link_name string, link_id uuid, cluster_id string,
//	                  link_mode string, connection_mode string,
//	                  link_state string, mirrors [mirror]
//	LinkPeerResponse: error_code int16, error_message nullable string,
//	                  found bool, link_id uuid, cluster_id string,
//	                  link_mode string, connection_mode string,
//	                  link_state string, mirrors [mirror]
//	  mirror:         topic string, source_topic string, state string,
//	                  topic_id uuid
//	LinkReverseRequest:  link_name string, link_id uuid, cluster_id string,
//	                     role int8, session_id uuid, dial_id int64,
//	                     host string, port int32,
//	                     brokers [node_id int32, host string, port int32]
//	LinkReverseResponse: error_code int16, error_message nullable string,
//	                     link_id uuid, cluster_id string,
//	                     heartbeat_millis int32,
//	                     brokers [node_id int32, host string, port int32]
//	LinkMirrorOpRequest:  link_name string, link_id uuid, cluster_id string,
//	                      op int8, topics [topic string, paused bool,
//	                      topic_id uuid,
//	                      partitions [partition int32, offset int64]]
//	LinkMirrorOpResponse: error_code int16, error_message nullable string,
//	                      topics [topic string, error_code int16,
//	                      error_message nullable string, state string,
//	                      topic_id uuid, partitions [partition int32,
//	                      offset int64]]
//	LinkFetchRequest:  session_id int64,
//	                   max_wait_millis int32, min_bytes int32,
//	                   max_bytes int32, linger_millis int32,
//	                   topics [topic_id uuid, partitions [partition int32,
//	                   current_leader_epoch int32, fetch_offset int64,
//	                   last_fetched_epoch int32,
//	                   partition_max_bytes int32]]
//	LinkFetchResponse: throttle_millis int32, error_code int16,
//	                   error_message nullable string, sequence int32,
//	                   topics [topic_id uuid, partitions [partition int32,
//	                   error_code int16, fetch_offset int64,
//	                   next_offset int64, high_watermark int64,
//	                   last_stable_offset int64, log_start_offset int64,
//	                   diverging_epoch {epoch int32, end_offset int64},
//	                   records bytes]]
//
// LinkFetch's records are a compact bytes field (uvarint length+1, then
// the bytes), never null (a null reads as empty), exactly as Fetch's
// flexible RecordBatches, so the server's zero-copy splice (broker.Files,
// server/splice.go) finds a placeholder behind its one-byte prefix
// PlaceholderSize+1.
//
// The pre-scan schemas at the end of this file describe the same layouts;
// TestLinkAPIPrescanMatchesCodec keeps them in step.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// linkAPIMaxVersion is the highest version of each private request.
const linkAPIMaxVersion = 0

// IsLinkAPIKey reports whether key is one of the Tandem-private link
// requests.
func IsLinkAPIKey(key int16) bool {
	return key == LinkPeerKey || key == LinkReverseKey || key == LinkMirrorOpKey || key == LinkFetchKey
}

// LinkAPIKeys lists the private keys, ascending (a fresh slice).
func LinkAPIKeys() []int16 {
	return []int16{LinkPeerKey, LinkReverseKey, LinkMirrorOpKey, LinkFetchKey}
}

// LinkAPIMaxVersion is the highest version this build speaks of the
// private request key (-1 for any other key).
func LinkAPIMaxVersion(key int16) int16 {
	if IsLinkAPIKey(key) {
		return linkAPIMaxVersion
	}
	return -1
}

// RequestForKey is kmsg.RequestForKey that also knows the private keys.
func RequestForKey(key int16) kmsg.Request {
	switch key {
	case LinkPeerKey:
		return new(LinkPeerRequest)
	case LinkReverseKey:
		return new(LinkReverseRequest)
	case LinkMirrorOpKey:
		return new(LinkMirrorOpRequest)
	case LinkFetchKey:
		return new(LinkFetchRequest)
	}
	return kmsg.RequestForKey(key)
}

// NameForKey is kmsg.NameForKey that also names the private keys.
func NameForKey(key int16) string {
	switch key {
	case LinkPeerKey:
		return "LinkPeer"
	case LinkReverseKey:
		return "LinkReverse"
	case LinkMirrorOpKey:
		return "LinkMirrorOp"
	case LinkFetchKey:
		return "LinkFetch"
	}
	return kmsg.NameForKey(key)
}

// errLinkAPIVersion: a version this build has no layout for.
func errLinkAPIVersion(name string, v int16) error {
	return fmt.Errorf("%w: %s v%d is not supported (max v%d)", ErrMalformed, name, v, linkAPIMaxVersion)
}

// readDone reports a truncated body (kbin's ErrNotEnoughData) with the
// message's name.
func readDone(rd *kbin.Reader, name string) error {
	if err := rd.Complete(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// endStruct reads a struct's tagged-field section, skipping every field
// (none is defined in v0).
func endStruct(rd *kbin.Reader) { skipTags(rd) }

// appendTags writes an empty tagged-field section.
func appendTags(dst []byte) []byte { return append(dst, 0) }

// arrayLen reads a compact array length; null and negative lengths read
// as empty. kbin already refuses a count larger than the bytes left (each
// element takes at least one byte), so a forged count allocates nothing.
func arrayLen(rd *kbin.Reader) int {
	n := rd.CompactArrayLen()
	if !rd.Ok() || n < 0 {
		return 0
	}
	return int(n)
}

// ---- LinkPeer ----

func (*LinkPeerRequest) Key() int16                 { return LinkPeerKey }
func (*LinkPeerRequest) MaxVersion() int16          { return linkAPIMaxVersion }
func (v *LinkPeerRequest) SetVersion(version int16) { v.Version = version }
func (v *LinkPeerRequest) GetVersion() int16        { return v.Version }
func (*LinkPeerRequest) IsFlexible() bool           { return true }
func (v *LinkPeerRequest) ResponseKind() kmsg.Response {
	return &LinkPeerResponse{Version: v.Version}
}

func (v *LinkPeerRequest) AppendTo(dst []byte) []byte {
	dst = kbin.AppendCompactString(dst, v.LinkName)
	dst = kbin.AppendUuid(dst, v.LinkID)
	dst = kbin.AppendCompactString(dst, v.ClusterID)
	dst = kbin.AppendCompactString(dst, v.LinkMode)
	dst = kbin.AppendCompactString(dst, v.ConnectionMode)
	dst = kbin.AppendCompactString(dst, v.LinkState)
	dst = appendPeerMirrors(dst, v.Mirrors)
	return appendTags(dst)
}

func (v *LinkPeerRequest) ReadFrom(src []byte) error {
	if v.Version > linkAPIMaxVersion {
		return errLinkAPIVersion("LinkPeerRequest", v.Version)
	}
	rd := kbin.Reader{Src: src}
	v.LinkName = rd.CompactString()
	v.LinkID = rd.Uuid()
	v.ClusterID = rd.CompactString()
	v.LinkMode = rd.CompactString()
	v.ConnectionMode = rd.CompactString()
	v.LinkState = rd.CompactString()
	v.Mirrors = readPeerMirrors(&rd)
	endStruct(&rd)
	return readDone(&rd, "LinkPeerRequest")
}

func (*LinkPeerResponse) Key() int16                 { return LinkPeerKey }
func (*LinkPeerResponse) MaxVersion() int16          { return linkAPIMaxVersion }
func (v *LinkPeerResponse) SetVersion(version int16) { v.Version = version }
func (v *LinkPeerResponse) GetVersion() int16        { return v.Version }
func (*LinkPeerResponse) IsFlexible() bool           { return true }
func (v *LinkPeerResponse) RequestKind() kmsg.Request {
	return &LinkPeerRequest{Version: v.Version}
}

func (v *LinkPeerResponse) AppendTo(dst []byte) []byte {
	dst = kbin.AppendInt16(dst, v.ErrorCode)
	dst = kbin.AppendCompactNullableString(dst, v.ErrorMessage)
	dst = kbin.AppendBool(dst, v.Found)
	dst = kbin.AppendUuid(dst, v.LinkID)
	dst = kbin.AppendCompactString(dst, v.ClusterID)
	dst = kbin.AppendCompactString(dst, v.LinkMode)
	dst = kbin.AppendCompactString(dst, v.ConnectionMode)
	dst = kbin.AppendCompactString(dst, v.LinkState)
	dst = appendPeerMirrors(dst, v.Mirrors)
	return appendTags(dst)
}

func (v *LinkPeerResponse) ReadFrom(src []byte) error {
	if v.Version > linkAPIMaxVersion {
		return errLinkAPIVersion("LinkPeerResponse", v.Version)
	}
	rd := kbin.Reader{Src: src}
	v.ErrorCode = rd.Int16()
	v.ErrorMessage = rd.CompactNullableString()
	v.Found = rd.Bool()
	v.LinkID = rd.Uuid()
	v.ClusterID = rd.CompactString()
	v.LinkMode = rd.CompactString()
	v.ConnectionMode = rd.CompactString()
	v.LinkState = rd.CompactString()
	v.Mirrors = readPeerMirrors(&rd)
	endStruct(&rd)
	return readDone(&rd, "LinkPeerResponse")
}

func appendPeerMirrors(dst []byte, ms []LinkPeerMirror) []byte {
	dst = kbin.AppendCompactArrayLen(dst, len(ms))
	for i := range ms {
		m := &ms[i]
		dst = kbin.AppendCompactString(dst, m.Topic)
		dst = kbin.AppendCompactString(dst, m.SourceTopic)
		dst = kbin.AppendCompactString(dst, m.State)
		dst = kbin.AppendUuid(dst, m.TopicID)
		dst = appendTags(dst)
	}
	return dst
}

func readPeerMirrors(rd *kbin.Reader) []LinkPeerMirror {
	n := arrayLen(rd)
	if n == 0 {
		return nil
	}
	ms := make([]LinkPeerMirror, n)
	for i := 0; i < n && rd.Ok(); i++ {
		m := &ms[i]
		m.Topic = rd.CompactString()
		m.SourceTopic = rd.CompactString()
		m.State = rd.CompactString()
		m.TopicID = rd.Uuid()
		endStruct(rd)
	}
	return ms
}

// ---- LinkReverse ----

func (*LinkReverseRequest) Key() int16                 { return LinkReverseKey }
func (*LinkReverseRequest) MaxVersion() int16          { return linkAPIMaxVersion }
func (v *LinkReverseRequest) SetVersion(version int16) { v.Version = version }
func (v *LinkReverseRequest) GetVersion() int16        { return v.Version }
func (*LinkReverseRequest) IsFlexible() bool           { return true }
func (v *LinkReverseRequest) ResponseKind() kmsg.Response {
	return &LinkReverseResponse{Version: v.Version}
}

func (v *LinkReverseRequest) AppendTo(dst []byte) []byte {
	dst = kbin.AppendCompactString(dst, v.LinkName)
	dst = kbin.AppendUuid(dst, v.LinkID)
	dst = kbin.AppendCompactString(dst, v.ClusterID)
	dst = kbin.AppendInt8(dst, v.Role)
	dst = kbin.AppendUuid(dst, v.SessionID)
	dst = kbin.AppendInt64(dst, v.DialID)
	dst = kbin.AppendCompactString(dst, v.Host)
	dst = kbin.AppendInt32(dst, v.Port)
	dst = appendReverseBrokers(dst, v.Brokers)
	return appendTags(dst)
}

func appendReverseBrokers(dst []byte, bs []LinkReverseBroker) []byte {
	dst = kbin.AppendCompactArrayLen(dst, len(bs))
	for i := range bs {
		b := &bs[i]
		dst = kbin.AppendInt32(dst, b.NodeID)
		dst = kbin.AppendCompactString(dst, b.Host)
		dst = kbin.AppendInt32(dst, b.Port)
		dst = appendTags(dst)
	}
	return dst
}

func readReverseBrokers(rd *kbin.Reader) []LinkReverseBroker {
	n := arrayLen(rd)
	if n <= 0 {
		return nil
	}
	bs := make([]LinkReverseBroker, n)
	for i := 0; i < n && rd.Ok(); i++ {
		b := &bs[i]
		b.NodeID = rd.Int32()
		b.Host = rd.CompactString()
		b.Port = rd.Int32()
		endStruct(rd)
	}
	return bs
}

func (v *LinkReverseRequest) ReadFrom(src []byte) error {
	if v.Version > linkAPIMaxVersion {
		return errLinkAPIVersion("LinkReverseRequest", v.Version)
	}
	rd := kbin.Reader{Src: src}
	v.LinkName = rd.CompactString()
	v.LinkID = rd.Uuid()
	v.ClusterID = rd.CompactString()
	v.Role = rd.Int8()
	v.SessionID = rd.Uuid()
	v.DialID = rd.Int64()
	v.Host = rd.CompactString()
	v.Port = rd.Int32()
	v.Brokers = readReverseBrokers(&rd)
	endStruct(&rd)
	return readDone(&rd, "LinkReverseRequest")
}

func (*LinkReverseResponse) Key() int16                 { return LinkReverseKey }
func (*LinkReverseResponse) MaxVersion() int16          { return linkAPIMaxVersion }
func (v *LinkReverseResponse) SetVersion(version int16) { v.Version = version }
func (v *LinkReverseResponse) GetVersion() int16        { return v.Version }
func (*LinkReverseResponse) IsFlexible() bool           { return true }
func (v *LinkReverseResponse) RequestKind() kmsg.Request {
	return &LinkReverseRequest{Version: v.Version}
}

func (v *LinkReverseResponse) AppendTo(dst []byte) []byte {
	dst = kbin.AppendInt16(dst, v.ErrorCode)
	dst = kbin.AppendCompactNullableString(dst, v.ErrorMessage)
	dst = kbin.AppendUuid(dst, v.LinkID)
	dst = kbin.AppendCompactString(dst, v.ClusterID)
	dst = kbin.AppendInt32(dst, v.HeartbeatMillis)
	dst = appendReverseBrokers(dst, v.Brokers)
	return appendTags(dst)
}

func (v *LinkReverseResponse) ReadFrom(src []byte) error {
	if v.Version > linkAPIMaxVersion {
		return errLinkAPIVersion("LinkReverseResponse", v.Version)
	}
	rd := kbin.Reader{Src: src}
	v.ErrorCode = rd.Int16()
	v.ErrorMessage = rd.CompactNullableString()
	v.LinkID = rd.Uuid()
	v.ClusterID = rd.CompactString()
	v.HeartbeatMillis = rd.Int32()
	v.Brokers = readReverseBrokers(&rd)
	endStruct(&rd)
	return readDone(&rd, "LinkReverseResponse")
}

// ---- LinkMirrorOp ----

func (*LinkMirrorOpRequest) Key() int16                 { return LinkMirrorOpKey }
func (*LinkMirrorOpRequest) MaxVersion() int16          { return linkAPIMaxVersion }
func (v *LinkMirrorOpRequest) SetVersion(version int16) { v.Version = version }
func (v *LinkMirrorOpRequest) GetVersion() int16        { return v.Version }
func (*LinkMirrorOpRequest) IsFlexible() bool           { return true }
func (v *LinkMirrorOpRequest) ResponseKind() kmsg.Response {
	return &LinkMirrorOpResponse{Version: v.Version}
}

func (v *LinkMirrorOpRequest) AppendTo(dst []byte) []byte {
	dst = kbin.AppendCompactString(dst, v.LinkName)
	dst = kbin.AppendUuid(dst, v.LinkID)
	dst = kbin.AppendCompactString(dst, v.ClusterID)
	dst = kbin.AppendInt8(dst, v.Op)
	dst = kbin.AppendCompactArrayLen(dst, len(v.Topics))
	for i := range v.Topics {
		t := &v.Topics[i]
		dst = kbin.AppendCompactString(dst, t.Topic)
		dst = kbin.AppendBool(dst, t.Paused)
		dst = kbin.AppendUuid(dst, t.TopicID)
		dst = appendOpPartitions(dst, t.Partitions)
		dst = appendTags(dst)
	}
	return appendTags(dst)
}

func (v *LinkMirrorOpRequest) ReadFrom(src []byte) error {
	if v.Version > linkAPIMaxVersion {
		return errLinkAPIVersion("LinkMirrorOpRequest", v.Version)
	}
	rd := kbin.Reader{Src: src}
	v.LinkName = rd.CompactString()
	v.LinkID = rd.Uuid()
	v.ClusterID = rd.CompactString()
	v.Op = rd.Int8()
	v.Topics = nil
	if n := arrayLen(&rd); n > 0 {
		v.Topics = make([]LinkMirrorOpTopic, n)
		for i := 0; i < n && rd.Ok(); i++ {
			t := &v.Topics[i]
			t.Topic = rd.CompactString()
			t.Paused = rd.Bool()
			t.TopicID = rd.Uuid()
			t.Partitions = readOpPartitions(&rd)
			endStruct(&rd)
		}
	}
	endStruct(&rd)
	return readDone(&rd, "LinkMirrorOpRequest")
}

func (*LinkMirrorOpResponse) Key() int16                 { return LinkMirrorOpKey }
func (*LinkMirrorOpResponse) MaxVersion() int16          { return linkAPIMaxVersion }
func (v *LinkMirrorOpResponse) SetVersion(version int16) { v.Version = version }
func (v *LinkMirrorOpResponse) GetVersion() int16        { return v.Version }
func (*LinkMirrorOpResponse) IsFlexible() bool           { return true }
func (v *LinkMirrorOpResponse) RequestKind() kmsg.Request {
	return &LinkMirrorOpRequest{Version: v.Version}
}

func (v *LinkMirrorOpResponse) AppendTo(dst []byte) []byte {
	dst = kbin.AppendInt16(dst, v.ErrorCode)
	dst = kbin.AppendCompactNullableString(dst, v.ErrorMessage)
	dst = kbin.AppendCompactArrayLen(dst, len(v.Topics))
	for i := range v.Topics {
		t := &v.Topics[i]
		dst = kbin.AppendCompactString(dst, t.Topic)
		dst = kbin.AppendInt16(dst, t.ErrorCode)
		dst = kbin.AppendCompactNullableString(dst, t.ErrorMessage)
		dst = kbin.AppendCompactString(dst, t.State)
		dst = kbin.AppendUuid(dst, t.TopicID)
		dst = appendOpPartitions(dst, t.Partitions)
		dst = appendTags(dst)
	}
	return appendTags(dst)
}

func (v *LinkMirrorOpResponse) ReadFrom(src []byte) error {
	if v.Version > linkAPIMaxVersion {
		return errLinkAPIVersion("LinkMirrorOpResponse", v.Version)
	}
	rd := kbin.Reader{Src: src}
	v.ErrorCode = rd.Int16()
	v.ErrorMessage = rd.CompactNullableString()
	v.Topics = nil
	if n := arrayLen(&rd); n > 0 {
		v.Topics = make([]LinkMirrorOpTopicResult, n)
		for i := 0; i < n && rd.Ok(); i++ {
			t := &v.Topics[i]
			t.Topic = rd.CompactString()
			t.ErrorCode = rd.Int16()
			t.ErrorMessage = rd.CompactNullableString()
			t.State = rd.CompactString()
			t.TopicID = rd.Uuid()
			t.Partitions = readOpPartitions(&rd)
			endStruct(&rd)
		}
	}
	endStruct(&rd)
	return readDone(&rd, "LinkMirrorOpResponse")
}

func appendOpPartitions(dst []byte, ps []LinkMirrorOpPartition) []byte {
	dst = kbin.AppendCompactArrayLen(dst, len(ps))
	for _, p := range ps {
		dst = kbin.AppendInt32(dst, p.Partition)
		dst = kbin.AppendInt64(dst, p.Offset)
		dst = appendTags(dst)
	}
	return dst
}

func readOpPartitions(rd *kbin.Reader) []LinkMirrorOpPartition {
	n := arrayLen(rd)
	if n == 0 {
		return nil
	}
	ps := make([]LinkMirrorOpPartition, n)
	for i := 0; i < n && rd.Ok(); i++ {
		ps[i].Partition = rd.Int32()
		ps[i].Offset = rd.Int64()
		endStruct(rd)
	}
	return ps
}

// ---- LinkFetch ----

// appendArray writes xs as a compact array, each element by app and
// followed by its (empty) tag section.
func appendArray[T any](dst []byte, xs []T, app func([]byte, *T) []byte) []byte {
	dst = kbin.AppendCompactArrayLen(dst, len(xs))
	for i := range xs {
		dst = appendTags(app(dst, &xs[i]))
	}
	return dst
}

// readArray reads a compact array written by appendArray (null and empty
// read as nil).
func readArray[T any](rd *kbin.Reader, read func(*kbin.Reader, *T)) []T {
	n := arrayLen(rd)
	if n == 0 {
		return nil
	}
	xs := make([]T, n)
	for i := 0; i < n && rd.Ok(); i++ {
		read(rd, &xs[i])
		endStruct(rd)
	}
	return xs
}

func (*LinkFetchRequest) Key() int16                 { return LinkFetchKey }
func (*LinkFetchRequest) MaxVersion() int16          { return linkAPIMaxVersion }
func (v *LinkFetchRequest) SetVersion(version int16) { v.Version = version }
func (v *LinkFetchRequest) GetVersion() int16        { return v.Version }
func (*LinkFetchRequest) IsFlexible() bool           { return true }
func (v *LinkFetchRequest) ResponseKind() kmsg.Response {
	return &LinkFetchResponse{Version: v.Version}
}

func (v *LinkFetchRequest) AppendTo(dst []byte) []byte {
	dst = kbin.AppendInt64(dst, v.SessionID)
	dst = kbin.AppendInt32(dst, v.MaxWaitMillis)
	dst = kbin.AppendInt32(dst, v.MinBytes)
	dst = kbin.AppendInt32(dst, v.MaxBytes)
	dst = kbin.AppendInt32(dst, v.LingerMillis)
	dst = appendArray(dst, v.Topics, func(dst []byte, t *LinkFetchTopic) []byte {
		dst = kbin.AppendUuid(dst, t.TopicID)
		return appendArray(dst, t.Partitions, func(dst []byte, p *LinkFetchPartition) []byte {
			dst = kbin.AppendInt32(dst, p.Partition)
			dst = kbin.AppendInt32(dst, p.CurrentLeaderEpoch)
			dst = kbin.AppendInt64(dst, p.FetchOffset)
			dst = kbin.AppendInt32(dst, p.LastFetchedEpoch)
			return kbin.AppendInt32(dst, p.PartitionMaxBytes)
		})
	})
	return appendTags(dst)
}

func (v *LinkFetchRequest) ReadFrom(src []byte) error {
	if v.Version > linkAPIMaxVersion {
		return errLinkAPIVersion("LinkFetchRequest", v.Version)
	}
	rd := kbin.Reader{Src: src}
	v.SessionID = rd.Int64()
	v.MaxWaitMillis = rd.Int32()
	v.MinBytes = rd.Int32()
	v.MaxBytes = rd.Int32()
	v.LingerMillis = rd.Int32()
	v.Topics = readArray(&rd, func(rd *kbin.Reader, t *LinkFetchTopic) {
		t.TopicID = rd.Uuid()
		t.Partitions = readArray(rd, func(rd *kbin.Reader, p *LinkFetchPartition) {
			p.Partition = rd.Int32()
			p.CurrentLeaderEpoch = rd.Int32()
			p.FetchOffset = rd.Int64()
			p.LastFetchedEpoch = rd.Int32()
			p.PartitionMaxBytes = rd.Int32()
		})
	})
	endStruct(&rd)
	return readDone(&rd, "LinkFetchRequest")
}

func (*LinkFetchResponse) Key() int16                 { return LinkFetchKey }
func (*LinkFetchResponse) MaxVersion() int16          { return linkAPIMaxVersion }
func (v *LinkFetchResponse) SetVersion(version int16) { v.Version = version }
func (v *LinkFetchResponse) GetVersion() int16        { return v.Version }
func (*LinkFetchResponse) IsFlexible() bool           { return true }
func (v *LinkFetchResponse) RequestKind() kmsg.Request {
	return &LinkFetchRequest{Version: v.Version}
}

// Throttle implements kmsg.ThrottleResponse. false: a throttle is
// applied by the broker before it answers, never by the client holding
// back its next requests, which would stall the pipeline (Tandem does not
// throttle today; ThrottleMillis is 0).
func (v *LinkFetchResponse) Throttle() (int32, bool) { return v.ThrottleMillis, false }

// SetThrottle implements kmsg.SetThrottleResponse.
func (v *LinkFetchResponse) SetThrottle(throttleMillis int32) { v.ThrottleMillis = throttleMillis }

func (v *LinkFetchResponse) AppendTo(dst []byte) []byte {
	dst = kbin.AppendInt32(dst, v.ThrottleMillis)
	dst = kbin.AppendInt16(dst, v.ErrorCode)
	dst = kbin.AppendCompactNullableString(dst, v.ErrorMessage)
	dst = kbin.AppendInt32(dst, v.Sequence)
	dst = appendArray(dst, v.Topics, func(dst []byte, t *LinkFetchTopicResponse) []byte {
		dst = kbin.AppendUuid(dst, t.TopicID)
		return appendArray(dst, t.Partitions, func(dst []byte, p *LinkFetchPartitionResponse) []byte {
			dst = kbin.AppendInt32(dst, p.Partition)
			dst = kbin.AppendInt16(dst, p.ErrorCode)
			dst = kbin.AppendInt64(dst, p.FetchOffset)
			dst = kbin.AppendInt64(dst, p.NextOffset)
			dst = kbin.AppendInt64(dst, p.HighWatermark)
			dst = kbin.AppendInt64(dst, p.LastStableOffset)
			dst = kbin.AppendInt64(dst, p.LogStartOffset)
			dst = kbin.AppendInt32(dst, p.DivergingEpoch.Epoch)
			dst = kbin.AppendInt64(dst, p.DivergingEpoch.EndOffset)
			dst = appendTags(dst)
			// Compact bytes, never null: the prefix of a placeholder
			// is the one byte server/splice.go looks for.
			return kbin.AppendCompactBytes(dst, p.Records)
		})
	})
	return appendTags(dst)
}

func (v *LinkFetchResponse) ReadFrom(src []byte) error {
	if v.Version > linkAPIMaxVersion {
		return errLinkAPIVersion("LinkFetchResponse", v.Version)
	}
	rd := kbin.Reader{Src: src}
	v.ThrottleMillis = rd.Int32()
	v.ErrorCode = rd.Int16()
	v.ErrorMessage = rd.CompactNullableString()
	v.Sequence = rd.Int32()
	v.Topics = readArray(&rd, func(rd *kbin.Reader, t *LinkFetchTopicResponse) {
		t.TopicID = rd.Uuid()
		t.Partitions = readArray(rd, func(rd *kbin.Reader, p *LinkFetchPartitionResponse) {
			p.Partition = rd.Int32()
			p.ErrorCode = rd.Int16()
			p.FetchOffset = rd.Int64()
			p.NextOffset = rd.Int64()
			p.HighWatermark = rd.Int64()
			p.LastStableOffset = rd.Int64()
			p.LogStartOffset = rd.Int64()
			p.DivergingEpoch.Epoch = rd.Int32()
			p.DivergingEpoch.EndOffset = rd.Int64()
			endStruct(rd)
			p.Records = readRecords(rd)
		})
	})
	endStruct(&rd)
	return readDone(&rd, "LinkFetchResponse")
}

// readRecords reads LinkFetch's records: compact bytes, a null (which
// this codec never writes) or empty field read as nil. Like kmsg's Fetch
// RecordBatches, the slice aliases src.
func readRecords(rd *kbin.Reader) []byte {
	b := rd.CompactNullableBytes()
	if !rd.Ok() || len(b) == 0 {
		return nil
	}
	return b
}

// ---- pre-scan schemas (prescan.go) ----

// linkAPISchemas are the pre-scan schemas of the private requests, merged
// into requestSchemas at init so the broker's decode budget
// (request.decoded.max.bytes) applies to them as to every request. Field
// names are the Go fields of the request types, which the pre-scan binds
// to for their sizes.
var linkAPISchemas = map[int16]*msgSchema{
	LinkPeerKey: {name: "LinkPeer", maxVersion: linkAPIMaxVersion, flexFrom: 0, fields: []fieldSchema{
		{name: "LinkName", max: anyVersion, kind: kString},
		{name: "LinkID", max: anyVersion, kind: kUUID},
		{name: "ClusterID", max: anyVersion, kind: kString},
		{name: "LinkMode", max: anyVersion, kind: kString},
		{name: "ConnectionMode", max: anyVersion, kind: kString},
		{name: "LinkState", max: anyVersion, kind: kString},
		{name: "Mirrors", max: anyVersion, kind: kArray, elem: &fieldSchema{max: anyVersion, kind: kStruct, fields: []fieldSchema{
			{name: "Topic", max: anyVersion, kind: kString},
			{name: "SourceTopic", max: anyVersion, kind: kString},
			{name: "State", max: anyVersion, kind: kString},
			{name: "TopicID", max: anyVersion, kind: kUUID},
		}}},
	}},
	LinkReverseKey: {name: "LinkReverse", maxVersion: linkAPIMaxVersion, flexFrom: 0, fields: []fieldSchema{
		{name: "LinkName", max: anyVersion, kind: kString},
		{name: "LinkID", max: anyVersion, kind: kUUID},
		{name: "ClusterID", max: anyVersion, kind: kString},
		{name: "Role", max: anyVersion, kind: kInt8},
		{name: "SessionID", max: anyVersion, kind: kUUID},
		{name: "DialID", max: anyVersion, kind: kInt64},
		{name: "Host", max: anyVersion, kind: kString},
		{name: "Port", max: anyVersion, kind: kInt32},
		{name: "Brokers", max: anyVersion, kind: kArray, elem: &fieldSchema{max: anyVersion, kind: kStruct, fields: []fieldSchema{
			{name: "NodeID", max: anyVersion, kind: kInt32},
			{name: "Host", max: anyVersion, kind: kString},
			{name: "Port", max: anyVersion, kind: kInt32},
		}}},
	}},
	LinkMirrorOpKey: {name: "LinkMirrorOp", maxVersion: linkAPIMaxVersion, flexFrom: 0, fields: []fieldSchema{
		{name: "LinkName", max: anyVersion, kind: kString},
		{name: "LinkID", max: anyVersion, kind: kUUID},
		{name: "ClusterID", max: anyVersion, kind: kString},
		{name: "Op", max: anyVersion, kind: kInt8},
		{name: "Topics", max: anyVersion, kind: kArray, elem: &fieldSchema{max: anyVersion, kind: kStruct, fields: []fieldSchema{
			{name: "Topic", max: anyVersion, kind: kString},
			{name: "Paused", max: anyVersion, kind: kBool},
			{name: "TopicID", max: anyVersion, kind: kUUID},
			{name: "Partitions", max: anyVersion, kind: kArray, elem: &fieldSchema{max: anyVersion, kind: kStruct, fields: []fieldSchema{
				{name: "Partition", max: anyVersion, kind: kInt32},
				{name: "Offset", max: anyVersion, kind: kInt64},
			}}},
		}}},
	}},
	LinkFetchKey: {name: "LinkFetch", maxVersion: linkAPIMaxVersion, flexFrom: 0, fields: []fieldSchema{
		{name: "SessionID", max: anyVersion, kind: kInt64},
		{name: "MaxWaitMillis", max: anyVersion, kind: kInt32},
		{name: "MinBytes", max: anyVersion, kind: kInt32},
		{name: "MaxBytes", max: anyVersion, kind: kInt32},
		{name: "LingerMillis", max: anyVersion, kind: kInt32},
		{name: "Topics", max: anyVersion, kind: kArray, elem: &fieldSchema{max: anyVersion, kind: kStruct, fields: []fieldSchema{
			{name: "TopicID", max: anyVersion, kind: kUUID},
			{name: "Partitions", max: anyVersion, kind: kArray, elem: &fieldSchema{max: anyVersion, kind: kStruct, fields: []fieldSchema{
				{name: "Partition", max: anyVersion, kind: kInt32},
				{name: "CurrentLeaderEpoch", max: anyVersion, kind: kInt32},
				{name: "FetchOffset", max: anyVersion, kind: kInt64},
				{name: "LastFetchedEpoch", max: anyVersion, kind: kInt32},
				{name: "PartitionMaxBytes", max: anyVersion, kind: kInt32},
			}}},
		}}},
	}},
}
