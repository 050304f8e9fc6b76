package rest

import (
	"log/slog"
	"slices"
	"testing"

	"github.com/tandem-streaming/tandem/internal/metrics"
)

// TestRouteRulesMatchRoutes: with every option on, the routes registered
// are exactly those routeRules has a rule for (a missing rule panics at
// registration; this catches rules left behind by a removed route).
func TestRouteRulesMatchRoutes(t *testing.T) {
	h := New(newFake(), metrics.New(1), slog.New(slog.DiscardHandler),
		WithLinks(newFakeLinks()), WithGroups(twoGroups{}), WithACLs(&fakeACLs{}), WithAuthorizer(grants{})).(*handler)
	for p := range routeRules {
		if !slices.Contains(h.patterns, p) {
			t.Errorf("routeRules has %q, which is not a route", p)
		}
	}
	if len(h.patterns) != len(routeRules) {
		t.Errorf("%d routes, %d rules", len(h.patterns), len(routeRules))
	}
}
