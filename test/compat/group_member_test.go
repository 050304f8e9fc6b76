package compat

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	kafka "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Group members run in processes of their own: the test binary started
// again with groupMemberEnv set runs one member of one client library
// (runGroupMember) instead of the tests. Killing such a member with SIGKILL
// is a real crash: no LeaveGroup, no last commit, its sockets closed by the
// kernel, so the broker can only expire its session. kcat members are kcat
// processes (group_kcat_test.go).
//
// A member reports on stdout, one JSON memberEvent per line: the records it
// processed ("recs", written before it commits them), the commits the broker
// acknowledged ("commit", stamped after the acknowledgement), each
// OffsetFetch it is about to send ("fetch", stamped before the request is
// written), its own view of its assignment ("assign"), and errors ("fatal";
// "log" lines only show when the test fails). It leaves the group
// gracefully when it reads "leave" (or EOF) on stdin, and exits 0.

const groupMemberEnv = "TANDEM_COMPAT_GROUP_MEMBER"

// memberMaxLife bounds a member process even if the test that started it
// is gone.
const memberMaxLife = 5 * time.Minute

func TestMain(m *testing.M) {
	if spec := os.Getenv(groupMemberEnv); spec != "" {
		os.Exit(runGroupMember(spec))
	}
	os.Exit(m.Run())
}

// memberSpec tells a member process what to run.
type memberSpec struct {
	Client   string // franz-go, sarama, kafka-go or confluent
	Strategy string // the assignor, as the client names it
	Addr     string
	Topic    string
	Group    string
	Name     string // client ID, unique in the test
}

type memberEvent struct {
	E      string          `json:"e"`
	TS     int64           `json:"ts"` // Unix ns when emitted
	Parts  []int32         `json:"parts,omitempty"`
	All    bool            `json:"all,omitempty"` // fetch: every partition
	Recs   []memberRec     `json:"recs,omitempty"`
	Commit map[int32]int64 `json:"commit,omitempty"`
	Msg    string          `json:"msg,omitempty"`
}

type memberRec struct {
	P int32  `json:"p"`
	O int64  `json:"o"`
	V string `json:"v"`
}

// memberOut writes a member's events, one line each, in order.
type memberOut struct {
	mu sync.Mutex
	w  io.Writer
}

