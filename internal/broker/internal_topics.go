package broker

import "fmt"

// OffsetsTopic is the internal topic that stores consumer group metadata
// and committed offsets, in Kafka's record formats.
const OffsetsTopic = "__consumer_offsets"

// isInternalTopic reports whether name is a broker-owned internal topic
// (Kafka's Topic.isInternal). Clients may read them, but not write or
// delete them.
func isInternalTopic(name string) bool { return name == OffsetsTopic }

// ErrInternalTopic is returned when a client tries to write to or delete an
// internal topic.
var ErrInternalTopic = fmt.Errorf("%w: internal topic", ErrInvalidTopic)
