package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"

	"github.com/twmb/franz-go/pkg/kmsg"
)

//go:generate go run ./internal/schemagen -o schema_gen.go -extra ConsumerMemberMetadata

// Why a pre-scan. kmsg decodes a request by allocating each array
// (make([]T, n)) before it reads the elements. v1.15.1 checks n against
// the bytes that remain times the element's minimum wire size, so one
// request cannot claim more elements than it carries, but an element of
// 16 wire bytes (a Fetch v4 partition) decodes to a Go struct several times
// that, and a legal 100 MiB Fetch naming ~6.5M partitions drove RSS past
// 4 GiB (issue #9). Prescan walks the body the way kmsg will, using the
// schema kmsg is generated from (schema_gen.go), and adds up what decoding
// will allocate, before kmsg allocates anything: the broker refuses a
// request over its budget, as Kafka refuses a malformed request
// (InvalidRequestException) by closing the connection.

var (
	// ErrNoSchema: the pre-scan has no schema for the request's key or
	// version, so its decoding cost is unknown and it is refused.
	ErrNoSchema = errors.New("wire: no request schema")
	// ErrDecodeBudget: decoding the request would allocate more than the
	// budget allows (request.decoded.max.bytes, or what is left of
	// request.decoded.total.max.bytes).
	ErrDecodeBudget = errors.New("wire: request exceeds the decoded-memory budget")
)

// Scan is what Prescan learned about a request body.
type Scan struct {
	// Decoded estimates the bytes kmsg allocates to decode the body: the
	// request struct, every array (elements × Go element size), copied
	// strings and unknown tagged fields. Byte fields alias the frame and
	// cost nothing.
	Decoded int64
	// Elements counts array elements; Tags counts tagged fields.
	Elements, Tags int64
	// Used is how many body bytes the walk consumed; kmsg ignores any
	// bytes after the body, and so do we.
	Used int
}

// Prescan walks body, the request h names, without allocating, and reports
// what decoding it will cost. It fails with ErrMalformed where kmsg would
// fail (a length past the end, a count larger than the bytes left, a bad
// varint), with ErrDecodeBudget as soon as the estimate passes budget, and
// with ErrNoSchema for a key or version it has no schema for. The work is
// linear in len(body): every count is checked against the bytes left before
// anything loops over it.
func Prescan(h Header, body []byte, budget int64) (Scan, error) {
	m, ok := requestSchemas[h.Key]
	if !ok || h.Version < 0 || h.Version > m.maxVersion {
		return Scan{}, fmt.Errorf("%w: %s v%d", ErrNoSchema, NameForKey(h.Key), h.Version)
	}
	if m.bindErr != nil {
		return Scan{}, fmt.Errorf("%w: %s: %v", ErrNoSchema, m.name, m.bindErr)
	}
	return m.scan(body, h.Version, budget)
}

func (m *msgSchema) scan(body []byte, version int16, budget int64) (Scan, error) {
	s := scanner{src: body, version: version, flexible: m.flexFrom >= 0 && version >= m.flexFrom, budget: budget}
	s.charge(m.goSize)
	fields := m.fields
	if m.versionField {
		// The first field is the message's own int16 version, and the
		// rest is read at that version, whatever it is, as kmsg does.
		if b := s.fixed(2); b != nil {
			s.version = int16(binary.BigEndian.Uint16(b))
		}
		fields = fields[1:]
	}
	if s.err == nil {
		s.structFields(fields)
	}
	s.scan.Used = len(body) - len(s.src)
	return s.scan, s.err
}

// PrescanConsumerMemberMetadata is Prescan for a consumer-protocol
// subscription (kmsg.ConsumerMemberMetadata), which a JoinGroup carries
// as opaque bytes and the group coordinator decodes: its string arrays
// cost up to 8 times their bytes.
func PrescanConsumerMemberMetadata(b []byte, budget int64) (Scan, error) {
	m := otherSchemas["ConsumerMemberMetadata"]
	if m.bindErr != nil {
		return Scan{}, fmt.Errorf("%w: %s: %v", ErrNoSchema, m.name, m.bindErr)
	}
	return m.scan(b, 0, budget)
}

