package wire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func strp(s string) *string { return &s }

// linkAPISamples are one filled value of each private request and
// response, every field set (and one with empty arrays).
func linkAPISamples() []kmsg.Request {
	return []kmsg.Request{
		&LinkPeerRequest{LinkName: "l1", LinkID: [16]byte{1, 2}, ClusterID: "c-a", LinkMode: "BIDIRECTIONAL",
			ConnectionMode: "OUTBOUND", LinkState: "ACTIVE",
			Mirrors: []LinkPeerMirror{{Topic: "a.t", SourceTopic: "t", State: "ACTIVE", TopicID: [16]byte{9}}, {Topic: "u"}}},
		&LinkPeerRequest{LinkName: "empty"},
		&LinkReverseRequest{LinkName: "l2", LinkID: [16]byte{3}, ClusterID: "c-b", Role: LinkReverseDial,
			SessionID: [16]byte{4, 5}, DialID: 1 << 40, Host: "10.0.0.1", Port: 9092},
		&LinkReverseRequest{LinkName: "l2", Role: LinkReversePing, SessionID: [16]byte{4},
			Brokers: []LinkReverseBroker{{NodeID: 1, Host: "d1", Port: 9093}, {NodeID: 2, Host: "d2", Port: 9093}}},
		&LinkMirrorOpRequest{LinkName: "l3", LinkID: [16]byte{6}, ClusterID: "c-c", Op: MirrorOpRestore,
			Topics: []LinkMirrorOpTopic{{Topic: "t1", Paused: true, TopicID: [16]byte{0xa, 0xb}, Partitions: []LinkMirrorOpPartition{{0, 10}, {1, -1}}}, {Topic: "t2"}}},
		&LinkFetchRequest{SessionID: -1 << 62, MaxWaitMillis: 500, MinBytes: 1, MaxBytes: 50 << 20, LingerMillis: 20,
			Topics: []LinkFetchTopic{
				{TopicID: [16]byte{0xc, 0xd}, Partitions: []LinkFetchPartition{
					{Partition: 0, CurrentLeaderEpoch: 3, FetchOffset: 1 << 40, LastFetchedEpoch: 2, PartitionMaxBytes: 1 << 20},
					{Partition: 5, CurrentLeaderEpoch: -1, FetchOffset: LinkFetchContinue, LastFetchedEpoch: -1, PartitionMaxBytes: 1},
				}},
				{TopicID: [16]byte{0xe}},
			}},
		&LinkFetchRequest{SessionID: 1},
	}
}

func linkAPIResponseSamples() []kmsg.Response {
	return []kmsg.Response{
		&LinkPeerResponse{ErrorCode: 42, ErrorMessage: strp("cluster link 'x' does not exist"), Found: true,
			LinkID: [16]byte{7}, ClusterID: "c-d", LinkMode: "SOURCE", ConnectionMode: "OUTBOUND", LinkState: "ACTIVE",
			Mirrors: []LinkPeerMirror{{Topic: "m", SourceTopic: "s", State: "STOPPED", TopicID: [16]byte{8}}}},
		&LinkPeerResponse{},
		&LinkReverseResponse{ErrorCode: 0, LinkID: [16]byte{1}, ClusterID: "c-e", HeartbeatMillis: 3000,
			Brokers: []LinkReverseBroker{{NodeID: 1, Host: "h1", Port: 9092}, {NodeID: 2, Host: "h2", Port: 9093}}},
		&LinkMirrorOpResponse{ErrorCode: 0, ErrorMessage: nil, Topics: []LinkMirrorOpTopicResult{
			{Topic: "t1", ErrorCode: 3, ErrorMessage: strp("no such topic"), State: "STOPPED", TopicID: [16]byte{2},
				Partitions: []LinkMirrorOpPartition{{Partition: 0, Offset: 99}}},
			{Topic: "t2", State: "PENDING_SETUP_FOR_RESTORE"},
		}},
		&LinkFetchResponse{ThrottleMillis: 9, ErrorCode: 0, Sequence: 41, Topics: []LinkFetchTopicResponse{
			{TopicID: [16]byte{0xc}, Partitions: []LinkFetchPartitionResponse{
				{Partition: 0, FetchOffset: 10, NextOffset: 13, HighWatermark: 20, LastStableOffset: 20, LogStartOffset: 1,
					DivergingEpoch: LinkFetchDivergingEpoch{Epoch: -1, EndOffset: -1}, Records: []byte("batches")},
				{Partition: 1, ErrorCode: 74, FetchOffset: -1, NextOffset: -1, HighWatermark: -1, LastStableOffset: -1, LogStartOffset: -1,
					DivergingEpoch: LinkFetchDivergingEpoch{Epoch: 4, EndOffset: 99}},
			}},
			{TopicID: [16]byte{0xf}},
		}},
		&LinkFetchResponse{ErrorCode: 70, ErrorMessage: strp("LinkFetch session belongs to another principal")},
	}
}

