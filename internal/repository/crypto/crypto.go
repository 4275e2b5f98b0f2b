package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// KeySize is the size of the data key in bytes.
const KeySize = 32

// NonceSize is the AES-GCM nonce size.
const NonceSize = 12

// Overhead is the GCM tag size added to every sealed message.
const Overhead = 16

// ErrAuth means a ciphertext failed authentication: it was modified,
// truncated, or sealed under another key or name.
var ErrAuth = errors.New("message authentication failed")

// Keys are derived from one data key; safe for concurrent use.
type Keys struct {
	aead   cipher.AEAD
	macKey []byte
}

// NewDataKey returns a fresh random data key.
func NewDataKey() []byte {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return k
}

// Derive builds the working keys from a data key.
func Derive(dataKey []byte) (*Keys, error) {
	if len(dataKey) != KeySize {
		return nil, fmt.Errorf("data key: want %d bytes, got %d", KeySize, len(dataKey))
	}
	encKey, err := hkdf.Key(sha256.New, dataKey, nil, "entravault repository aes-256-gcm", 32)
	if err != nil {
		return nil, err
	}
	macKey, err := hkdf.Key(sha256.New, dataKey, nil, "entravault repository names hmac-sha256", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Keys{aead: aead, macKey: macKey}, nil
}

// Seal appends the encryption of plaintext to dst. nonce must never repeat
// for this key; ad binds the ciphertext to its place (e.g. the blob name).
func (k *Keys) Seal(dst, nonce, plaintext, ad []byte) []byte {
	return k.aead.Seal(dst, nonce, plaintext, ad)
}

// Open decrypts and authenticates; any mismatch returns ErrAuth.
func (k *Keys) Open(dst, nonce, ciphertext, ad []byte) ([]byte, error) {
	out, err := k.aead.Open(dst, nonce, ciphertext, ad)
	if err != nil {
		return nil, ErrAuth
	}
	return out, nil
}

// SealRandom seals with a fresh random nonce and returns nonce‖ciphertext.
// Used for small blobs (index, manifests).
func (k *Keys) SealRandom(plaintext, ad []byte) []byte {
	out := make([]byte, NonceSize, NonceSize+len(plaintext)+Overhead)
	if _, err := rand.Read(out); err != nil {
		panic(err)
	}
	return k.aead.Seal(out, out[:NonceSize], plaintext, ad)
}

// OpenRandom reverses SealRandom.
func (k *Keys) OpenRandom(blob, ad []byte) ([]byte, error) {
	if len(blob) < NonceSize+Overhead {
		return nil, ErrAuth
	}
	return k.Open(nil, blob[:NonceSize], blob[NonceSize:], ad)
}

// Name returns a keyed hash of parts, in hex: blob names derived from content
// that reveal nothing about it without the key.
func (k *Keys) Name(parts ...[]byte) string {
	m := hmac.New(sha256.New, k.macKey)
	for _, p := range parts {
		m.Write(p)
	}
	return hex.EncodeToString(m.Sum(nil))
}

// Check returns a value that proves possession of the key without revealing
// it; stored in the repository config to detect a wrong key early.
func (k *Keys) Check() string { return k.Name([]byte("entravault key check v1")) }

// MAC returns the raw keyed hash of parts.
func (k *Keys) MAC(parts ...[]byte) []byte {
	m := hmac.New(sha256.New, k.macKey)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}
