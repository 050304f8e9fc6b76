package wire

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"sort"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// fillRandom sets every field of the struct v points to at random: strings
// and bytes (sometimes nil where they can be), slices of 0-3 elements,
// optional structs, and unknown tagged fields (numbered past any known
// tag), so that what kmsg encodes exercises every shape the schema knows.
func fillRandom(rng *rand.Rand, v reflect.Value, depth int, top bool) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() || (top && sf.Name == "Version") {
			continue
		}
		fv := v.Field(i)
		if sf.Type == reflect.TypeOf(kmsg.Tags{}) {
			tags := fv.Addr().Interface().(*kmsg.Tags)
			for n := rng.IntN(3); n > 0; n-- {
				tags.Set(uint32(1000+rng.IntN(50)), randBytes(rng, 6))
			}
			continue
		}
		fillValue(rng, fv, depth)
	}
}

func randBytes(rng *rand.Rand, max int) []byte {
	b := make([]byte, rng.IntN(max+1))
	for i := range b {
		b[i] = byte('a' + rng.IntN(26))
	}
	return b
}

func fillValue(rng *rand.Rand, fv reflect.Value, depth int) {
	switch fv.Kind() {
	case reflect.Bool:
		fv.SetBool(rng.IntN(2) == 0)
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		fv.SetInt(int64(rng.IntN(5)) - 1)
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		fv.SetUint(uint64(rng.IntN(5)))
	case reflect.Float64:
		fv.SetFloat(rng.Float64())
	case reflect.String:
		fv.SetString(string(randBytes(rng, 8)))
	case reflect.Array: // uuid
		for i := 0; i < fv.Len(); i++ {
			fv.Index(i).SetUint(uint64(rng.IntN(256)))
		}
	case reflect.Pointer:
		if rng.IntN(3) == 0 {
			return
		}
		p := reflect.New(fv.Type().Elem())
		fillValue(rng, p.Elem(), depth)
		fv.Set(p)
	case reflect.Slice:
		if fv.Type().Elem().Kind() == reflect.Uint8 {
			if rng.IntN(4) > 0 {
				fv.SetBytes(randBytes(rng, 10))
			}
			return
		}
		if rng.IntN(4) == 0 || depth > 4 {
			return // nil
		}
		n := rng.IntN(4)
		s := reflect.MakeSlice(fv.Type(), n, n)
		for i := 0; i < n; i++ {
			fillValue(rng, s.Index(i), depth+1)
		}
		fv.Set(s)
	case reflect.Struct:
		fillRandom(rng, fv, depth+1, false)
	}
}

// countElements counts the elements of every array kmsg decoded: the
// slices reachable from v, except byte fields.
func countElements(v reflect.Value) int64 {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return 0
		}
		return countElements(v.Elem())
	case reflect.Struct:
		var n int64
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				n += countElements(v.Field(i))
			}
		}
		return n
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return 0
		}
		n := int64(v.Len())
		for i := 0; i < v.Len(); i++ {
			n += countElements(v.Index(i))
		}
		return n
	}
	return 0
}

