package fetcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/record"
)

// The transcript tests drive one engine — the planning and response
// handling of one fetcher — with scripted source answers, against real
// *log.Log targets in a temporary directory. Commands:
//
//	caps [truncation-on-fetch] [epochs] [topic-ids] [fencing] [version=N]
//	add <tp> [start=earliest|latest|ts:<ms>] [topic-id=<n>] [raise-epoch]
//	target <tp>            (lines: batches appended verbatim to the target)
//	close-target <tp>      (closes the target log under the fetcher)
//	leader <tp> broker=<b> epoch=<e> [topic-id=<n>]
//	remove <tp> | pause <tp> | resume <tp>
//	ack <tp> epoch=<e> [err=<text>|err=gone]
//	                       (the owner's acknowledgement of an effect)
//	advance <ms>
//	plan                   (prints the requests of the next round)
//	offsets                (lines: <tp> offset=<o> [err=<CODE>]) answers the last plan
//	epochs                 (lines: <tp> epoch=<e> end=<o> [err=<CODE>])
//	fetch [err=<text>] [version=<v>]
//	                       (lines: <tp> [hw=] [lso=] [start=] [err=<CODE>] [diverging=<e>:<o>] <batches...>)
//	log <tp>               (prints the target's offsets, epochs and batches)
//	status <tp>
//	pfetch                 (plans and builds the next LinkFetch of a pipelined
//	                       worker: partitions continue from the source's cursor
//	                       or name their offset; prints it)
//	panswer [req=<n>] [seq=<s>] [err=<CODE>]
//	                       (lines: <tp> served=<o> next=<o> [hw=] [err=<CODE>]
//	                       [diverging=<e>:<o>] <batches...>) the source serves
//	                       LinkFetch #n (default: the oldest in flight) now: its
//	                       answer is the next in the source's order (or the s-th,
//	                       delivered out of that order), applied once
//	                       those before it are; prints what was applied and the
//	                       partitions no longer synced with their cursors
//
// Results print the effects a round returns ("effect raise-leader-epoch
// <tp> <e>"); the transcript acknowledges them with ack, as the Fetcher's
// owner would. The engine runs with MirrorPolicy.
//
// A batch is written <base>-<last>@<epoch>[:flag...]; flags: r=<n> (fewer
// records than offsets, as after compaction), pid=<id>, txn (transactional
// data), commit / abort (a control batch of pid), v1 (magic 1), corrupt
// (CRC mismatch), partial (only the first half of the bytes), zstd.
func TestTranscripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		h := newHarness(t)
		datadriven.RunTest(t, path, h.run)
	})
}

type harness struct {
	t       *testing.T
	dir     string
	files   *log.FileCache
	syncer  *log.Syncer
	now     time.Time
	eng     *engine
	logs    map[TopicPartition]*log.Log
	last    roundPlan
	version int16
	pipe    *pipeline // pipelined commands (pipeline.go)
	served  int32     // the source's answers in the pipelined session
}

