package restclient

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"
)

func TestNormalizeURL(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:8090":          "http://127.0.0.1:8090",
		"http://h:1/kafka/v3/":    "http://h:1",
		"https://h:1/proxy/kafka": "https://h:1/proxy",
		"  http://h:1  ":          "http://h:1",
	} {
		if got, err := NormalizeURL(in); err != nil || got != want {
			t.Errorf("NormalizeURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "ftp://h:1", "http://"} {
		if _, err := NormalizeURL(bad); err == nil {
			t.Errorf("NormalizeURL(%q) accepted", bad)
		}
	}
}

func TestDoErrorsAndCluster(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/kafka/v3/clusters":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"data":[{"cluster_id":"c1"}]}`))
		case "/kafka/v3/clusters/c1/links":
			w.WriteHeader(409)
			_, _ = w.Write([]byte(`{"error_code":40901,"message":"link exists"}`))
		default:
			w.WriteHeader(502)
		}
	}))
	defer srv.Close()
	c, err := New(srv.URL, "test", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = c.InCluster(ctx, http.MethodPost, "/links", nil, map[string]int{}, nil)
	var re *Error
	if !errors.As(err, &re) || re.Status != 409 || re.Code != 40901 || re.Message != "link exists" {
		t.Fatalf("error answer: %v", err)
	}
	if err := c.Do(ctx, http.MethodGet, "/x", nil, nil, nil); !errors.As(err, &re) || re.Code != 502 || re.Message != "Bad Gateway" {
		t.Fatalf("bare error answer: %v", err)
	}
	srv.Close()
	c2, _ := New(srv.URL, "test", time.Second)
	if _, err := c2.Cluster(ctx); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("unreachable: %v", err)
	}
}

// TestDoHeaders pins what every request carries: a body always goes with
// Content-Type: application/json (the server refuses a POST or PUT body
// without it), and a request without a body sends neither.
func TestDoHeaders(t *testing.T) {
	type seen struct{ method, ctype, accept, ua, body string }
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, seen{r.Method, r.Header.Get("Content-Type"), r.Header.Get("Accept"), r.Header.Get("User-Agent"), string(b)})
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	c, err := New(srv.URL, "test/1", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, m := range []string{http.MethodPost, http.MethodPut} {
		if err := c.Do(ctx, m, "/x", nil, map[string]string{"a": "b"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []string{http.MethodGet, http.MethodDelete} {
		if err := c.Do(ctx, m, "/x", nil, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	want := []seen{
		{"POST", "application/json", "application/json", "test/1", `{"a":"b"}`},
		{"PUT", "application/json", "application/json", "test/1", `{"a":"b"}`},
		{"GET", "", "application/json", "test/1", ""},
		{"DELETE", "", "application/json", "test/1", ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("requests = %+v\nwant %+v", got, want)
	}
}