func (o *memberOut) emit(ev memberEvent) {
	ev.TS = time.Now().UnixNano()
	b, err := json.Marshal(ev)
	if err != nil {
		panic(err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	_, _ = o.w.Write(append(b, '\n'))
}

func (o *memberOut) logf(format string, args ...any) {
	o.emit(memberEvent{E: "log", Msg: fmt.Sprintf(format, args...)})
}

func (o *memberOut) assigned(parts map[int32]bool) {
	ps := slices.Sorted(maps.Keys(parts))
	if ps == nil {
		ps = []int32{}
	}
	o.emit(memberEvent{E: "assign", Parts: ps})
}

// fetchSniffer reports every OffsetFetch the member's client sends, before
// it is sent, as a "fetch" event.
func fetchSniffer(out *memberOut) *requestSniffer {
	return &requestSniffer{
		decode: func(key int16) bool { return key == kmsg.OffsetFetch.Int16() },
		onRequest: func(key, version int16, req kmsg.Request) {
			if key != kmsg.OffsetFetch.Int16() {
				return
			}
			r, ok := req.(*kmsg.OffsetFetchRequest)
			if !ok {
				out.logf("undecodable OffsetFetch v%d", version)
				out.emit(memberEvent{E: "fetch", All: true})
				return
			}
			ps, all := offsetFetchPartitions(r)
			out.emit(memberEvent{E: "fetch", Parts: ps, All: all})
		},
	}
}

// groupRunners run one member until leave closes, then leave the group
// gracefully, having committed everything they processed.
var groupRunners = map[string]func(memberSpec, *memberOut, <-chan struct{}) error{
	"franz-go":  runFranzMember,
	"sarama":    runSaramaMember,
	"kafka-go":  runKafkaGoMember,
	"confluent": runConfluentMember,
}

func runGroupMember(specJSON string) int {
	var spec memberSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		fmt.Fprintf(os.Stderr, "member: bad spec: %v\n", err)
		return 2
	}
	out := &memberOut{w: os.Stdout}
	leave := make(chan struct{})
	go func() {
		r := bufio.NewReader(os.Stdin)
		for {
			line, err := r.ReadString('\n')
			if err != nil || strings.TrimSpace(line) == "leave" {
				close(leave)
				return
			}
		}
	}()
	go func() {
		time.Sleep(memberMaxLife)
		fmt.Fprintf(os.Stderr, "member %s: still running after %v, exiting\n", spec.Name, memberMaxLife)
		os.Exit(3)
	}()
	run, ok := groupRunners[spec.Client]
	if !ok {
		out.emit(memberEvent{E: "fatal", Msg: "unknown client " + spec.Client})
		return 1
	}
	if err := run(spec, out, leave); err != nil {
		out.emit(memberEvent{E: "fatal", Msg: err.Error()})
		return 1
	}
	out.emit(memberEvent{E: "left"})
	return 0
}

// commitTimeout bounds one commit inside a member.
const commitTimeout = 10 * time.Second

// franz-go: kgo's ConsumerGroup with manual commits. BlockRebalanceOnPoll
// keeps a rebalance from revoking partitions between PollFetches and the
// commit of what it returned, so every processed record is committed
// before its partition can move (unless the member dies).
func runFranzMember(spec memberSpec, out *memberOut, leave <-chan struct{}) error {
	var bal kgo.GroupBalancer
	switch spec.Strategy {
	case "cooperative-sticky":
		bal = kgo.CooperativeStickyBalancer()
	case "range":
		bal = kgo.RangeBalancer()
	default:
		return fmt.Errorf("franz-go: unknown balancer %q", spec.Strategy)
	}
	var (
		mu    sync.Mutex
		owned = make(map[int32]bool)
	)
	update := func(add bool, m map[string][]int32) {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range m[spec.Topic] {
			if add {
				owned[p] = true
			} else {
				delete(owned, p)
			}
		}
		out.assigned(owned)
	}
	cl, err := kgo.NewClient(append(kgoMemberOpts(spec),
		kgo.Dialer(fetchSniffer(out).dialContext),
		kgo.Balancers(bal),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { update(true, m) }),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { update(false, m) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { update(false, m) }),
	)...)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-leave; cancel() }()
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				out.logf("fetch %s/%d: %v", topic, p, err)
			}
		})
		recs := fs.Records()
		if len(recs) > 0 {
			ev := memberEvent{E: "recs"}
			next := make(map[int32]int64)
			for _, r := range recs {
				ev.Recs = append(ev.Recs, memberRec{r.Partition, r.Offset, string(r.Value)})
				next[r.Partition] = max(next[r.Partition], r.Offset+1)
			}
			out.emit(ev)
			cctx, ccancel := context.WithTimeout(context.Background(), commitTimeout)
			err := cl.CommitRecords(cctx, recs...)
			ccancel()
			if err != nil {
				out.logf("commit %v: %v", next, err)
			} else {
				out.emit(memberEvent{E: "commit", Commit: next})
			}
		}
		cl.AllowRebalance()
	}
	cl.AllowRebalance()
	cl.Close() // revokes everything, then LeaveGroup
	return nil
}

// kgoMemberOpts are the options of every franz-go group member in the
// tests: manual commits, the group timing, consuming from the start.
func kgoMemberOpts(spec memberSpec) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(spec.Addr),
		kgo.ClientID(spec.Name),
		kgo.ConsumerGroup(spec.Group),
		kgo.ConsumeTopics(spec.Topic),
		kgo.DisableAutoCommit(),
		kgo.SessionTimeout(groupSessionTimeout),
		kgo.HeartbeatInterval(groupHeartbeatInterval),
		kgo.RebalanceTimeout(groupRebalanceTimeout),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200 * time.Millisecond),
	}
}

