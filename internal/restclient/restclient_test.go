package restclient

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
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