func sortedKeys() []int16 {
	keys := make([]int16, 0, len(requestSchemas))
	for k := range requestSchemas {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

// TestPrescanMatchesKmsg is the cross-check that keeps the generated
// schema table and kmsg in step: for every request kmsg knows and every
// version, random requests encoded by kmsg and decoded back by kmsg must
// pre-scan without error, consuming exactly the body and counting exactly
// the array elements kmsg decoded.
func TestPrescanMatchesKmsg(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 9))
	for key := int16(0); key < 100; key++ {
		if req := kmsg.RequestForKey(key); req != nil {
			m, ok := requestSchemas[key]
			if !ok {
				t.Errorf("%s: no schema", kmsg.NameForKey(key))
				continue
			}
			if m.maxVersion != req.MaxVersion() {
				t.Errorf("%s: schema max version %d, kmsg %d", m.name, m.maxVersion, req.MaxVersion())
			}
		}
	}
	for _, key := range sortedKeys() {
		m := requestSchemas[key]
		if m.bindErr != nil {
			t.Errorf("%s: %v", m.name, m.bindErr)
			continue
		}
		for v := int16(0); v <= m.maxVersion; v++ {
			decoded := 0
			for i := 0; i < 40; i++ {
				req := RequestForKey(key) // kmsg's, or a private link request's
				fillRandom(rng, reflect.ValueOf(req).Elem(), 0, true)
				req.SetVersion(v)
				body := req.AppendTo(nil)
				back := RequestForKey(key)
				back.SetVersion(v)
				if err := back.ReadFrom(body); err != nil {
					continue // kmsg wrote something it cannot read (a null where the version has none)
				}
				decoded++
				h := Header{Key: key, Version: v}
				scan, err := Prescan(h, body, 1<<40)
				if err != nil {
					t.Fatalf("%s v%d: %v\nbody %x\n%+v", m.name, v, err, body, req)
				}
				if scan.Used != len(body) {
					t.Fatalf("%s v%d: walked %d of %d bytes\nbody %x\n%+v", m.name, v, scan.Used, len(body), body, req)
				}
				if want := countElements(reflect.ValueOf(back)); scan.Elements != want {
					t.Fatalf("%s v%d: %d elements, kmsg decoded %d\nbody %x\n%+v", m.name, v, scan.Elements, want, body, back)
				}
			}
			if decoded < 10 {
				t.Errorf("%s v%d: only %d of 40 random requests round-trip", m.name, v, decoded)
			}
		}
	}
}

// TestPrescanConsumerMemberMetadataMatchesKmsg is the cross-check for the
// subscription the group coordinator decodes: it carries its own version,
// which may be any int16.
func TestPrescanConsumerMemberMetadataMatchesKmsg(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	if err := otherSchemas["ConsumerMemberMetadata"].bindErr; err != nil {
		t.Fatal(err)
	}
	for _, v := range []int16{-1, 0, 1, 2, 3, 4, 100} {
		for i := 0; i < 200; i++ {
			var m kmsg.ConsumerMemberMetadata
			fillRandom(rng, reflect.ValueOf(&m).Elem(), 0, true)
			m.Version = v
			b := m.AppendTo(nil)
			var back kmsg.ConsumerMemberMetadata
			if err := back.ReadFrom(b); err != nil {
				continue
			}
			scan, err := PrescanConsumerMemberMetadata(b, 1<<30)
			if err != nil {
				t.Fatalf("v%d: %v\n%x", v, err, b)
			}
			if scan.Used != len(b) {
				t.Fatalf("v%d: walked %d of %d bytes", v, scan.Used, len(b))
			}
			if want := countElements(reflect.ValueOf(&back)); scan.Elements != want {
				t.Fatalf("v%d: %d elements, kmsg decoded %d", v, scan.Elements, want)
			}
		}
	}
	// Empty topic names at two bytes each: 16 bytes of []string per 2.
	b := binary.BigEndian.AppendUint16(nil, 0)
	b = binary.BigEndian.AppendUint32(b, 1<<20)
	b = append(b, make([]byte, 2<<20)...)
	b = binary.BigEndian.AppendUint32(b, 0xffffffff) // null user data
	if _, err := PrescanConsumerMemberMetadata(b, 8<<20); !errors.Is(err, ErrDecodeBudget) {
		t.Fatalf("err = %v, want ErrDecodeBudget", err)
	}
}

