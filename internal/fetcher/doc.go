// Package fetcher copies partitions of a remote Kafka-protocol cluster
// into local logs, batch for batch and offset for offset: the data plane
// of cluster-link mirror topics now, and of replica followers later.
//
// It follows Kafka's replication fetcher, split the same way:
//
//   - fetchState (state.go) is PartitionFetchState together with the
//     per-partition logic of AbstractFetcherThread: Resolving (ListOffsets
//     for a new mirror's start or after OFFSET_OUT_OF_RANGE), Truncating
//     (OffsetForLeaderEpoch, KIP-101/279), Fetching (with LastFetchedEpoch
//     and DivergingEpoch, KIP-595), plus back-off (Delayed), Paused and
//     Failed. It is deterministic and does no network I/O; it reads and
//     changes only its Target.
//   - engine (engine.go) is the rest of AbstractFetcherThread that is not
//     I/O, for one fetcher: fetch order, round planning, response
//     application. The transcript tests (testdata/*.txt) drive it.
//   - Policy (policy.go) is what the engine leaves to the kind of fetcher:
//     where a partition starts, what happens to fetched data
//     (ProcessPartitionData) and OFFSET_OUT_OF_RANGE recovery.
//     MirrorPolicy is a cluster link's mirror; a replica follower will be
//     another.
//   - Effects (effects.go): what a partition needs from the Fetcher's
//     owner (raising a mirror partition's leader epoch, KIP-1279) is
//     returned by the state machine, applied by Config.OnEffect on a
//     goroutine of the Fetcher's and acknowledged back to the worker as a
//     command; the batches that need it are held back meanwhile.
//   - LeaderEndpoint and Source (endpoint.go) are Kafka's LeaderEndPoint;
//     KafkaSource (remote.go) implements them with raw kmsg requests on
//     franz-go clients, as a consumer (ReplicaID -1, read_uncommitted).
//   - worker (worker.go) is a fetcher thread: one goroutine per (source
//     broker, fetcher id) running the engine against an endpoint.
//   - Fetcher (fetcher.go, placement.go) is AbstractFetcherManager: it
//     places partitions on their leaders' workers from the source's
//     metadata, or on leaders it is told (SetLeaders), and moves them when
//     leaders move.
//
// With MirrorPolicy, targets (*log.Log) receive source batches unchanged
// through AppendVerbatim, so offsets, partition leader epochs, CRCs, compaction
// gaps, transactional and control batches are the source's. See
// docs/mirroring.md for the semantics, the Kafka behaviour followed, the
// deviations, ownership and lock order.
package fetcher
