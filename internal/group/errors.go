package group

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
)

// ErrClosed is returned for writes that were outstanding when the
// coordinator closed.
var ErrClosed = errors.New("group: coordinator closed")

// appendErrorCode is the error a client sees when the records of its
// request could not be written, as Kafka's coordinator maps them
// (GroupMetadataManager.appendGroupMetadataErrorToResponseError and the
// offset-commit variant of the old GroupCoordinator):
//
//   - UNKNOWN_TOPIC_OR_PARTITION, NOT_ENOUGH_REPLICAS(_AFTER_APPEND),
//     REQUEST_TIMED_OUT → COORDINATOR_NOT_AVAILABLE
//   - NOT_LEADER_OR_FOLLOWER, KAFKA_STORAGE_ERROR → NOT_COORDINATOR
//   - MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE, INVALID_FETCH_SIZE →
//     INVALID_COMMIT_OFFSET_SIZE for offset commits, UNKNOWN_SERVER_ERROR
//     for group metadata
//
// The Log reports Kafka errors by wrapping a *kerr.Error (the broker's
// AsKafkaError does this for log errors). An error that carries no Kafka
// error is an I/O failure of the log, which Kafka reports as
// KAFKA_STORAGE_ERROR, hence NOT_COORDINATOR; a write cut short by Close is
// COORDINATOR_NOT_AVAILABLE.
func appendErrorCode(err error, offsetCommit bool) int16 {
	if errors.Is(err, ErrClosed) {
		return kerr.CoordinatorNotAvailable.Code
	}
	var ke *kerr.Error
	if !errors.As(err, &ke) {
		return kerr.NotCoordinator.Code
	}
	switch ke {
	case kerr.UnknownTopicOrPartition, kerr.NotEnoughReplicas, kerr.NotEnoughReplicasAfterAppend,
		kerr.RequestTimedOut, kerr.CoordinatorNotAvailable:
		return kerr.CoordinatorNotAvailable.Code
	case kerr.NotLeaderForPartition, kerr.KafkaStorageError, kerr.NotCoordinator:
		return kerr.NotCoordinator.Code
	case kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidFetchSize:
		if offsetCommit {
			return kerr.InvalidCommitOffsetSize.Code
		}
		return kerr.UnknownServerError.Code
	default:
		return ke.Code
	}
}
