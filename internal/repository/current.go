package repository

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/entravault/entravault/internal/repository/content"
	"github.com/entravault/entravault/internal/repository/pack"
)

// Current returns an object as the snapshot being written holds it so far:
// what this run Put, else (unless the run is Full and has not seen it) the
// parent's version. Incremental readers merge partial updates onto it.
// Objects stored this run are answered from a bounded in-memory copy
// (maxRecent); beyond it, content still in the open pack is flushed first.
func (w *Writer) Current(ctx context.Context, objType, id string) ([]byte, error) {
	e, raw, err := w.locate(objType, id)
	if err != nil || raw != nil {
		return raw, err
	}
	if raw, _, err = w.r.readContent(ctx, e.cid); err != nil {
		return nil, fmt.Errorf("%s %s: %w", objType, id, err)
	}
	return append([]byte(nil), raw...), nil
}

// Open is Current as a reader: an object stored in parts (PutParts) is
// read one part at a time, so a caller can parse it without holding it
// whole.
func (w *Writer) Open(ctx context.Context, objType, id string) (io.Reader, error) {
	e, raw, err := w.locate(objType, id)
	if err != nil || raw != nil {
		return bytes.NewReader(raw), err
	}
	b, kind, err := w.r.readStored(ctx, e.cid)
	if err == nil && kind == pack.KindParts {
		var ids []content.ID
		if ids, err = partIDs(e.cid, b); err == nil {
			return &partsReader{ctx: ctx, r: w.r, parts: ids}, nil
		}
	} else if err == nil {
		b, _, err = w.r.resolve(ctx, e.cid, b, kind)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", objType, id, err)
	}
	return bytes.NewReader(append([]byte(nil), b...)), nil
}

// locate finds an object as the snapshot being written holds it: a copy of
// its bytes when this run keeps them in memory, else its entry, whose
// content is readable (anything pending was flushed).
func (w *Writer) locate(objType, id string) (entry, []byte, error) {
	if err := w.usable(); err != nil {
		return entry{}, nil, err
	}
	e, ok, err := w.lookup(objKey(objType, id))
	if err != nil {
		return entry{}, nil, err
	}
	if !ok {
		return entry{}, nil, fmt.Errorf("%s %s: %w", objType, id, ErrNotFound)
	}
	if raw, ok := w.recent[e.cid]; ok {
		return e, append([]byte{}, raw...), nil // non-nil, even empty
	}
	if _, pending := w.pending[e.cid]; pending {
		// Stored this run, not indexed yet and not kept in memory.
		if err := w.flush(); err != nil {
			return entry{}, nil, err
		}
	}
	return e, nil, nil
}

// partsReader reads a parts object part by part.
type partsReader struct {
	ctx   context.Context
	r     *Repository
	parts []content.ID
	cur   []byte // the rest of the part being read (a cached group's bytes: read only)
}

func (p *partsReader) Read(b []byte) (int, error) {
	for len(p.cur) == 0 {
		if len(p.parts) == 0 {
			return 0, io.EOF
		}
		raw, _, err := p.r.readContent(p.ctx, p.parts[0])
		if err != nil {
			return 0, fmt.Errorf("part %s: %w", p.parts[0].Short(), err)
		}
		p.cur, p.parts = raw, p.parts[1:]
	}
	n := copy(b, p.cur)
	p.cur = p.cur[n:]
	return n, nil
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
	switch {
	case err != nil:
		return entry{}, false, err
	case ok:
		return w.resolve(e)
	case w.opts.Full:
		// A full run starts from nothing: the parent's objects count only
		// once Put again.
		return entry{}, false, nil
	}
	return w.parentEntry(key)
}
