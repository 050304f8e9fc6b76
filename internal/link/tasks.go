package link

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/usererr"
)

// Link tasks. A link runs named periodic tasks, each in its own goroutine
// with its own interval, so a task that hangs on a slow source or keeps
// failing neither delays the others nor the data path. Each keeps a
// status (Confluent's task model, cluster-linking.md §1.3): state, last
// run, error code and message, shown by link describe with
// include_tasks, the REST API and metrics.

// Task names. The first three are Confluent's; AvailabilityCheck and
// PartitionSync are Tandem's names for work Confluent does without naming
// it as a task.
const (
	TaskTopicConfigsSync   = "TopicConfigsSync"
	TaskConsumerOffsetSync = "ConsumerOffsetSync"
	TaskAclSync            = "AclSync"
	TaskAutoCreateMirror   = "AutoCreateMirror"
	TaskAvailabilityCheck  = "AvailabilityCheck"
	TaskPartitionSync      = "PartitionSync"
)

// Task states (Confluent's enum).
const (
	TaskActive        = "ACTIVE"
	TaskInError       = "IN_ERROR"
	TaskNotConfigured = "NOT_CONFIGURED"
	TaskLinkPaused    = "LINK_PAUSED"
	TaskLinkFailed    = "LINK_FAILED"
	TaskLinkUnavail   = "LINK_UNAVAILABLE"
	TaskUnknown       = "UNKNOWN"
)

// TaskStates lists every task state, for metrics.
var TaskStates = []string{TaskActive, TaskInError, TaskNotConfigured, TaskLinkPaused, TaskLinkFailed, TaskLinkUnavail, TaskUnknown}

// TaskStatus is one task's status.
type TaskStatus struct {
	Name         string
	State        string
	ErrorCode    string // "" when the last run succeeded
	ErrorMessage string
	LastRun      time.Time // zero before the first run
	LastSuccess  time.Time
	Runs         int64
	Failures     int64
}

type task struct {
	name  string
	every time.Duration // 0: not configured (never runs)
	// atStart runs the task once as soon as the link starts, before the
	// first interval (the availability check: a link's state is known
	// at once after a restart, and its connection is warm when the first
	// mirror is created).
	atStart bool
	run     func(ctx context.Context) error

	mu sync.Mutex
	st TaskStatus
	// kick, made on first use, asks the loop for a run now (poke).
	kick chan struct{}
}

func (tk *task) kickCh() chan struct{} {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	if tk.kick == nil {
		tk.kick = make(chan struct{}, 1)
	}
	return tk.kick
}

// poke asks for a run as soon as the current one (if any) ends, without
// waiting for the interval: when something the task watches has just
// changed (a source-initiated link's control session came up), its status
// should not wait for the next period (availability.check.ms is a minute
// by default). Several pokes before the run make one run.
func (tk *task) poke() {
	select {
	case tk.kickCh() <- struct{}{}:
	default:
	}
}

// pokeTask pokes the link's task of that name, if it runs.
func (rt *runtime) pokeTask(name string) {
	for _, tk := range rt.tasks {
		if tk.name == name && tk.every > 0 {
			tk.poke()
		}
	}
}

func (tk *task) status() TaskStatus {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	return tk.st
}

// loop runs the task every interval until ctx ends.
func (tk *task) loop(ctx context.Context, now func() time.Time) {
	if tk.atStart {
		tk.runOnce(ctx, now)
	}
	t := time.NewTicker(tk.every)
	defer t.Stop()
	kick := tk.kickCh()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			tk.runOnce(ctx, now)
		case <-kick:
			tk.runOnce(ctx, now)
			t.Reset(tk.every)
		}
	}
}

func (tk *task) runOnce(ctx context.Context, now func() time.Time) {
	err := tk.run(ctx)
	if ctx.Err() != nil {
		return // the link stopped mid-run: not the task's failure
	}
	tk.mu.Lock()
	defer tk.mu.Unlock()
	tk.st.Runs++
	tk.st.LastRun = now()
	if err != nil {
		tk.st.Failures++
		tk.st.State, tk.st.ErrorCode, tk.st.ErrorMessage = TaskInError, taskErrorCode(err), err.Error()
		return
	}
	tk.st.State, tk.st.ErrorCode, tk.st.ErrorMessage = TaskActive, "", ""
	tk.st.LastSuccess = tk.st.LastRun
}

