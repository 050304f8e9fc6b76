package link

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/metadata"
)

// Auto-created mirror topics (cluster-linking.md §2.1): with
// auto.create.mirror.topics.enable, the link's AutoCreateMirror task lists
// the source's topics every auto.create.mirror.topics.interval.ms (and at
// once when the link starts or its configs change) and creates a mirror,
// through CreateMirror as `mirror create` does, for each topic that
//
//   - auto.create.mirror.topics.filters selects (filters.go);
//   - is not internal: neither reported internal by the source nor named
//     "__…" (Kafka's internal topics) or "_confluent…" (Confluent's);
//   - has no local topic under its mirror name (prefix + name). A mirror
//     of this link from that source topic — created by hand, paused or
//     failed over — is left as it is; any other topic there (an ordinary
//     topic, a mirror of another link or of another source topic) is a
//     conflict, reported in the task's error and never touched;
//   - obeys the loop rules (reference §4.3), when the link has a
//     cluster.link.prefix: a source topic whose name starts with the
//     prefix is skipped (it is named like this link's own mirrors: a
//     mirror of it would be prefix+prefix+name), and so is a source topic
//     that is itself a mirror (a chain A→B→C with prefixes would create
//     prefix+prefix'+name, and two links in opposite directions would
//     mirror each other's mirrors without end). On a paired link the
//     peer's mirrors of this link (LinkPeer) are skipped too, with or
//     without a prefix, and never reported as conflicts.
//
// Whether a source topic is a mirror is not in Kafka's Metadata or
// DescribeConfigs. Confluent (reference §2.2) and Tandem refuse a legacy,
// non-incremental AlterConfigs of a mirror topic with "Non-incremental
// configuration updates for mirror topic '…' are disallowed": the task
// asks that of the candidate topics in one AlterConfigs request with
// validate_only set, which changes nothing on any broker. A source that
// does not answer it (no ALTER_CONFIGS permission, another error) is taken
// to say "not a mirror".

// errMirrorConflict: a local topic holds the name a mirror would take.
var errMirrorConflict = errors.New("link: auto-create: topic name taken")

// autoCreateTask builds the AutoCreateMirror task: NOT_CONFIGURED unless
// auto.create.mirror.topics.enable is true.
func (m *Manager) autoCreateTask(rt *runtime) *task {
	tk := &task{name: TaskAutoCreateMirror}
	if on, _ := strconv.ParseBool(Value(rt.link.Configs, "auto.create.mirror.topics.enable")); on {
		tk.every, tk.atStart = Millis(rt.link.Configs, "auto.create.mirror.topics.interval.ms"), true
		tk.run = func(ctx context.Context) error { return m.autoCreateMirrors(ctx, rt) }
	}
	return tk
}

// internalTopic reports topics auto-create never mirrors.
func internalTopic(name string, internal bool) bool {
	return internal || strings.HasPrefix(name, "__") || strings.HasPrefix(name, "_confluent")
}

