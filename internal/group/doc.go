// Package group is Tandem's group coordinator: Kafka's classic consumer
// group protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup), committed
// offsets (OffsetCommit, OffsetFetch, OffsetDelete) and group
// administration (DescribeGroups, ListGroups, DeleteGroups), with every
// change persisted in __consumer_offsets in Kafka's own record formats.
//
// # Shards
//
// Groups are spread over the partitions of __consumer_offsets exactly as
// Kafka spreads them (Partition: Java's String.hashCode of the group id).
// Each partition is a shard with its own goroutine that alone owns the
// shard's groups and offsets, so nothing in a shard is locked; Kafka's
// CoordinatorRuntime makes the same promise ("operations for a single
// partition are never processed concurrently"). A shard loads by replaying
// its partition; until it has, requests for its groups get
// COORDINATOR_LOAD_IN_PROGRESS.
//
// # A pure state machine
//
// The coordinator logic (shardState) is a deterministic state machine in
// the style of raft's RawNode: it takes a request, the clock reaching a
// deadline, or a write completing, each stamped with the time it happens,
// and produces responses and record batches to append. Timers are
// deadlines it keeps itself; its owner only has to wake it. It does no
// I/O, which is what lets the tests drive it with a manual clock and a log
// whose writes complete when the test says.
//
// # Durability
//
// A request that changes state is answered only once its records are
// durable (Kafka: "the response is parked until the records are
// committed"): OffsetCommit, the leader's SyncGroup (the assignment), a
// static member's replacement, LeaveGroup and DeleteGroups. Committed
// offsets change only when their records are durable, so OffsetFetch never
// shows an offset a crash could take back. When a write fails the client
// gets the error Kafka maps it to, and what the write was for is undone.
//
// Groups are persisted when a generation's assignment is decided and when
// they become Empty, as GroupMetadataKey/Value v3 records; offsets as
// OffsetCommitKey/Value records (value v1 when the commit carries an
// expire timestamp, else v3); deletions as tombstones. A group that has
// never completed a rebalance has nothing worth recovering and is not
// persisted, as in Kafka's original coordinator (the rewritten one writes
// an empty record at creation, which replays to the same Empty group).
//
// # Integration
//
// The broker provides a Log per shard and a Topics lookup (see their
// documentation), calls Start once __consumer_offsets exists and Close at
// shutdown, and calls the API methods from its handlers' Reply.Wait; a
// JoinGroup's context carries the client's id and address
// (WithClientInfo).
package group