// Sarama: a ConsumerGroup at Sarama's default protocol version V2_8_0_0.
// Sarama's own Commit() reports failed partitions only asynchronously (on
// Errors()), so the member could not tell which commits were acknowledged;
// it sends the OffsetCommit Sarama would send (v8 at V2_8_0_0, with the
// session's generation and member ID) through Sarama's coordinator Broker
// itself, after processing each batch of a claim.
func runSaramaMember(spec memberSpec, out *memberOut, leave <-chan struct{}) error {
	cfg := saramaConfig(sarama.V2_8_0_0)
	cfg.ClientID = spec.Name
	switch spec.Strategy {
	case "range":
		cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
	case "sticky":
		cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategySticky()}
	default:
		return fmt.Errorf("sarama: unknown strategy %q", spec.Strategy)
	}
	cfg.Consumer.Group.Session.Timeout = groupSessionTimeout
	cfg.Consumer.Group.Heartbeat.Interval = groupHeartbeatInterval
	cfg.Consumer.Group.Rebalance.Timeout = groupRebalanceTimeout
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = false
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.MaxWaitTime = 200 * time.Millisecond
	cfg.Net.Proxy.Enable = true // the only way to give Sarama a dialer
	cfg.Net.Proxy.Dialer = fetchSniffer(out)
	client, err := sarama.NewClient([]string{spec.Addr}, cfg)
	if err != nil {
		return err
	}
	defer client.Close()
	cg, err := sarama.NewConsumerGroupFromClient(spec.Group, client)
	if err != nil {
		return err
	}
	go func() {
		for err := range cg.Errors() {
			out.logf("sarama: %v", err)
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-leave; cancel() }()
	h := &saramaMember{spec: spec, out: out, client: client}
	for ctx.Err() == nil {
		if err := cg.Consume(ctx, []string{spec.Topic}, h); err != nil && ctx.Err() == nil {
			out.logf("Consume: %v", err)
			time.Sleep(100 * time.Millisecond)
		}
	}
	return cg.Close() // LeaveGroup
}

type saramaMember struct {
	spec   memberSpec
	out    *memberOut
	client sarama.Client
}

func (h *saramaMember) Setup(s sarama.ConsumerGroupSession) error {
	owned := make(map[int32]bool)
	for _, p := range s.Claims()[h.spec.Topic] {
		owned[p] = true
	}
	h.out.assigned(owned)
	return nil
}

func (h *saramaMember) Cleanup(sarama.ConsumerGroupSession) error {
	h.out.assigned(nil)
	return nil
}

func (h *saramaMember) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for {
		var batch []*sarama.ConsumerMessage
		select {
		case <-s.Context().Done():
			return nil
		case m, ok := <-c.Messages():
			if !ok {
				return nil
			}
			batch = append(batch, m)
		}
	drain:
		for len(batch) < 500 {
			select {
			case m, ok := <-c.Messages():
				if !ok {
					break drain
				}
				batch = append(batch, m)
			default:
				break drain
			}
		}
		ev := memberEvent{E: "recs"}
		for _, m := range batch {
			ev.Recs = append(ev.Recs, memberRec{m.Partition, m.Offset, string(m.Value)})
		}
		h.out.emit(ev)
		next := batch[len(batch)-1].Offset + 1
		if err := h.commit(s, c.Partition(), next); err != nil {
			h.out.logf("commit %d@%d: %v", c.Partition(), next, err)
		} else {
			h.out.emit(memberEvent{E: "commit", Commit: map[int32]int64{c.Partition(): next}})
		}
	}
}

