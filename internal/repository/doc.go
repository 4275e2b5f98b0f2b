// Package repository is Entravault's snapshot repository: content-addressed,
// packed, compressed, encrypted, immutable storage of backed-up Entra objects
// over gocloud.dev/blob. Nothing else writes to the bucket.
//
// # Model
//
// An object is the exact JSON Graph returned. Its content id is the SHA-256
// of its RFC 8785 canonical form (package content), so key order or
// whitespace alone is not a change; the bytes first stored for a content id
// are what Get returns.
//
// New content is appended to packs (package pack): zstd-compressed groups
// sealed with AES-256-GCM, written once under a keyed hash of their header
// with IfNotExist. Index files map content id → (pack, group, offset,
// length); they are immutable and can be rebuilt from pack headers.
//
// A snapshot is one run of one connector over one scope. Its manifest holds
// time, counts, per-scope state (delta links, watermarks) and the object map
// type/id → content id as a base tree (sorted, content-defined chunks shared
// between snapshots) plus a short chain of delta blobs, so an incremental run
// costs O(changes). The manifest is written last: a snapshot is visible only
// once its packs and index are durable, and a crash at any point leaves the
// old state or the new one.
//
// # Layout in the bucket
//
//	config              plaintext JSON: format version, data key wrapped by the keeper
//	packs/<name>        packs
//	index/<name>        encrypted index files
//	snapshots/<name>    encrypted manifests
//	locks/<name>        shared (backup) and exclusive (prune) locks
//
// Nothing is overwritten; only prune deletes.
//
// # Errors
//
// Callers branch with errors.Is on ErrNotFound, ErrWrongKey, ErrCorrupt,
// ErrLocked, ErrExists, ErrNoRepository, ErrInvalidObject, ErrCheckpointLost.
//
// # Imports
//
// This package imports gocloud.dev/blob and gocloud.dev/secrets plus the
// memblob, fileblob and localsecrets drivers it needs for OpenLocal and
// TestRepository. Cloud drivers are linked by package drivers. It must not
// import Temporal, Graph SDKs or any Entravault package outside
// internal/repository.
package repository
