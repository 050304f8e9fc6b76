package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// authzMetrics are Kafka's authorizer metrics (StandardAuthorizer's
// AuthorizerMetrics): authorization-allowed-rate-per-minute and
// authorization-denied-rate-per-minute as one counter by result, and
// acls-total-count as a gauge.
type authzMetrics struct {
	decisions       *prometheus.CounterVec
	allowed, denied prometheus.Counter
	acls            prometheus.GaugeFunc
	aclCount        atomic.Pointer[func() int]
}

func newAuthzMetrics() *authzMetrics {
	a := &authzMetrics{}
	a.decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "authorizations_total",
		Help: "Authorization decisions of the authorizer (authorizer.class.name) by result (allowed or denied).",
	}, []string{"result"})
	a.allowed, a.denied = a.decisions.WithLabelValues("allowed"), a.decisions.WithLabelValues("denied")
	a.acls = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Name: "acls",
		Help: "ACL bindings stored in the cluster metadata.",
	}, func() float64 {
		if fn := a.aclCount.Load(); fn != nil {
			return float64((*fn)())
		}
		return 0
	})
	return a
}

// Authorization records one decision of the authorizer.
func (m *Metrics) Authorization(allowed bool) {
	if m == nil {
		return
	}
	if allowed {
		m.authz.allowed.Inc()
	} else {
		m.authz.denied.Inc()
	}
}

// SetACLCountSource makes tandem_acls report fn's count.
func (m *Metrics) SetACLCountSource(fn func() int) {
	if m == nil {
		return
	}
	m.authz.aclCount.Store(&fn)
}