func newHarness(t *testing.T) *harness {
	h := &harness{
		t: t, dir: t.TempDir(), files: log.NewFileCache(16), syncer: log.NewSyncer(1, nil),
		now: time.UnixMilli(1_000_000), logs: map[TopicPartition]*log.Log{},
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("FETCHER_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	h.eng = newEngine(engineConfig{maxWait: 500 * time.Millisecond, minBytes: 1, maxBytes: 10 << 20, partitionMaxBytes: 1 << 20, backoff: time.Second},
		MirrorPolicy{Logger: logger}, logger)
	t.Cleanup(func() {
		for _, l := range h.logs {
			_ = l.Close()
		}
		h.syncer.Close()
	})
	return h
}

func (h *harness) env() stepEnv { return h.eng.env(h.now) }

func parseTP(s string) TopicPartition {
	i := strings.LastIndexByte(s, '-')
	p, err := strconv.Atoi(s[i+1:])
	if err != nil {
		panic("bad partition " + s)
	}
	return TopicPartition{s[:i], int32(p)}
}

func (h *harness) openLog(tp TopicPartition) *log.Log {
	if l, ok := h.logs[tp]; ok {
		return l
	}
	l, err := log.Open(log.Options{
		Dir: filepath.Join(h.dir, tp.String()), Topic: tp.Topic, Partition: tp.Partition,
		Files: h.files, Syncer: h.syncer, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Config: log.Config{FileDeleteDelayMs: 0, SegmentBytes: 1 << 20},
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.logs[tp] = l
	return l
}

func args(d *datadriven.TestData) map[string]string {
	m := map[string]string{}
	for _, a := range d.CmdArgs {
		m[a.Key] = strings.Join(a.Vals, ",")
	}
	return m
}

// kv splits "a=b c d=e" into key/values and bare words.
func kv(line string) (map[string]string, []string) {
	m := map[string]string{}
	var words []string
	for _, f := range strings.Fields(line) {
		if k, v, ok := strings.Cut(f, "="); ok && !strings.Contains(k, "@") {
			m[k] = v
		} else {
			words = append(words, f)
		}
	}
	return m, words
}

func atoi64(s string) int64 {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		panic(err)
	}
	return v
}

var kerrByName = func() map[string]error {
	m := map[string]error{}
	for c := int16(-1); c < 150; c++ {
		if e, ok := kerr.ErrorForCode(c).(*kerr.Error); ok {
			m[e.Message] = e
		}
	}
	return m
}()

func remoteErr(name string) error {
	if e, ok := kerrByName[name]; ok {
		return e
	}
	panic("unknown error code " + name)
}

// batch builds one batch from its transcript notation.
func batch(tok string) []byte {
	spec, flagStr, _ := strings.Cut(tok, ":")
	rng, epochStr, ok := strings.Cut(spec, "@")
	if !ok {
		panic("batch needs @epoch: " + tok)
	}
	lo, hi, _ := strings.Cut(rng, "-")
	base, last := atoi64(lo), atoi64(hi)
	epoch := int32(atoi64(epochStr))
	flags := map[string]string{}
	if flagStr != "" {
		for _, f := range strings.Split(flagStr, ":") {
			k, v, _ := strings.Cut(f, "=")
			flags[k] = v
		}
	}
	pid := int64(-1)
	if v, ok := flags["pid"]; ok {
		pid = atoi64(v)
	}
	var b record.Batch
	_, commit := flags["commit"]
	_, abort := flags["abort"]
	if commit || abort {
		b = record.NewControlBatch(pid, 0, commit, 0, 1_000_000+base)
		b.SetBaseOffset(base)
		b.SetPartitionLeaderEpoch(epoch)
	} else {
		bl := record.NewBuilder()
		bl.BaseOffset, bl.PartitionLeaderEpoch = base, epoch
		if _, ok := flags["txn"]; ok {
			bl.Transactional = true
		}
		if pid >= 0 {
			bl.ProducerID, bl.ProducerEpoch, bl.BaseSequence = pid, 0, int32(base)
		}
		if _, ok := flags["zstd"]; ok {
			bl.Compression = record.Zstd
		}
		n := last - base + 1
		if v, ok := flags["r"]; ok {
			n = atoi64(v)
		}
		// Records at the first n-1 deltas and the last offset (a
		// compacted batch keeps its lastOffsetDelta).
		for i := int64(0); i < n; i++ {
			d := i
			if i == n-1 {
				d = last - base
			}
			bl.AppendAt(int32(d), 1_000_000+base+d, []byte(fmt.Sprintf("k%d", base+d)), []byte(fmt.Sprintf("v%d", base+d)))
		}
		bl.LastOffsetDelta = int32(last - base)
		b = bl.Build()
	}
	out := []byte(b)
	if _, ok := flags["v1"]; ok {
		out[16] = 1
	}
	if _, ok := flags["corrupt"]; ok {
		out[len(out)-1] ^= 0xff
	}
	if _, ok := flags["partial"]; ok {
		out = out[:len(out)/2]
	}
	return out
}

func batches(words []string) []byte {
	var out []byte
	for _, w := range words {
		out = append(out, batch(w)...)
	}
	return out
}

func (h *harness) run(t *testing.T, d *datadriven.TestData) string {
	a := args(d)
	tpArg := func() TopicPartition {
		if len(d.CmdArgs) == 0 {
			d.Fatalf(t, "%s needs a partition", d.Cmd)
		}
		return parseTP(d.CmdArgs[0].Key)
	}
	switch d.Cmd {
	case "caps":
		c := Capabilities{FetchVersion: 17}
		_, c.TruncationOnFetch = a["truncation-on-fetch"]
		_, c.OffsetForLeaderEpoch = a["epochs"]
		_, c.TopicIDs = a["topic-ids"]
		_, c.EpochFencing = a["fencing"]
		if v, ok := a["version"]; ok {
			c.FetchVersion = int16(atoi64(v))
		}
		h.version = c.FetchVersion
		h.eng.setCaps(c)
		return h.states()

	case "add":
		tp := tpArg()
		pc := PartitionConfig{Target: h.openLog(tp)}
		_, pc.RaiseLeaderEpoch = a["raise-epoch"]
		switch v := a["start"]; {
		case v == "earliest":
			pc.Start = StartEarliest
		case v == "latest":
			pc.Start = StartLatest
		case strings.HasPrefix(v, "ts:"):
			pc.Start = StartAtTimestamp(time.UnixMilli(atoi64(strings.TrimPrefix(v, "ts:"))))
		}
		if v, ok := a["topic-id"]; ok {
			pc.SourceTopicID = [16]byte{byte(atoi64(v))}
		}
		s, err := newFetchState(tp, pc, h.eng.policy)
		if err != nil {
			return "error: " + err.Error()
		}
		h.eng.add(s)
		return h.states()

	case "target":
		tp := tpArg()
		k := h.openLog(tp)
		_, words := kv(strings.ReplaceAll(d.Input, "\n", " "))
		if _, err := k.AppendVerbatim(batches(words)); err != nil {
			return "error: " + err.Error()
		}
		return h.logString(tp)

	case "leader":
		tp := tpArg()
		var id [16]byte
		if v, ok := a["topic-id"]; ok {
			id = [16]byte{byte(atoi64(v))}
		}
		h.eng.setLeaderEpoch(tp, int32(atoi64(a["broker"])), int32(atoi64(a["epoch"])), id)
		return h.states()

	case "remove":
		h.eng.remove(tpArg())
		return h.states()

	case "pause", "resume":
		if s := h.eng.parts[tpArg()]; s != nil {
			s.setPaused(d.Cmd == "pause")
		}
		return h.states()

	case "ack":
		var err error
		switch v, ok := a["err"]; {
		case v == "gone":
			err = fmt.Errorf("mirror partition deleted: %w", ErrTargetGone)
		case ok:
			err = errors.New(v)
		}
		return h.result(h.eng.ackLeaderEpoch(h.now, tpArg(), int32(atoi64(a["epoch"])), err))

	case "close-target":
		if err := h.logs[tpArg()].Close(); err != nil {
			return "error: " + err.Error()
		}
		return "closed"

	case "advance":
		ms := atoi64(d.CmdArgs[0].Key)
		h.now = h.now.Add(time.Duration(ms) * time.Millisecond)
		return h.states()

	case "plan":
		h.last = h.eng.plan(h.now)
		return h.planString(h.last)

	case "offsets":
		res := map[TopicPartition]OffsetResult{}
		for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			if line == "" {
				continue
			}
			m, words := kv(line)
			r := OffsetResult{Offset: -1, LeaderEpoch: -1}
			if v, ok := m["offset"]; ok {
				r.Offset = atoi64(v)
			}
			if v, ok := m["err"]; ok {
				r.Err = remoteErr(v)
			}
			res[parseTP(words[0])] = r
		}
		var err error
		if v, ok := a["err"]; ok {
			err, res = errors.New(v), nil
		}
		return h.result(h.eng.applyOffsets(h.now, h.last.offsets, res, err))

	case "epochs":
		res := map[TopicPartition]EpochEndOffset{}
		for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			if line == "" {
				continue
			}
			m, words := kv(line)
			r := EpochEndOffset{LeaderEpoch: int32(atoi64(m["epoch"])), EndOffset: atoi64(m["end"])}
			if v, ok := m["err"]; ok {
				r.Err = remoteErr(v)
			}
			res[parseTP(words[0])] = r
		}
		var err error
		if v, ok := a["err"]; ok {
			err, res = errors.New(v), nil
		}
		return h.result(h.eng.applyEpochs(h.now, h.last.epochs, res, err))

	case "fetch":
		if h.last.fetch == nil {
			d.Fatalf(t, "no fetch planned")
		}
		if v, ok := a["err"]; ok {
			return h.result(h.eng.applyFetch(h.now, h.last.fetch, nil, errors.New(v)))
		}
		resp := &FetchResponse{Version: h.version, Partitions: map[TopicPartition]FetchData{}}
		if v, ok := a["version"]; ok {
			resp.Version = int16(atoi64(v))
		}
		for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			if line == "" {
				continue
			}
			m, words := kv(line)
			tp := parseTP(words[0])
			fd := fetchData(m, words)
			resp.Partitions[tp] = fd
		}
		return h.result(h.eng.applyFetch(h.now, h.last.fetch, resp, nil))

	case "pfetch":
		if h.pipe == nil {
			h.pipe = newPipeline(nil)
		}
		h.last = h.eng.plan(h.now)
		if h.last.fetch == nil {
			return "nothing to fetch"
		}
		req := h.pipe.build(h.last.fetch.Partitions, 500*time.Millisecond, 25*time.Millisecond, 1<<20, 2<<20)
		if req == nil {
			return "nothing to send"
		}
		r := &pipeReq{id: h.pipe.issued, req: req, states: h.eng.statesOf(req), done: make(chan pipeResult, 1), cancel: func() {}}
		h.pipe.issued++
		h.pipe.inflight = append(h.pipe.inflight, r)
		var b strings.Builder
		fmt.Fprintf(&b, "link-fetch #%d outstanding=%d", r.id, h.pipe.outstanding())
		for _, pp := range req.Partitions {
			if pp.Continue {
				fmt.Fprintf(&b, "\n  %s continue current-epoch=%d", pp.TopicPartition, pp.CurrentLeaderEpoch)
			} else {
				fmt.Fprintf(&b, "\n  %s offset=%d current-epoch=%d last-fetched-epoch=%d", pp.TopicPartition, pp.FetchOffset, pp.CurrentLeaderEpoch, pp.LastFetchedEpoch)
			}
		}
		return b.String()

	case "panswer":
		// The source serves request #req (default: the oldest in
		// flight) now: its answer is the session's next in the source's
		// order, applied once those before it are.
		if h.pipe == nil || len(h.pipe.inflight) == 0 {
			d.Fatalf(t, "no LinkFetch in flight")
		}
		r := h.pipe.inflight[0]
		if v, ok := a["req"]; ok {
			r = nil
			for _, x := range h.pipe.inflight {
				if x.id == int32(atoi64(v)) {
					r = x
				}
			}
			if r == nil {
				d.Fatalf(t, "request #%s is not in flight", v)
			}
		}
		resp := &PipelinedFetchResponse{Sequence: h.served, Partitions: map[TopicPartition]PipelinedData{}}
		h.served++
		if v, ok := a["seq"]; ok {
			// The answer's place in the source's order, when it is
			// delivered in another order than served.
			resp.Sequence = int32(atoi64(v))
		}
		if v, ok := a["err"]; ok {
			resp.Err = remoteErr(v)
		}
		for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			if line == "" {
				continue
			}
			m, words := kv(line)
			tp := parseTP(words[0])
			pd := PipelinedData{FetchOffset: -1, NextOffset: -1, FetchData: fetchData(m, words)}
			if v, ok := m["served"]; ok {
				pd.FetchOffset = atoi64(v)
			}
			if v, ok := m["next"]; ok {
				pd.NextOffset = atoi64(v)
			}
			resp.Partitions[tp] = pd
		}
		r.done <- pipeResult{resp: resp}
		var out []string
		_, err := h.pipe.collect()
		h.pipe.applyReady(func(a pipeAnswer) {
			res, unsynced := h.pipe.apply(h.eng, h.now, a)
			line := fmt.Sprintf("applied #%d", a.r.id)
			if len(unsynced) > 0 {
				names := make([]string, len(unsynced))
				for i, tp := range unsynced {
					names[i] = tp.String()
				}
				sort.Strings(names)
				line += " unsynced " + strings.Join(names, " ")
			}
			if res.records > 0 || res.batches > 0 {
				line += fmt.Sprintf(" appended batches=%d records=%d", res.batches, res.records)
			}
			if res.needMetadata {
				line += " need metadata"
			}
			out = append(out, line)
		})
		if err != nil {
			out = append(out, "session reset: "+err.Error())
			h.pipe.reset()
			h.served = 0
		}
		if len(out) == 0 {
			out = append(out, fmt.Sprintf("waiting for answer %d", h.pipe.next))
		}
		return strings.Join(out, "\n") + "\n" + h.states()

	case "log":
		return h.logString(tpArg())

	case "status":
		tp := tpArg()
		s := h.eng.parts[tp]
		if s == nil {
			return "not added"
		}
		return statusString(s.status(h.now), h.now)

	default:
		d.Fatalf(t, "unknown command %q", d.Cmd)
	}
	return ""
}

