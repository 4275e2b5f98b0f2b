package repository

import (
	"context"
	"fmt"
)

// Current returns an object as the snapshot being written holds it so far:
// what this run Put, else (unless the run is Full and has not seen it) the
// parent's version. Incremental readers merge partial updates onto it.
// Objects stored this run are answered from a bounded in-memory copy
// (maxRecent); beyond it, content still in the open pack is flushed first.
func (w *Writer) Current(ctx context.Context, objType, id string) ([]byte, error) {
	if err := w.usable(); err != nil {
		return nil, err
	}
	e, ok, err := w.lookup(objKey(objType, id))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s %s: %w", objType, id, ErrNotFound)
	}
	if raw, ok := w.recent[e.cid]; ok {
		return append([]byte(nil), raw...), nil
	}
	if _, pending := w.pending[e.cid]; pending {
		// Stored this run, not indexed yet and not kept in memory.
		if err := w.flush(); err != nil {
			return nil, err
		}
	}
	raw, _, err := w.r.readContent(ctx, e.cid)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", objType, id, err)
	}
	return append([]byte(nil), raw...), nil
}

// Has reports whether the snapshot being written holds an object so far,
// by the same rule as Current, without reading it.
func (w *Writer) Has(objType, id string) (bool, error) {
	if err := w.usable(); err != nil {
		return false, err
	}
	_, ok, err := w.lookup(objKey(objType, id))
	return ok, err
}

func (w *Writer) lookup(key string) (entry, bool, error) {
	e, ok, err := w.changed(key)
	if err != nil {
		return entry{}, false, err
	}
	if !ok {
		// A full run starts from nothing: the parent's objects count only
		// once Put again.
		i, inParent := w.parentIndex(key)
		if !inParent || (w.opts.Full && !w.hasSeen(i)) {
			return entry{}, false, nil
		}
		e = w.parentList[i]
	}
	return e, !e.deleted, nil
}
