package link

import (
	"fmt"
	"testing"
	"time"
)

// TestTopGroupLags: per-partition lags sum per group (positive
// differences only), the worst status and the newest sync win, groups
// are ordered by lag then name, and the list is cut at top.
func TestTopGroupLags(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	lags := []GroupOffsetLag{
		{Group: "a", SourceGroup: "a", Topic: "m", Partition: 0, Lag: 5, Status: OffsetSynced, SyncedAt: t0},
		{Group: "a", SourceGroup: "a", Topic: "n", Partition: 0, Lag: 3, Status: OffsetClampedToMirrorEnd, SyncedAt: t0.Add(time.Second)},
		{Group: "b", SourceGroup: "b", Topic: "m", Partition: 0, Lag: 8, Status: OffsetGroupActive, SyncedAt: t0},
		{Group: "b", SourceGroup: "b", Topic: "m", Partition: 1, Lag: -2, Status: OffsetGroupActive, SyncedAt: t0},
		{Group: "c", SourceGroup: "c", Topic: "m", Partition: 0, Lag: 8, Status: OffsetSynced, SyncedAt: t0},
		{Group: "d", SourceGroup: "d", Topic: "m", Partition: 0, Lag: 0, Status: OffsetSynced, SyncedAt: t0},
	}
	got, n := TopGroupLags(lags, 3)
	want := []GroupLag{
		{Group: "a", SourceGroup: "a", Partitions: 2, Lag: 8, Status: OffsetClampedToMirrorEnd, LastSync: t0.Add(time.Second)},
		{Group: "b", SourceGroup: "b", Partitions: 2, Lag: 8, Status: OffsetGroupActive, LastSync: t0},
		{Group: "c", SourceGroup: "c", Partitions: 1, Lag: 8, Status: OffsetSynced, LastSync: t0},
	}
	if n != 4 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("TopGroupLags = %v, %d\nwant %v, 4", got, n, want)
	}
	if all, n := TopGroupLags(lags, 0); len(all) != 4 || n != 4 || all[3].Group != "d" {
		t.Errorf("no limit: %v %d", all, n)
	}
}
