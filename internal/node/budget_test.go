package node

import "testing"

// The budgets docs/operations.md lists.
func TestPlanDescriptors(t *testing.T) {
	for _, tc := range []descriptorBudget{
		{Limit: 256, FileCache: 112, HTTPConns: 16, ClientConns: 16},
		{Limit: 1024, FileCache: 112, HTTPConns: 16, ClientConns: 768},
		{Limit: 4096, FileCache: 832, HTTPConns: 64, ClientConns: 3072},
		{Limit: 65536, FileCache: 4096, HTTPConns: 256, ClientConns: 61056},
		{Limit: 1 << 20, FileCache: 4096, HTTPConns: 256, ClientConns: 1<<20 - 4480},
	} {
		if got := planDescriptors(tc.Limit); got != tc {
			t.Errorf("planDescriptors(%d) = %+v, want %+v", tc.Limit, got, tc)
		}
	}
}
