package link

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// GroupLag is one synced group's offset lag over a link's mirror
// partitions, as the last offset sync saw it: link describe shows the
// groups with the most lag (issue #11 item 5).
type GroupLag struct {
	Group       string // the local (destination) group name
	SourceGroup string
	Partitions  int // mirror partitions the group has offsets on at the source
	// Lag sums, over those partitions, the source's committed offset
	// minus this cluster's (positive differences only, as the offset lag
	// metrics): what the group would read again if it moved here now.
	Lag int64
	// Status is the group's worst partition status: OffsetGroupActive
	// (active here: not synced), else OffsetClampedToMirrorEnd, else
	// OffsetSynced.
	Status string
	// LastSync is when the newest sync of the group's offsets ran.
	LastSync time.Time
}

// TopGroupLags sums per-partition lags (GroupOffsetLags) per group and
// returns the top groups by lag (all when top <= 0) and how many there
// are.
func TopGroupLags(lags []GroupOffsetLag, top int) ([]GroupLag, int) {
	out := summarizeGroupLags(lags)
	n := len(out)
	if top > 0 && n > top {
		out = out[:top]
	}
	return out, n
}

// statusRank orders partition statuses by how much they say.
func statusRank(s string) int {
	switch s {
	case OffsetGroupActive:
		return 2
	case OffsetClampedToMirrorEnd:
		return 1
	}
	return 0
}

// summarizeGroupLags sums per-partition lags per group, most lag first.
func summarizeGroupLags(lags []GroupOffsetLag) []GroupLag {
	idx := map[string]int{}
	var out []GroupLag
	for _, l := range lags {
		i, ok := idx[l.Group]
		if !ok {
			i = len(out)
			idx[l.Group] = i
			out = append(out, GroupLag{Group: l.Group, SourceGroup: l.SourceGroup, Status: OffsetSynced})
		}
		g := &out[i]
		g.Partitions++
		g.Lag += max(l.Lag, 0)
		if statusRank(l.Status) > statusRank(g.Status) {
			g.Status = l.Status
		}
		if l.SyncedAt.After(g.LastSync) {
			g.LastSync = l.SyncedAt
		}
	}
	slices.SortFunc(out, func(a, b GroupLag) int {
		return cmp.Or(cmp.Compare(b.Lag, a.Lag), strings.Compare(a.Group, b.Group))
	})
	return out
}
