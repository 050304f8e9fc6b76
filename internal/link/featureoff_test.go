package link

import (
	"maps"
	"testing"
)

// TestTurningOffClearsFilters: turning off consumer offset sync or
// auto-create clears its filters in the same alter, and describe configs
// shows them unset (cluster-linking.md §1.2); a feature that stays on, or
// was already off, keeps its filters.
func TestTurningOffClearsFilters(t *testing.T) {
	const groups = `{"groupFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}]}`
	const topics = `{"topicFilters":[{"name":"orders","patternType":"PREFIXED","filterType":"INCLUDE"}]}`
	store, l := unreachableLink(t)
	c := &storeCluster{Store: store}
	m, err := NewManager(store, c, &modeData{mode: map[string]dataPathMode{}}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	on := maps.Clone(l.Configs)
	on["consumer.offset.sync.enable"], on["consumer.offset.group.filters"] = "true", groups
	on["auto.create.mirror.topics.enable"], on["auto.create.mirror.topics.filters"] = "true", topics
	if err := m.AlterLinkConfigs("l", on, false); err != nil {
		t.Fatal(err)
	}
	described := func() map[string]Entry {
		li, err := m.Link("l")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]Entry{}
		for _, e := range Describe(li.Link.Configs) {
			out[e.Name] = e
		}
		return out
	}
	if d := described(); d["consumer.offset.group.filters"].Value != groups || d["auto.create.mirror.topics.filters"].Value != topics {
		t.Fatalf("filters not stored: %+v %+v", d["consumer.offset.group.filters"], d["auto.create.mirror.topics.filters"])
	}

	// Off with a validate-only alter: nothing changes.
	off := maps.Clone(on)
	off["consumer.offset.sync.enable"] = "false"
	if err := m.AlterLinkConfigs("l", off, true); err != nil {
		t.Fatal(err)
	}
	if d := described(); d["consumer.offset.group.filters"].Value != groups {
		t.Fatalf("validate-only cleared the filters: %+v", d["consumer.offset.group.filters"])
	}
	// Offset sync off: its filters go, auto-create's stay.
	if err := m.AlterLinkConfigs("l", off, false); err != nil {
		t.Fatal(err)
	}
	if _, ok := off["consumer.offset.group.filters"]; !ok {
		t.Fatal("the caller's map was modified")
	}
	d := described()
	if e := d["consumer.offset.group.filters"]; e.Value != "" || e.Source == SourceDynamic {
		t.Errorf("offset sync off: group filters %+v, want unset", e)
	}
	if e := d["auto.create.mirror.topics.filters"]; e.Value != topics {
		t.Errorf("offset sync off: topic filters %+v, want kept", e)
	}

	// Filters set while the feature is off are kept (set before turning
	// it on).
	off["consumer.offset.group.filters"] = groups
	if err := m.AlterLinkConfigs("l", off, false); err != nil {
		t.Fatal(err)
	}
	if e := described()["consumer.offset.group.filters"]; e.Value != groups {
		t.Errorf("filters set while off: %+v, want kept", e)
	}

	// Auto-create off by deleting its enable key (back to the default,
	// false): its filters go.
	delete(off, "auto.create.mirror.topics.enable")
	if err := m.AlterLinkConfigs("l", off, false); err != nil {
		t.Fatal(err)
	}
	if e := described()["auto.create.mirror.topics.filters"]; e.Value != "" || e.Source == SourceDynamic {
		t.Errorf("auto-create off: topic filters %+v, want unset", e)
	}
}