type message interface {
	Key() int16
	AppendTo([]byte) []byte
	ReadFrom([]byte) error
	SetVersion(int16)
	IsFlexible() bool
	MaxVersion() int16
}

func newLike(m message) message { return reflect.New(reflect.TypeOf(m).Elem()).Interface().(message) }

func allLinkAPISamples() []message {
	var out []message
	for _, r := range linkAPISamples() {
		out = append(out, r)
	}
	for _, r := range linkAPIResponseSamples() {
		out = append(out, r)
	}
	return out
}

func TestLinkAPIRoundTrip(t *testing.T) {
	for _, m := range allLinkAPISamples() {
		if !IsLinkAPIKey(m.Key()) || !m.IsFlexible() || m.MaxVersion() != 0 {
			t.Fatalf("%T: key %d flexible %v max %d", m, m.Key(), m.IsFlexible(), m.MaxVersion())
		}
		b := m.AppendTo(nil)
		back := newLike(m)
		if err := back.ReadFrom(b); err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		if !reflect.DeepEqual(m, back) {
			t.Fatalf("%T round trip:\n got %+v\nwant %+v", m, back, m)
		}
		// Unknown tagged fields (a later version's) are skipped.
		withTag := append(b[:len(b)-1:len(b)-1], 1, 7, 2, 'x', 'y')
		back = newLike(m)
		if err := back.ReadFrom(withTag); err != nil || !reflect.DeepEqual(m, back) {
			t.Fatalf("%T with an unknown tag: %v\n got %+v", m, err, back)
		}
		// A version this build has no layout for is refused.
		back = newLike(m)
		back.SetVersion(1)
		if err := back.ReadFrom(b); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%T v1: err %v", m, err)
		}
	}
	// Requests and responses name each other, at the same version.
	for _, r := range linkAPISamples() {
		if resp := r.ResponseKind(); resp.Key() != r.Key() || resp.RequestKind().Key() != r.Key() {
			t.Fatalf("%T: response kind %T", r, resp)
		}
	}
}

// Every truncation of a valid body is an error, never a panic or a
// silently short value.
func TestLinkAPITruncated(t *testing.T) {
	for _, m := range allLinkAPISamples() {
		b := m.AppendTo(nil)
		for n := 0; n < len(b); n++ {
			back := newLike(m)
			if err := back.ReadFrom(b[:n:n]); err == nil {
				t.Fatalf("%T: %d of %d bytes decoded without error", m, n, len(b))
			} else if !errors.Is(err, kbin.ErrNotEnoughData) {
				t.Fatalf("%T: %d of %d bytes: %v", m, n, len(b), err)
			}
		}
	}
	// A forged array count costs nothing: refused before allocating.
	b := kbin.AppendCompactString(nil, "l")
	b = kbin.AppendUuid(b, [16]byte{})
	b = kbin.AppendCompactString(b, "c")
	b = kbin.AppendInt8(b, MirrorOpFence)
	b = kbin.AppendUvarint(b, 1<<31-1)
	var req LinkMirrorOpRequest
	if err := req.ReadFrom(b); err == nil {
		t.Fatal("a 2^31 topic count decoded")
	}
}

// The request header of a private key is v2 (flexible), so its tagged
// fields are skipped, and the body decodes through DecodeRequest; the
// response carries response header v1.
func TestLinkAPIHeaderAndDecode(t *testing.T) {
	for _, r := range linkAPISamples() {
		cid := "tandem-cluster-link-l"
		frame := encodeRequest(r, 11, &cid)
		h, body, err := ParseHeader(frame)
		if err != nil {
			t.Fatal(err)
		}
		if h.Key != r.Key() || h.Version != 0 || !h.Flexible || h.ClientID != cid || h.CorrelationID != 11 {
			t.Fatalf("%T: header %+v", r, h)
		}
		got, err := DecodeRequest(h, body)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("%T: decoded %+v", r, got)
		}
		if NameForKey(h.Key) == kmsg.NameForKey(h.Key) {
			t.Fatalf("key %d has no name", h.Key)
		}
	}
	for _, resp := range linkAPIResponseSamples() {
		out := AppendResponse(nil, 5, resp.(kmsg.Response))
		// size, correlation id, empty tag section, body
		if out[8] != 0 || len(out) != 9+len(resp.AppendTo(nil)) {
			t.Fatalf("%T: response frame %x", resp, out[:9])
		}
	}
}

