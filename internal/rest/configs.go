package rest

import (
	"net/http"
	"slices"
	"strings"
)

type configSynonymData struct {
	Name   string  `json:"name"`
	Value  *string `json:"value"`
	Source string  `json:"source"`
}

type topicConfigData struct {
	Kind        string              `json:"kind"`
	Metadata    resourceMeta        `json:"metadata"`
	ClusterID   string              `json:"cluster_id"`
	TopicName   string              `json:"topic_name"`
	Name        string              `json:"name"`
	Value       *string             `json:"value"`
	IsDefault   bool                `json:"is_default"`
	IsReadOnly  bool                `json:"is_read_only"`
	IsSensitive bool                `json:"is_sensitive"`
	Source      string              `json:"source"`
	Synonyms    []configSynonymData `json:"synonyms"`
}

// configSourceUnknown is DescribeConfigs' UNKNOWN source, used when the
// backend leaves Source empty.
const configSourceUnknown = "UNKNOWN"

func topicConfigDataFor(u urls, topic string, e ConfigEntry) topicConfigData {
	d := topicConfigData{
		Kind: "KafkaTopicConfig",
		Metadata: resourceMeta{
			Self:         u.topicConfig(topic, e.Name),
			ResourceName: u.crn("topic="+topic, "config="+e.Name),
		},
		ClusterID:   u.clusterID,
		TopicName:   topic,
		Name:        e.Name,
		IsDefault:   e.IsDefault,
		IsReadOnly:  e.ReadOnly,
		IsSensitive: e.Sensitive,
		Source:      cmpOr(e.Source, configSourceUnknown),
		Synonyms:    make([]configSynonymData, 0, len(e.Synonyms)),
	}
	// Sensitive values are never echoed, as DescribeConfigs returns them
	// null (Kafka's ConfigHelper); the same goes for their synonyms.
	if !e.IsNull && !e.Sensitive {
		v := e.Value
		d.Value = &v
	}
	for _, s := range e.Synonyms {
		sd := configSynonymData{Name: s.Name, Source: cmpOr(s.Source, configSourceUnknown)}
		if !e.Sensitive {
			v := s.Value
			sd.Value = &v
		}
		d.Synonyms = append(d.Synonyms, sd)
	}
	return d
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (h *handler) listTopicConfigs(w http.ResponseWriter, r *http.Request) error {
	u, err := h.clusterURLs(r)
	if err != nil {
		return err
	}
	topic := r.PathValue("topic_name")
	entries, err := h.b.TopicConfigs(r.Context(), topic)
	if err != nil {
		return err
	}
	slices.SortFunc(entries, func(a, b ConfigEntry) int { return strings.Compare(a.Name, b.Name) })
	data := make([]topicConfigData, 0, len(entries))
	for _, e := range entries {
		data = append(data, topicConfigDataFor(u, topic, e))
	}
	WriteJSON(w, http.StatusOK, newList("KafkaTopicConfigList", u.topic(topic)+"/configs", data))
	return nil
}

func (h *handler) getTopicConfig(w http.ResponseWriter, r *http.Request) error {
	u, err := h.clusterURLs(r)
	if err != nil {
		return err
	}
	topic, name := r.PathValue("topic_name"), r.PathValue("name")
	entries, err := h.b.TopicConfigs(r.Context(), topic)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name == name {
			WriteJSON(w, http.StatusOK, topicConfigDataFor(u, topic, e))
			return nil
		}
	}
	return notFound("Config %s cannot be found for topic %s.", name, topic)
}

// setOp reads the body of a single-config PUT ({"value":...}) into a SET
// of the config named in the path; topic and link configs share it.
func setOp(r *http.Request) (ConfigOp, error) {
	var body updateConfigBody
	if err := decodeJSON(r, &body); err != nil {
		return ConfigOp{}, err
	}
	if body.Value == nil {
		return ConfigOp{}, badRequest("value is required (to reset a config to its default, DELETE it)")
	}
	return ConfigOp{Name: r.PathValue("name"), Value: *body.Value}, nil
}

// updateTopicConfig sets one config (PUT .../configs/{name}, body
// {"value":...}). It is an incremental SET, so other overrides are kept.
func (h *handler) updateTopicConfig(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.clusterURLs(r); err != nil {
		return err
	}
	op, err := setOp(r)
	if err != nil {
		return err
	}
	if err := h.b.AlterTopicConfigs(r.Context(), r.PathValue("topic_name"), []ConfigOp{op}, false); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// resetTopicConfig removes a topic override (DELETE .../configs/{name}) so
// the broker default applies again.
func (h *handler) resetTopicConfig(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.clusterURLs(r); err != nil {
		return err
	}
	op := ConfigOp{Name: r.PathValue("name"), Delete: true}
	if err := h.b.AlterTopicConfigs(r.Context(), r.PathValue("topic_name"), []ConfigOp{op}, false); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// alterTopicConfigs applies a batch (POST .../configs:alter). Like
// IncrementalAlterConfigs (KIP-339) it is all-or-nothing and leaves configs
// not named in the batch alone.
func (h *handler) alterTopicConfigs(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.clusterURLs(r); err != nil {
		return err
	}
	var body alterConfigsBody
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if body.Data == nil {
		return badRequest("data is required")
	}
	ops := make([]ConfigOp, 0, len(body.Data))
	seen := make(map[string]bool, len(body.Data))
	for i, e := range body.Data {
		if e.Name == "" {
			return badRequest("data[%d].name is required", i)
		}
		if seen[e.Name] {
			// IncrementalAlterConfigs rejects a resource naming one
			// config twice (INVALID_REQUEST).
			return badRequest("data: duplicate config %q", e.Name)
		}
		seen[e.Name] = true
		op := "SET"
		if e.Operation != nil {
			op = strings.ToUpper(*e.Operation)
		}
		switch op {
		case "SET":
			if e.Value == nil {
				return badRequest("data[%d] (%s): value is required for SET", i, e.Name)
			}
			ops = append(ops, ConfigOp{Name: e.Name, Value: *e.Value})
		case "DELETE":
			ops = append(ops, ConfigOp{Name: e.Name, Delete: true})
		default:
			return badRequest("data[%d] (%s): operation must be SET or DELETE, got %q", i, e.Name, *e.Operation)
		}
	}
	validateOnly := body.ValidateOnly || queryBool(r, "validate_only")
	if err := h.b.AlterTopicConfigs(r.Context(), r.PathValue("topic_name"), ops, validateOnly); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
