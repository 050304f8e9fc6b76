package bench

import (
	"bytes"
	"strings"
	"testing"
)

func TestRunAdminStall(t *testing.T) {
	addr := startKfake(t)
	var out bytes.Buffer
	res, err := RunAdminStall(testContext(t), StallOptions{
		Brokers: []string{addr}, Topic: "big", Partitions: 64, Other: "other", Out: &out,
	})
	if err != nil {
		t.Fatalf("RunAdminStall: %v\n%s", err, out.String())
	}
	t.Logf("%s", out.String())
	if res.CreateTook <= 0 || res.ProduceErrors != 0 || !strings.Contains(out.String(), "create big (64 partitions)") {
		t.Errorf("result %+v", res)
	}
	if res.Produces > 0 && !(res.P50 <= res.P99 && res.P99 <= res.Max) {
		t.Errorf("latencies out of order: %+v", res)
	}
	// The topic exists now: a second run refuses rather than measuring nothing.
	if _, err := RunAdminStall(testContext(t), StallOptions{Brokers: []string{addr}, Topic: "big", Partitions: 64, Other: "other"}); err == nil {
		t.Error("a second create of the same topic was not refused")
	}
}