// taskErrorCode maps a task failure to Confluent's task error codes.
func taskErrorCode(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, ErrAuthentication), errors.Is(err, kerr.SaslAuthenticationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed),
		errors.Is(err, kerr.TopicAuthorizationFailed):
		return "AUTHENTICATION_ERROR"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne), errors.Is(err, errSourceUnreachable):
		return "TIMEOUT_ERROR"
	case errors.Is(err, ErrInvalidConfig), errors.Is(err, errMirrorConflict), errors.Is(err, kerr.SecurityDisabled):
		return "MISCONFIGURATION_ERROR"
	case errors.Is(err, ErrRemoteLinkNotFound):
		return "REMOTE_LINK_NOT_FOUND_ERROR"
	}
	return "INTERNAL_ERROR"
}

// linkTasks builds a link's tasks. Consumer offset sync, ACL sync and
// auto-create are NOT_CONFIGURED while they are off.
func (m *Manager) linkTasks(rt *runtime) []*task {
	sync := Millis(rt.link.Configs, "topic.config.sync.ms")
	ts := []*task{
		{name: TaskAvailabilityCheck, every: Millis(rt.link.Configs, "availability.check.ms"), atStart: true,
			run: func(ctx context.Context) error {
				err := m.checkAvailability(ctx, rt)
				if err == nil {
					// A paired half asks its peer at every check
					// (pairing.go; design §2.2).
					m.askPeer(ctx, rt)
				}
				return err
			}},
		{name: TaskPartitionSync, every: sync, run: func(ctx context.Context) error { return m.syncPartitions(ctx, rt) }},
		{name: TaskTopicConfigsSync, every: sync, run: func(ctx context.Context) error { return m.syncConfigs(ctx, rt) }},
		m.offsetSyncTask(rt), m.aclSyncTask(rt), m.autoCreateTask(rt),
	}
	for _, tk := range ts {
		tk.st.Name, tk.st.State = tk.name, TaskActive
		if tk.every <= 0 {
			tk.st.State = TaskNotConfigured
		}
	}
	return ts
}

// offsetSyncTask is the ConsumerOffsetSync task (offsetsync.go), not
// configured while consumer.offset.sync.enable is off.
func (m *Manager) offsetSyncTask(rt *runtime) *task {
	if !offsetSyncEnabled(rt.link.Configs) {
		return &task{name: TaskConsumerOffsetSync}
	}
	return &task{name: TaskConsumerOffsetSync, every: Millis(rt.link.Configs, "consumer.offset.sync.ms"),
		run: func(ctx context.Context) error { return m.syncOffsets(ctx, rt) }}
}

// taskStatuses reports a link's tasks; a task of a link that is paused,
// failed or unavailable shows the link's condition unless it is itself in
// error (the availability check shows why the link is unavailable).
func taskStatuses(rt *runtime) []TaskStatus {
	cond := rt.condition()
	out := make([]TaskStatus, 0, len(rt.tasks))
	for _, tk := range rt.tasks {
		st := tk.status()
		if st.State == TaskActive {
			switch cond {
			case linkCondPaused:
				st.State = TaskLinkPaused
			case linkCondFailed:
				st.State = TaskLinkFailed
			case linkCondUnavailable:
				if tk.name != TaskAvailabilityCheck {
					st.State = TaskLinkUnavail
				}
			}
		}
		out = append(out, st)
	}
	return out
}

