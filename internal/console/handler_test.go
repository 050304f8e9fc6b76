package console

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

type fakeSource struct{ snap Snapshot }

func (f fakeSource) Overview(context.Context) Overview       { return Overview{ClusterID: "c1"} }
func (f fakeSource) Topics(context.Context) ([]Topic, error) { return nil, nil }
func (f fakeSource) Groups(context.Context) ([]Group, error) { return nil, nil }
func (f fakeSource) Snapshot() Snapshot                      { return f.snap }

func getJSON(t *testing.T, h http.Handler, path string, v any) int {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("GET %s: %v in %q", path, err, rec.Body.String())
	}
	return rec.Code
}

// TestHistoryEndpoint: stored points, oldest first, then the live one.
func TestHistoryEndpoint(t *testing.T) {
	now := t0.Add(time.Minute)
	src := fakeSource{snap: snap1(100, 90, now, now)}
	hist := NewHistory(10, 0)
	hist.Sample(t0, snap1(50, 40, t0, t0))
	hist.Sample(t0.Add(10*time.Second), snap1(60, 60, t0, t0))
	h := New(src, hist, 10*time.Second, nil)
	h.now = func() time.Time { return now }

	var link struct {
		Points []historyPoint `json:"points"`
	}
	if code := getJSON(t, h, "/console/api/history?link=dr", &link); code != 200 {
		t.Fatalf("status %d", code)
	}
	if len(link.Points) != 3 || link.Points[0].Lag != 10 || link.Points[1].Lag != 0 || link.Points[2].Lag != 10 || !link.Points[2].Live {
		t.Errorf("link points = %+v; want lags 10, 0, then live 10", link.Points)
	}

	var mirror struct {
		Partitions []struct {
			Partition int32          `json:"partition"`
			Points    []historyPoint `json:"points"`
		} `json:"partitions"`
	}
	getJSON(t, h, "/console/api/history?link=dr&mirror=orders", &mirror)
	if len(mirror.Partitions) != 2 || len(mirror.Partitions[0].Points) != 3 {
		t.Fatalf("mirror history = %+v", mirror)
	}
	if p := mirror.Partitions[0].Points[2]; !p.Live || p.SourceEnd != 100 || p.LocalEnd != 90 || p.TimeMs != now.UnixMilli() {
		t.Errorf("live point = %+v", p)
	}
	getJSON(t, h, "/console/api/history?link=dr&mirror=orders&partition=1", &mirror)
	if len(mirror.Partitions) != 1 || mirror.Partitions[0].Partition != 1 {
		t.Errorf("one partition = %+v", mirror)
	}
	var e map[string]any
	if code := getJSON(t, h, "/console/api/history?link=dr&mirror=orders&partition=-1", &e); code != 400 {
		t.Errorf("bad partition: %d %v", code, e)
	}
}

// TestReadinessEndpoint: the JSON the page reads, with the consumer
// offsets said to be unsynced rather than given a number.
func TestReadinessEndpoint(t *testing.T) {
	now := t0.Add(time.Minute)
	h := New(fakeSource{snap: snap1(100, 90, now, now)}, NewHistory(0, 0), 0, nil)
	h.now = func() time.Time { return now }
	var rd struct {
		Links   []map[string]any  `json:"links"`
		Mirrors []map[string]any  `json:"mirrors"`
		Defs    map[string]string `json:"definitions"`
	}
	getJSON(t, h, "/console/api/readiness", &rd)
	if len(rd.Links) != 1 || len(rd.Mirrors) != 1 {
		t.Fatalf("readiness = %+v", rd)
	}
	m := rd.Mirrors[0]
	if m["records_at_risk"] != 10.0 || m["consumer_offset_lag"] != nil || m["consumer_offsets"] != ConsumerOffsetsNotSynced {
		t.Errorf("mirror readiness = %v", m)
	}
	for _, k := range []string{"records_at_risk", "bytes_at_risk_estimate", "seconds_at_risk", "consumer_offset_lag"} {
		if rd.Defs[k] == "" {
			t.Errorf("no definition of %s", k)
		}
	}
}
