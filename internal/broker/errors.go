package broker

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tandem-streaming/tandem/internal/acl"
	"github.com/tandem-streaming/tandem/internal/config"
	"github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/partition"
	"github.com/tandem-streaming/tandem/internal/record"
)

// errorCode maps a domain error to the Kafka error a client should see.
// This is the one place where the vocabulary changes (HACKING.md: errors
// become Kafka codes only in handlers).
func errorCode(err error) *kerr.Error {
	var ke *kerr.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ke):
		return ke
	case errors.Is(err, partition.ErrPartitionOffline), errors.Is(err, log.ErrLogFailed):
		// Before the classes below: the cause of an offline partition
		// (damage found by recovery, say) is not the request's fault.
		// Retriable: clients refresh metadata and retry.
		return kerr.KafkaStorageError
	case errors.Is(err, metadata.ErrUnknownTopic), errors.Is(err, partition.ErrUnknownTopic),
		errors.Is(err, partition.ErrUnknownPartition):
		return kerr.UnknownTopicOrPartition
	case errors.Is(err, metadata.ErrTopicExists):
		return kerr.TopicAlreadyExists
	case errors.Is(err, metadata.ErrInvalidPartitions), errors.Is(err, ErrInvalidPartitions):
		return kerr.InvalidPartitions
	case errors.Is(err, ErrInvalidTopic):
		return kerr.InvalidTopicException
	case errors.Is(err, ErrInvalidReplicationFactor):
		return kerr.InvalidReplicationFactor
	case errors.Is(err, ErrInvalidReplicaAssignment):
		return kerr.InvalidReplicaAssignment
	case errors.Is(err, ErrTopicDeletionDisabled):
		return kerr.TopicDeletionDisabled
	case errors.Is(err, ErrInvalidRequest), errors.Is(err, acl.ErrInvalidBinding):
		return kerr.InvalidRequest
	case errors.Is(err, config.ErrUnknownConfig), errors.Is(err, config.ErrInvalidValue),
		errors.Is(err, config.ErrReadOnly):
		return kerr.InvalidConfig
	case errors.Is(err, log.ErrOffsetOutOfRange):
		return kerr.OffsetOutOfRange
	case errors.Is(err, log.ErrRecordTooLarge):
		return kerr.MessageTooLarge
	case errors.Is(err, log.ErrInvalidTimestamp):
		return kerr.InvalidTimestamp
	case errors.Is(err, log.ErrOutOfOrderSequence):
		return kerr.OutOfOrderSequenceNumber
	case errors.Is(err, log.ErrInvalidProducerEpoch):
		return kerr.InvalidProducerEpoch
	case errors.Is(err, log.ErrInvalidTxnState):
		return kerr.InvalidTxnState
	case errors.Is(err, log.ErrTransactionCoordinatorFenced):
		return kerr.TransactionCoordinatorFenced
	case errors.Is(err, log.ErrFencedLeaderEpoch):
		return kerr.FencedLeaderEpoch
	case errors.Is(err, record.ErrCorrupt):
		return kerr.CorruptMessage
	case errors.Is(err, record.ErrUnsupportedMagic):
		return kerr.UnsupportedForMessageFormat
	case errors.Is(err, record.ErrInvalidRecord), errors.Is(err, log.ErrInvalidRecord):
		return kerr.InvalidRecord
	case errors.Is(err, context.DeadlineExceeded):
		return kerr.RequestTimedOut
	case errors.Is(err, log.ErrClosed):
		// The partition stopped being hosted under the request (its
		// topic was deleted): retriable, and the client's metadata
		// refresh then finds the topic gone (Kafka answers a removed
		// replica the same way).
		return kerr.NotLeaderForPartition
	default:
		// Anything else below the handler is an I/O failure of the log
		// directory (Kafka: KAFKA_STORAGE_ERROR, retriable).
		return kerr.KafkaStorageError
	}
}

// codeOf is errorCode's numeric code, 0 for nil.
func codeOf(err error) int16 {
	if ke := errorCode(err); ke != nil {
		return ke.Code
	}
	return 0
}

// msgOf returns err's text for the ErrorMessage fields newer versions carry.
func msgOf(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	return &s
}

// AsKafkaError returns err with the Kafka error it maps to in its chain,
// for surfaces other than the Kafka protocol (the HTTP API) that report
// Kafka error codes too.
func AsKafkaError(err error) error {
	if err == nil {
		return nil
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return err
	}
	return &kafkaError{ke: errorCode(err), err: err}
}

type kafkaError struct {
	ke  *kerr.Error
	err error
}

func (e *kafkaError) Error() string   { return e.err.Error() }
func (e *kafkaError) Unwrap() []error { return []error{e.ke, e.err} }