// The hand-written pre-scan schemas walk exactly what the codec writes
// and count every element it decodes (TestPrescanMatchesKmsg also covers
// them with random contents), and the decode budget applies.
func TestLinkAPIPrescanMatchesCodec(t *testing.T) {
	for _, r := range linkAPISamples() {
		body := r.AppendTo(nil)
		h := Header{Key: r.Key(), Version: 0, Flexible: true}
		scan, err := Prescan(h, body, 1<<20)
		if err != nil {
			t.Fatalf("%T: %v", r, err)
		}
		if scan.Used != len(body) || scan.Elements != countElements(reflect.ValueOf(r)) {
			t.Fatalf("%T: walked %d of %d bytes, %d elements (want %d)", r, scan.Used, len(body), scan.Elements, countElements(reflect.ValueOf(r)))
		}
		if _, err := Prescan(h, body, 8); !errors.Is(err, ErrDecodeBudget) {
			t.Fatalf("%T: an 8-byte budget: %v", r, err)
		}
		if _, err := Prescan(Header{Key: r.Key(), Version: 1}, body, 1<<20); !errors.Is(err, ErrNoSchema) {
			t.Fatalf("%T v1: %v", r, err)
		}
	}
}

// FuzzLinkAPIDecode feeds arbitrary bytes to each private request and
// response decoder: nothing may panic or take long; what decodes
// re-encodes to the same value; a request body the pre-scan accepts
// decodes, and one that decodes is accepted by the pre-scan with no more
// elements than it counted.
func FuzzLinkAPIDecode(f *testing.F) {
	for i, m := range allLinkAPISamples() {
		f.Add(uint8(i), m.AppendTo(nil))
	}
	f.Add(uint8(4), []byte{2, 'l', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 'c', 1, 0xff, 0xff, 0xff, 0xff, 0x07})
	kinds := allLinkAPISamples()
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		m := newLike(kinds[int(which)%len(kinds)])
		start := time.Now()
		err := m.ReadFrom(b)
		if took := time.Since(start); took > time.Second {
			t.Fatalf("decoding %d bytes took %v", len(b), took)
		}
		if req, ok := m.(kmsg.Request); ok {
			scan, scanErr := Prescan(Header{Key: req.Key()}, b, 1<<30)
			if err == nil && scanErr != nil {
				t.Fatalf("decodes what the pre-scan refuses: %v", scanErr)
			}
			if scanErr == nil && err != nil {
				t.Fatalf("the pre-scan accepts what does not decode: %v", err)
			}
			if err == nil && countElements(reflect.ValueOf(m)) > scan.Elements {
				t.Fatalf("decoded %d elements, the pre-scan counted %d", countElements(reflect.ValueOf(m)), scan.Elements)
			}
		}
		if err != nil {
			return
		}
		again := newLike(m)
		if err := again.ReadFrom(m.AppendTo(nil)); err != nil || !reflect.DeepEqual(m, again) {
			t.Fatalf("re-encoding: %v\n got %+v\nwant %+v", err, again, m)
		}
	})
}

// LinkFetch's records are a compact bytes field: a placeholder of
// broker.PlaceholderSize (16) bytes follows its one-byte prefix 16+1, the
// layout server/splice.go's findSplices (flexible) looks for; empty
// records are an empty field, never null, and a null reads as empty.
func TestLinkFetchRecordsField(t *testing.T) {
	const placeholderSize = 16 // broker.PlaceholderSize (broker imports wire)
	ph := []byte("0123456789abcdef")
	resp := &LinkFetchResponse{Topics: []LinkFetchTopicResponse{{Partitions: []LinkFetchPartitionResponse{{Records: ph}}}}}
	b := resp.AppendTo(nil) // ... records, then the partition's, topic's and body's tags
	at := bytes.Index(b, ph)
	if at < 1 || b[at-1] != placeholderSize+1 || len(b) != at+placeholderSize+3 {
		t.Fatalf("placeholder at %d in %x", at, b)
	}
	resp.Topics[0].Partitions[0].Records = nil
	b = resp.AppendTo(nil)
	// The records' prefix, then the partition's, topic's and body's tags.
	if b[len(b)-4] != 1 { // length 0 as compact bytes (0 would be null)
		t.Fatalf("empty records encode as %x", b)
	}
	b[len(b)-4] = 0 // null
	var back LinkFetchResponse
	if err := back.ReadFrom(b); err != nil || back.Topics[0].Partitions[0].Records != nil {
		t.Fatalf("null records: %v %+v", err, back)
	}
	if _, ok := any(&back).(kmsg.ThrottleResponse); !ok {
		t.Fatal("LinkFetchResponse is no kmsg.ThrottleResponse")
	}
}
