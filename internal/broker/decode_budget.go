package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/wire"
)

// Defaults of request.decoded.max.bytes and request.decoded.total.max.bytes,
// used when Options.Static leaves them zero (tests that build a
// BrokerConfig by hand).
const (
	defaultDecodedMaxBytes      = 64 << 20
	defaultDecodedTotalMaxBytes = 256 << 20
)

// decodeBudget bounds the memory of decoded requests (issue #9): one
// request may take at most perRequest, and all requests between decoding
// and being answered at most total. Estimates come from wire.Prescan, made
// before kmsg allocates anything.
type decodeBudget struct {
	perRequest, total int64
	inUse             atomic.Int64
}

func newDecodeBudget(perRequest, total int64) *decodeBudget {
	if perRequest <= 0 {
		perRequest = defaultDecodedMaxBytes
	}
	if total <= 0 {
		total = defaultDecodedTotalMaxBytes
	}
	return &decodeBudget{perRequest: perRequest, total: total}
}

// acquire reserves n bytes of the broker-wide budget, or reports that the
// request would pass it.
func (d *decodeBudget) acquire(n int64) bool {
	for {
		cur := d.inUse.Load()
		if cur+n > d.total {
			return false
		}
		if d.inUse.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

// decode pre-scans body and decodes it with what the scan reserved. The
// returned release gives the reservation back; it may be called any number
// of times. A request over the per-request budget, or that would pass the
// broker's, is refused before kmsg allocates: wrapping wire.ErrDecodeBudget,
// so the server closes the connection, as Kafka does for a request it
// cannot accept (InvalidRequestException).
func (d *decodeBudget) decode(h wire.Header, body []byte) (kmsg.Request, func(), error) {
	scan, err := wire.Prescan(h, body, d.perRequest)
	if errors.Is(err, wire.ErrDecodeBudget) {
		return nil, nil, fmt.Errorf("%s v%d: %w (request.decoded.max.bytes=%d)", kmsg.NameForKey(h.Key), h.Version, err, d.perRequest)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s v%d: %w", kmsg.NameForKey(h.Key), h.Version, err)
	}
	if !d.acquire(scan.Decoded) {
		return nil, nil, fmt.Errorf("%w: %s v%d needs %d bytes; %d of request.decoded.total.max.bytes=%d in use",
			wire.ErrDecodeBudget, kmsg.NameForKey(h.Key), h.Version, scan.Decoded, d.inUse.Load(), d.total)
	}
	var once sync.Once
	release := func() { once.Do(func() { d.inUse.Add(-scan.Decoded) }) }
	req, err := wire.DecodeRequest(h, body)
	if err != nil {
		release()
		return nil, nil, err
	}
	return req, release, nil
}

// holdUntilAnswered keeps a request's reservation until its reply is
// complete: at once for an immediate reply, after Wait for a deferred one,
// and in any case when ctx (the connection) ends, since a reply whose
// connection is gone may never be waited on.
func holdUntilAnswered(ctx context.Context, r Reply, release func()) Reply {
	if r.Wait == nil {
		release()
		return r
	}
	stop := context.AfterFunc(ctx, release)
	wait := r.Wait
	r.Wait = func() kmsg.Response {
		defer func() {
			stop()
			release()
		}()
		return wait()
	}
	return r
}
