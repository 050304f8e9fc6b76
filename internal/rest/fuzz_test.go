package rest

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzRequestBodies feeds arbitrary bodies to every endpoint that takes
// one. Whatever the input, the answer must be a client error or success,
// never a 5xx or a panic, and any body must be JSON.
func FuzzRequestBodies(f *testing.F) {
	for _, s := range []string{
		`{"topic_name":"x","partitions_count":3,"replication_factor":1,"configs":[{"name":"a","value":"1"}]}`,
		`{"data":[{"name":"a","value":"1"},{"name":"b","operation":"DELETE"}],"validate_only":true}`,
		`{"value":"1"}`,
		`{"topic_name":null}`,
		`{"data":[{"name":"a","operation":null}]}`,
		`[]`, `null`, `"x"`, `{`, ``,
	} {
		f.Add(s)
	}
	paths := []struct{ method, path string }{
		{"POST", cp + "/topics"},
		{"POST", cp + "/topics/orders/configs:alter"},
		{"PUT", cp + "/topics/orders/configs/retention.ms"},
	}
	f.Fuzz(func(t *testing.T, body string) {
		h := New(newFake(), nil, nil)
		for _, p := range paths {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(p.method, p.path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			h.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s %s with %q: %d %s", p.method, p.path, body, rec.Code, rec.Body)
			}
			if rec.Body.Len() > 0 && !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("%s %s with %q: non-JSON body %q", p.method, p.path, body, rec.Body)
			}
		}
	})
}
