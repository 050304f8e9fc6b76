package main

// What -o json|yaml prints of the API's objects. The link and mirror
// commands read the API's own types (internal/restapi) and print them cut
// down to the fields the CLI has always shown, in its order: the shapes
// are written once, in restapi, and the CLI only names the keys it shows.

import (
	"encoding/json"
	"fmt"
	"strings"
)

// view names the keys of a JSON object to print, in order. A key ending
// in "?" is left out when it is absent, null or []; any other key must be
// there (a key restapi no longer has is a bug, not an empty column).
type view struct {
	keys []string
	// each cuts the objects of an array under a key down in turn.
	each map[string]view
}

var (
	// KafkaLinkData less kind, metadata and the deprecated link_id.
	linkView = view{keys: []string{"link_name", "cluster_link_id", "source_cluster_id", "destination_cluster_id",
		"remote_cluster_id", "link_state", "link_error", "link_error_message", "topic_names", "category_counts?"}}
	linkTaskView   = view{keys: []string{"task_name", "state", "errors"}}
	linkConfigView = view{keys: []string{"name", "value", "read_only", "sensitive", "source", "synonyms"}}
	// KafkaMirrorData less kind and metadata; each lag in full.
	mirrorView = view{keys: []string{"link_name", "mirror_topic_name", "source_topic_name", "num_partitions",
		"mirror_status", "mirror_topic_error", "state_time_ms", "mirror_lags", "mirror_state_transition_errors?"}}
	alterMirrorView = view{keys: []string{"mirror_topic_name", "error_code", "error_message", "mirror_lags"},
		each: map[string]view{"mirror_lags": {keys: []string{"partition", "lag", "last_source_fetch_offset"}}}}
)

// structuredView prints v (a restapi object) cut down to vw.
func (p printer) structuredView(vw view, v any) error {
	o, err := vw.of(v)
	if err != nil {
		return err
	}
	return p.structured(o)
}

// structuredEach prints the slice vs, each element cut down to vw.
func (p printer) structuredEach(vw view, vs any) error {
	o, err := vw.ofEach(vs)
	if err != nil {
		return err
	}
	return p.structured(o)
}

// of returns v's JSON object cut down to the view.
func (vw view) of(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return vw.cut(b)
}

// ofEach is of for each element of the slice vs; nil gives [].
func (vw view) ofEach(vs any) ([]json.RawMessage, error) {
	b, err := json.Marshal(vs)
	if err != nil {
		return nil, err
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(b, &elems); err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, 0, len(elems))
	for _, e := range elems {
		o, err := vw.cut(e)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

func (vw view) cut(obj []byte) (json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(obj, &fields); err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteByte('{')
	for _, k := range vw.keys {
		k, optional := strings.CutSuffix(k, "?")
		val, ok := fields[k]
		if optional && (!ok || string(val) == "null" || string(val) == "[]") {
			continue
		}
		if !ok {
			return nil, fmt.Errorf("output: the API's answer has no %q", k)
		}
		if sub, ok := vw.each[k]; ok && string(val) != "null" {
			elems, err := sub.ofEach(val)
			if err != nil {
				return nil, err
			}
			if val, err = json.Marshal(elems); err != nil {
				return nil, err
			}
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(k)
		b.Write(key)
		b.WriteByte(':')
		b.Write(val)
	}
	b.WriteByte('}')
	return json.RawMessage(b.String()), nil
}
