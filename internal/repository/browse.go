package repository

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/entravault/entravault/internal/repository/jsondiff"
)

// Scan calls fn for the objects of a snapshot in type/id order, starting
// strictly after the object (afterType, afterID) (both empty: from the
// first) and, when objType is set, only for objects of that type. Unlike
// Walk it reads no content unless fn calls load, so a page of a listing or
// a search by id costs one pass over the object map, not over the data.
// load's bytes are shared and must not be modified. fn runs on the
// caller's goroutine; returning an error stops the scan and Scan returns it.
func (r *Repository) Scan(ctx context.Context, snap SnapshotID, objType, afterType, afterID string,
	fn func(objType, id string, load func() ([]byte, error)) error) error {
	m, err := r.loadManifest(ctx, snap)
	if err != nil {
		return err
	}
	es, err := r.view(ctx, m)
	if err != nil {
		return err
	}
	for i := startAt(es, objType, afterType, afterID); i < len(es); i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		e := es[i]
		t, id := splitKey(e.key)
		if objType != "" && t != objType {
			return nil
		}
		load := func() ([]byte, error) {
			raw, _, err := r.readContent(ctx, e.cid)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", t, id, err)
			}
			return raw, nil
		}
		if err := fn(t, id, load); err != nil {
			return err
		}
	}
	return nil
}

// startAt is the index of the first entry after (afterType, afterID) and,
// with objType set, at or after that type's first key.
func startAt(es []entry, objType, afterType, afterID string) int {
	i := 0
	if afterType != "" || afterID != "" {
		k, found := slices.BinarySearchFunc(es, objKey(afterType, afterID), cmpEntryKey)
		if found {
			k++
		}
		i = k
	}
	if objType != "" {
		k, _ := slices.BinarySearchFunc(es, objKey(objType, ""), cmpEntryKey)
		i = max(i, k)
	}
	return i
}

// DiffAfter is Diff restricted like Scan: only objects of objType (when
// set) and strictly after (afterType, afterID). Content is read only for
// objects that changed inside that range, so paging through a large diff
// costs the object maps plus the page's changes.
func (r *Repository) DiffAfter(ctx context.Context, from, to SnapshotID, objType, afterType, afterID string, fn func(Change) error) error {
	mf, err := r.loadManifest(ctx, from)
	if err != nil {
		return err
	}
	mt, err := r.loadManifest(ctx, to)
	if err != nil {
		return err
	}
	a, err := r.view(ctx, mf)
	if err != nil {
		return err
	}
	b, err := r.view(ctx, mt)
	if err != nil {
		return err
	}
	a = a[startAt(a, objType, afterType, afterID):]
	b = b[startAt(b, objType, afterType, afterID):]
	if objType != "" {
		a, b = prefixRun(a, objType), prefixRun(b, objType)
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		if err := ctx.Err(); err != nil {
			return err
		}
		var c Change
		switch {
		case j == len(b) || (i < len(a) && a[i].key < b[j].key):
			c.Type, c.ID = splitKey(a[i].key)
			c.Kind = Removed
			i++
		case i == len(a) || b[j].key < a[i].key:
			c.Type, c.ID = splitKey(b[j].key)
			c.Kind = Added
			j++
		default:
			ea, eb := a[i], b[j]
			i++
			j++
			if ea.cid == eb.cid {
				continue
			}
			c.Type, c.ID = splitKey(ea.key)
			c.Kind = Changed
			ra, _, err := r.readContent(ctx, ea.cid)
			if err != nil {
				return err
			}
			rb, _, err := r.readContent(ctx, eb.cid)
			if err != nil {
				return err
			}
			if c.Properties, err = jsondiff.Diff(ra, rb); err != nil {
				return fmt.Errorf("%w: %s %s: %v", ErrCorrupt, c.Type, c.ID, err)
			}
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}

// prefixRun is the leading run of es whose keys are of objType.
func prefixRun(es []entry, objType string) []entry {
	p := objType + "\x00"
	n := 0
	for n < len(es) && strings.HasPrefix(es[n].key, p) {
		n++
	}
	return es[:n]
}
