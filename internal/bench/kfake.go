package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// ErrKfakeOptions reports options ServeKfake cannot honour.
var ErrKfakeOptions = errors.New("bench: invalid kfake options")

// ServeKfake runs franz-go's kfake as a single standalone broker listening on
// addr (host:port) until ctx ends, so that a comparison can run it as its own
// process, like any other server (`tandem bench kfake`).
//
// What the modes mean for kfake (pkg/kfake config.go, data.go, persist.go):
//
//   - dataDir == "": kfake still writes every batch through its segment
//     and index code, but into an in-memory filesystem; nothing touches
//     the disk.
//   - dataDir != "" ("data on disk"): each produced batch is appended with
//     write(2) to a segment file plus an index entry under dataDir, through
//     the OS page cache; segments are fsynced only when they roll and on
//     shutdown, like Kafka's default log.flush settings. Only batch
//     metadata stays in memory: every fetch reads the batches back from
//     the segment files (seek + read per batch). Group and producer-ID
//     state is logged to files there too.
//   - syncWrites (needs dataDir): additionally fsync the segment and index
//     file after every batch, so an acknowledged produce is durable.
//   - blackhole: produce is validated (CRC, sequence numbers) and offsets
//     advance, but the records are dropped; there is nothing to consume.
//     This is the ceiling: the client plus the protocol, no storage.
//
// kfake checks each batch's header and CRC but does not decompress or
// validate the records inside (Kafka's LogValidator does), and it handles
// every request on one goroutine (Cluster.run), so it is a reference point
// for protocol and client cost, not a tuned broker.
func ServeKfake(ctx context.Context, addr, dataDir string, blackhole, syncWrites bool) error {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: address %q: %w", ErrKfakeOptions, addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return fmt.Errorf("%w: port %q", ErrKfakeOptions, portStr)
	}
	if syncWrites && dataDir == "" {
		return fmt.Errorf("%w: sync writes need a data directory", ErrKfakeOptions)
	}
	if blackhole && dataDir != "" {
		return fmt.Errorf("%w: a blackhole stores nothing; drop the data directory", ErrKfakeOptions)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		// kfake always listens on 127.0.0.1; honour addr's host instead.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(host, portStr))
		}),
		// Kafka's default auto.create.topics.enable=true.
		kfake.AllowAutoTopicCreation(),
	}
	if dataDir != "" {
		opts = append(opts, kfake.DataDir(dataDir))
	}
	if syncWrites {
		opts = append(opts, kfake.SyncWrites())
	}
	if blackhole {
		opts = append(opts, kfake.BlackholeProduce())
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return fmt.Errorf("bench: starting kfake: %w", err)
	}
	<-ctx.Done()
	c.Close()
	return nil
}
