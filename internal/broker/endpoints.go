package broker

// Endpoint is the address one Kafka listener advertises.
type Endpoint struct {
	Listener string // the listener's name (upper case, as in Conn.Listener)
	Host     string
	Port     int32
}

// advertised is the host and port to give a client on c: the advertised
// address of the listener c came in on. As Kafka's Metadata does (it
// returns each broker's endpoint for the request's listener name), a client
// is never told another listener's address: an EXTERNAL client must not be
// sent to an INTERNAL address it cannot reach, and the reverse would take
// an internal client off its network path (seed "Understanding Listeners
// in Cluster Linking"). A connection without a known listener (in-process
// callers and tests that name none) gets the first listener's.
func (b *Broker) advertised(c *Conn) (string, int32) {
	if c != nil {
		for _, e := range b.endpoints {
			if e.Listener == c.Listener {
				return e.Host, e.Port
			}
		}
	}
	return b.AdvertisedAddr()
}
