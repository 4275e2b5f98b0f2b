package pack

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/entravault/entravault/internal/repository/content"
	"github.com/entravault/entravault/internal/repository/crypto"
	"github.com/klauspost/compress/zstd"
)

// Kind tells what a stored blob is.
type Kind uint8

const (
	// KindObject is an object's exact JSON; its id hashes the canonical form.
	KindObject Kind = 1
	// KindTree is internal metadata (snapshot trees); its id hashes the bytes.
	KindTree Kind = 2
	// KindDelta is an object stored as a delta against an earlier version
	// (Item.Base); its id is the object's content id, like KindObject.
	KindDelta Kind = 3
	// KindPart is a piece of a large object's bytes; its id hashes the
	// bytes.
	KindPart Kind = 4
	// KindParts is a large object stored as its parts: the data is their
	// ids, 32 bytes each, in order. Its id is the object's content id.
	KindParts Kind = 5
)

const (
	magic       = "EVP1"
	trailerSize = 4 + len(magic)
	headerGroup = 4 + 4 + 4 + 32
	headerEntry = 32 + 1 + 4 + 4 + 4
	headerIndex = 0xFFFFFFFF // nonce counter reserved for the header
)

// ErrCorrupt means a pack's bytes do not match what its name and header
// promise: bad trailer, failed authentication, wrong hash.
var ErrCorrupt = errors.New("pack corrupt")

// Item is one blob inside a group.
type Item struct {
	ID     content.ID
	Kind   Kind
	Offset uint32 // within the decompressed group
	Length uint32
	// Base and Depth are set for KindDelta: the version this one is a delta
	// against, and the length of the delta chain down to a full object.
	Base  content.ID
	Depth uint8
}

// Group is a sealed group's place inside its pack.
type Group struct {
	Off, Len uint32   // sealed bytes within the pack
	RawLen   uint32   // decompressed length
	Sum      [32]byte // SHA-256 of the compressed plaintext
}

// Entry is an item with its group.
type Entry struct {
	Item
	Group uint32
}

// Header is the decrypted pack header.
type Header struct {
	Groups  []Group
	Entries []Entry
}

var (
	encOnce sync.Once
	enc     *zstd.Encoder
	dec     *zstd.Decoder
)

func codecs() (*zstd.Encoder, *zstd.Decoder) {
	encOnce.Do(func() {
		var err error
		// EncodeAll/DecodeAll are safe for concurrent use; CRC is redundant
		// under GCM.
		enc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderCRC(false), zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20))
		if err != nil {
			panic(err)
		}
		dec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(64<<20))
		if err != nil {
			panic(err)
		}
	})
	return enc, dec
}

// Builder accumulates compressed groups until Seal. Not safe for concurrent use.
type Builder struct {
	keys *crypto.Keys
	// buf is the pack as it will be written: each compressed group is
	// followed by room for its authentication tag, so Seal encrypts in
	// place and a pack never needs a second copy (three backups at once
	// held 12 MiB packs twice over).
	buf     []byte
	hint    int
	hdr     Header
	hdrSize int // of the encoded header, so far
}

// NewBuilder returns an empty pack builder. sizeHint, the expected pack
// size, sizes its buffer once instead of growing it.
func NewBuilder(keys *crypto.Keys, sizeHint int) *Builder {
	return &Builder{keys: keys, hint: sizeHint}
}

// NewBuilderIn is NewBuilder writing packs into buf (emptied) while they
// fit: the caller owns it (e.g. memory outside the Go heap).
func NewBuilderIn(keys *crypto.Keys, buf []byte) *Builder {
	return &Builder{keys: keys, buf: buf[:0], hint: cap(buf)}
}

// Reset empties b for the next pack, keeping its buffer: the bytes Seal
// returned must no longer be in use.
func (b *Builder) Reset() {
	b.buf = b.buf[:0]
	b.hdr = Header{}
	b.hdrSize = 0
}

var tagRoom [crypto.Overhead]byte

// AddGroup compresses plain (the concatenated blobs described by items) as
// one group. plain may be reused by the caller afterwards.
func (b *Builder) AddGroup(plain []byte, items []Item) {
	if b.buf == nil {
		b.buf = make([]byte, 0, b.hint)
	}
	e, _ := codecs()
	start := len(b.buf)
	b.buf = e.EncodeAll(plain, b.buf)
	z := b.buf[start:]
	g := uint32(len(b.hdr.Groups))
	b.hdr.Groups = append(b.hdr.Groups, Group{Off: uint32(start), Len: uint32(len(z) + crypto.Overhead),
		RawLen: uint32(len(plain)), Sum: sha256.Sum256(z)})
	b.buf = append(b.buf, tagRoom[:]...)
	b.hdrSize += headerGroup
	for _, it := range items {
		b.hdr.Entries = append(b.hdr.Entries, Entry{Item: it, Group: g})
		b.hdrSize += headerEntry
		if it.Kind == KindDelta {
			b.hdrSize += 33
		}
	}
}

