package repository

import (
	"context"
	"fmt"

	"github.com/entravault/entravault/internal/repository/pack"
)

// RebuildReport says what RebuildIndex found.
type RebuildReport struct {
	Packs        int
	Unreadable   []string // packs whose header failed authentication
	IndexRemoved int
}

// RebuildIndex recreates the index from pack headers alone (each pack's
// header lists its blobs), for when index files were lost or damaged. It
// takes the exclusive lock. Packs with a damaged header are reported and
// left out; verify then names the objects they held.
func (r *Repository) RebuildIndex(ctx context.Context) (RebuildReport, error) {
	var rep RebuildReport
	l, err := r.lock(ctx, true)
	if err != nil {
		return rep, err
	}
	defer l.release(ctx)
	listed, err := r.st.list(ctx, "packs")
	if err != nil {
		return rep, err
	}
	var packs []packInfo
	for _, p := range listed {
		h, err := r.readPackHeader(ctx, p.name, p.size)
		if err != nil {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			rep.Unreadable = append(rep.Unreadable, p.name)
			continue
		}
		packs = append(packs, packInfo{name: p.name, size: p.size, header: h})
	}
	rep.Packs = len(packs)
	old, err := r.st.list(ctx, "index")
	if err != nil {
		return rep, err
	}
	// New index first, then remove the old files: never a moment without
	// an index for a pack.
	newName := ""
	if len(packs) > 0 {
		plain := encodeIndexFile(packs)
		newName = r.metaName("index", plain)
		if err := r.st.put(ctx, "index/"+newName, r.sealBlob("index", plain)); err != nil && !isExists(err) {
			return rep, err
		}
	}
	for _, f := range old {
		if f.name != newName {
			if err := r.st.del(ctx, "index/"+f.name); err != nil {
				return rep, err
			}
			rep.IndexRemoved++
		}
	}
	r.resetIndex()
	return rep, r.refreshIndex(ctx)
}

// readPackHeader reads just a pack's trailer and header.
func (r *Repository) readPackHeader(ctx context.Context, name string, size int64) (*pack.Header, error) {
	if size < int64(pack.TrailerSize) {
		return nil, fmt.Errorf("%w: pack %s too short", ErrCorrupt, name)
	}
	tr, err := r.st.getRange(ctx, "packs/"+name, size-int64(pack.TrailerSize), int64(pack.TrailerSize))
	if err != nil {
		return nil, err
	}
	n, err := pack.HeaderLen(tr)
	if err != nil || int64(n) > size-int64(pack.TrailerSize) {
		return nil, fmt.Errorf("%w: pack %s: bad trailer", ErrCorrupt, name)
	}
	sealed, err := r.st.getRange(ctx, "packs/"+name, size-int64(pack.TrailerSize)-int64(n), int64(n))
	if err != nil {
		return nil, err
	}
	return pack.OpenHeader(r.keys, name, sealed)
}