func (h *saramaMember) commit(s sarama.ConsumerGroupSession, p int32, next int64) error {
	coord, err := h.client.Coordinator(h.spec.Group)
	if err != nil {
		return err
	}
	req := &sarama.OffsetCommitRequest{
		Version:                 8, // what Sarama's offset manager sends for V2_4_0_0 and later
		ConsumerGroup:           h.spec.Group,
		ConsumerGroupGeneration: s.GenerationID(),
		ConsumerID:              s.MemberID(),
	}
	req.AddBlockWithLeaderEpoch(h.spec.Topic, p, next, -1, 0, "")
	resp, err := coord.CommitOffset(req)
	if err != nil {
		return err
	}
	if kerr, ok := resp.Errors[h.spec.Topic][p]; !ok {
		return errors.New("no result for the partition")
	} else if kerr != sarama.ErrNoError {
		return kerr
	}
	return nil
}

// kafka-go: a Reader with a GroupID and synchronous commits
// (CommitInterval 0), committing each message after processing it. Its
// group protocol runs over kafka-go's Conn with old, fixed versions
// (JoinGroup v1/v2, SyncGroup v0, Heartbeat v0, LeaveGroup v0,
// OffsetCommit v2, OffsetFetch v1, FindCoordinator v0). The Reader does not
// expose its assignment.
func runKafkaGoMember(spec memberSpec, out *memberOut, leave <-chan struct{}) error {
	if spec.Strategy != "range" {
		return fmt.Errorf("kafka-go: unknown balancer %q", spec.Strategy)
	}
	r := kafka.NewReader(kafkaGoGroupConfig(spec, out, &kafka.Dialer{
		ClientID: spec.Name,
		Timeout:  10 * time.Second,
		DialFunc: fetchSniffer(out).dialContext,
	}))
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-leave; cancel() }()
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			out.logf("FetchMessage: %v", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		out.emit(memberEvent{E: "recs", Recs: []memberRec{{int32(m.Partition), m.Offset, string(m.Value)}}})
		cctx, ccancel := context.WithTimeout(context.Background(), commitTimeout)
		err = r.CommitMessages(cctx, m)
		ccancel()
		if err != nil {
			out.logf("commit %d@%d: %v", m.Partition, m.Offset+1, err)
		} else {
			out.emit(memberEvent{E: "commit", Commit: map[int32]int64{int32(m.Partition): m.Offset + 1}})
		}
	}
	return r.Close() // LeaveGroup
}

func kafkaGoGroupConfig(spec memberSpec, out *memberOut, d *kafka.Dialer) kafka.ReaderConfig {
	return kafka.ReaderConfig{
		Brokers:           []string{spec.Addr},
		GroupID:           spec.Group,
		Topic:             spec.Topic,
		Dialer:            d,
		GroupBalancers:    []kafka.GroupBalancer{kafka.RangeGroupBalancer{}},
		SessionTimeout:    groupSessionTimeout,
		HeartbeatInterval: groupHeartbeatInterval,
		RebalanceTimeout:  groupRebalanceTimeout,
		JoinGroupBackoff:  200 * time.Millisecond,
		StartOffset:       kafka.FirstOffset,
		CommitInterval:    0, // synchronous commits
		MinBytes:          1,
		MaxBytes:          1 << 20,
		MaxWait:           200 * time.Millisecond,
		ReadBackoffMin:    50 * time.Millisecond,
		ReadBackoffMax:    200 * time.Millisecond,
		ErrorLogger: kafka.LoggerFunc(func(format string, args ...any) {
			if out != nil {
				out.logf("kafka-go: "+format, args...)
			}
		}),
	}
}

