package node

import (
	"strconv"

	"github.com/tandem-streaming/tandem/internal/pwenc"
)

// passwordEncoder builds the encoder of sensitive cluster link configs
// from Kafka's password.encoder.* keys (validated by config.LoadBroker;
// read-only, so only server.properties and flags set them). nil when no
// secret is set.
func passwordEncoder(props map[string]string) (*pwenc.Encoder, error) {
	iter := pwenc.DefaultIterations
	if v, ok := props["password.encoder.iterations"]; ok {
		iter, _ = strconv.Atoi(v)
	}
	return pwenc.New(props["password.encoder.secret"], props["password.encoder.old.secret"], iter)
}
