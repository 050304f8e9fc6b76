package compat

import (
	"fmt"
	"github.com/IBM/sarama"
	"testing"
)

// allClients lists every client adapter, in the order the tests run them.
func allClients() []client {
	return []client{
		franzGo,
		saramaClient(sarama.V2_8_0_0),
		saramaClient(sarama.MaxVersion),
		kafkaGo,
		kafkaGoConn,
		confluent,
		kcat,
	}
}

// TestCompat produces and consumes with one client, for every codec.
func TestCompat(t *testing.T) {
	for _, cl := range allClients() {
		t.Run(cl.Name, func(t *testing.T) {
			for _, c := range codecs {
				t.Run(c.Name, func(t *testing.T) {
					t.Parallel()
					roundTrip(t, cl, cl, c, cl.DefaultIdempotent)
				})
			}
		})
	}
}

// TestCross produces with one client and consumes with another, for every
// ordered pair of different clients. Each pair uses one codec, rotating so
// that every consumer reads every codec from some producer; a few pairs are
// also run with a specific codec.
func TestCross(t *testing.T) {
	type crossCase struct {
		prod, cons client
		codec      codec
	}
	var cases []crossCase
	cls := allClients()
	for i, prod := range cls {
		for j, cons := range cls {
			if i != j {
				cases = append(cases, crossCase{prod, cons, codecs[(i+2*j)%len(codecs)]})
			}
		}
	}
	codec := func(name string) codec {
		for _, c := range codecs {
			if c.Name == name {
				return c
			}
		}
		panic("unknown codec " + name)
	}
	cases = append(cases,
		crossCase{saramaClient(sarama.V2_8_0_0), franzGo, codec("zstd")},
		crossCase{franzGo, kcat, codec("lz4")},
		crossCase{franzGo, confluent, codec("lz4")},
	)
	seen := make(map[string]bool)
	for _, tc := range cases {
		name := fmt.Sprintf("%s_to_%s/%s", tc.prod.Name, tc.cons.Name, tc.codec.Name)
		if seen[name] {
			continue
		}
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			roundTrip(t, tc.prod, tc.cons, tc.codec, tc.prod.DefaultIdempotent)
		})
	}
}

// TestIdempotent produces with each client's idempotent producer and checks
// that every batch carries a producer ID, nothing is duplicated, and offsets
// are contiguous.
func TestIdempotent(t *testing.T) {
	for _, cl := range allClients() {
		if !cl.Idempotent {
			continue
		}
		t.Run(cl.Name, func(t *testing.T) {
			t.Parallel()
			roundTrip(t, cl, franzGo, codecs[0], true)
		})
	}
}