// confluent: librdkafka's KafkaConsumer through confluent-kafka-go, with
// Subscribe and a rebalance callback, auto-commit off. Records are
// processed in batches; each batch is committed synchronously
// (CommitOffsets) when the consumer goes idle, when the batch is full, and
// in the revocation callback before partitions are given up.
func runConfluentMember(spec memberSpec, out *memberOut, leave <-chan struct{}) error {
	c, err := ckafka.NewConsumer(&ckafka.ConfigMap{
		"bootstrap.servers":             spec.Addr,
		"client.id":                     spec.Name,
		"group.id":                      spec.Group,
		"partition.assignment.strategy": spec.Strategy,
		"enable.auto.commit":            false,
		"auto.offset.reset":             "earliest",
		"session.timeout.ms":            int(groupSessionTimeout / time.Millisecond),
		"heartbeat.interval.ms":         int(groupHeartbeatInterval / time.Millisecond),
		"max.poll.interval.ms":          int(groupRebalanceTimeout / time.Millisecond),
		"fetch.wait.max.ms":             200,
	})
	if err != nil {
		return err
	}
	var (
		pending     []memberRec
		next        = make(map[int32]int64)
		topic       = spec.Topic
		fatal       error
		cooperative bool
	)
	flush := func() {
		if len(pending) == 0 {
			return
		}
		out.emit(memberEvent{E: "recs", Recs: pending})
		pending = nil
		var tps []ckafka.TopicPartition
		for p, o := range next {
			tps = append(tps, ckafka.TopicPartition{Topic: &topic, Partition: p, Offset: ckafka.Offset(o)})
		}
		clear(next)
		res, err := c.CommitOffsets(tps)
		if err != nil {
			out.logf("CommitOffsets %v: %v", tps, err)
			return
		}
		acked := make(map[int32]int64)
		for _, tp := range res {
			if tp.Error != nil {
				out.logf("commit %d@%d: %v", tp.Partition, tp.Offset, tp.Error)
				continue
			}
			acked[tp.Partition] = int64(tp.Offset)
		}
		if len(acked) > 0 {
			out.emit(memberEvent{E: "commit", Commit: acked})
		}
	}
	report := func() {
		as, err := c.Assignment()
		if err != nil {
			out.logf("Assignment: %v", err)
			return
		}
		owned := make(map[int32]bool)
		for _, tp := range as {
			owned[tp.Partition] = true
		}
		out.assigned(owned)
	}
	rebalance := func(c *ckafka.Consumer, ev ckafka.Event) error {
		cooperative = c.GetRebalanceProtocol() == "COOPERATIVE"
		var err error
		switch e := ev.(type) {
		case ckafka.AssignedPartitions:
			// librdkafka fetches the committed offsets of assigned
			// partitions after Assign; it offers no dialer to watch.
			var ps []int32
			for _, tp := range e.Partitions {
				ps = append(ps, tp.Partition)
			}
			out.emit(memberEvent{E: "fetch", Parts: ps})
			if cooperative {
				err = c.IncrementalAssign(e.Partitions)
			} else {
				err = c.Assign(e.Partitions)
			}
		case ckafka.RevokedPartitions:
			flush()
			if cooperative {
				err = c.IncrementalUnassign(e.Partitions)
			} else {
				err = c.Unassign()
			}
		}
		if err != nil {
			out.logf("rebalance %v: %v", ev, err)
		}
		report()
		return nil
	}
	if err := c.Subscribe(topic, rebalance); err != nil {
		c.Close()
		return err
	}
loop:
	for {
		select {
		case <-leave:
			break loop
		default:
		}
		switch e := c.Poll(100).(type) {
		case nil:
			flush()
		case *ckafka.Message:
			if e.TopicPartition.Error != nil {
				out.logf("message error: %v", e.TopicPartition.Error)
				continue
			}
			p, o := e.TopicPartition.Partition, int64(e.TopicPartition.Offset)
			pending = append(pending, memberRec{p, o, string(e.Value)})
			next[p] = o + 1
			if len(pending) >= 200 {
				flush()
			}
		case ckafka.Error:
			if e.IsFatal() {
				fatal = e
				break loop
			}
			out.logf("librdkafka: %v", e)
		}
	}
	flush()
	return errors.Join(fatal, c.Close()) // revokes (calling rebalance), then LeaveGroup
}

// The test side of member processes.

// groupClient is a client library in the group tests, with the assignor
// it uses.
type groupClient struct {
	Name     string // subtest name
	Client   string // groupRunners key; "kcat" for kcat -G
	Strategy string
	// ReportsCommits: the member reports acknowledged commits (all but
	// kcat, whose auto-commits are invisible to the test).
	ReportsCommits bool
}