// checkAvailability asks the source for its cluster id with one request
// to one of its brokers, bounded by availability.check.ms (and
// request.timeout.ms). It is a real round trip every time: franz-go's
// client-level Metadata requests may be served by its own metadata
// handling, and kadm.BrokerMetadata goes through them, so the request is
// sent on a broker handle, with no retries. After
// availability.check.consecutive.failure.threshold failures in a row the
// link is UNAVAILABLE (its ACTIVE mirrors report SOURCE_UNAVAILABLE) until
// a check succeeds.
func (m *Manager) checkAvailability(ctx context.Context, rt *runtime) error {
	timeout := min(Millis(rt.link.Configs, "availability.check.ms"), Millis(rt.link.Configs, "request.timeout.ms"))
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	clusterID, err := probeSource(cctx, rt.client)
	if err != nil && cctx.Err() == nil && ConnectionMode(rt.link.Configs) == ConnInbound && m.rev.sessions.get(rt.link.Name) != nil {
		// An INBOUND half's connections run through the source half's
		// control session: those opened through a session that has just
		// been replaced (the source half restarted, re-authenticated)
		// end with it, and the client learns so on its first request.
		// With a live session now, once more is the real answer.
		clusterID, err = probeSource(cctx, rt.client)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if aerr, ok := authFailure(err, rt.sec, rt.watch); ok {
		// The source refused the link's credentials (or its TLS
		// handshake failed): that does not heal by waiting, so the link
		// is FAILED with AUTHENTICATION_ERROR at once (Confluent's
		// link_error), not after the failure threshold. A later check
		// that succeeds (credentials fixed on the source) makes it
		// ACTIVE again.
		rt.failures++
		if rt.state != LinkPaused && rt.errMsg != aerr.Error() {
			rt.state, rt.errCode, rt.errMsg = LinkFailed, "AUTHENTICATION_ERROR", aerr.Error()
			m.logger.Warn("cluster link cannot authenticate to its source", "link", rt.link.Name, "err", aerr)
		}
		return aerr
	}
	if err != nil {
		rt.failures++
		if rt.state != LinkPaused && int64(rt.failures) >= Int(rt.link.Configs, "availability.check.consecutive.failure.threshold") {
			if rt.state != LinkUnavailable {
				m.logger.Warn("cluster link source unavailable", "link", rt.link.Name, "failures", rt.failures, "err", err)
			}
			// The message says why the source is unavailable now, not
			// why it first was (a timeout while a control session was
			// ending, then "has not connected" for as long as it is so).
			rt.state, rt.errCode, rt.errMsg = LinkUnavailable, "TIMEOUT_ERROR", err.Error()
		}
		return err
	}
	rt.failures = 0
	if rt.link.SourceClusterID != "" && clusterID != "" && clusterID != rt.link.SourceClusterID {
		rt.state, rt.errCode = LinkFailed, "UNKNOWN"
		rt.errMsg = fmt.Sprintf("source cluster id is %s, the link was created for %s", clusterID, rt.link.SourceClusterID)
		return usererr.New(ErrSourceCluster, "cluster link '%s': %s", rt.link.Name, rt.errMsg)
	}
	if rt.state == LinkPaused {
		return nil
	}
	if rt.state == LinkUnavailable {
		m.logger.Info("cluster link source available again", "link", rt.link.Name)
	}
	rt.state, rt.errCode, rt.errMsg = LinkActive, "NO_ERROR", ""
	return nil
}

// probeSource sends a Metadata request for no topics to the source's
// brokers in turn (those the client discovered, else the seeds) until one
// answers, and returns the cluster id it reports.
func probeSource(ctx context.Context, cl *kgo.Client) (string, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{}
	resp, err := sourceMetadata(ctx, cl, req)
	if err != nil {
		return "", err
	}
	if resp.ClusterID != nil {
		return *resp.ClusterID, nil
	}
	return "", nil
}

// sourceMetadata sends a Metadata request to the source's brokers in turn
// (those the client discovered, else the seeds) until one answers: a real
// round trip, never franz-go's cached client-level metadata.
func sourceMetadata(ctx context.Context, cl *kgo.Client, req *kmsg.MetadataRequest) (*kmsg.MetadataResponse, error) {
	brokers := cl.DiscoveredBrokers()
	if len(brokers) == 0 {
		brokers = cl.SeedBrokers()
	}
	var errs []error
	for _, b := range brokers {
		resp, err := req.RequestWith(ctx, b)
		if err == nil {
			return resp, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("%w: no source brokers known", errSourceUnreachable)
	}
	return nil, fmt.Errorf("%w: %w", errSourceUnreachable, errors.Join(errs...))
}

// syncPartitions follows the source topics of the link's mirrors: a
// source topic gone (or re-created) past cluster.link.retry.timeout.ms
// fails the mirror (SOURCE_TOPIC_MAY_BE_DELETED / SOURCE_TOPIC_ID_CHANGED
// at once — that cannot heal), fewer source partitions fail it
// (SOURCE_PARTITIONS_DECREASED), more grow it. It also learns the source
// end offsets of mirrors that are not fetching (so their lag stays true),
// fails mirrors whose data path gave up or kept failing past the retry
// timeout, and retries pending promotes, restores and the failback steps
// owed to the peer half (Mirror.RemoteOp).
func (m *Manager) syncPartitions(ctx context.Context, rt *runtime) error {
	var mirrors, notFetching, pending []metadata.Topic
	cond := rt.condition()
	for _, t := range m.mirrorsOf(rt.link.Name) {
		switch t.Mirror.State {
		case MirrorActive, MirrorPaused:
			mirrors = append(mirrors, t)
			if dataPathWant(t.Mirror.State, cond) != dpFetching {
				notFetching = append(notFetching, t)
			}
		case MirrorPendingStopped, metadata.MirrorPendingRestore:
			pending = append(pending, t)
		}
	}
	var errs []error
	for _, t := range pending {
		if _, err := m.transition(ctx, rt, t.Name, evRecover, transitionArgs{}); err != nil {
			errs = append(errs, err)
			m.noteTransitionError(t.Name, err)
		}
	}
	// Failback steps owed to the peer half (failback.go).
	if err := m.retryRemoteOps(ctx, rt); err != nil {
		errs = append(errs, err)
	}
	if len(mirrors) == 0 {
		return errors.Join(errs...)
	}
	sources := make([]string, 0, len(mirrors))
	for _, t := range mirrors {
		sources = append(sources, t.Mirror.SourceTopic)
	}
	cctx, cancel := context.WithTimeout(ctx, Millis(rt.link.Configs, "request.timeout.ms"))
	defer cancel()
	details, err := rt.adm.ListTopics(cctx, sources...)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("%w: describing source topics: %w", errSourceUnreachable, sourceError(err)))...)
	}
	timeout := Millis(rt.link.Configs, "cluster.link.retry.timeout.ms")
	now := m.now()
	for _, t := range mirrors {
		d, ok := details[t.Mirror.SourceTopic]
		missing := !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition)
		rt.mu.Lock()
		since, wasMissing := rt.missingSince[t.Mirror.SourceTopic]
		if missing && !wasMissing {
			since = now
			rt.missingSince[t.Mirror.SourceTopic] = now
		} else if !missing {
			delete(rt.missingSince, t.Mirror.SourceTopic)
		}
		rt.mu.Unlock()
		switch {
		case missing:
			if now.Sub(since) > timeout {
				m.failMirror(rt, t, "SOURCE_TOPIC_MAY_BE_DELETED",
					fmt.Errorf("source topic %s missing since %s (cluster.link.retry.timeout.ms=%v)", t.Mirror.SourceTopic, since.Format(time.RFC3339), timeout))
			}
			continue
		case d.Err != nil:
			errs = append(errs, fmt.Errorf("source topic %s: %w", t.Mirror.SourceTopic, d.Err))
			continue
		case t.Mirror.SourceTopicID != ([16]byte{}) && [16]byte(d.ID) != ([16]byte{}) && [16]byte(d.ID) != t.Mirror.SourceTopicID:
			m.failMirror(rt, t, "SOURCE_TOPIC_ID_CHANGED", fmt.Errorf("source topic %s was re-created", t.Mirror.SourceTopic))
			continue
		}
		n := int32(len(d.Partitions))
		if n < t.Partitions {
			m.failMirror(rt, t, "SOURCE_PARTITIONS_DECREASED", fmt.Errorf("source topic %s has %d partitions, the mirror %d", t.Mirror.SourceTopic, n, t.Partitions))
			continue
		}
		if n > t.Partitions {
			if err := m.growMirror(rt, t.Name, n); err != nil {
				errs = append(errs, err)
			}
		}
		if code, why := m.partitionFailure(t, rt); code != "" {
			m.failMirror(rt, t, code, why)
		}
	}
	if len(notFetching) > 0 {
		names := make([]string, 0, len(notFetching))
		for _, t := range notFetching {
			names = append(names, t.Mirror.SourceTopic)
		}
		ends, err := rt.adm.ListEndOffsets(cctx, names...)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: listing source end offsets: %w", errSourceUnreachable, sourceError(err)))
		} else {
			for _, t := range notFetching {
				for p, o := range ends[t.Mirror.SourceTopic] {
					if o.Err == nil {
						m.ends.observe(t.Name, p, o.Offset, now)
					}
				}
			}
		}
	}
	return errors.Join(errs...)
}

