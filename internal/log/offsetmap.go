package log

import (
	"hash/maphash"
	"math"
)

// offsetMapEntryBytes is what one key costs in an offsetMap: a 128-bit key
// hash and an offset, the same 24 bytes per entry as Kafka's
// SkimpyOffsetMap (MD5 digest + offset), so log.cleaner.dedupe.buffer.size
// buys the same number of keys.
const offsetMapEntryBytes = 24

// offsetMapLoadFactor is the share of the slots the cleaner fills before it
// calls the map full (Kafka log.cleaner.io.buffer.load.factor, 0.9).
const offsetMapLoadFactor = 0.9

// offsetMapMinSlots is the initial table size; the table grows by doubling
// up to the memory budget, so a small log never costs the whole dedupe
// buffer (Kafka allocates it up front).
const offsetMapMinSlots = 1 << 10

// offsetMap maps a record key to the largest offset seen for it, as the
// cleaner's dedupe buffer (Kafka OffsetMap/SkimpyOffsetMap). Keys are
// stored as 128-bit hashes, never as bytes: like Kafka, a hash collision
// (probability ~n²/2¹²⁹) would make the cleaner treat two keys as one.
// Open addressing with double hashing over a prime number of slots.
//
// It is owned by one cleaning pass at a time (no locking).
type offsetMap struct {
	maxSlots int // slots affordable within the memory budget (a prime)
	slots    int
	hashes   [][2]uint64
	offsets  []int64 // offset+1; 0 marks an empty slot
	entries  int
	// latestOffset is the last offset of the last batch the map covers
	// (Kafka OffsetMap.latestOffset); -1 when empty.
	latestOffset int64
	seeds        [2]maphash.Seed
}

// newOffsetMap returns a map that uses at most about memory bytes.
func newOffsetMap(memory int64) *offsetMap {
	maxSlots := memory / offsetMapEntryBytes
	if maxSlots > math.MaxInt32 {
		maxSlots = math.MaxInt32
	}
	m := &offsetMap{maxSlots: prevPrime(int(max(maxSlots, 2))), latestOffset: -1,
		seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
	m.alloc(min(m.maxSlots, offsetMapMinSlots))
	return m
}

func (m *offsetMap) alloc(want int) {
	m.slots = prevPrime(max(want, 2))
	m.hashes = make([][2]uint64, m.slots)
	m.offsets = make([]int64, m.slots)
	m.entries = 0
}

// capacity is how many distinct keys the map accepts before it is full.
func (m *offsetMap) capacity() int {
	return max(int(float64(m.maxSlots)*offsetMapLoadFactor), 1)
}

// size is the number of distinct keys stored.
func (m *offsetMap) size() int { return m.entries }

// reset empties the map for the next pass, keeping its table.
func (m *offsetMap) reset() {
	clear(m.hashes)
	clear(m.offsets)
	m.entries = 0
	m.latestOffset = -1
}

func (m *offsetMap) hash(key []byte) [2]uint64 {
	return [2]uint64{maphash.Bytes(m.seeds[0], key), maphash.Bytes(m.seeds[1], key)}
}

// probe returns the slot holding h or the empty slot where it belongs.
func (m *offsetMap) probe(h [2]uint64) int {
	n := uint64(m.slots)
	i := h[0] % n
	step := 1 + h[1]%(n-1)
	for {
		if m.offsets[i] == 0 || m.hashes[i] == h {
			return int(i)
		}
		i += step
		if i >= n {
			i -= n
		}
	}
}

// put records offset as the latest for key. The caller checks size()
// against capacity() first; put grows the table as needed within the
// budget.
func (m *offsetMap) put(key []byte, offset int64) {
	h := m.hash(key)
	i := m.probe(h)
	if m.offsets[i] == 0 {
		if float64(m.entries+1) > float64(m.slots)*offsetMapLoadFactor && m.slots < m.maxSlots {
			m.grow()
			i = m.probe(h)
		}
		m.entries++
		m.hashes[i] = h
	}
	m.offsets[i] = offset + 1
}

func (m *offsetMap) grow() {
	oldH, oldO := m.hashes, m.offsets
	m.alloc(min(m.slots*2, m.maxSlots))
	for i, o := range oldO {
		if o != 0 {
			j := m.probe(oldH[i])
			m.hashes[j], m.offsets[j] = oldH[i], o
			m.entries++
		}
	}
}

// get returns the latest offset recorded for key, or -1.
func (m *offsetMap) get(key []byte) int64 {
	i := m.probe(m.hash(key))
	return m.offsets[i] - 1
}

// prevPrime returns the largest prime <= n (n >= 2). Prime table sizes
// make every double-hashing step visit every slot.
func prevPrime(n int) int {
	for ; n > 2; n-- {
		if isPrime(n) {
			return n
		}
	}
	return 2
}

func isPrime(n int) bool {
	if n < 2 {
		return false
	}
	if n%2 == 0 {
		return n == 2
	}
	for d := 3; d*d <= n; d += 2 {
		if n%d == 0 {
			return false
		}
	}
	return true
}
