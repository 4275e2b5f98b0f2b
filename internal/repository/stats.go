package repository

import (
	"context"

	"github.com/entravault/entravault/internal/repository/content"
	"github.com/entravault/entravault/internal/repository/pack"
)

// Stats summarises a repository.
type Stats struct {
	Snapshots  int
	Packs      int
	PackBytes  int64 // bytes of packs in the index
	IndexFiles int
	// Contents is the number of distinct stored blobs (objects and trees);
	// RawBytes their uncompressed size.
	Contents    int
	ObjectBlobs int // full objects plus DeltaBlobs
	DeltaBlobs  int // objects stored as a delta against an earlier version
	// PartsObjects are large objects stored as a list of PartBlobs
	// (Writer.PutParts); both count in ObjectBlobs.
	PartsObjects, PartBlobs int
	TreeBlobs               int
	RawBytes                int64
}

// Stats reads the index and snapshot list.
func (r *Repository) Stats(ctx context.Context) (Stats, error) {
	if err := r.refreshIndex(ctx); err != nil {
		return Stats{}, err
	}
	ms, err := r.listManifests(ctx)
	if err != nil {
		return Stats{}, err
	}
	s := Stats{Snapshots: len(ms)}
	r.idx.mu.RLock()
	defer r.idx.mu.RUnlock()
	s.IndexFiles = len(r.idx.files)
	s.Packs = len(r.idx.packs)
	for _, p := range r.idx.packs {
		s.PackBytes += p.size
	}
	s.Contents = r.idx.byID.len()
	r.idx.byID.each(func(_ content.ID, l loc) {
		if l.kind != pack.KindTree {
			s.ObjectBlobs++
			switch l.kind {
			case pack.KindDelta:
				s.DeltaBlobs++
			case pack.KindParts:
				s.PartsObjects++
			case pack.KindPart:
				s.PartBlobs++
			}
		} else {
			s.TreeBlobs++
		}
		s.RawBytes += int64(l.length)
	})
	return s, nil
}