// kind is a field's wire type.
type kind uint8

const (
	kBool kind = iota + 1
	kInt8
	kInt16
	kUint16
	kInt32
	kUint32
	kInt64
	kFloat64
	kUUID
	kVarint
	kVarlong
	kString      // int16 length, or compact (uvarint length+1) when flexible
	kBytes       // int32 length, or compact when flexible
	kVarintBytes // zigzag varint length; negative is null
	kStruct
	kArray       // int32 count, or compact when flexible
	kVarintArray // zigzag varint count
)

// anyVersion is a field's max version when it has no upper bound.
const anyVersion = math.MaxInt16

// fieldSchema is one field of a request, an array's element, or a struct.
type fieldSchema struct {
	name     string
	kind     kind
	min, max int16 // the versions the field exists in
	tagged   bool  // a tagged field (KIP-482) numbered tag
	tag      uint32
	nullable bool  // nullable from version nullFrom on
	nullFrom int16 //
	elem     *fieldSchema
	fields   []fieldSchema
	// goSize is set at init from kmsg's types: the Go size of an array
	// element, or of the struct a nullable struct field points to.
	goSize int64
}

// msgSchema is a request message.
type msgSchema struct {
	name       string
	maxVersion int16
	flexFrom   int16 // first flexible version; -1 for none
	fields     []fieldSchema
	goSize     int64 // the kmsg request struct
	bindErr    error // a field kmsg's type does not have: the table drifted
	// versionField: the message starts with its own int16 version (a
	// "not top level, with version field" message such as
	// ConsumerMemberMetadata) rather than taking the request header's.
	versionField bool
}

// kmsg keeps a struct's unknown tagged fields in a map[uint32][]byte (the
// values alias the frame): the first costs the map and its first group of
// slots, each further one a slot and its share of growth.
const (
	unknownTagsMapCost = 320
	unknownTagCost     = 64
)

// nullableStringCost is the string header kmsg allocates for a non-null
// nullable string (it stores a *string).
const nullableStringCost = 16

func init() {
	// The private link requests have hand-written schemas
	// (linkapi_codec.go) and Go types of their own.
	for key, m := range linkAPISchemas {
		requestSchemas[key] = m
	}
	for key, m := range requestSchemas {
		req := RequestForKey(key)
		if req == nil {
			m.bindErr = fmt.Errorf("kmsg has no request for key %d", key)
			continue
		}
		t := reflect.TypeOf(req).Elem()
		m.goSize = int64(t.Size())
		m.bindErr = bindFields(m.fields, t)
	}
	for name, t := range map[string]reflect.Type{
		"ConsumerMemberMetadata": reflect.TypeOf(kmsg.ConsumerMemberMetadata{}),
	} {
		m := otherSchemas[name]
		if m == nil {
			panic("wire: no schema for " + name + "; go generate ./internal/wire")
		}
		m.goSize = int64(t.Size())
		m.bindErr = bindFields(m.fields, t)
	}
}

// bindFields sets the Go sizes of fields from t, the kmsg struct they
// decode into, matching fields by name (kmsg's generator uses the
// definitions' names).
func bindFields(fields []fieldSchema, t reflect.Type) error {
	for i := range fields {
		f := &fields[i]
		sf, ok := t.FieldByName(f.name)
		if !ok {
			return fmt.Errorf("%s has no field %s", t.Name(), f.name)
		}
		if err := bindField(f, sf.Type); err != nil {
			return err
		}
	}
	return nil
}

