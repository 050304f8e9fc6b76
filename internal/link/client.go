package link

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ClientOpts are the franz-go options with which a link reaches its source
// cluster, from the link's client configs (Kafka's meanings):
//
//   - bootstrap.servers, security.protocol (only PLAINTEXT connects today);
//   - socket.connection.setup.timeout.ms / .max.ms: the dial timeout
//     starts at the first and doubles with each consecutive failed dial to
//     the same address, up to the second (KIP-601);
//   - reconnect.backoff.ms / .max.ms: the wait before retrying a failed
//     request or connection grows exponentially from the first to the
//     second (Kafka's reconnect backoff; franz-go has one retry backoff for
//     both, so it stands for both here — retry.backoff.ms paces the
//     fetcher's metadata refreshes instead);
//   - request.timeout.ms, metadata.max.age.ms.
func ClientOpts(name string, configs map[string]string) ([]kgo.Opt, error) {
	if p := strings.ToUpper(Value(configs, "security.protocol")); p != "PLAINTEXT" {
		return nil, fmt.Errorf("%w: security.protocol=%s (only PLAINTEXT connections to the source)", ErrNotSupported, p)
	}
	var seeds []string
	for _, s := range strings.Split(Value(configs, "bootstrap.servers"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			seeds = append(seeds, s)
		}
	}
	backoff, backoffMax := Millis(configs, "reconnect.backoff.ms"), Millis(configs, "reconnect.backoff.max.ms")
	maxAge := Millis(configs, "metadata.max.age.ms")
	d := &dialer{min: Millis(configs, "socket.connection.setup.timeout.ms"),
		max: Millis(configs, "socket.connection.setup.timeout.max.ms"), failures: map[string]int{}}
	return []kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID("tandem-cluster-link-" + name),
		kgo.MetadataMaxAge(maxAge),
		// franz-go refuses a max age below its min age (5 s by default).
		kgo.MetadataMinAge(min(5*time.Second, maxAge)),
		kgo.RequestTimeoutOverhead(Millis(configs, "request.timeout.ms")),
		kgo.RetryBackoffFn(func(tries int) time.Duration {
			b := backoff
			for i := 1; i < tries && b < backoffMax; i++ {
				b *= 2
			}
			return min(b, backoffMax)
		}),
		kgo.Dialer(d.DialContext),
	}, nil
}

// dialer grows the connection-setup timeout per address after failures.
type dialer struct {
	min, max time.Duration
	mu       sync.Mutex
	failures map[string]int
}

func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	timeout := d.min
	for i := 0; i < d.failures[addr] && timeout < d.max; i++ {
		timeout *= 2
	}
	timeout = min(timeout, max(d.max, d.min))
	d.mu.Unlock()
	c, err := (&net.Dialer{Timeout: timeout}).DialContext(ctx, network, addr)
	d.mu.Lock()
	if err != nil {
		d.failures[addr]++
	} else {
		delete(d.failures, addr)
	}
	d.mu.Unlock()
	return c, err
}
