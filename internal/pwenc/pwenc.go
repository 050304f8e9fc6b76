// Package pwenc encrypts sensitive config values (passwords, private keys,
// JAAS lines) before they are stored, with a secret of the broker's, as
// Kafka's PasswordEncoder does for dynamically set passwords with
// password.encoder.secret. Cluster links use it for their sensitive
// configs (cluster-linking.md §1.2: Confluent brokers need
// password.encoder.secret to store them).
//
// # Format (version 1)
//
// An encoded value is one line of text:
//
//	tandem-pwenc:v1:<iterations>:<salt>:<nonce>:<ciphertext>
//
// salt (16 random bytes), nonce (12 random bytes) and ciphertext (with
// its 16-byte GCM tag) are unpadded URL-safe base64. The key is
// PBKDF2-HMAC-SHA512(secret, salt, iterations) of 32 bytes, a fresh salt
// per value, and the value is sealed with AES-256-GCM. The caller's
// context string (for a link config: the link and key names) is the GCM
// additional data, so a stored value moved to another key or link does
// not decrypt. Kafka's own encoding (AES-CBC with a separate key length
// and cipher algorithm setting) is not used: GCM authenticates, so a wrong
// secret is detected, never turned into a wrong password.
package pwenc

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Prefix starts every encoded value (version 1).
const Prefix = "tandem-pwenc:v1:"

// DefaultIterations is Kafka's default password.encoder.iterations.
const DefaultIterations = 4096

// MinIterations is Kafka's minimum for password.encoder.iterations.
const MinIterations = 1024

const (
	saltLen = 16
	keyLen  = 32 // AES-256
)

// Sentinels. Their text can reach users (a link's error), so it is a
// plain phrase; it never holds a value.
var (
	// ErrNoSecret: a sensitive value must be stored but the broker has
	// no password.encoder.secret.
	ErrNoSecret = errors.New("password.encoder.secret is not set")
	// ErrDecrypt: a stored value does not decrypt with the broker's
	// secrets (another secret encrypted it, or it was altered).
	ErrDecrypt = errors.New("stored secret cannot be decrypted with password.encoder.secret")
	// ErrFormat: a stored value is not in a format this version reads.
	ErrFormat = errors.New("stored secret is not in a known format")
)

// Encoder encrypts with its secret and decrypts with it or, during a
// rotation, with the old secret (Kafka's password.encoder.old.secret). A
// nil *Encoder has no secret: Encode fails with ErrNoSecret.
type Encoder struct {
	secret, old string
	iterations  int
}

// New returns an encoder, or nil when secret is empty (no secret set;
// oldSecret alone is useless and refused, as nothing could be encoded).
func New(secret, oldSecret string, iterations int) (*Encoder, error) {
	if iterations == 0 {
		iterations = DefaultIterations
	}
	if iterations < MinIterations {
		return nil, fmt.Errorf("password.encoder.iterations must be at least %d", MinIterations)
	}
	if secret == "" {
		if oldSecret != "" {
			return nil, errors.New("password.encoder.old.secret is set without password.encoder.secret: the old secret is only used to read values while they are re-encrypted with the new one")
		}
		return nil, nil
	}
	return &Encoder{secret: secret, old: oldSecret, iterations: iterations}, nil
}

// IsEncoded reports whether v is an encoded value (of any version this
// package writes).
func IsEncoded(v string) bool { return strings.HasPrefix(v, "tandem-pwenc:") }

// Encode encrypts plain for the context ctx (which must be given again to
// Decode).
func (e *Encoder) Encode(plain, ctx string) (string, error) {
	if e == nil {
		return "", ErrNoSecret
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	aead, err := newAEAD(e.secret, salt, e.iterations)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	ct := aead.Seal(nil, nonce, []byte(plain), []byte(ctx))
	b := base64.RawURLEncoding
	return Prefix + strconv.Itoa(e.iterations) + ":" + b.EncodeToString(salt) + ":" + b.EncodeToString(nonce) + ":" + b.EncodeToString(ct), nil
}

// Decode decrypts a value Encode made for the same ctx, with the secret
// or else the old secret. usedOld reports that the old secret was needed
// (the value should be encoded again with the new one).
func (e *Encoder) Decode(enc, ctx string) (plain string, usedOld bool, err error) {
	if !strings.HasPrefix(enc, Prefix) {
		return "", false, ErrFormat
	}
	parts := strings.Split(strings.TrimPrefix(enc, Prefix), ":")
	if len(parts) != 4 {
		return "", false, ErrFormat
	}
	iter, err := strconv.Atoi(parts[0])
	if err != nil || iter < 1 || iter > 10_000_000 {
		return "", false, ErrFormat
	}
	var raw [3][]byte
	for i, p := range parts[1:] {
		if raw[i], err = base64.RawURLEncoding.DecodeString(p); err != nil {
			return "", false, ErrFormat
		}
	}
	salt, nonce, ct := raw[0], raw[1], raw[2]
	if e == nil {
		return "", false, ErrNoSecret
	}
	for i, secret := range []string{e.secret, e.old} {
		if secret == "" {
			continue
		}
		aead, err := newAEAD(secret, salt, iter)
		if err != nil {
			return "", false, err
		}
		if len(nonce) != aead.NonceSize() {
			return "", false, ErrFormat
		}
		if p, err := aead.Open(nil, nonce, ct, []byte(ctx)); err == nil {
			return string(p), i == 1, nil
		}
	}
	return "", false, ErrDecrypt
}

func newAEAD(secret string, salt []byte, iter int) (cipher.AEAD, error) {
	key, err := pbkdf2.Key(sha512.New, secret, salt, iter, keyLen)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
