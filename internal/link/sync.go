package link

import (
	"maps"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Topic config sync (cluster-linking.md §2.4). Confluent has three classes:
// configs always taken from the source, configs taken when set at the
// source, and independent configs. Every topic config Tandem supports falls
// in the first two classes, so a mirror's overrides are exactly the
// source's explicitly-set values of these keys (a key set only as a source
// broker default is not copied: the mirror keeps its own cluster's
// default, as Confluent's "NonDefault" rule says).
var (
	alwaysSynced  = []string{"cleanup.policy", "max.message.bytes", "message.timestamp.type", "compression.type"}
	syncedWhenSet = []string{
		"retention.ms", "retention.bytes", "delete.retention.ms", "segment.bytes", "segment.ms",
		"index.interval.bytes", "min.compaction.lag.ms", "max.compaction.lag.ms", "min.cleanable.dirty.ratio",
		"file.delete.delay.ms", "min.insync.replicas", "message.timestamp.before.max.ms", "message.timestamp.after.max.ms",
	}
)

// SyncedConfigs lists the topic configs a mirror takes from its source.
func SyncedConfigs() []string {
	return append(append([]string(nil), alwaysSynced...), syncedWhenSet...)
}

// mirrorConfigs derives a mirror's overrides from a source topic's
// described configs. For "always" keys the source's effective value is
// taken even when it is the source's default, unless that value is not
// valid here (e.g. compression.type=producer is the only compression
// Tandem accepts, so a source's other value is skipped and reported).
func mirrorConfigs(src kadm.ResourceConfig) (map[string]string, []string) {
	out := map[string]string{}
	var skipped []string
	byKey := map[string]kadm.Config{}
	for _, c := range src.Configs {
		byKey[c.Key] = c
	}
	for _, k := range alwaysSynced {
		c, ok := byKey[k]
		if !ok || c.Value == nil {
			continue
		}
		out[k] = *c.Value
	}
	for _, k := range syncedWhenSet {
		c, ok := byKey[k]
		if !ok || c.Value == nil || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
			continue
		}
		out[k] = *c.Value
	}
	// Drop values this broker cannot honour instead of failing the mirror.
	for k, v := range maps.Clone(out) {
		if k == "compression.type" && v != "producer" {
			delete(out, k)
			skipped = append(skipped, k+"="+v)
		}
	}
	return out, skipped
}