func bindField(f *fieldSchema, t reflect.Type) error {
	switch f.kind {
	case kArray, kVarintArray:
		if t.Kind() != reflect.Slice {
			return fmt.Errorf("field %s: %v is not a slice", f.name, t)
		}
		f.elem.goSize = int64(t.Elem().Size())
		return bindField(f.elem, t.Elem())
	case kStruct:
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
			f.goSize = int64(t.Size())
		}
		if t.Kind() != reflect.Struct {
			return fmt.Errorf("field %s: %v is not a struct", f.name, t)
		}
		return bindFields(f.fields, t)
	}
	return nil
}

// scanner walks a body. Like kbin.Reader it records the first failure and
// then reads nothing more.
type scanner struct {
	src      []byte
	version  int16
	flexible bool
	budget   int64
	scan     Scan
	err      error
}

func (s *scanner) fail(format string, args ...any) {
	if s.err == nil {
		s.err = fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
		s.src = nil
	}
}

func (s *scanner) charge(n int64) {
	s.scan.Decoded += n
	if s.err == nil && s.scan.Decoded > s.budget {
		s.err = fmt.Errorf("%w: decoding needs over %d bytes, budget %d", ErrDecodeBudget, s.scan.Decoded, s.budget)
		s.src = nil
	}
}

func (s *scanner) skip(n int, what string) {
	if n < 0 || n > len(s.src) {
		s.fail("%s: %d bytes past the end", what, n-len(s.src))
		return
	}
	s.src = s.src[n:]
}

func (s *scanner) fixed(n int) []byte {
	if len(s.src) < n {
		s.fail("short read")
		return nil
	}
	b := s.src[:n]
	s.src = s.src[n:]
	return b
}

// uvarint reads an unsigned varint of at most 5 bytes that fits 32 bits,
// as kbin does.
func (s *scanner) uvarint() uint32 {
	v, n := binary.Uvarint(s.src)
	if n <= 0 || n > 5 || v > math.MaxUint32 {
		s.fail("bad uvarint")
		return 0
	}
	s.src = s.src[n:]
	return uint32(v)
}

func (s *scanner) varint(maxLen int) int64 {
	v, n := binary.Varint(s.src)
	if n <= 0 || n > maxLen || (maxLen == 5 && (v > math.MaxInt32 || v < math.MinInt32)) {
		s.fail("bad varint")
		return 0
	}
	s.src = s.src[n:]
	return v
}

// in reports whether the field is read at version v. A field with no
// version bounds is read at any version, even a negative one in a message
// that carries its own version.
func (f *fieldSchema) in(v int16) bool { return (f.min == 0 || v >= f.min) && v <= f.max }

func (f *fieldSchema) nullAt(v int16) bool { return f.nullable && (f.nullFrom == 0 || v >= f.nullFrom) }

// structFields walks a struct's positional fields and, when flexible, its
// tagged-field section.
func (s *scanner) structFields(fields []fieldSchema) {
	for i := range fields {
		f := &fields[i]
		if f.tagged || !f.in(s.version) {
			continue
		}
		s.value(f)
		if s.err != nil {
			return
		}
	}
	if s.flexible {
		s.tags(fields)
	}
}

// tags walks a tagged-field section: a count, then per field a tag number,
// a size and that many bytes. Every field takes at least two bytes, so a
// count above half the bytes left is malformed, whatever kmsg would do.
func (s *scanner) tags(fields []fieldSchema) {
	n := s.uvarint()
	if s.err != nil {
		return
	}
	if int64(n) > int64(len(s.src)/2) {
		s.fail("%d tagged fields in %d bytes", n, len(s.src))
		return
	}
	unknown := 0
	for ; n > 0 && s.err == nil; n-- {
		tag := s.uvarint()
		size := s.uvarint()
		if s.err != nil {
			return
		}
		if int64(size) > int64(len(s.src)) {
			s.fail("tag %d: %d bytes, %d left", tag, size, len(s.src))
			return
		}
		s.scan.Tags++
		span, rest := s.src[:size], s.src[size:]
		f := taggedField(fields, tag)
		if f == nil {
			if unknown++; unknown == 1 {
				s.charge(unknownTagsMapCost)
			}
			s.charge(unknownTagCost)
			s.src = rest
			continue
		}
		// A known tag is decoded from its own span; bytes it leaves
		// unread are ignored, as kmsg does.
		s.src = span
		s.value(f)
		if s.err == nil {
			s.src = rest
		}
	}
}

