package link

import (
	"context"
	"errors"
	"strings"

	"github.com/tandem-streaming/tandem/internal/usererr"
)

// Loop rules (issue #12 point 4; reference cluster-linking.md §4.3, where
// Confluent's own rules are NOT FOUND and these are the recommended
// safety rules): a topic is a mirror on at most one side of a link, a
// mirror is never mirrored back over the link it came from, and an
// auto-create filter may not select this link's own mirrors.
//
// Where each rule is enforced:
//   - a mirror create whose source topic is named like this link's own
//     mirrors (it starts with cluster.link.prefix; its mirror would be
//     prefix+prefix+name) is refused (loopByName);
//   - a mirror create, with a prefix, of a source topic that is a mirror
//     on the source while a topic of that name exists here (the source
//     mirrors our topic: mirroring it back would copy our own data under
//     prefix+name) is refused (CreateMirror, with sourceMirrors). Without
//     a prefix the mirror would take the local topic's own name, which
//     CreateMirror refuses already ("Topic 'x' already exists.");
//   - an auto-create INCLUDE filter that selects only names starting with
//     the prefix is refused when the link is created or altered
//     (filtersLoop); a broader filter ("*") stays legal, and the
//     AutoCreateMirror task skips the names the two rules above refuse
//     (autocreate.go), and, with or without a prefix, a source mirror
//     named like an ordinary local topic (not reported as a conflict).
//
// On a paired link (pairing.go) the peer's own list of its mirrors of
// this link, from LinkPeer, replaces the guesses of the first two rules
// (design §6 "with pairing"): a source topic that is the peer's mirror of
// this link is refused, with or without a prefix, and nothing else is;
// auto-create skips the peer's mirrors without reporting them.

// ErrMirrorLoop: mirroring that would loop between the clusters.
var ErrMirrorLoop = errors.New("mirroring would loop")

// loopByName refuses a mirror of a source topic named like this link's
// own mirror topics.
func loopByName(link, prefix, sourceTopic string) error {
	if prefix == "" || !strings.HasPrefix(sourceTopic, prefix) {
		return nil
	}
	return usererr.New(ErrMirrorLoop, "source topic '%s' is named like the mirror topics of cluster link '%s' (cluster.link.prefix '%s'): its mirror would be '%s'; mirror the topic it comes from instead",
		sourceTopic, link, prefix, prefix+sourceTopic)
}

// loopBack refuses a mirror, over a link with a prefix, of a source topic
// that is itself a mirror while a local topic of its name exists: the
// source is (most likely) mirroring that local topic, and its mirror here
// would be a copy of our own data.
//
// On a paired link the peer's own list of its mirrors of this link
// (LinkPeer, asked afresh) decides instead, exactly (design §6 rules 1–2
// "with pairing"): a source topic that is the peer's mirror of this link
// is refused, with or without a prefix, and nothing else is (a chain
// through another link, a topic merely named like our mirrors).
func (m *Manager) loopBack(ctx context.Context, rt *runtime, prefix, sourceTopic string) error {
	if peer, ok := m.peerMirrorSet(ctx, rt, true); ok {
		if !peer[sourceTopic] {
			return nil
		}
		return usererr.New(ErrMirrorLoop, "source topic '%s' is a mirror topic of cluster link '%s' on the remote cluster: mirroring it back over the same link would copy this cluster's own data back to it (a loop); a topic is a mirror on at most one side of a link",
			sourceTopic, rt.link.Name)
	}
	if err := loopByName(rt.link.Name, prefix, sourceTopic); err != nil {
		return err
	}
	if prefix == "" {
		return nil
	}
	if _, err := m.cluster.TopicByName(sourceTopic); err != nil {
		return nil
	}
	if !sourceMirrors(ctx, rt, []string{sourceTopic})[sourceTopic] {
		return nil
	}
	return usererr.New(ErrMirrorLoop, "source topic '%s' is a mirror topic on the source cluster and topic '%s' exists here: it mirrors this cluster's topic, and mirroring it back over cluster link '%s' as '%s' would loop; a topic is a mirror on at most one side",
		sourceTopic, sourceTopic, rt.link.Name, prefix+sourceTopic)
}

// loopEarly applies the name rule (loopByName) before the source is
// asked anything, unless the link is paired: the peer's mirrors then
// decide, in loopBack.
func (m *Manager) loopEarly(link, prefix, sourceTopic string) error {
	if rt := m.runtimeOf(link); rt != nil {
		if _, ok := m.peerMirrorSet(context.Background(), rt, false); ok {
			return nil
		}
	}
	return loopByName(link, prefix, sourceTopic)
}

// filtersLoop refuses auto.create.mirror.topics.filters INCLUDE filters
// that can only select names starting with cluster.link.prefix: the
// names of this link's own mirrors.
func filtersLoop(configs map[string]string) error {
	prefix := Value(configs, "cluster.link.prefix")
	if prefix == "" {
		return nil
	}
	fs, err := ParseNameFilters(Value(configs, "auto.create.mirror.topics.filters"), "topicFilters")
	if err != nil {
		return nil // reported by the key's own validation
	}
	for _, f := range fs {
		if f.FilterType == FilterExclude || f.Name == "*" || !strings.HasPrefix(f.Name, prefix) {
			continue
		}
		return usererr.New(ErrInvalidConfig, "invalid cluster link config auto.create.mirror.topics.filters: the filter '%s' (%s) selects only names starting with cluster.link.prefix '%s', the names of this link's own mirror topics; their mirrors would be named '%s<name>' (a loop). Remove the filter, or filter on the names of the source topics",
			f.Name, f.PatternType, prefix, prefix+prefix)
	}
	return nil
}
