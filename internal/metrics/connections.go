package metrics

import "github.com/prometheus/client_golang/prometheus"

// connMetrics count client connections the server refused at accept or
// closed on a limit (issue #9), by reason.
type connMetrics struct {
	refused *prometheus.CounterVec // reason
	closed  *prometheus.CounterVec // reason
}

func newConnMetrics() connMetrics {
	return connMetrics{
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "connections_refused_total",
			Help: "Client connections closed right after accept, by the limit they were over: max_connections, " +
				"max_connections_per_ip or descriptor_reserve.",
		}, []string{"reason"}),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "connections_closed_by_broker_total",
			Help: "Client connections the broker closed on a timeout, by reason: idle (connections.max.idle.ms) or " +
				"request_read_timeout (socket.request.read.timeout.ms).",
		}, []string{"reason"}),
	}
}

func (c connMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{c.refused, c.closed}
}

// ConnRefused records a connection closed right after accept because it
// was over a limit. Reasons are a small fixed set chosen by the server.
func (m *Metrics) ConnRefused(reason string) {
	if m == nil {
		return
	}
	m.connLimits.refused.WithLabelValues(reason).Inc()
}

// ConnClosedBy records a connection the broker closed on a timeout.
func (m *Metrics) ConnClosedBy(reason string) {
	if m == nil {
		return
	}
	m.connLimits.closed.WithLabelValues(reason).Inc()
}
