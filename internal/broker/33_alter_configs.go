package broker

// AlterConfigs: v0-2
//
// Behaviour:
//   - Replaces the complete set of dynamic overrides of each resource (the
//     legacy, non-incremental semantics: keys not named are removed).
//   - TOPIC resources and BROKER resources (this node's id, or "" for the
//     cluster-wide default) are supported; read-only broker keys (those that
//     need a restart, e.g. listeners, log.dirs) are INVALID_CONFIG, as are
//     unknown keys and invalid values, each with a message.
//   - New topic configs take effect on the partitions at once (retention,
//     segment size, timestamps, min.insync.replicas).
//   - Mirror topics refuse non-incremental updates, with Confluent's
//     message (their configs are synced from the source).
//   - ValidateOnly checks without changing anything.
//   - Authorization (KafkaApis): ALTER_CONFIGS on the topic, or on the
//     cluster for brokers, else TOPIC_ / CLUSTER_AUTHORIZATION_FAILED for
//     that resource, without a message.
//
// Version notes:
//   - v2: flexible

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.AlterConfigs, 0, 2, (*Broker).handleAlterConfigs) }

func (b *Broker) handleAlterConfigs(r *Request) Reply {
	req := r.Req.(*kmsg.AlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		if refusal, _ := b.configRefusal(r, kmsg.ACLOperationAlterConfigs, rr.ResourceType, rr.ResourceName); refusal != nil {
			// Kafka sends no message with this refusal.
			sr.ErrorCode = refusal.Code
			resp.Resources = append(resp.Resources, sr)
			continue
		}
		err := retryOnConflict(func() error {
			_, ref, err := b.currentOverrides(rr.ResourceType, rr.ResourceName)
			if err != nil {
				return err
			}
			if rr.ResourceType == kmsg.ConfigResourceTypeTopic {
				if t, ok := b.store.Topic(rr.ResourceName); ok && isReadOnlyMirror(t) {
					return &kafkaError{ke: kerr.InvalidConfig, err: fmt.Errorf(
						"Non-incremental configuration updates for mirror topic '%s' are disallowed", rr.ResourceName)}
				}
			}
			next := map[string]string{}
			for _, c := range rr.Configs {
				if c.Value == nil {
					return fmt.Errorf("%w: null value for %s", ErrInvalidRequest, c.Name)
				}
				next[c.Name] = *c.Value
			}
			return b.applyOverrides(rr.ResourceType, rr.ResourceName, ref, next, req.ValidateOnly)
		})
		if err != nil {
			sr.ErrorCode, sr.ErrorMessage = codeOf(err), msgOf(err)
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return now(resp)
}