// growMirror adds the partitions a source gained and hands the mirror to
// the data path again so they fill.
func (m *Manager) growMirror(rt *runtime, name string, n int32) error {
	unlock := m.lockMirror(name)
	defer unlock()
	if err := m.cluster.AddMirrorPartitions(name, n); err != nil {
		return fmt.Errorf("growing mirror %s to %d partitions: %w", name, n, err)
	}
	if t, err := m.cluster.TopicByName(name); err == nil && t.Mirror != nil && m.data != nil {
		m.applyDataPath(rt, t)
	}
	return nil
}

// partitionFailure reports a mirror partition the data path gave up on, or
// one whose errors have lasted longer than cluster.link.retry.timeout.ms.
func (m *Manager) partitionFailure(t metadata.Topic, rt *runtime) (code string, why error) {
	if m.data == nil || t.Mirror.State != MirrorActive {
		return "", nil
	}
	timeout := Millis(rt.link.Configs, "cluster.link.retry.timeout.ms")
	now := m.now()
	for _, s := range m.data.Status(t.Name) {
		code := s.ErrorCode
		if code == "" {
			code = "UNKNOWN"
		}
		if s.Failed {
			return code, s.Err
		}
		if s.Err != nil && !s.ErrorSince.IsZero() && now.Sub(s.ErrorSince) > timeout {
			return code, fmt.Errorf("partition %d failing since %v (cluster.link.retry.timeout.ms=%v): %w",
				s.Partition, s.ErrorSince.Format(time.RFC3339), timeout, s.Err)
		}
	}
	return "", nil
}

