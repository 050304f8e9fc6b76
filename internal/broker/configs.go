package broker

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/config"
	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/usererr"
)

// describeTopicConfigs resolves the named topic configs (all when names is
// empty) under the given overrides.
func (b *Broker) describeTopicConfigs(overrides map[string]string, names []string, _ bool) []config.Entry {
	if len(names) == 0 {
		names = config.TopicDefs().Names()
	}
	l := b.layers(overrides)
	out := make([]config.Entry, 0, len(names))
	for _, n := range names {
		e, err := config.ResolveTopic(n, l)
		if err != nil {
			continue // unknown names are omitted, as Kafka does
		}
		out = append(out, e)
	}
	return out
}

// brokerResource resolves a broker config resource name: "" is the
// cluster-wide default layer (-1), otherwise it must be this node's id.
func (b *Broker) brokerResource(name string) (int32, error) {
	if name == "" {
		return -1, nil
	}
	id, err := strconv.ParseInt(name, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%w: broker resource name %q is not a node id", ErrInvalidRequest, name)
	}
	if int32(id) != b.nodeID {
		return 0, fmt.Errorf("%w: node %d is not in this cluster (this node is %d)", ErrInvalidRequest, id, b.nodeID)
	}
	return int32(id), nil
}

func (b *Broker) describeBrokerConfigs(node int32, names []string) []config.Entry {
	if len(names) == 0 {
		names = config.BrokerDefs().Names()
	}
	l := b.layers(nil)
	if node == -1 {
		// The default resource shows only the cluster-wide layer and
		// below, as Kafka's DescribeConfigs for broker "" does.
		l.DynamicBroker = nil
	}
	out := make([]config.Entry, 0, len(names))
	for _, n := range names {
		e, err := config.ResolveBroker(n, l)
		if err != nil {
			continue
		}
		out = append(out, e)
	}
	return out
}

// configRef identifies the overrides currentOverrides read: the broker
// node, and the ModRevision of the topic or broker-config record (the
// write back is a compare-and-set, so a change made in between is not
// lost; callers retry on metadata.ErrConflict).
type configRef struct {
	node   int32
	modRev int64
}

// currentOverrides returns the dynamic overrides of a config resource.
func (b *Broker) currentOverrides(rtype kmsg.ConfigResourceType, name string) (map[string]string, configRef, error) {
	switch rtype {
	case kmsg.ConfigResourceTypeTopic:
		t, ok := b.store.Topic(name)
		if !ok {
			return nil, configRef{}, errUnknownTopic(name)
		}
		return clone(t.Configs), configRef{modRev: t.ModRevision}, nil
	case kmsg.ConfigResourceTypeBroker:
		node, err := b.brokerResource(name)
		if err != nil {
			return nil, configRef{}, err
		}
		configs, rev := b.store.BrokerConfigsRev(node)
		return clone(configs), configRef{node: node, modRev: rev}, nil
	default:
		return nil, configRef{}, fmt.Errorf("%w: config resource type %v is not supported", ErrInvalidRequest, rtype)
	}
}

// applyOverrides validates and stores a resource's complete new set of
// dynamic overrides.
func (b *Broker) applyOverrides(rtype kmsg.ConfigResourceType, name string, ref configRef, overrides map[string]string, validateOnly bool) error {
	if rtype == kmsg.ConfigResourceTypeTopic {
		return b.setTopicConfigsAt(name, overrides, ref.modRev, validateOnly, true)
	}
	return b.setBrokerConfigsAt(ref.node, overrides, ref.modRev, validateOnly)
}

// isListConfig reports whether key holds a comma-separated list, the only
// kind APPEND and SUBTRACT apply to (KIP-339).
func isListConfig(rtype kmsg.ConfigResourceType, key string) bool {
	reg := config.TopicDefs()
	if rtype == kmsg.ConfigResourceTypeBroker {
		reg = config.BrokerDefs()
	}
	d, ok := reg.Lookup(key)
	return ok && d.Type == config.TypeList
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortedNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func errUnknownTopic(name string) error {
	return usererr.New(metadata.ErrUnknownTopic, "topic '%s' does not exist", name)
}