// fetchData is one partition's answer in a fetch or panswer line:
// <tp> [hw=] [lso=] [start=] [err=<CODE>] [diverging=<e>:<o>] <batches...>.
func fetchData(m map[string]string, words []string) FetchData {
	fd := FetchData{HighWatermark: -1, LastStableOffset: -1, LogStartOffset: -1, Records: batches(words[1:])}
	if v, ok := m["hw"]; ok {
		fd.HighWatermark, fd.LastStableOffset = atoi64(v), atoi64(v)
	}
	if v, ok := m["lso"]; ok {
		fd.LastStableOffset = atoi64(v)
	}
	if v, ok := m["start"]; ok {
		fd.LogStartOffset = atoi64(v)
	}
	if v, ok := m["err"]; ok {
		fd.Err = remoteErr(v)
	}
	if v, ok := m["diverging"]; ok {
		e, o, _ := strings.Cut(v, ":")
		fd.DivergingEpoch = &EpochEndOffset{LeaderEpoch: int32(atoi64(e)), EndOffset: atoi64(o)}
	}
	return fd
}

func (h *harness) result(r roundResult) string {
	var b strings.Builder
	if r.records > 0 || r.batches > 0 {
		fmt.Fprintf(&b, "appended batches=%d records=%d\n", r.batches, r.records)
	}
	if r.needMetadata {
		b.WriteString("need metadata\n")
	}
	if r.corrupt > 0 {
		fmt.Fprintf(&b, "corrupt answers=%d\n", r.corrupt)
	}
	for _, e := range r.effects {
		fmt.Fprintf(&b, "effect %s\n", e)
	}
	b.WriteString(h.states())
	return b.String()
}