// taggedField finds tag among fields whatever the version: kmsg decodes a
// known tag it finds, so its cost counts.
func taggedField(fields []fieldSchema, tag uint32) *fieldSchema {
	for i := range fields {
		if fields[i].tagged && fields[i].tag == tag {
			return &fields[i]
		}
	}
	return nil
}

func (s *scanner) value(f *fieldSchema) {
	switch f.kind {
	case kBool, kInt8:
		s.fixed(1)
	case kInt16, kUint16:
		s.fixed(2)
	case kInt32, kUint32:
		s.fixed(4)
	case kInt64, kFloat64:
		s.fixed(8)
	case kUUID:
		s.fixed(16)
	case kVarint:
		s.varint(5)
	case kVarlong:
		s.varint(10)
	case kString, kBytes:
		s.text(f)
	case kVarintBytes:
		if l := s.varint(5); l > 0 {
			s.skip(int(l), f.name)
			s.charge(l) // kmsg copies a varint string; count bytes alike
		}
	case kStruct:
		if f.nullAt(s.version) {
			// A nullable struct is an int8 marker (-1: null) and, if
			// present, a new(T).
			b := s.fixed(1)
			if b == nil || int8(b[0]) == -1 {
				return
			}
			s.charge(f.goSize)
		}
		s.structFields(f.fields)
	case kArray, kVarintArray:
		s.array(f)
	default:
		s.fail("field %s: unknown kind %d", f.name, f.kind)
	}
}

// text walks a string or bytes field the way kmsg's readString and
// readBytes do, charging the copy kmsg makes of a string.
func (s *scanner) text(f *fieldSchema) {
	var l int64
	switch {
	case s.flexible:
		l = int64(s.uvarint()) - 1
	case f.kind == kString:
		if b := s.fixed(2); b != nil {
			l = int64(int16(binary.BigEndian.Uint16(b)))
		}
	default:
		if b := s.fixed(4); b != nil {
			l = int64(int32(binary.BigEndian.Uint32(b)))
		}
	}
	if s.err != nil {
		return
	}
	null := f.nullAt(s.version)
	if l < 0 {
		if null || (f.kind == kBytes && l == -1) {
			return // null, or kmsg's empty non-nullable bytes
		}
		s.fail("field %s: length %d", f.name, l)
		return
	}
	s.skip(int(l), f.name)
	if f.kind == kString {
		if null {
			s.charge(nullableStringCost)
		}
		s.charge(l)
	}
}

// array walks an array: its count is checked against the bytes left (as
// kbin does, and Kafka's generated readers: "Tried to allocate a collection
// of size N, but there are only M bytes remaining", MessageDataGenerator)
// and its allocation charged before any element is walked, as kmsg
// allocates before it reads them.
func (s *scanner) array(f *fieldSchema) {
	var n int64
	switch {
	case f.kind == kVarintArray:
		n = s.varint(5)
	case s.flexible:
		n = int64(int32(s.uvarint()) - 1) // int32 arithmetic, as kbin's
	default:
		if b := s.fixed(4); b != nil {
			n = int64(int32(binary.BigEndian.Uint32(b)))
		}
	}
	if s.err != nil || n <= 0 {
		return // null and negative counts decode as empty
	}
	if n > int64(len(s.src)) {
		s.fail("field %s: %d elements in %d bytes", f.name, n, len(s.src))
		return
	}
	s.charge(n * f.elem.goSize)
	s.scan.Elements += n
	for ; n > 0 && s.err == nil; n-- {
		s.value(f.elem)
	}
}
