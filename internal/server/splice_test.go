package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/record"
	"github.com/tandem-streaming/tandem/internal/tlsconf/tlstest"
	"github.com/tandem-streaming/tandem/internal/wire"
)

// testSlices appends batches of several sizes to a fresh log and returns
// file slices of three ranges (small, middle, large: their length
// prefixes differ in size in flexible versions) with the bytes each holds.
func testSlices(t *testing.T) ([]*log.FileSlice, [][]byte) {
	t.Helper()
	syncer, err := log.StartSyncer(log.SyncerOptions{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(syncer.Close)
	l, err := log.Open(log.Options{Dir: t.TempDir(), Config: log.DefaultConfig(), Syncer: syncer, Files: log.NewFileCache(8)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	now := time.Now().UnixMilli()
	for _, n := range []int{1, 30, 2000} {
		b := record.NewBuilder()
		for i := 0; i < n; i++ {
			b.Append(now, []byte("key"), fmt.Appendf(nil, "value %d of %d", i, n))
		}
		if _, err := l.AppendAsLeader(b.Build(), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.WaitHighWatermark(context.Background(), 2031); err != nil {
		t.Fatal(err)
	}
	var slices []*log.FileSlice
	var want [][]byte
	for _, off := range []int64{0, 1, 31} {
		r, err := l.Read(off, 1, log.ReadUncommitted, true)
		if err != nil {
			t.Fatal(err)
		}
		s, err := l.ReadSlice(off, 1, log.ReadUncommitted, true)
		if err != nil || s.Slice == nil {
			t.Fatalf("ReadSlice(%d): %v %+v", off, err, s)
		}
		t.Cleanup(s.Slice.Release)
		slices, want = append(slices, s.Slice), append(want, r.Records)
	}
	return slices, want
}

// fetchResponse builds a version-v FetchResponse whose partitions carry
// recs (nil: an empty record set) and a topic name chosen to look like a
// length prefix, so a sloppy search would trip on it.
func fetchResponse(v int16, recs [][]byte) *kmsg.FetchResponse {
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = v
	st := kmsg.NewFetchResponseTopic()
	st.Topic = "\x00\x00\x00\x10topic"
	for i, r := range recs {
		sp := kmsg.NewFetchResponseTopicPartition()
		sp.Partition = int32(i)
		sp.HighWatermark, sp.LastStableOffset = 2031, 2031
		sp.RecordBatches = r
		if r == nil {
			sp.RecordBatches = []byte{}
		}
		st.Partitions = append(st.Partitions, sp)
	}
	resp.Topics = append(resp.Topics, st)
	return resp
}

// linkFetchResponse is fetchResponse as a LinkFetch response (Tandem's
// private pipelined fetch, wire.LinkFetchResponse: flexible, its records
// a compact bytes field).
func linkFetchResponse(recs [][]byte) kmsg.Response {
	resp := &wire.LinkFetchResponse{}
	st := wire.LinkFetchTopicResponse{TopicID: [16]byte{0, 0, 0, 0x11}}
	for i, r := range recs {
		st.Partitions = append(st.Partitions, wire.LinkFetchPartitionResponse{Partition: int32(i),
			FetchOffset: 0x11, NextOffset: 2031, HighWatermark: 2031, LastStableOffset: 2031,
			DivergingEpoch: wire.LinkFetchDivergingEpoch{Epoch: -1, EndOffset: -1}, Records: r})
	}
	resp.Topics = append(resp.Topics, st)
	return resp
}

// TestWriteSpliced checks that a response encoded with placeholders and
// written with its file slices spliced in is byte for byte the response
// kmsg encodes with the records in memory, in a non-flexible and a
// flexible version of Fetch and in LinkFetch, over a TCP connection
// (sendfile) and a pipe (copy).
func TestWriteSpliced(t *testing.T) {
	slices, want := testSlices(t)
	responses := map[string]func([][]byte) kmsg.Response{"LinkFetch": linkFetchResponse}
	for _, v := range []int16{4, 11, 12, 16} {
		responses[fmt.Sprintf("v%d", v)] = func(recs [][]byte) kmsg.Response { return fetchResponse(v, recs) }
	}
	for name, response := range responses {
		for _, transport := range []string{"tcp", "pipe", "tls"} {
			t.Run(name+"/"+transport, func(t *testing.T) {
				// Partitions: slice, empty, slice, slice.
				inMemory := response([][]byte{want[0], nil, want[1], want[2]})
				wantFrame := wire.AppendResponse(nil, 7, inMemory)

				var refs []broker.FileRef
				var recs [][]byte
				for i, s := range slices {
					p := make([]byte, broker.PlaceholderSize)
					_, _ = rand.Read(p)
					refs = append(refs, broker.FileRef{Placeholder: p, Slice: s})
					recs = append(recs, p)
					if i == 0 {
						recs = append(recs, nil)
					}
				}
				withPlaceholders := response(recs)
				frame := wire.AppendResponse(nil, 7, withPlaceholders)
				pts, err := findSplices(frame, refs, withPlaceholders.IsFlexible())
				if err != nil {
					t.Fatal(err)
				}

				server, client := connPair(t, transport)
				got := make(chan []byte, 1)
				go func() {
					b, _ := io.ReadAll(client)
					got <- b
				}()
				c := &conn{nc: server}
				bw := bufio.NewWriter(server)
				n, err := c.writeSpliced(bw, frame, pts, withPlaceholders.IsFlexible())
				if err == nil {
					err = bw.Flush()
				}
				if err != nil {
					t.Fatal(err)
				}
				_ = server.Close()
				b := <-got
				if n != int64(len(wantFrame)) {
					t.Errorf("writeSpliced reported %d bytes, want %d", n, len(wantFrame))
				}
				if !bytes.Equal(b, wantFrame) {
					t.Fatalf("spliced frame differs: %d bytes, want %d", len(b), len(wantFrame))
				}
			})
		}
	}
}

func connPair(t *testing.T, transport string) (server, client net.Conn) {
	t.Helper()
	if transport == "pipe" {
		server, client = net.Pipe()
		t.Cleanup(func() { _ = server.Close(); _ = client.Close() })
		return server, client
	}
	if transport == "tls" {
		// File slices on a TLS connection are copied through the TLS
		// writer (copyFile), encrypted like the rest of the frame.
		server, client = connPair(t, "tcp")
		ca := tlstest.NewCA(t)
		server = tls.Server(server, &tls.Config{Certificates: []tls.Certificate{ca.Server(t).TLSCertificate()}})
		client = tls.Client(client, &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"})
		t.Cleanup(func() { _ = server.Close(); _ = client.Close() })
		return server, client
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if !canSendFile(server) && transport == "tcp" && sendfileOS {
		t.Fatal("a TCP connection cannot sendfile")
	}
	t.Cleanup(func() { _ = server.Close(); _ = client.Close() })
	return server, client
}

// TestFindSplicesRefusesMissingPlaceholder: a placeholder that is not in
// the frame, or not behind its length prefix, is an error, never a guess.
func TestFindSplicesRefusesMissingPlaceholder(t *testing.T) {
	slices, _ := testSlices(t)
	p := bytes.Repeat([]byte{0xAB}, broker.PlaceholderSize)
	for _, v := range []int16{4, 12} {
		frame := wire.AppendResponse(nil, 1, fetchResponse(v, [][]byte{[]byte("not it")}))
		if _, err := findSplices(frame, []broker.FileRef{{Placeholder: p, Slice: slices[0]}}, v >= 12); !errors.Is(err, errPlaceholder) {
			t.Fatalf("v%d: missing placeholder: %v", v, err)
		}
		// The placeholder bytes inside a longer value: no length prefix
		// of PlaceholderSize right before them.
		frame = wire.AppendResponse(nil, 1, fetchResponse(v, [][]byte{append([]byte("xx"), p...)}))
		if _, err := findSplices(frame, []broker.FileRef{{Placeholder: p, Slice: slices[0]}}, v >= 12); !errors.Is(err, errPlaceholder) {
			t.Fatalf("v%d: placeholder without its prefix: %v", v, err)
		}
	}
}

// TestSendFileShortFile: a file that ends before the slice does (it was
// truncated after the read) fails the send instead of leaving the frame
// short.
func TestSendFileShortFile(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "seg")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(bytes.Repeat([]byte("x"), 1000)); err != nil {
		t.Fatal(err)
	}
	for _, transport := range []string{"tcp", "pipe"} {
		server, client := connPair(t, transport)
		go func() { _, _ = io.Copy(io.Discard, client) }()
		if err := sendFile(server, f, 500, 800); !errors.Is(err, errShortFile) {
			t.Fatalf("%s: sending past the end: %v", transport, err)
		}
		if err := sendFile(server, f, 100, 900); err != nil {
			t.Fatalf("%s: sending within the file: %v", transport, err)
		}
	}
}

// FuzzFindSplices: whatever the frame, findSplices never panics, and the
// points it returns are in order, inside the frame, each a length prefix
// followed by its placeholder.
func FuzzFindSplices(f *testing.F) {
	p1 := bytes.Repeat([]byte{0xA1}, broker.PlaceholderSize)
	p2 := bytes.Repeat([]byte{0xB2}, broker.PlaceholderSize)
	seed := func(parts ...[]byte) []byte {
		out := []byte{0, 0, 0, 0}
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	f.Add(seed([]byte{0, 0, 0, 16}, p1, []byte{1, 2}, []byte{0, 0, 0, 16}, p2), false)
	f.Add(seed([]byte{17}, p1, []byte{17}, p2, []byte{9}), true)
	f.Add([]byte{1, 2}, true)
	f.Fuzz(func(t *testing.T, frame []byte, flexible bool) {
		refs := []broker.FileRef{{Placeholder: p1}, {Placeholder: p2}}
		pts, err := findSplices(frame, refs, flexible)
		if err != nil {
			if !errors.Is(err, errPlaceholder) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		prev := 4
		for i, pt := range pts {
			if pt.prefix < prev || pt.end > len(frame) || pt.prefix >= pt.end {
				t.Fatalf("point %d %+v out of order or bounds (prev %d, frame %d)", i, pt, prev, len(frame))
			}
			if !bytes.Equal(frame[pt.end-broker.PlaceholderSize:pt.end], refs[i].Placeholder) {
				t.Fatalf("point %d does not end with its placeholder", i)
			}
			prev = pt.end
		}
	})
}
