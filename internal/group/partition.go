package group

import "github.com/tandem-streaming/tandem/internal/javautil"

// Partition returns the __consumer_offsets partition that owns groupID:
// Kafka's Utils.abs(groupId.hashCode()) % offsets.topic.num.partitions
// (GroupCoordinatorService.partitionFor). Every Kafka-compatible tool that
// reads __consumer_offsets, and any future second node, must agree on
// this, so it is computed exactly as Java does (internal/javautil).
func Partition(groupID string, numPartitions int32) int32 {
	return javautil.Abs(javautil.StringHashCode(groupID)) % numPartitions
}
