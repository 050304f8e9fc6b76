package broker

// DescribeLogDirs: v1-4
//
// Behaviour:
//   - The one log directory (log.dirs) with the size of every requested
//     partition (all when Topics is null); OffsetLag is 0 and IsFuture false,
//     as there are no replica moves.
//   - v4+: TotalBytes/UsableBytes of the directory's file system (statfs).
//   - Authorization (KafkaApis.handleDescribeLogDirsRequest): DESCRIBE on
//     the cluster, else no directories and CLUSTER_AUTHORIZATION_FAILED
//     (the response's ErrorCode, v3+).
//
// Version notes:
//   - v2: flexible; v3: top-level ErrorCode; v4: TotalBytes/UsableBytes

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/partition"
)

func init() { register(kmsg.DescribeLogDirs, 1, 4, (*Broker).handleDescribeLogDirs) }

func (b *Broker) handleDescribeLogDirs(r *Request) Reply {
	req := r.Req.(*kmsg.DescribeLogDirsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	if !b.authorizedCluster(r, kmsg.ACLOperationDescribe) {
		// Kafka: no directories, and the error where the version has it.
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return now(resp)
	}
	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir = b.parts.Dir()
	dir.TotalBytes, dir.UsableBytes = -1, -1
	if total, usable, err := diskSpace(dir.Dir); err == nil {
		dir.TotalBytes, dir.UsableBytes = total, usable
	}
	add := func(t *partition.Topic, parts []int32) {
		dt := kmsg.NewDescribeLogDirsResponseDirTopic()
		dt.Topic = t.Name
		for _, p := range t.Partitions {
			if (parts != nil && !containsInt32(parts, p.Index)) || p.Log == nil {
				continue // an offline partition has no log here to describe
			}
			dp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
			dp.Partition = p.Index
			dp.Size = p.Log.Stats().Size
			dt.Partitions = append(dt.Partitions, dp)
		}
		if len(dt.Partitions) > 0 {
			dir.Topics = append(dir.Topics, dt)
		}
	}
	if req.Topics == nil {
		for _, t := range b.parts.Topics() {
			add(t, nil)
		}
	} else {
		for _, rt := range req.Topics {
			if t, ok := b.parts.Topic(rt.Topic); ok {
				add(t, rt.Partitions)
			}
		}
	}
	resp.Dirs = []kmsg.DescribeLogDirsResponseDir{dir}
	return now(resp)
}

func containsInt32(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
