package metrics

import (
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// topicMetrics is the resolved label children for one topic.
type topicMetrics struct {
	bytesIn  prometheus.Counter
	bytesOut prometheus.Counter
	msgsIn   prometheus.Counter
}

// topic returns the cached children for a topic, creating them on first
// use. Creation takes topicMu so it cannot interleave with DeleteTopic:
// the map holds an entry exactly when the vecs hold the series.
func (m *Metrics) topic(name string) *topicMetrics {
	if t, ok := m.topics.Load(name); ok {
		return t.(*topicMetrics)
	}
	m.topicMu.Lock()
	defer m.topicMu.Unlock()
	if t, ok := m.topics.Load(name); ok {
		return t.(*topicMetrics)
	}
	label := topicLabel(name)
	t := &topicMetrics{
		bytesIn:  m.bytesIn.WithLabelValues(label),
		bytesOut: m.bytesOut.WithLabelValues(label),
		msgsIn:   m.msgsIn.WithLabelValues(label),
	}
	m.topics.Store(name, t)
	return t
}

// BytesIn adds n produced record-batch bytes to topic.
func (m *Metrics) BytesIn(topic string, n int) {
	if m == nil {
		return
	}
	m.topic(topic).bytesIn.Add(float64(n))
}

// BytesOut adds n fetched record-batch bytes to topic.
func (m *Metrics) BytesOut(topic string, n int) {
	if m == nil {
		return
	}
	m.topic(topic).bytesOut.Add(float64(n))
}

// MessagesIn adds n produced records to topic.
func (m *Metrics) MessagesIn(topic string, n int) {
	if m == nil {
		return
	}
	m.topic(topic).msgsIn.Add(float64(n))
}

// DeleteTopic drops every per-topic series for a deleted topic, so deleted
// topics do not linger in scrapes forever. A producer racing the deletion
// may still hold the old children; its increments go to detached counters
// and are not exported. Traffic arriving after the call (a re-created topic
// of the same name) starts fresh series from zero, which Prometheus treats
// as a counter reset.
func (m *Metrics) DeleteTopic(topic string) {
	if m == nil {
		return
	}
	m.topicMu.Lock()
	defer m.topicMu.Unlock()
	m.topics.Delete(topic)
	label := topicLabel(topic)
	m.bytesIn.DeleteLabelValues(label)
	m.bytesOut.DeleteLabelValues(label)
	m.msgsIn.DeleteLabelValues(label)
}

// topicLabel makes a topic name safe as a label value: WithLabelValues
// panics on invalid UTF-8. Kafka topic names are [a-zA-Z0-9._-] (Kafka's
// Topic.validate), so this only matters if a caller skips validation.
func topicLabel(name string) string {
	if utf8.ValidString(name) {
		return name
	}
	return strings.ToValidUTF8(name, "\uFFFD")
}