// member is one running member process.
type member struct {
	name string
	cmd  *exec.Cmd
	// leave asks the member to leave the group gracefully.
	leave func() error
	done  chan struct{} // closed once the process exited and its output is read
	err   error         // the process's exit status, once done
	tail  *tailBuffer
}

// tailBuffer keeps the last lines a member wrote to stderr or logged, to
// show when the test fails.
type tailBuffer struct {
	mu    sync.Mutex
	lines []string
}

const tailLines = 60

func (b *tailBuffer) add(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, line)
	if len(b.lines) > tailLines {
		b.lines = b.lines[len(b.lines)-tailLines:]
	}
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "\n")
}

// startMember starts member name of gc's client in e's group.
func startMember(t *testing.T, e *groupEnv, gc groupClient, name string) *member {
	t.Helper()
	e.log.addMember(name, gc.ReportsCommits)
	if gc.Client == "kcat" {
		return startKcatMember(t, e, gc, name)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := json.Marshal(memberSpec{
		Client: gc.Client, Strategy: gc.Strategy,
		Addr: e.addr, Topic: e.topic, Group: e.group, Name: name,
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), groupMemberEnv+"="+string(spec))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	m := &member{name: name, cmd: cmd, tail: new(tailBuffer)}
	m.leave = func() error {
		_, err := io.WriteString(stdin, "leave\n")
		return err
	}
	m.start(t, func(line string) {
		var ev memberEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			m.tail.add("stdout: " + line)
			return
		}
		switch ev.E {
		case "recs":
			for _, r := range ev.Recs {
				e.log.deliver(name, r.P, r.O, r.V)
			}
		case "commit":
			e.log.commit(name, ev.Commit, ev.TS)
		case "fetch":
			e.log.fetched(name, ev.Parts, ev.All, ev.TS)
		case "assign":
			e.log.assign(name, ev.Parts, nil, true)
		case "fatal":
			e.log.fail(name, ev.Msg)
			m.tail.add("fatal: " + ev.Msg)
		case "log":
			m.tail.add(ev.Msg)
		case "left":
			m.tail.add("left the group")
		}
	}, nil)
	return m
}

// start runs m.cmd, feeding each stdout line to onLine and each stderr line
// to onErr (nil: keep it in the tail). A member still running when the test
// ends is killed.
func (m *member) start(t *testing.T, onLine, onErr func(string)) {
	t.Helper()
	stdout, err := m.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := m.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("starting member %s: %v", m.name, err)
	}
	if onErr == nil {
		onErr = m.tail.add
	}
	m.done = make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			onErr(sc.Text())
		}
	})
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			onLine(sc.Text())
		}
		_, _ = io.Copy(io.Discard, stdout)
		wg.Wait()
		m.err = m.cmd.Wait()
		close(m.done)
	}()
	t.Cleanup(func() {
		select {
		case <-m.done:
		default:
			_ = m.cmd.Process.Signal(syscall.SIGKILL)
			<-m.done
		}
		if t.Failed() {
			t.Logf("member %s (%v), last output:\n%s", m.name, m.err, m.tail.String())
		}
	})
}

// Leave asks the member to leave the group and waits for it to exit
// cleanly.
func (m *member) Leave(ctx context.Context, t *testing.T) {
	t.Helper()
	if err := m.leave(); err != nil {
		t.Fatalf("asking %s to leave: %v", m.name, err)
	}
	select {
	case <-m.done:
	case <-time.After(groupSettle):
		t.Fatalf("%s did not leave within %v", m.name, groupSettle)
	case <-ctx.Done():
		t.Fatalf("%s leaving: %v", m.name, ctx.Err())
	}
	if m.err != nil {
		t.Fatalf("%s: %v: %v\n%s", m.name, errMemberExit, m.err, m.tail.String())
	}
}

// Kill kills the member with SIGKILL and waits until its output is read.
func (m *member) Kill(t *testing.T) {
	t.Helper()
	if err := m.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("killing %s: %v", m.name, err)
	}
	<-m.done
}
