package model

import (
	"encoding/hex"
	"math/rand/v2"
	"strings"
)

// ID is a directory object id (a GUID) kept as 16 bytes instead of a string.
type ID [16]byte

// String formats the id as a lower-case GUID.
func (id ID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], id[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], id[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], id[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], id[8:10])
	b[23] = '-'
	hex.Encode(b[24:], id[10:])
	return string(b[:])
}

// ParseID parses a GUID in the 8-4-4-4-12 form.
func ParseID(s string) (ID, bool) {
	var id ID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return id, false
	}
	h := strings.ReplaceAll(s, "-", "")
	if _, err := hex.Decode(id[:], []byte(h)); err != nil {
		return id, false
	}
	return id, true
}

// newID draws a version-4 style GUID from r, so ids are reproducible from the seed.
func newID(r *rand.Rand) ID {
	var id ID
	a, b := r.Uint64(), r.Uint64()
	for i := 0; i < 8; i++ {
		id[i] = byte(a >> (8 * i))
		id[8+i] = byte(b >> (8 * i))
	}
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return id
}

// mustID parses a constant GUID.
func mustID(s string) ID {
	id, ok := ParseID(s)
	if !ok {
		panic("model: bad constant id " + s)
	}
	return id
}
