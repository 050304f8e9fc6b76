package link

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/usererr"
)

// ErrMirrorConfig: topic configs given when creating a mirror (they all
// come from the source topic). Confluent refuses a synced config on a
// mirror with "Cannot set configuration '<name>' for mirror topic '<t>'"
// (cluster-linking.md §2.2, §2.4).
var ErrMirrorConfig = errors.New("topic config cannot be set on a mirror topic: it is synced from the source topic")

// errTestCrash is returned when a test hook simulates a crash.
var errTestCrash = errors.New("simulated crash (test)")

// errSourceUnreachable marks a promote check that could not ask the
// source (as opposed to one that found the mirror behind).
var errSourceUnreachable = errors.New("source cluster unreachable")

func (m *Manager) lockMirror(topic string) func() {
	v, _ := m.mirrorLocks.LoadOrStore(topic, &sync.Mutex{})
	mu := v.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// transitionArgs are an event's parameters.
type transitionArgs struct {
	reason string // FAILED's mirror_topic_error
	// stopOffsets are the final offsets a completed stop records.
	stopOffsets []metadata.MirrorPartitionOffsets
}

// transition applies event ev to mirror name under its lock.
func (m *Manager) transition(ctx context.Context, rt *runtime, name string, ev mirrorEvent, args transitionArgs) (metadata.Topic, error) {
	unlock := m.lockMirror(name)
	defer unlock()
	return m.transitionLocked(ctx, rt, name, ev, args)
}

// transitionLocked runs the state machine for one event and carries out
// its effects in order. The caller holds the mirror's lock.
func (m *Manager) transitionLocked(ctx context.Context, rt *runtime, name string, ev mirrorEvent, args transitionArgs) (metadata.Topic, error) {
	t, err := m.cluster.TopicByName(name)
	if err != nil {
		return t, err
	}
	if t.Mirror == nil || (rt != nil && t.Mirror.Link != rt.link.Name) {
		return t, usererr.New(ErrNotMirror, "topic '%s' is not a mirror topic", name)
	}
	step, err := mirrorTransition(*t.Mirror, ev)
	if err != nil {
		return t, err
	}
	t0 := t.Mirror
	next := *t.Mirror
	if step.To != next.State {
		next.Error = ""
	}
	next.State, next.PendingOp, next.PreviousState = step.To, step.PendingOp, step.PreviousState
	switch {
	case step.To == MirrorFailed:
		next.Error = args.reason
	case step.To == MirrorPendingStopped && (t.Mirror.State != MirrorPendingStopped || t.Mirror.PendingOp != step.PendingOp):
		// Where the mirror stood when the stop was requested: a restart
		// before the drain completes still knows the source's end then.
		next.StopOffsets = m.positions(t, nil)
	case step.To == MirrorStopped && t.Mirror.State == metadata.MirrorPendingSetupForRestore:
		// Unfenced (or failed over while fenced): nothing was written
		// while fenced, and the stop offsets stay those of the stop
		// that made it writable first.
		next.PendingOp, next.PreviousState = "", ""
	case step.To == MirrorStopped:
		next.StopOffsets = args.stopOffsets
		if next.StopOffsets == nil {
			next.StopOffsets = m.positions(t, nil)
		}
	}
	next.RemoteOp = remoteOpAfter(*t.Mirror, step)
	for _, e := range step.Effects {
		if h := m.testCrashBefore; h != nil && h(name, ev, e) {
			return t, errTestCrash
		}
		switch e {
		case effPersist:
			if fencedOrdinary(*t0) && next.State == MirrorStopped {
				// Unfenced or failed over: a topic that was ordinary
				// before a reverse fenced it (fenceLocked) is ordinary
				// again, not a STOPPED mirror of a link it never
				// mirrored (design §5.6). One write, so a crash never
				// leaves it half way.
				if err := m.cluster.ClearMirror(name); err != nil {
					return t, fmt.Errorf("making %s an ordinary topic again: %w", name, err)
				}
				t.Mirror = nil
				m.ends.forget(name)
				m.logger.Info("mirror state", "topic", name, "event", ev.String(), "state", "ordinary topic")
				continue
			}
			if err := m.cluster.SetMirrorState(name, next); err != nil {
				return t, fmt.Errorf("persisting mirror %s %s: %w", name, next.State, err)
			}
			t.Mirror = &next
			if t.Mirror.State != MirrorActive && t.Mirror.State != MirrorPaused {
				m.ends.forget(name)
			}
			m.logger.Info("mirror state", "topic", name, "event", ev.String(), "state", string(next.State), "error", next.Error)
		case effStart:
			if rt != nil && m.data != nil {
				m.applyDataPath(rt, t)
			}
		case effPause:
			if m.data != nil {
				m.data.Pause(name)
			}
		case effStop:
			if m.data != nil {
				m.data.Stop(name)
			}
		case effClampOffsets:
			if err := m.clampOffsets(ctx, name, next.StopOffsets); err != nil {
				return t, fmt.Errorf("stopping mirror %s: %w", name, err)
			}
		case effMakeWritable:
			// Done by the broker when STOPPED is persisted (the next
			// effect): leader epochs raised past the logs, read-only off.
		case effDrain:
			return m.drain(ctx, rt, t)
		case effTruncate:
			return m.truncateForRestore(ctx, rt, t)
		}
	}
	return t, nil
}

// fencedOrdinary reports whether mr is a fence (by a reverse started on
// the peer) of a topic that was an ordinary topic before: fenceLocked
// leaves PreviousState empty then.
func fencedOrdinary(mr metadata.Mirror) bool {
	return mr.State == metadata.MirrorPendingSetupForRestore && mr.PreviousState == ""
}

// applyDataPath tells the data path what the mirror's state and the
// link's condition want of it.
func (m *Manager) applyDataPath(rt *runtime, t metadata.Topic) {
	switch dataPathWant(t.Mirror.State, rt.condition()) {
	case dpFetching:
		if err := m.data.Start(rt.link, t, false); err != nil {
			m.logger.Error("starting mirror", "link", rt.link.Name, "topic", t.Name, "err", err)
		}
	case dpPaused:
		m.data.Pause(t.Name)
	case dpNone:
		m.data.Stop(t.Name)
	}
}

// drain completes a PENDING_STOPPED mirror: the data path stops appending
// (Pause returns once nothing more is appended), the final offsets are
// taken, and for a promote the source is asked once more whether the
// mirror is still caught up. A promote whose source cannot be asked stays
// PENDING_STOPPED (the link's partition sync retries it); one that fell
// behind returns to its previous state.
func (m *Manager) drain(ctx context.Context, rt *runtime, t metadata.Topic) (metadata.Topic, error) {
	if m.data != nil {
		m.data.Pause(t.Name)
	}
	var srcEnds map[int32]int64
	if needsCaughtUp(t.Mirror.PendingOp) {
		var err error
		srcEnds, err = m.caughtUp(ctx, rt, t)
		switch {
		case errors.Is(err, errSourceUnreachable):
			// err wraps ErrPromoteNotReady and errSourceUnreachable.
			return t, fmt.Errorf("promote of %s is pending until the source answers: %w", t.Name, err)
		case err != nil:
			if _, aerr := m.transitionLocked(ctx, rt, t.Name, evPromoteAborted, transitionArgs{}); aerr != nil {
				return t, errors.Join(err, aerr)
			}
			return t, err
		}
		if err := m.finalOffsetSync(ctx, rt, t, false); err != nil {
			if errors.Is(err, errSourceUnreachable) {
				return t, fmt.Errorf("promote of %s is pending until the source answers: %w", t.Name, err)
			}
			if _, aerr := m.transitionLocked(ctx, rt, t.Name, evPromoteAborted, transitionArgs{}); aerr != nil {
				return t, errors.Join(err, aerr)
			}
			return t, err
		}
	}
	final := m.positions(t, srcEnds)
	return m.transitionLocked(ctx, rt, t.Name, evDrained, transitionArgs{stopOffsets: final})
}

// positions is where each partition of mirror t stands: its log end
// offset and the newest source end known (the data path's last fetch, the
// link's probes, fresh ends from a promote check, or what the mirror's
// record kept from when its stop was requested).
func (m *Manager) positions(t metadata.Topic, fresh map[int32]int64) []metadata.MirrorPartitionOffsets {
	leo, _ := m.cluster.LogEndOffsets(t.Name)
	known := m.ends.get(t.Name)
	if m.data != nil {
		for _, s := range m.data.Status(t.Name) {
			known = mergeEnd(known, s)
		}
	}
	now := m.now()
	out := make([]metadata.MirrorPartitionOffsets, 0, t.Partitions)
	for p := int32(0); p < t.Partitions; p++ {
		o := metadata.MirrorPartitionOffsets{Partition: p, LogEndOffset: leo[p], SourceEndOffset: -1}
		if e, ok := known[p]; ok {
			o.SourceEndOffset, o.SourceEndTimeMs = e.offset, e.at.UnixMilli()
		}
		if t.Mirror != nil {
			for _, prev := range t.Mirror.StopOffsets {
				if prev.Partition == p && prev.SourceEndTimeMs > o.SourceEndTimeMs {
					o.SourceEndOffset, o.SourceEndTimeMs = prev.SourceEndOffset, prev.SourceEndTimeMs
				}
			}
		}
		if e, ok := fresh[p]; ok {
			o.SourceEndOffset, o.SourceEndTimeMs = e, now.UnixMilli()
		}
		out = append(out, o)
	}
	return out
}

// caughtUp checks that every partition of mirror t ends where its source
// partition ends, and returns the source's ends.
func (m *Manager) caughtUp(ctx context.Context, rt *runtime, t metadata.Topic) (map[int32]int64, error) {
	if rt == nil {
		return nil, usererr.New(errors.Join(ErrPromoteNotReady, errSourceUnreachable),
			"cannot promote mirror topic '%s': cluster link '%s' is not running, so the source cannot be asked whether the mirror has caught up; resume the link, or use failover to stop now", t.Name, t.Mirror.Link)
	}
	cctx, cancel := context.WithTimeout(ctx, Millis(rt.link.Configs, "request.timeout.ms"))
	defer cancel()
	ends, err := rt.adm.ListEndOffsets(cctx, t.Mirror.SourceTopic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, usererr.New(errors.Join(ErrPromoteNotReady, errSourceUnreachable),
			"cannot promote mirror topic '%s': the source cluster did not say where topic '%s' ends (%w); retry, or use failover to stop now", t.Name, t.Mirror.SourceTopic, sourceError(err))
	}
	local, err := m.cluster.LogEndOffsets(t.Name)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	var behind []string
	ends.Each(func(o kadm.ListedOffset) {
		out[o.Partition] = o.Offset
		m.ends.observe(t.Name, o.Partition, o.Offset, m.now())
		if local[o.Partition] < o.Offset {
			behind = append(behind, fmt.Sprintf("%d (lag %d)", o.Partition, o.Offset-local[o.Partition]))
		}
	})
	if len(behind) > 0 {
		slices.Sort(behind)
		return out, usererr.New(ErrPromoteNotReady, "cannot promote mirror topic '%s': it has not caught up with its source on partitions %s; retry when the lag is 0, or use failover to stop now",
			t.Name, strings.Join(behind, ", "))
	}
	return out, nil
}

// MirrorInfo describes one mirror topic.
type MirrorInfo struct {
	Topic      metadata.Topic
	State      metadata.MirrorState
	Partitions []PartitionStatus
	// TransitionErrors are the last errors of transitions the Manager ran
	// by itself for this mirror (oldest first, at most
	// maxTransitionErrors).
	TransitionErrors []TransitionError
}

// TransitionError is one failed state transition of a mirror (Confluent's
// mirror_state_transition_errors).
type TransitionError struct {
	Time    time.Time
	Code    string // as task errors: TIMEOUT_ERROR, INTERNAL_ERROR, ...
	Message string
}

const maxTransitionErrors = 5

// noteTransitionError records err for topic, keeping the last few.
func (m *Manager) noteTransitionError(topic string, err error) {
	m.transitionMu.Lock()
	defer m.transitionMu.Unlock()
	if m.transitionErrs == nil {
		m.transitionErrs = map[string][]TransitionError{}
	}
	errs := append(m.transitionErrs[topic], TransitionError{Time: m.now(), Code: taskErrorCode(err), Message: err.Error()})
	if len(errs) > maxTransitionErrors {
		errs = errs[len(errs)-maxTransitionErrors:]
	}
	m.transitionErrs[topic] = errs
}

func (m *Manager) transitionErrors(topic string) []TransitionError {
	m.transitionMu.Lock()
	defer m.transitionMu.Unlock()
	return slices.Clone(m.transitionErrs[topic])
}

func (m *Manager) forgetTransitionErrors(topic string) {
	m.transitionMu.Lock()
	defer m.transitionMu.Unlock()
	delete(m.transitionErrs, topic)
}

// Mirrors lists the mirrors of link ("" for all links) in state status
// ("" for any), sorted by topic.
func (m *Manager) Mirrors(link, status string) ([]MirrorInfo, error) {
	if m == nil {
		return nil, ErrDisabled
	}
	if link != "" {
		if _, ok := m.store.Link(link); !ok {
			return nil, errUnknownLink(link)
		}
	}
	var out []MirrorInfo
	for _, t := range m.cluster.Topics() {
		if t.Mirror == nil || (link != "" && t.Mirror.Link != link) || !m.owns(t) {
			continue
		}
		mi := m.mirrorInfo(t)
		if status != "" && !strings.EqualFold(string(mi.State), status) {
			continue
		}
		out = append(out, mi)
	}
	return out, nil
}

// Mirror describes one mirror of link.
func (m *Manager) Mirror(link, topic string) (MirrorInfo, error) {
	if m == nil {
		return MirrorInfo{}, ErrDisabled
	}
	t, err := m.cluster.TopicByName(topic)
	if err != nil {
		return MirrorInfo{}, notMirror(topic, link, err)
	}
	if t.Mirror == nil || t.Mirror.Link != link || !m.owns(t) {
		return MirrorInfo{}, notMirror(topic, link, nil)
	}
	return m.mirrorInfo(t), nil
}

func (m *Manager) mirrorInfo(t metadata.Topic) MirrorInfo {
	cond := linkCondUnavailable
	if rt := m.runtimeOf(t.Mirror.Link); rt != nil {
		cond = rt.condition()
	}
	mi := MirrorInfo{Topic: t, State: reported(t.Mirror.State, cond), TransitionErrors: m.transitionErrors(t.Name)}
	if t.Mirror.State == MirrorStopped || t.Mirror.State == MirrorPendingStopped {
		// Where the mirror stood at its stop (or at the request).
		for _, o := range t.Mirror.StopOffsets {
			ps := PartitionStatus{Partition: o.Partition, LastSourceFetchOffset: o.SourceEndOffset, SourceHighWatermark: o.SourceEndOffset,
				LocalEndOffset: o.LogEndOffset, SourceEndOffset: o.SourceEndOffset}
			if o.SourceEndTimeMs > 0 {
				ps.SourceEndTime = time.UnixMilli(o.SourceEndTimeMs)
			}
			mi.Partitions = append(mi.Partitions, ps)
		}
		if len(mi.Partitions) > 0 {
			return mi
		}
	}
	leo, _ := m.cluster.LogEndOffsets(t.Name)
	byPart := map[int32]PartitionStatus{}
	known := m.ends.get(t.Name)
	if m.data != nil {
		for _, s := range m.data.Status(t.Name) {
			byPart[s.Partition] = s
			known = mergeEnd(known, s)
		}
	}
	for p := int32(0); p < t.Partitions; p++ {
		s, ok := byPart[p]
		if !ok {
			s = PartitionStatus{Partition: p, LastSourceFetchOffset: -1, SourceHighWatermark: -1}
		}
		// The log is the truth for the local end, fetching or not.
		if e, ok := leo[p]; ok {
			s.LocalEndOffset = e
		}
		s.SourceEndOffset = -1
		if e, ok := known[p]; ok {
			s.SourceEndOffset, s.SourceEndTime = e.offset, e.at
		}
		mi.Partitions = append(mi.Partitions, s)
	}
	return mi
}

// CreateMirror creates a mirror topic of link for sourceTopic. The mirror
// is named like the source, or prefix+source when the link has
// cluster.link.prefix; an explicit mirrorTopic must be that name.
func (m *Manager) CreateMirror(ctx context.Context, link, sourceTopic, mirrorTopic string, configs map[string]string, validateOnly bool) error {
	if m == nil {
		return ErrDisabled
	}
	l, ok := m.store.Link(link)
	if !ok {
		return errUnknownLink(link)
	}
	if m.data == nil {
		// Never create a mirror that would not fill.
		return usererr.New(ErrNotSupported, "mirror topics are not supported by this build of Tandem (it has no mirror data path)")
	}
	prefix := Value(l.Configs, "cluster.link.prefix")
	if sourceTopic == "" {
		sourceTopic = strings.TrimPrefix(mirrorTopic, prefix)
	}
	if err := m.loopEarly(link, prefix, sourceTopic); err != nil {
		return err
	}
	want := prefix + sourceTopic
	if mirrorTopic == "" {
		mirrorTopic = want
	}
	if mirrorTopic != want {
		return usererr.New(ErrMirrorName, "the mirror topic of '%s' over cluster link '%s' must be named '%s'; omit the mirror topic name or use that one", sourceTopic, link, want)
	}
	if len(configs) > 0 {
		keys := slices.Sorted(maps.Keys(configs))
		return usererr.New(ErrMirrorConfig, "Cannot set configuration '%s' for mirror topic '%s': every topic config Tandem supports is synced from source topic '%s'; set it there, or create the mirror without --config",
			strings.Join(keys, "', '"), mirrorTopic, sourceTopic)
	}
	if _, err := m.cluster.TopicByName(mirrorTopic); err == nil {
		return usererr.New(metadata.ErrTopicExists, "Topic '%s' already exists.", mirrorTopic)
	}
	rt := m.runtimeOf(link)
	if rt == nil {
		if err := m.startFailure(link); err != nil {
			return usererr.New(ErrSourceCluster, "cannot create a mirror topic over cluster link '%s': the link is FAILED: %w", link, err)
		}
		return usererr.New(ErrSourceCluster, "cannot create a mirror topic over cluster link '%s': the link is not running (paused or failed); resume it first", link)
	}
	if msg, ok := rt.authError(); ok {
		// Asking the source again would only be refused again, after
		// the client's retries.
		return usererr.New(errors.Join(ErrSourceCluster, ErrAuthentication), "cannot create a mirror topic over cluster link '%s': %s", link, msg)
	}
	cctx, cancel := context.WithTimeout(ctx, Millis(l.Configs, "request.timeout.ms"))
	defer cancel()
	// The topic's description and its configs are asked for at once: one
	// round trip less to a source across a WAN.
	var (
		rcs    kadm.ResourceConfigs
		rcsErr error
		asked  = make(chan struct{})
	)
	go func() {
		defer close(asked)
		rcs, rcsErr = rt.adm.DescribeTopicConfigs(cctx, sourceTopic)
	}()
	details, err := rt.adm.ListTopics(cctx, sourceTopic)
	<-asked
	if aerr, ok := authFailure(err, rt.sec, rt.watch); ok {
		return usererr.New(errors.Join(ErrSourceCluster, ErrAuthentication), "While fetching description for topic '%s' over cluster link '%s': %w", sourceTopic, link, aerr)
	}
	if err != nil {
		return usererr.New(ErrSourceCluster, "While fetching description for topic '%s' over cluster link '%s': %w", sourceTopic, link, sourceError(err))
	}
	d, ok := details[sourceTopic]
	if !ok || d.Err != nil {
		err := d.Err
		if !ok || err == nil {
			err = kerr.UnknownTopicOrPartition
		}
		return fmt.Errorf("While fetching description for topic '%s' over cluster link '%s': %w", sourceTopic, link, err)
	}
	if rcsErr != nil {
		return usererr.New(ErrSourceCluster, "While fetching configs for topic '%s' over cluster link '%s': %w", sourceTopic, link, sourceError(rcsErr))
	}
	rc, err := rcs.On(sourceTopic, nil)
	if err != nil || rc.Err != nil {
		if err == nil {
			err = rc.Err
		}
		return usererr.New(ErrSourceCluster, "While fetching configs for topic '%s' over cluster link '%s': %w", sourceTopic, link, err)
	}
	if err := m.loopBack(cctx, rt, prefix, sourceTopic); err != nil {
		return err
	}
	synced, skipped := mirrorConfigs(rc)
	if len(skipped) > 0 {
		m.logger.Warn("source topic configs not mirrored (not supported here)", "topic", sourceTopic, "configs", skipped)
	}
	if validateOnly {
		return nil
	}
	unlock := m.lockMirror(mirrorTopic)
	defer unlock()
	// Bound to the link's id as it is when the mirror is written: a
	// paired half may adopt its peer's id meanwhile (pairing.go).
	m.linkIDMu.RLock()
	if cur, ok := m.store.Link(link); ok {
		l.ID = cur.ID
	}
	t, err := m.cluster.CreateMirrorTopic(mirrorTopic, int32(len(d.Partitions)), synced, metadata.Mirror{
		Link: link, LinkID: l.ID, SourceTopic: sourceTopic, SourceTopicID: [16]byte(d.ID), State: MirrorActive,
	})
	m.linkIDMu.RUnlock()
	if err != nil {
		return err
	}
	m.logger.Info("mirror topic created", "link", link, "topic", mirrorTopic, "source", sourceTopic, "partitions", t.Partitions)
	// A mirror of this name deleted a moment ago may still be known to
	// the data path (the deletion watcher has not run yet): start clean.
	m.data.Stop(mirrorTopic)
	m.ends.forget(mirrorTopic)
	if dataPathWant(t.Mirror.State, rt.condition()) == dpFetching {
		// rt.link: the link with its secrets decrypted.
		return m.data.Start(rt.link, t, true)
	}
	return nil
}

// AlterResult is one mirror's outcome of a batch operation.
type AlterResult struct {
	Topic string
	Err   error
	Info  MirrorInfo
}

// AlterMirrors applies op (pause, resume, failover, promote) to the named
// mirrors of link, or those whose names match pattern. Per-mirror errors
// are in the results (Confluent answers them inside a 200). Each result's
// Info describes the mirror after the operation: for a completed promote
// or failover, the offsets at the moment of the stop.
func (m *Manager) AlterMirrors(ctx context.Context, link, op string, names []string, pattern string, validateOnly bool) ([]AlterResult, error) {
	if m == nil {
		return nil, ErrDisabled
	}
	if _, ok := m.store.Link(link); !ok {
		return nil, errUnknownLink(link)
	}
	var ev mirrorEvent
	switch op {
	case "pause":
		ev = evPause
	case "resume":
		ev = evResume
	case "failover":
		ev = evFailover
	case "promote":
		ev = evPromote
	default:
		return nil, usererr.New(ErrMirrorState, "unknown mirror topic operation %q: use pause, resume, failover or promote", op)
	}
	names, err := matchNames(names, pattern, m.mirrorsOf(link))
	if err != nil {
		return nil, err
	}
	var out []AlterResult
	for _, name := range names {
		err := m.alterOne(ctx, link, ev, name, validateOnly)
		r := AlterResult{Topic: name, Err: err}
		if t, terr := m.cluster.TopicByName(name); terr == nil && t.Mirror != nil {
			r.Info = m.mirrorInfo(t)
		}
		out = append(out, r)
	}
	return out, nil
}

// matchNames adds to names those of topics that match pattern (a
// full-string regular expression; "" matches none).
func matchNames(names []string, pattern string, topics []metadata.Topic) ([]string, error) {
	if pattern == "" {
		return names, nil
	}
	re, err := regexp.Compile("^(?:" + pattern + ")$")
	if err != nil {
		return nil, usererr.New(ErrInvalidConfig, "invalid mirror topic name pattern %q: %v", pattern, err)
	}
	for _, t := range topics {
		if re.MatchString(t.Name) {
			names = append(names, t.Name)
		}
	}
	return names, nil
}

func (m *Manager) alterOne(ctx context.Context, link string, ev mirrorEvent, name string, validateOnly bool) error {
	t, err := m.cluster.TopicByName(name)
	if err != nil {
		return notMirror(name, link, err)
	}
	if t.Mirror == nil || t.Mirror.Link != link || !m.owns(t) {
		return notMirror(name, link, nil)
	}
	if t.Mirror.State == MirrorStopped {
		return usererr.New(ErrMirrorState, "Topic '%s' has already stopped its mirror from '%s'", name, link)
	}
	rt := m.runtimeOf(link)
	unlock := m.lockMirror(name)
	defer unlock()
	if t, err = m.cluster.TopicByName(name); err != nil {
		return err
	}
	if _, err := mirrorTransition(*t.Mirror, ev); err != nil {
		return fmt.Errorf("mirror topic '%s': %w", name, err)
	}
	if ev == evPromote {
		// Planned cut-over: only when the source answers and every
		// partition has caught up with it (checked again after the
		// drain).
		if _, err := m.caughtUp(ctx, rt, t); err != nil {
			return err
		}
		// A final consumer offset sync, and no offset lag.
		if err := m.finalOffsetSync(ctx, rt, t, validateOnly); err != nil {
			return err
		}
	}
	if validateOnly {
		return nil
	}
	_, err = m.transitionLocked(ctx, rt, name, ev, transitionArgs{})
	return err
}

// failMirror moves a mirror to FAILED with Confluent's mirror_topic_error.
func (m *Manager) failMirror(rt *runtime, t metadata.Topic, reason string, why error) {
	got, err := m.transition(rt.ctx, rt, t.Name, evFail, transitionArgs{reason: reason})
	if err != nil {
		m.logger.Error("failing mirror", "topic", t.Name, "err", err)
		m.noteTransitionError(t.Name, fmt.Errorf("failing the mirror (%s): %w", reason, err))
		return
	}
	if got.Mirror != nil && got.Mirror.State == MirrorFailed {
		m.logger.Warn("mirror failed", "topic", t.Name, "reason", reason, "err", why)
	}
}

// sourceEnds is the newest source end offset known per mirror partition,
// with when it was learned: from the data path's fetches and from the
// link's ListOffsets probes of mirrors that are not fetching. Its mutex
// is a leaf.
type sourceEnds struct {
	mu sync.Mutex
	m  map[string]map[int32]sourceEnd
}

type sourceEnd struct {
	offset int64
	at     time.Time
}

func (e *sourceEnds) init() { e.m = map[string]map[int32]sourceEnd{} }

func (e *sourceEnds) observe(topic string, p int32, offset int64, at time.Time) {
	if offset < 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	parts := e.m[topic]
	if parts == nil {
		parts = map[int32]sourceEnd{}
		e.m[topic] = parts
	}
	if old, ok := parts[p]; !ok || !at.Before(old.at) {
		parts[p] = sourceEnd{offset: offset, at: at}
	}
}

// observeStatus records the source high watermark a fetch reported.
func (e *sourceEnds) observeStatus(topic string, s PartitionStatus) {
	if s.SourceHighWatermark >= 0 && !s.LastFetch.IsZero() {
		e.observe(topic, s.Partition, s.SourceHighWatermark, s.LastFetch)
	}
}

func (e *sourceEnds) get(topic string) map[int32]sourceEnd {
	e.mu.Lock()
	defer e.mu.Unlock()
	return maps.Clone(e.m[topic])
}

func (e *sourceEnds) forget(topic string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, topic)
}

// mergeEnd adds a data-path status to a copy of known ends.
func mergeEnd(known map[int32]sourceEnd, s PartitionStatus) map[int32]sourceEnd {
	if s.SourceHighWatermark < 0 || s.LastFetch.IsZero() {
		return known
	}
	if known == nil {
		known = map[int32]sourceEnd{}
	}
	if old, ok := known[s.Partition]; !ok || !s.LastFetch.Before(old.at) {
		known[s.Partition] = sourceEnd{offset: s.SourceHighWatermark, at: s.LastFetch}
	}
	return known
}

// notMirror is ErrNotMirror naming the topic and link; err is the error of
// looking the topic up, if that failed.
func notMirror(topic, link string, err error) error {
	if err != nil && errors.Is(err, metadata.ErrUnknownTopic) {
		return usererr.New(errors.Join(ErrNotMirror, err), "topic '%s' does not exist, so it is not a mirror topic of cluster link '%s'", topic, link)
	}
	if err != nil {
		return err
	}
	return usererr.New(ErrNotMirror, "topic '%s' is not a mirror topic of cluster link '%s'", topic, link)
}