// Size is the pack's size so far, its header included: a pack of tiny
// objects has a header as large as its data.
func (b *Builder) Size() int { return len(b.buf) + b.hdrSize }

// Empty reports whether nothing was added.
func (b *Builder) Empty() bool { return len(b.hdr.Groups) == 0 }

// Seal encrypts everything and returns the pack's name, bytes and header.
// The bytes are the builder's buffer: valid until Reset.
func (b *Builder) Seal() (string, []byte, *Header) {
	plainHdr := EncodeHeader(&b.hdr)
	nameMAC := b.keys.MAC([]byte("pack"), plainHdr)
	name := fmt.Sprintf("%x", nameMAC)
	for i, g := range b.hdr.Groups {
		z := b.buf[g.Off : g.Off+g.Len-crypto.Overhead]
		b.keys.Seal(z[:0], nonce(b.keys, name, uint32(i)), z, ad(name, uint32(i)))
	}
	b.buf = slices.Grow(b.buf, len(plainHdr)+crypto.Overhead+trailerSize)
	start := len(b.buf)
	b.buf = b.keys.Seal(b.buf, nonce(b.keys, name, headerIndex), plainHdr, ad(name, headerIndex))
	b.buf = binary.LittleEndian.AppendUint32(b.buf, uint32(len(b.buf)-start))
	b.buf = append(b.buf, magic...)
	// A header of its own, trimmed: callers index it for the repository's
	// lifetime, and &b.hdr would keep the builder and its buffer alive
	// with it (that was most of a backup's heap, growing per pack).
	return name, b.buf, &Header{Groups: slices.Clone(b.hdr.Groups), Entries: slices.Clone(b.hdr.Entries)}
}

func nonce(k *crypto.Keys, name string, i uint32) []byte {
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], i)
	// Deterministic per (pack, group): a name is bound to its exact
	// plaintext, so a repeated nonce only ever re-encrypts identical data.
	return k.MAC([]byte("nonce"), []byte(name), n[:])[:crypto.NonceSize]
}

func ad(name string, i uint32) []byte {
	return binary.LittleEndian.AppendUint32([]byte(name), i)
}

// EncodeHeader serialises a header (used by index files).
func EncodeHeader(h *Header) []byte {
	out := make([]byte, 0, 8+len(h.Groups)*headerGroup+len(h.Entries)*headerEntry)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(h.Groups)))
	for _, g := range h.Groups {
		out = binary.LittleEndian.AppendUint32(out, g.Off)
		out = binary.LittleEndian.AppendUint32(out, g.Len)
		out = binary.LittleEndian.AppendUint32(out, g.RawLen)
		out = append(out, g.Sum[:]...)
	}
	out = binary.LittleEndian.AppendUint32(out, uint32(len(h.Entries)))
	for _, e := range h.Entries {
		out = append(out, e.ID[:]...)
		out = append(out, byte(e.Kind))
		out = binary.LittleEndian.AppendUint32(out, e.Group)
		out = binary.LittleEndian.AppendUint32(out, e.Offset)
		out = binary.LittleEndian.AppendUint32(out, e.Length)
		if e.Kind == KindDelta {
			out = append(out, e.Base[:]...)
			out = append(out, e.Depth)
		}
	}
	return out
}

// DecodeHeader parses EncodeHeader output.
func DecodeHeader(b []byte) (*Header, error) {
	bad := fmt.Errorf("%w: malformed header", ErrCorrupt)
	if len(b) < 4 {
		return nil, bad
	}
	n := int(binary.LittleEndian.Uint32(b))
	b = b[4:]
	if n > len(b)/headerGroup {
		return nil, bad
	}
	h := &Header{Groups: make([]Group, n)}
	for i := range h.Groups {
		g := &h.Groups[i]
		g.Off = binary.LittleEndian.Uint32(b)
		g.Len = binary.LittleEndian.Uint32(b[4:])
		g.RawLen = binary.LittleEndian.Uint32(b[8:])
		copy(g.Sum[:], b[12:44])
		b = b[headerGroup:]
	}
	if len(b) < 4 {
		return nil, bad
	}
	n = int(binary.LittleEndian.Uint32(b))
	b = b[4:]
	if n > len(b)/headerEntry {
		return nil, bad
	}
	h.Entries = make([]Entry, n)
	for i := range h.Entries {
		if len(b) < headerEntry {
			return nil, bad
		}
		e := &h.Entries[i]
		copy(e.ID[:], b[:32])
		e.Kind = Kind(b[32])
		e.Group = binary.LittleEndian.Uint32(b[33:])
		e.Offset = binary.LittleEndian.Uint32(b[37:])
		e.Length = binary.LittleEndian.Uint32(b[41:])
		if int(e.Group) >= len(h.Groups) || uint64(e.Offset)+uint64(e.Length) > uint64(h.Groups[e.Group].RawLen) {
			return nil, bad
		}
		b = b[headerEntry:]
		if e.Kind == KindDelta {
			if len(b) < 33 {
				return nil, bad
			}
			copy(e.Base[:], b[:32])
			e.Depth = b[32]
			b = b[33:]
		}
	}
	if len(b) != 0 {
		return nil, bad
	}
	return h, nil
}

