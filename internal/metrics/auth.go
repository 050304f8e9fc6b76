package metrics

import "github.com/prometheus/client_golang/prometheus"

// newAuthMetrics counts authentications by listener, mechanism (PLAIN,
// SCRAM-SHA-256, SCRAM-SHA-512, or SSL for TLS client authentication) and
// result (success or failure), as Kafka's successful-authentication-total
// and failed-authentication-total selector metrics.
func newAuthMetrics() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "authentication_total",
		Help: "Client authentications by listener, mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, SSL) and result (success or failure).",
	}, []string{"listener", "mechanism", "result"})
}

// Authentication records one authentication (or re-authentication) of a
// client connection. result is "success" or "failure".
func (m *Metrics) Authentication(listener, mechanism string, ok bool) {
	if m == nil {
		return
	}
	result := "failure"
	if ok {
		result = "success"
	}
	m.auth.WithLabelValues(listener, mechanism, result).Inc()
}
