// Package pack builds and reads pack files: many objects, compressed with
// zstd in groups (not one by one, for ratio and speed), each group sealed
// with AES-256-GCM, followed by an encrypted header that lists every entry so
// the index can be rebuilt from packs alone.
//
// Layout:
//
//	group_0 ‖ … ‖ group_n-1 ‖ sealed header ‖ uint32 LE header length ‖ "EVP1"
//
// A pack's name is a keyed hash (HMAC-SHA256) of its header, which holds the
// SHA-256 of every compressed group, so the name is derived from the content
// and identical content gets an identical name. The GCM nonce of group i is
// derived from the name and i, and the name plus i is the associated data: a
// group cannot be moved to another pack or position without detection.
//
// This package knows nothing about buckets, snapshots or the index; it must
// not import other repository packages except content and crypto.
package pack