// TrailerSize is how many bytes at the end of a pack hold the header length.
const TrailerSize = trailerSize

// HeaderLen reads the sealed header length from a pack's trailer.
func HeaderLen(trailer []byte) (int, error) {
	if len(trailer) != trailerSize || string(trailer[4:]) != magic {
		return 0, fmt.Errorf("%w: bad trailer", ErrCorrupt)
	}
	return int(binary.LittleEndian.Uint32(trailer)), nil
}

// OpenHeader decrypts a sealed header and checks that it hashes to name.
func OpenHeader(k *crypto.Keys, name string, sealed []byte) (*Header, error) {
	plain, err := k.Open(nil, nonce(k, name, headerIndex), sealed, ad(name, headerIndex))
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrCorrupt, err)
	}
	if fmt.Sprintf("%x", k.MAC([]byte("pack"), plain)) != name {
		return nil, fmt.Errorf("%w: header does not match pack name", ErrCorrupt)
	}
	return DecodeHeader(plain)
}

// ReadHeader parses a whole pack's header (used by verify and index rebuild).
func ReadHeader(k *crypto.Keys, name string, blob []byte) (*Header, error) {
	if len(blob) < trailerSize {
		return nil, fmt.Errorf("%w: too short", ErrCorrupt)
	}
	n, err := HeaderLen(blob[len(blob)-trailerSize:])
	if err != nil {
		return nil, err
	}
	end := len(blob) - trailerSize
	if n > end {
		return nil, fmt.Errorf("%w: header length out of range", ErrCorrupt)
	}
	return OpenHeader(k, name, blob[end-n:end])
}

// OpenGroup decrypts, checks and decompresses group i of pack name, given
// its sealed bytes and its header record.
func OpenGroup(k *crypto.Keys, name string, i uint32, g Group, sealed []byte) ([]byte, error) {
	z, err := k.Open(nil, nonce(k, name, i), sealed, ad(name, i))
	if err != nil {
		return nil, fmt.Errorf("%w: group %d: %v", ErrCorrupt, i, err)
	}
	if sha256.Sum256(z) != g.Sum {
		return nil, fmt.Errorf("%w: group %d: hash mismatch", ErrCorrupt, i)
	}
	_, d := codecs()
	plain, err := d.DecodeAll(z, make([]byte, 0, g.RawLen))
	if err != nil || len(plain) != int(g.RawLen) {
		return nil, fmt.Errorf("%w: group %d: decompress", ErrCorrupt, i)
	}
	return plain, nil
}

// EncodeDelta describes target as base with one middle run replaced: the
// common prefix and suffix are kept by length. Graph objects that changed
// usually differ in a property or two, so the delta is small.
func EncodeDelta(base, target []byte) []byte {
	p := 0
	for p < len(base) && p < len(target) && base[p] == target[p] {
		p++
	}
	s := 0
	for s < len(base)-p && s < len(target)-p && base[len(base)-1-s] == target[len(target)-1-s] {
		s++
	}
	out := binary.AppendUvarint(nil, uint64(p))
	out = binary.AppendUvarint(out, uint64(s))
	return append(out, target[p:len(target)-s]...)
}

// ApplyDelta rebuilds the target from base and an EncodeDelta result.
func ApplyDelta(base, delta []byte) ([]byte, error) {
	p, k := binary.Uvarint(delta)
	if k <= 0 {
		return nil, fmt.Errorf("%w: bad delta", ErrCorrupt)
	}
	delta = delta[k:]
	s, k := binary.Uvarint(delta)
	if k <= 0 || p+s > uint64(len(base)) {
		return nil, fmt.Errorf("%w: bad delta", ErrCorrupt)
	}
	mid := delta[k:]
	out := make([]byte, 0, int(p)+len(mid)+int(s))
	out = append(out, base[:p]...)
	out = append(out, mid...)
	return append(out, base[uint64(len(base))-s:]...), nil
}
