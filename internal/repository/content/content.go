package content

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
)

// ID identifies stored content: SHA-256 of canonical JSON for objects, of the
// raw bytes for internal tree blobs.
type ID [32]byte

// String returns the id in lowercase hex.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short returns the first 8 hex digits, for messages.
func (id ID) Short() string { return hex.EncodeToString(id[:4]) }

// IsZero reports whether id is the zero value.
func (id ID) IsZero() bool { return id == ID{} }

// Parse reads an id written by String.
func Parse(s string) (ID, error) {
	var id ID
	if len(s) != 2*len(id) {
		return id, fmt.Errorf("content id %q: want %d hex digits", s, 2*len(id))
	}
	_, err := hex.Decode(id[:], []byte(s))
	return id, err
}

// ErrInvalidJSON is returned for input that is not a single valid JSON value.
var ErrInvalidJSON = errors.New("invalid JSON")

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// Sum returns the id of a JSON document: SHA-256 of its canonical form.
// raw is not modified.
func Sum(raw []byte) (ID, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	v := jsontext.Value(append((*bp)[:0], raw...))
	// Canonicalize rewrites in place; raw must stay byte-exact for restore.
	if err := v.Canonicalize(); err != nil {
		return ID{}, fmt.Errorf("%w: %v", ErrInvalidJSON, err)
	}
	*bp = v[:0]
	return sha256.Sum256(v), nil
}

// Canonical returns the RFC 8785 form of raw.
func Canonical(raw []byte) ([]byte, error) {
	v := jsontext.Value(append([]byte(nil), raw...))
	if err := v.Canonicalize(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidJSON, err)
	}
	return v, nil
}

// SumBytes returns the id of opaque bytes (internal blobs).
func SumBytes(b []byte) ID { return sha256.Sum256(b) }
