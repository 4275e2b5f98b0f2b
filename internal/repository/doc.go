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
// Changed objects are stored as a delta against their previous version (the
// differing middle run; chains of at most 8), so 30 daily snapshots of a
// tenant with 1% daily churn take about 1.1x the space of one.
//
// An object too large to hold whole (an "all employees" group's member
// list) is written piece by piece (Writer.PutParts): each piece is a blob,
// deduplicated on its own, and the object is the list of them; readers see
// one object, and Writer.Open streams it. The caller cuts pieces where the
// content says (member ids), so a change rewrites one piece.
//
// # Memory
//
// A writer holds neither its parent's object map (incremental runs look
// keys up in cached tree chunks, full runs keep 24 bytes an entry, Commit
// streams the parent) nor its own changes (spilled to sorted runs in a
// temporary file). What grows with the repository is the index, ≈ 52 bytes
// a blob, whose large arrays are mapped outside the Go heap with each
// writer's pack buffer, so they do not also raise the GC's target.
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
// # Integrity
//
// Everything but config is authenticated with the data key. A manifest or
// index file is named by the keyed hash of its plaintext, and every read
// recomputes it: one copied or renamed to another name in the bucket fails
// with ErrCorrupt (Snapshot and Snapshots refuse it, the index leaves it
// out, prune refuses to run, verify names it, rebuild-index replaces bad
// index files). Repositories written before this check hold the same names,
// so they open unchanged.
//
// # Durability
//
// Every blob is written once with IfNotExist. On file:// (fileblob renames
// a temp file but never fsyncs) the store fsyncs each written file and its
// directory before returning, and the directory after each delete, so a
// committed snapshot survives power loss and prune's deletion order holds on
// disk. What a crash can leave behind: packs and index files of an
// unfinished run (ignored, removed by the next prune) and fileblob temp
// files (*.tmp, ignored by listings). fileblob's IfNotExist is not atomic
// across processes; all names except config and locks are content-derived,
// so a lost race rewrites identical content, and lock names are random.
//
// # Concurrency
//
// Backups take shared locks, prune an exclusive one (locks/, restic style:
// refreshed every 5 minutes, stale after 30). A writer refreshes the index
// once it holds its lock, so it never deduplicates against a blob prune
// removed; Commit refuses to write a manifest if its lock may have gone
// stale. Readers take no lock: if prune moved a blob they reload the index
// and retry. A checkpoint outlives its lock only as long as no prune runs;
// ResumeWriter then fails with ErrCheckpointLost rather than commit a
// snapshot with holes.
//
// # Immutability
//
// Nothing is overwritten, so the bucket can enforce write-once retention:
//
//   - s3: create the bucket with Object Lock and a default retention
//     (COMPLIANCE or GOVERNANCE, e.g. 30 days); every new object gets it.
//     Prune's deletes of still-locked objects then fail with an error and
//     the repository stays consistent (manifests are deleted first, so a
//     failed pack delete only leaves garbage for the next prune).
//   - azblob: enable version-level immutability with a time-based
//     retention policy on the container (or a legal hold).
//
// Lock files are locked too and cannot be released; they go stale after 30
// minutes, so with a bucket-wide default retention prune succeeds only 30
// minutes after the last backup. Keep the retention shorter than the prune policy's oldest kept snapshot,
// or prune will report errors until the locks expire; blobs that new
// snapshots still reference by deduplication are not re-locked (no
// kopia-style lock extension yet), so the lock protects history for the
// retention period, not indefinitely.
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
