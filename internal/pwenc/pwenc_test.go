package pwenc

import (
	"errors"
	"strings"
	"testing"
)

func TestRoundTripAndFormat(t *testing.T) {
	e, err := New("s3cret-broker", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	const plain = `org.apache.kafka.common.security.plain.PlainLoginModule required username="k" password="hunter2";`
	a, err := e.Encode(plain, "link east sasl.jaas.config")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := e.Encode(plain, "link east sasl.jaas.config")
	if a == b {
		t.Error("two encodings of one value are equal: salt and nonce must be fresh")
	}
	if !IsEncoded(a) || !strings.HasPrefix(a, Prefix+"4096:") || strings.Contains(a, "hunter2") {
		t.Errorf("encoded = %q", a)
	}
	got, old, err := e.Decode(a, "link east sasl.jaas.config")
	if err != nil || got != plain || old {
		t.Fatalf("Decode = %q, %v, %v", got, old, err)
	}
	// The context is authenticated: a value moved to another key or link
	// does not decrypt.
	if _, _, err := e.Decode(a, "link west sasl.jaas.config"); !errors.Is(err, ErrDecrypt) {
		t.Errorf("other context: %v", err)
	}
	// A wrong secret is detected.
	other, _ := New("another", "", 0)
	if _, _, err := other.Decode(a, "link east sasl.jaas.config"); !errors.Is(err, ErrDecrypt) {
		t.Errorf("wrong secret: %v", err)
	}
	// No secret: nothing is encoded, and stored values cannot be read.
	var none *Encoder
	if _, err := none.Encode("x", "c"); !errors.Is(err, ErrNoSecret) {
		t.Errorf("nil encoder Encode: %v", err)
	}
	if _, _, err := none.Decode(a, "link east sasl.jaas.config"); !errors.Is(err, ErrNoSecret) {
		t.Errorf("nil encoder Decode: %v", err)
	}
	// Tampering is detected.
	tampered := a[:len(a)-2] + "AA"
	if _, _, err := e.Decode(tampered, "link east sasl.jaas.config"); err == nil {
		t.Error("tampered value decoded")
	}
	for _, bad := range []string{"plain", Prefix, Prefix + "x:a:b:c", Prefix + "4096:!!:a:b"} {
		if _, _, err := e.Decode(bad, "c"); !errors.Is(err, ErrFormat) {
			t.Errorf("Decode(%q) = %v, want ErrFormat", bad, err)
		}
	}
}

// TestRotation: values written with the old secret are read with
// password.encoder.old.secret while the new one is in place.
func TestRotation(t *testing.T) {
	before, _ := New("old-secret", "", 2000)
	enc, _ := before.Encode("pw", "ctx")
	after, err := New("new-secret", "old-secret", 0)
	if err != nil {
		t.Fatal(err)
	}
	got, usedOld, err := after.Decode(enc, "ctx")
	if err != nil || got != "pw" || !usedOld {
		t.Fatalf("Decode with the old secret = %q, %v, %v", got, usedOld, err)
	}
	if _, err := New("", "old-secret", 0); err == nil {
		t.Error("old secret without a secret accepted")
	}
	if _, err := New("s", "", 10); err == nil {
		t.Error("iterations below Kafka's minimum accepted")
	}
	if e, err := New("", "", 0); e != nil || err != nil {
		t.Errorf("no secret: %v, %v", e, err)
	}
}
