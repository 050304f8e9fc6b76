package mirror_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// TestMirrorMetrics mirrors a topic and checks the destination's /metrics:
// every partition's lag reaches 0 and the link's fetched-bytes counter is
// positive.
func TestMirrorMetrics(t *testing.T) {
	src := tandemtest.Start(t)
	dst := tandemtest.Start(t)
	scl := newClient(t, src.Addr(), kgo.DefaultProduceTopic("orders"))
	if _, err := kadm.NewClient(scl).CreateTopic(ctxT(t), 2, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		scl.Produce(ctxT(t), &kgo.Record{Value: []byte(fmt.Sprint("value-", i))}, nil)
	}
	if err := scl.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	mirrorOverLink(t, src, dst, "orders")

	bytesRe := regexp.MustCompile(`(?m)^tandem_link_fetched_bytes_total\{link="dr"\} (\S+)$`)
	var body string
	for deadline := time.Now().Add(30 * time.Second); ; {
		body = scrape(t, "http://"+dst.HTTPAddr()+"/metrics")
		caught := strings.Contains(body, `tandem_mirror_partition_lag{link="dr",partition="0",topic="orders"} 0`+"\n") &&
			strings.Contains(body, `tandem_mirror_partition_lag{link="dr",partition="1",topic="orders"} 0`+"\n")
		if m := bytesRe.FindStringSubmatch(body); caught && m != nil {
			if v, _ := strconv.ParseFloat(m[1], 64); v > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("mirror metrics never showed lag 0 and fetched bytes; last scrape:\n%s", grepLines(body, "tandem_link_", "tandem_mirror_"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{
		`tandem_link_state{link="dr",state="ACTIVE"} 1`,
		`tandem_link_mirrors{link="dr",state="ACTIVE"} 1`,
		`tandem_link_max_lag{link="dr"} 0`,
		`tandem_link_fetch_latency_seconds_count{link="dr"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// A Tandem source: the link fetches with LinkFetch (pipelined) by
	// default, and never with Kafka's Fetch.
	linkFetches := regexp.MustCompile(`(?m)^tandem_link_fetch_requests_total\{api="link_fetch",link="dr"\} (\S+)$`).FindStringSubmatch(body)
	if v := 0.0; linkFetches != nil {
		if v, _ = strconv.ParseFloat(linkFetches[1], 64); v == 0 {
			t.Errorf("no LinkFetch requests: %s", linkFetches[0])
		}
	} else {
		t.Errorf("/metrics lacks tandem_link_fetch_requests_total{api=\"link_fetch\"}:\n%s", grepLines(body, "tandem_link_fetch"))
	}
	if want := `tandem_link_fetch_requests_total{api="fetch",link="dr"} 0`; !strings.Contains(body, want) {
		t.Errorf("/metrics lacks %q:\n%s", want, grepLines(body, "tandem_link_fetch"))
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	return tandemtest.Get(t, url)
}

func grepLines(s string, prefixes ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