// TestPrescanEstimateCoversDecode: the estimate is not below what kmsg
// really allocates (up to the allocator's rounding), measured on large
// random requests of the APIs with the biggest arrays.
func TestPrescanEstimateCoversDecode(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 7))
	for _, tc := range []struct {
		key     int16
		version int16
	}{{1, 4}, {1, 12}, {1, 17}, {0, 9}, {3, 12}, {2, 7}, {8, 9}, {9, 8}, {19, 7}, {32, 4}} {
		req := kmsg.RequestForKey(tc.key)
		// Many elements: fill at random, then repeat the arrays' contents.
		for i := 0; i < 300; i++ {
			r := kmsg.RequestForKey(tc.key)
			fillRandom(rng, reflect.ValueOf(r).Elem(), 0, true)
			appendSlices(reflect.ValueOf(req).Elem(), reflect.ValueOf(r).Elem())
		}
		req.SetVersion(tc.version)
		body := req.AppendTo(nil)
		scan, err := Prescan(Header{Key: tc.key, Version: tc.version}, body, 1<<40)
		if err != nil {
			t.Fatalf("%s v%d: %v", kmsg.NameForKey(tc.key), tc.version, err)
		}
		// The least of a few decodes, so that an allocation elsewhere
		// in the process does not count.
		actual := int64(math.MaxInt64)
		for range 5 {
			var before, after runtime.MemStats
			back := kmsg.RequestForKey(tc.key)
			back.SetVersion(tc.version)
			runtime.GC()
			runtime.ReadMemStats(&before)
			err = back.ReadFrom(body)
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			actual = min(actual, int64(after.TotalAlloc-before.TotalAlloc))
		}
		t.Logf("%s v%d: %d bytes, %d elements, estimate %d, kmsg allocated %d", kmsg.NameForKey(tc.key), tc.version,
			len(body), scan.Elements, scan.Decoded, actual)
		// Size-class rounding adds up to ~1/8 for large objects and
		// more for tiny strings; the estimate must be close, and not
		// so generous that it refuses what fits.
		if raceEnabled {
			continue
		}
		if actual > scan.Decoded*5/4+4096 || scan.Decoded > 2*actual+4096 {
			t.Errorf("%s v%d: estimate %d, kmsg allocated %d", kmsg.NameForKey(tc.key), tc.version, scan.Decoded, actual)
		}
	}
}

// appendSlices appends each top-level slice of src to the same field of dst.
func appendSlices(dst, src reflect.Value) {
	for i := 0; i < dst.NumField(); i++ {
		if f := dst.Field(i); f.Kind() == reflect.Slice && f.Type().Elem().Kind() != reflect.Uint8 && f.CanSet() {
			f.Set(reflect.AppendSlice(f, src.Field(i)))
		}
	}
}

func TestPrescanRefuses(t *testing.T) {
	// A Fetch v4 naming one topic and many 16-byte partitions: the
	// estimate passes a small budget long before the walk ends.
	req := kmsg.NewPtrFetchRequest()
	req.Version = 4
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "unknown"
	rt.Partitions = make([]kmsg.FetchRequestTopicPartition, 100000)
	req.Topics = []kmsg.FetchRequestTopic{rt}
	body := req.AppendTo(nil)
	if _, err := Prescan(Header{Key: 1, Version: 4}, body, 1<<20); !errors.Is(err, ErrDecodeBudget) {
		t.Fatalf("err = %v, want ErrDecodeBudget", err)
	}
	if scan, err := Prescan(Header{Key: 1, Version: 4}, body, 1<<30); err != nil || scan.Elements != 100001 {
		t.Fatalf("scan %+v, err %v", scan, err)
	}
	for _, tt := range []struct {
		name string
		h    Header
		body []byte
		want error
	}{
		{"no schema", Header{Key: 9999}, nil, ErrNoSchema},
		{"version past the schema", Header{Key: 1, Version: 99}, nil, ErrNoSchema},
		{"tag count past the bytes", Header{Key: 18, Version: 3}, hostileApiVersions()[11:], ErrMalformed},
		{"array count past the bytes", Header{Key: 1, Version: 4}, body[:40], ErrMalformed},
		{"string past the end", Header{Key: 3, Version: 1}, []byte{0, 0, 0, 1, 0, 9, 'a'}, ErrMalformed},
	} {
		if _, err := Prescan(tt.h, tt.body, 1<<30); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}