// syncConfigs copies source topic configs to the link's mirrors that are
// still mirroring (cluster-linking.md §2.4).
func (m *Manager) syncConfigs(ctx context.Context, rt *runtime) error {
	var mirrors []metadata.Topic
	for _, t := range m.mirrorsOf(rt.link.Name) {
		if t.Mirror.State == MirrorActive || t.Mirror.State == MirrorPaused {
			mirrors = append(mirrors, t)
		}
	}
	if len(mirrors) == 0 {
		return nil
	}
	sources := make([]string, 0, len(mirrors))
	for _, t := range mirrors {
		sources = append(sources, t.Mirror.SourceTopic)
	}
	cctx, cancel := context.WithTimeout(ctx, Millis(rt.link.Configs, "request.timeout.ms"))
	defer cancel()
	configs, err := rt.adm.DescribeTopicConfigs(cctx, sources...)
	if err != nil {
		return fmt.Errorf("%w: describing source topic configs: %w", errSourceUnreachable, sourceError(err))
	}
	var errs []error
	for _, t := range mirrors {
		rc, err := configs.On(t.Mirror.SourceTopic, nil)
		if err != nil || rc.Err != nil {
			continue // a missing source topic is PartitionSync's to judge
		}
		want, _ := mirrorConfigs(rc)
		if maps.Equal(want, t.Configs) {
			continue
		}
		if err := m.cluster.SetMirrorConfigs(t.Name, want); err != nil {
			errs = append(errs, fmt.Errorf("syncing configs of %s: %w", t.Name, err))
		}
	}
	return errors.Join(errs...)
}