// autoCreateMirrors is one run of the AutoCreateMirror task.
func (m *Manager) autoCreateMirrors(ctx context.Context, rt *runtime) error {
	if rt.condition() == linkCondPaused {
		return nil // cluster.link.paused pauses every activity of the link
	}
	cfg := rt.link.Configs
	filters, err := ParseNameFilters(Value(cfg, "auto.create.mirror.topics.filters"), "topicFilters")
	if err != nil {
		return fmt.Errorf("%w: auto.create.mirror.topics.filters: %v", ErrInvalidConfig, err)
	}
	if len(filters) == 0 {
		return fmt.Errorf("%w: auto.create.mirror.topics.enable is true but auto.create.mirror.topics.filters is empty: no topic is selected", ErrInvalidConfig)
	}
	prefix := Value(cfg, "cluster.link.prefix")
	cctx, cancel := context.WithTimeout(ctx, Millis(cfg, "request.timeout.ms"))
	defer cancel()
	topics, err := listSourceTopics(cctx, rt)
	if err != nil {
		return fmt.Errorf("listing source topics: %w", err)
	}
	// On a paired link, the peer's mirrors of this link are never
	// mirrored back, nor reported as conflicts (loop rule 3, design §6):
	// asked afresh, so a mirror the peer's own auto-create made a moment
	// ago is known.
	peer, _ := m.peerMirrorSet(cctx, rt, true)
	if rt.peerUnknown() {
		// Not a mirror before the peer has said which of its topics are
		// its mirrors of this link; the next run will know.
		return nil
	}
	var (
		errs       []error
		candidates []string
		// ordinary: source topics whose name an ordinary local topic
		// holds, with the conflict each would be.
		ordinary = map[string]error{}
	)
	for _, st := range topics {
		name := st.name
		if internalTopic(name, st.internal) || !filters.Match(name) || peer[name] {
			continue
		}
		if prefix != "" && strings.HasPrefix(name, prefix) {
			continue
		}
		if t, err := m.cluster.TopicByName(prefix + name); err == nil {
			if err := m.autoCreateConflict(rt, t, name); err != nil {
				if t.Mirror == nil {
					ordinary[name] = err
				} else {
					errs = append(errs, err)
				}
			}
			continue
		}
		candidates = append(candidates, name)
	}
	if len(ordinary) > 0 {
		// Loop rule (loops.go): a source topic that is a mirror, named
		// like an ordinary topic here, is most likely the source's
		// mirror of that topic; it is not mirrored back, and is not a
		// conflict either (two links in opposite directions without a
		// prefix would otherwise report each other's mirrors forever).
		names := slices.Sorted(maps.Keys(ordinary))
		mirrors := sourceMirrors(cctx, rt, names)
		for _, n := range names {
			if !mirrors[n] {
				errs = append(errs, ordinary[n])
			}
		}
	}
	if prefix != "" && len(candidates) > 0 {
		mirrors := sourceMirrors(cctx, rt, candidates)
		candidates = slices.DeleteFunc(candidates, func(n string) bool { return mirrors[n] })
	}
	// The mirrors are created autoCreateConcurrency at a time: each
	// creation asks the source for the topic's partitions and configs, so
	// a thousand new topics would otherwise take a thousand round trips
	// in a row.
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		sem  = make(chan struct{}, autoCreateConcurrency)
		note = func(err error) {
			mu.Lock()
			defer mu.Unlock()
			errs = append(errs, err)
		}
	)
	for _, name := range candidates {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := m.autoCreateOne(ctx, rt, prefix, name); err != nil {
				note(err)
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// autoCreateConcurrency bounds the mirrors one run creates at once.
const autoCreateConcurrency = 8

// autoCreateOne creates the mirror of source topic name; a mirror of it
// created meanwhile, or the topic deleted on the source since it was
// listed, is not an error.
func (m *Manager) autoCreateOne(ctx context.Context, rt *runtime, prefix, name string) error {
	err := m.CreateMirror(ctx, rt.link.Name, name, "", nil, false)
	switch {
	case err == nil:
		m.logger.Info("mirror topic auto-created", "link", rt.link.Name, "topic", prefix+name, "source", name)
	case errors.Is(err, metadata.ErrTopicExists):
		// Created meanwhile (by hand, or a topic of the name).
		if t, terr := m.cluster.TopicByName(prefix + name); terr == nil {
			return m.autoCreateConflict(rt, t, name)
		}
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		// Deleted on the source since it was listed.
	case errors.Is(err, ErrMirrorLoop):
		// The peer's mirror of this link (it made it since its list of
		// mirrors was read): never mirrored back, not a conflict.
	default:
		return fmt.Errorf("auto-creating mirror %s of source topic %s: %w", prefix+name, name, err)
	}
	return nil
}

// autoCreateConflict judges a local topic named like the mirror of source
// topic src: nil if it is this link's mirror of src, else the conflict.
func (m *Manager) autoCreateConflict(rt *runtime, t metadata.Topic, src string) error {
	switch {
	case t.Mirror == nil:
		return fmt.Errorf("%w: %s exists and is not a mirror topic; source topic %s is not mirrored", errMirrorConflict, t.Name, src)
	case t.Mirror.Link != rt.link.Name || !m.owns(t):
		return fmt.Errorf("%w: %s is a mirror of link %s; source topic %s is not mirrored", errMirrorConflict, t.Name, t.Mirror.Link, src)
	case t.Mirror.SourceTopic != src:
		return fmt.Errorf("%w: %s mirrors source topic %s; source topic %s is not mirrored", errMirrorConflict, t.Name, t.Mirror.SourceTopic, src)
	}
	return nil
}

// sourceMirrors asks the source which of topics are mirror topics there:
// one legacy AlterConfigs request, validate_only, with no configs. A
// mirror answers INVALID_CONFIG "Non-incremental configuration updates
// for mirror topic … are disallowed"; anything else (success, no
// permission, the request failing) counts as not a mirror.
func sourceMirrors(ctx context.Context, rt *runtime, topics []string) map[string]bool {
	req := kmsg.NewPtrAlterConfigsRequest()
	req.ValidateOnly = true
	for _, n := range topics {
		r := kmsg.NewAlterConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, n
		req.Resources = append(req.Resources, r)
	}
	out := map[string]bool{}
	resp, err := req.RequestWith(ctx, rt.client)
	if err != nil {
		return out
	}
	for _, r := range resp.Resources {
		if r.ErrorCode == kerr.InvalidConfig.Code && r.ErrorMessage != nil && strings.Contains(*r.ErrorMessage, "for mirror topic") {
			out[r.ResourceName] = true
		}
	}
	return out
}

type sourceTopic struct {
	name     string
	internal bool
}

// listSourceTopics lists the source's topics, sorted by name, with one
// Metadata request on a broker handle (sourceMetadata): franz-go answers
// client-level Metadata requests from a cache for up to its metadata min
// age, 5 s, which would delay a new topic past a short interval. Topics
// the source answers with an error are left out.
func listSourceTopics(ctx context.Context, rt *runtime) ([]sourceTopic, error) {
	resp, err := sourceMetadata(ctx, rt.client, kmsg.NewPtrMetadataRequest()) // Topics nil: every topic
	if err != nil {
		return nil, err
	}
	out := make([]sourceTopic, 0, len(resp.Topics))
	for _, t := range resp.Topics {
		if t.ErrorCode != 0 || t.Topic == nil {
			continue
		}
		out = append(out, sourceTopic{name: *t.Topic, internal: t.IsInternal})
	}
	slices.SortFunc(out, func(a, b sourceTopic) int { return strings.Compare(a.name, b.name) })
	return out, nil
}