func (h *harness) sortedParts() []*fetchState {
	var out []*fetchState
	for _, s := range h.eng.parts {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].tp.String() < out[j].tp.String() })
	return out
}

func (h *harness) states() string {
	var b strings.Builder
	if len(h.eng.parts) == 0 {
		return "no partitions"
	}
	for _, s := range h.sortedParts() {
		b.WriteString(h.describe(s))
		b.WriteByte('\n')
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func (h *harness) describe(s *fetchState) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", s.tp, s.phase)
	if s.phase == phaseResolving {
		fmt.Fprintf(&b, "(%s)", mirrorStep(s.pos.Step))
	}
	fmt.Fprintf(&b, " offset=%d last-fetched-epoch=%d leader=%d/%d", s.fetchOffset, s.lastFetchedEpoch, s.leader, s.currentLeaderEpoch)
	if s.sourceHW >= 0 {
		fmt.Fprintf(&b, " lag=%d", s.sourceHW-s.target.LogEndOffset())
	}
	if s.paused {
		b.WriteString(" paused")
	}
	if s.held != nil {
		fmt.Fprintf(&b, " awaiting-epoch=%d", s.held.epoch)
	}
	if h.now.Before(s.delayUntil) {
		fmt.Fprintf(&b, " delayed=%dms", s.delayUntil.Sub(h.now).Milliseconds())
	}
	if s.phase == phaseFailed {
		fmt.Fprintf(&b, "\n  failed: %v", s.failure)
	} else if s.lastErr != nil {
		fmt.Fprintf(&b, "\n  error: %v", s.lastErr)
	}
	return b.String()
}

func (h *harness) planString(p roundPlan) string {
	var b strings.Builder
	for _, q := range p.offsets {
		ts := strconv.FormatInt(q.Timestamp, 10)
		switch q.Timestamp {
		case ListOffsetsEarliest:
			ts = "earliest"
		case ListOffsetsLatest:
			ts = "latest"
		}
		fmt.Fprintf(&b, "list-offsets %s timestamp=%s current-epoch=%d\n", q.TopicPartition, ts, q.CurrentLeaderEpoch)
	}
	for _, q := range p.epochs {
		fmt.Fprintf(&b, "offset-for-leader-epoch %s current-epoch=%d epoch=%d\n", q.TopicPartition, q.CurrentLeaderEpoch, q.LeaderEpoch)
	}
	if p.fetch != nil {
		for _, fp := range p.fetch.Partitions {
			fmt.Fprintf(&b, "fetch %s offset=%d current-epoch=%d last-fetched-epoch=%d", fp.TopicPartition, fp.FetchOffset, fp.CurrentLeaderEpoch, fp.LastFetchedEpoch)
			if fp.TopicID != ([16]byte{}) {
				fmt.Fprintf(&b, " topic-id=%d", fp.TopicID[0])
			}
			b.WriteByte('\n')
		}
	}
	if p.needMetadata {
		b.WriteString("need metadata\n")
	}
	if b.Len() == 0 {
		if next := h.eng.nextDeadline(h.now); !next.IsZero() {
			return fmt.Sprintf("nothing to send; next in %dms", next.Sub(h.now).Milliseconds())
		}
		return "nothing to send"
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// logString prints a target: offsets, epochs, kept epochs and every batch.
func (h *harness) logString(tp TopicPartition) string {
	k := h.logs[tp]
	if k == nil {
		return "no log"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := k.WaitHighWatermark(ctx, k.LogEndOffset()); err != nil {
		return "error: " + err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "start=%d end=%d", k.LogStartOffset(), k.LogEndOffset())
	if lso := k.LastStableOffset(); lso != k.LogEndOffset() {
		fmt.Fprintf(&b, " lso=%d", lso)
	}
	b.WriteString(" epochs=")
	ents := k.EpochEntries()
	if len(ents) == 0 {
		b.WriteString("none")
	}
	for i, e := range ents {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d@%d", e[0], e[1])
	}
	b.WriteByte('\n')
	for off := k.LogStartOffset(); off < k.LogEndOffset(); {
		r, err := k.Read(off, 1<<20, log.ReadUncommitted, true)
		if err != nil {
			return b.String() + "error: " + err.Error()
		}
		if len(r.Records) == 0 {
			break
		}
		it := record.NewIter(r.Records)
		for bt, ok := it.Next(); ok; bt, ok = it.Next() {
			fmt.Fprintf(&b, "%d-%d@%d records=%d", bt.BaseOffset(), bt.LastOffset(), bt.PartitionLeaderEpoch(), bt.NumRecords())
			if bt.IsControl() {
				m, _ := bt.ControlMarker()
				fmt.Fprintf(&b, " control=%s pid=%d", m.Type, bt.ProducerID())
			} else if bt.IsTransactional() {
				fmt.Fprintf(&b, " txn pid=%d", bt.ProducerID())
			}
			b.WriteByte('\n')
			off = bt.NextOffset()
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func statusString(st Status, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "state=%s leader=%d/%d fetch-offset=%d last-fetched-epoch=%d max-source-epoch=%d",
		st.State, st.Leader, st.CurrentLeaderEpoch, st.FetchOffset, st.LastFetchedEpoch, st.MaxSourceLeaderEpoch)
	if st.AwaitingLeaderEpoch >= 0 {
		fmt.Fprintf(&b, " awaiting-epoch=%d", st.AwaitingLeaderEpoch)
	}
	b.WriteByte('\n')
	fmt.Fprintf(&b, "source: hw=%d lso=%d start=%d\n", st.SourceHighWatermark, st.SourceLastStableOffset, st.SourceLogStartOffset)
	fmt.Fprintf(&b, "local: end=%d lag=%d bytes=%d records=%d truncations=%d\n", st.LocalLogEndOffset, st.Lag, st.BytesFetched, st.RecordsFetched, st.Truncations)
	if st.Truncations > 0 {
		fmt.Fprintf(&b, "last truncation: %d -> %d: %s\n", st.LastTruncation.From, st.LastTruncation.To, st.LastTruncation.Reason)
	}
	if st.LastError != nil {
		fmt.Fprintf(&b, "error: %v (since -%dms)\n", st.LastError, now.Sub(st.ErrorSince).Milliseconds())
	}
	if !st.RetryAt.IsZero() {
		fmt.Fprintf(&b, "retry in %dms\n", st.RetryAt.Sub(now).Milliseconds())
	}
	return strings.TrimSuffix(b.String(), "\n")
}
