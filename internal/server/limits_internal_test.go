package server

import (
	"net/netip"
	"testing"
)

func TestConnCounter(t *testing.T) {
	a, b, c := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")
	for _, tc := range []struct {
		name string
		lim  Limits
		// admitted connections from a, b, c when each tries 5 times
		want [3]int
	}{
		{"zero value: no limit", Limits{}, [3]int{5, 5, 5}},
		{"per ip", Limits{MaxPerIP: 2}, [3]int{2, 2, 2}},
		{"override", Limits{MaxPerIP: 2, PerIP: map[netip.Addr]int{b: 4, c: 0}}, [3]int{2, 4, 0}},
		{"only overrides", Limits{MaxPerIP: OnlyPerIP, PerIP: map[netip.Addr]int{b: 1}}, [3]int{0, 1, 0}},
		{"total", Limits{MaxConnections: 7}, [3]int{5, 2, 0}},
		{"descriptors", Limits{MaxDescriptorConns: 6, MaxConnections: 100}, [3]int{5, 1, 0}},
	} {
		cc := newConnCounter(tc.lim)
		var got [3]int
		for i, ip := range []netip.Addr{a, b, c} {
			for range 5 {
				if reason, _ := cc.acquire(ip); reason == "" {
					got[i]++
				}
			}
		}
		if got != tc.want {
			t.Errorf("%s: admitted %v, want %v", tc.name, got, tc.want)
		}
		cc.release(a)
		if tc.want[0] > 0 {
			if reason, _ := cc.acquire(a); reason != "" {
				t.Errorf("%s: released slot not reusable: %s", tc.name, reason)
			}
		}
	}
}
