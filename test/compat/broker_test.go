package compat

import (
	"testing"

	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// startBroker starts a fresh Tandem broker (in process, on a free loopback
// port, with a temporary data directory) for one test and returns its
// bootstrap address. The tests themselves are broker-agnostic Kafka tests;
// they were developed against franz-go's kfake first.
var startBroker = func(t *testing.T) string {
	t.Helper()
	return tandemtest.Start(t).Addr()
}
