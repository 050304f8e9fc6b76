package compat

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// kcat is librdkafka through the kcat binary (Debian package kcat, which
// links the system librdkafka). kcat cannot set timestamps on produce and
// applies the same -H headers to every message, so its Produce returns
// records with zero timestamps (checked against the produce window) and
// kcatHeaders. The consumer is kcat's simple consumer over all partitions,
// with librdkafka's default read_committed isolation.
var kcat = client{
	Name:       "kcat",
	Librdkafka: true,
	Produce:    kcatProduce,
	Consume:    kcatConsume,
	Nulls:      true, // %K and %S print -1 for null
	Idempotent: true,
	// Debian's kcat 1.7.1 links librdkafka 2.0.2.
}

// kcatHeaders are the headers kcat puts on every message it produces:
// several, a duplicated key and an empty value, as genRecords does.
var kcatHeaders = []header{
	{"a", []byte("1")},
	{"dup", []byte("x")},
	{"dup", []byte("y")},
	{"empty", []byte{}},
}

// Delimiters for kcat's producer input. genRecords never emits byte 0x01.
const (
	kcatKeyDelim = "\x01K\x01"
	kcatMsgDelim = "\x01M\x01"
)

// kcatBinary returns the path of kcat, skipping the test if it is missing
// except under CI (CI=true), where a missing kcat is a broken setup.
func kcatBinary(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("kcat not on PATH under CI (install the Debian packages in scripts/ci-deps.txt): %v", err)
		}
		t.Skipf("kcat not on PATH: %v", err)
	}
	return path
}

// escapeDelim writes a delimiter the way kcat's -D and -K parse it.
func escapeDelim(d string) string {
	var b strings.Builder
	for i := 0; i < len(d); i++ {
		if c := d[i]; c < 0x20 || c >= 0x7f {
			fmt.Fprintf(&b, `\x%02x`, c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func runKcat(ctx context.Context, t *testing.T, stdin io.Reader, args ...string) []byte {
	t.Helper()
	cmd := exec.CommandContext(ctx, kcatBinary(t), args...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		t.Logf("kcat stderr: %s", s)
	}
	return stdout.Bytes()
}

func kcatProduce(ctx context.Context, t *testing.T, req produceReq) []record {
	t.Helper()
	want := make([]record, len(req.Records))
	inputs := make(map[int32]*bytes.Buffer)
	for i, r := range req.Records {
		r.Headers = kcatHeaders
		r.Timestamp = time.Time{}
		if r.Key == nil && len(r.Value) == 0 {
			// kcat skips an empty input message, and a message without
			// a key delimiter has a null key: send an empty key instead.
			r.Key = []byte{}
		}
		if r.Value == nil {
			r.Value = []byte{} // kcat sends an empty value unless -Z
		}
		want[i] = r
		in := inputs[r.Partition]
		if in == nil {
			in = new(bytes.Buffer)
			inputs[r.Partition] = in
		}
		if r.Key != nil {
			in.Write(r.Key)
			in.WriteString(kcatKeyDelim)
		}
		in.Write(r.Value)
		in.WriteString(kcatMsgDelim)
	}
	for p, in := range inputs {
		args := []string{
			"-P", "-q",
			"-b", req.Addr,
			"-t", req.Topic,
			"-p", strconv.Itoa(int(p)),
			"-K", escapeDelim(kcatKeyDelim),
			"-D", escapeDelim(kcatMsgDelim),
			"-X", "client.id=tandem-compat",
			"-X", "linger.ms=5",
			"-X", "acks=all",
			"-z", req.Codec.Name,
			"-X", "enable.idempotence=" + strconv.FormatBool(req.Idempotent),
		}
		for _, h := range kcatHeaders {
			args = append(args, "-H", h.Key+"="+string(h.Value))
		}
		runKcat(ctx, t, in, args...)
	}
	return want
}

// kcatFormat prints each message as a line "partition offset timestamp
// keylen valuelen", a line of headers "k=v,k=v", then the raw key and value
// (whose lengths the first line gives, -1 for null) and a newline.
const kcatFormat = `%p %o %T %K %S\n%h\n%k%s\n`

func kcatConsume(ctx context.Context, t *testing.T, addr, topic string, counts map[int32]int) []record {
	t.Helper()
	total := 0
	for _, n := range counts {
		total += n
	}
	out := runKcat(ctx, t, nil,
		"-C", "-q", "-e",
		"-b", addr,
		"-t", topic,
		"-o", "beginning",
		"-c", strconv.Itoa(total),
		"-X", "client.id=tandem-compat",
		"-f", kcatFormat,
	)
	got, err := parseKcat(out)
	if err != nil {
		t.Fatalf("parsing kcat output: %v", err)
	}
	return got
}

func parseKcat(out []byte) ([]record, error) {
	var got []record
	br := bufio.NewReader(bytes.NewReader(out))
	readN := func(n int64) ([]byte, error) {
		if n < 0 {
			return nil, nil
		}
		b := make([]byte, n)
		_, err := io.ReadFull(br, b)
		return b, err
	}
	for {
		line, err := br.ReadString('\n')
		if err == io.EOF && line == "" {
			return got, nil
		}
		if err != nil {
			return got, fmt.Errorf("record %d: %w", len(got), err)
		}
		var (
			r          record
			ts, kl, vl int64
		)
		if _, err := fmt.Sscanf(line, "%d %d %d %d %d\n", &r.Partition, &r.Offset, &ts, &kl, &vl); err != nil {
			return got, fmt.Errorf("record %d: header line %q: %w", len(got), line, err)
		}
		r.Timestamp = time.UnixMilli(ts)
		hdrs, err := br.ReadString('\n')
		if err != nil {
			return got, fmt.Errorf("record %d: headers: %w", len(got), err)
		}
		if hdrs = strings.TrimSuffix(hdrs, "\n"); hdrs != "" {
			for _, kv := range strings.Split(hdrs, ",") {
				k, v, ok := strings.Cut(kv, "=")
				h := header{Key: k}
				if ok {
					h.Value = []byte(v)
				}
				r.Headers = append(r.Headers, h)
			}
		}
		if r.Key, err = readN(kl); err != nil {
			return got, fmt.Errorf("record %d: key: %w", len(got), err)
		}
		if r.Value, err = readN(vl); err != nil {
			return got, fmt.Errorf("record %d: value: %w", len(got), err)
		}
		if nl, err := br.ReadByte(); err != nil || nl != '\n' {
			return got, fmt.Errorf("record %d: no newline after the value (%q, %v)", len(got), nl, err)
		}
		got = append(got, r)
	}
}
