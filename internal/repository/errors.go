package repository

import "errors"

var (
	// ErrNotFound: no such snapshot, or no such object in a snapshot.
	ErrNotFound = errors.New("not found")
	// ErrWrongKey: the keeper could not unwrap the data key, or the key does
	// not match this repository. Nothing can be read.
	ErrWrongKey = errors.New("wrong repository key")
	// ErrCorrupt: stored bytes fail authentication or hashing (a flipped bit,
	// a truncated or substituted blob), or referenced data is missing.
	ErrCorrupt = errors.New("repository integrity error")
	// ErrLocked: another process holds a conflicting lock (prune vs backup).
	ErrLocked = errors.New("repository locked")
	// ErrExists: Init on a bucket that already holds a repository.
	ErrExists = errors.New("repository already exists")
	// ErrNoRepository: Open on a bucket without a repository config.
	ErrNoRepository = errors.New("no repository")
	// ErrInvalidObject: Put with bytes that are not one JSON value, or an
	// empty type or id.
	ErrInvalidObject = errors.New("invalid object")
	// ErrCheckpointLost: ResumeWriter could not find content the checkpoint
	// references (pruned after its lock went stale); restart the run.
	ErrCheckpointLost = errors.New("checkpoint no longer resumable")
	// ErrClosed: the writer was committed, aborted or failed.
	ErrClosed = errors.New("writer closed")
)
