package broker

// DescribeConfigs: v0-4
//
// Behaviour:
//   - TOPIC resources: every topic config (or the ones named), resolved
//     through the layers Kafka uses (KIP-226): topic override, per-node
//     dynamic broker config, cluster-wide dynamic default, static
//     (server.properties / flags), default. Source and, when asked for
//     (v1+ IncludeSynonyms), the synonym chain in precedence order.
//   - BROKER resources: this node's id, or "" for the cluster-wide dynamic
//     defaults. Sensitive values are null.
//   - Other resource types (BROKER_LOGGER, CLIENT_METRICS, GROUP) are
//     INVALID_REQUEST with a message; unknown topics
//     UNKNOWN_TOPIC_OR_PARTITION. Unknown config names are omitted, as in
//     Kafka.
//   - Authorization (Kafka's ConfigHelper): DESCRIBE_CONFIGS on the topic,
//     or on the cluster for brokers and broker loggers, else the resource
//     answers TOPIC_ / CLUSTER_AUTHORIZATION_FAILED with Kafka's message
//     and no configs.
//
// Version notes:
//   - v1: Source and synonyms; v3: ConfigType and documentation
//   - v4: flexible

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/config"
)

func init() { register(kmsg.DescribeConfigs, 0, 4, (*Broker).handleDescribeConfigs) }

func (b *Broker) handleDescribeConfigs(r *Request) Reply {
	req := r.Req.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewDescribeConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		var entries []config.Entry
		if refusal, msg := b.configRefusal(r, kmsg.ACLOperationDescribeConfigs, rr.ResourceType, rr.ResourceName); refusal != nil {
			sr.ErrorCode, sr.ErrorMessage = refusal.Code, kmsg.StringPtr(msg)
			resp.Resources = append(resp.Resources, sr)
			continue
		}
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			t, ok := b.store.Topic(rr.ResourceName)
			if !ok {
				err := errUnknownTopic(rr.ResourceName)
				sr.ErrorCode, sr.ErrorMessage = codeOf(err), msgOf(err)
				break
			}
			entries = b.describeTopicConfigs(t.Configs, rr.ConfigNames, req.IncludeSynonyms)
		case kmsg.ConfigResourceTypeBroker:
			node, err := b.brokerResource(rr.ResourceName)
			if err != nil {
				sr.ErrorCode, sr.ErrorMessage = codeOf(err), msgOf(err)
				break
			}
			entries = b.describeBrokerConfigs(node, rr.ConfigNames)
		default:
			_, _, err := b.currentOverrides(rr.ResourceType, rr.ResourceName)
			sr.ErrorCode, sr.ErrorMessage = codeOf(err), msgOf(err)
		}
		for _, e := range entries {
			sr.Configs = append(sr.Configs, describeEntry(req, e))
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return now(resp)
}

func describeEntry(req *kmsg.DescribeConfigsRequest, e config.Entry) kmsg.DescribeConfigsResponseResourceConfig {
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name = e.Name
	if !e.IsNull {
		c.Value = kmsg.StringPtr(e.Value)
	}
	c.ReadOnly = e.ReadOnly
	c.IsSensitive = e.Sensitive
	c.Source = e.Source
	// v0 has no Source; IsDefault carries the same fact.
	c.IsDefault = e.Source == kmsg.ConfigSourceDefaultConfig
	c.ConfigType = e.Type.ConfigType()
	if req.IncludeDocumentation && e.Doc != "" {
		c.Documentation = kmsg.StringPtr(e.Doc)
	}
	if req.IncludeSynonyms {
		for _, s := range e.Synonyms {
			sy := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
			sy.Name, sy.Source = s.Name, s.Source
			if !s.IsNull {
				sy.Value = kmsg.StringPtr(s.Value)
			}
			c.ConfigSynonyms = append(c.ConfigSynonyms, sy)
		}
	}
	return c
}
