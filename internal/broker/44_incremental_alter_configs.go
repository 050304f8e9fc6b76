package broker

// IncrementalAlterConfigs: v0-1
//
// Behaviour (KIP-339):
//   - Per key: SET, DELETE (back to the inherited value), and for list
//     configs APPEND / SUBTRACT (on the current effective list); APPEND or
//     SUBTRACT on a non-list key is INVALID_CONFIG.
//   - A key named twice in one resource is INVALID_REQUEST.
//   - TOPIC and BROKER resources as in AlterConfigs; the new overrides are
//     validated as a whole before anything is stored.
//   - Authorization (KafkaApis): ALTER_CONFIGS on the topic, or on the
//     cluster for brokers and broker loggers, else TOPIC_ /
//     CLUSTER_AUTHORIZATION_FAILED for that resource, without a message.
//
// Version notes:
//   - v1: flexible

import (
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/config"
)

func init() {
	register(kmsg.IncrementalAlterConfigs, 0, 1, (*Broker).handleIncrementalAlterConfigs)
}

func (b *Broker) handleIncrementalAlterConfigs(r *Request) Reply {
	req := r.Req.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewIncrementalAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		if refusal, _ := b.configRefusal(r, kmsg.ACLOperationAlterConfigs, rr.ResourceType, rr.ResourceName); refusal != nil {
			// Kafka sends no message with this refusal.
			sr.ErrorCode = refusal.Code
			resp.Resources = append(resp.Resources, sr)
			continue
		}
		// A read-modify-write of the resource's overrides, retried
		// when another write changed them in between.
		err := retryOnConflict(func() error {
			next, ref, err := b.currentOverrides(rr.ResourceType, rr.ResourceName)
			if err != nil {
				return err
			}
			seen := map[string]bool{}
			for _, c := range rr.Configs {
				if seen[c.Name] {
					return fmt.Errorf("%w: config %s is named more than once", ErrInvalidRequest, c.Name)
				}
				seen[c.Name] = true
				switch c.Op {
				case kmsg.IncrementalAlterConfigOpSet:
					if c.Value == nil {
						return fmt.Errorf("%w: null value for %s", ErrInvalidRequest, c.Name)
					}
					next[c.Name] = *c.Value
				case kmsg.IncrementalAlterConfigOpDelete:
					delete(next, c.Name)
				case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
					if !isListConfig(rr.ResourceType, c.Name) {
						return &config.KeyError{Key: c.Name, Err: config.ErrInvalidValue,
							Cause: fmt.Errorf("%v applies only to list configs", c.Op)}
					}
					cur, err := b.effectiveValue(rr.ResourceType, rr.ResourceName, next, c.Name)
					if err != nil {
						return err
					}
					list := splitList(cur)
					var arg []string
					if c.Value != nil {
						arg = splitList(*c.Value)
					}
					for _, v := range arg {
						has := slices.Contains(list, v)
						if c.Op == kmsg.IncrementalAlterConfigOpAppend && !has {
							list = append(list, v)
						} else if c.Op == kmsg.IncrementalAlterConfigOpSubtract && has {
							list = slices.DeleteFunc(list, func(s string) bool { return s == v })
						}
					}
					next[c.Name] = strings.Join(list, ",")
				default:
					return fmt.Errorf("%w: unknown operation %d for %s", ErrInvalidRequest, c.Op, c.Name)
				}
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

// effectiveValue is key's value for the resource under overrides.
func (b *Broker) effectiveValue(rtype kmsg.ConfigResourceType, name string, overrides map[string]string, key string) (string, error) {
	l := b.layers(nil)
	if rtype == kmsg.ConfigResourceTypeTopic {
		l.Topic = overrides
		e, err := config.ResolveTopic(key, l)
		return e.Value, err
	}
	if name == "" {
		l.DynamicBroker, l.DynamicDefault = nil, overrides
	} else {
		l.DynamicBroker = overrides
	}
	e, err := config.ResolveBroker(key, l)
	return e.Value, err
}
