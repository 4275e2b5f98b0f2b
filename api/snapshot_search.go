package api

import (
	"bytes"
	"context"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/entravault/entravault/internal/repository"
)

// searchIndex holds the searchable fields of every object of one snapshot.
// A search without it reads every object; with it a search is a scan of
// memory. Snapshots are immutable, so an index never goes stale.
type searchIndex struct {
	objects []ObjectSummary // in type/id order, like the repository
	// hay is every object's lower-case id, names and mail, one object per
	// line, and start[i] where object i's line begins: one bytes.Index
	// over 10 MB (SIMD) finds matches several times faster than a
	// strings.Contains per object.
	hay   []byte
	start []int
}

func (x *searchIndex) search(objType, q, afterType, afterID string, limit int) (out []ObjectSummary, more bool) {
	out = []ObjectSummary{}
	// The first object after the cursor: (type, id) string order is the
	// repository's key order, since a type that is a prefix of another
	// sorts first either way.
	i := 0
	if afterType != "" {
		i = sort.Search(len(x.objects), func(k int) bool {
			o := x.objects[k]
			return o.Type > afterType || o.Type == afterType && o.ID > afterID
		})
	}
	needle := []byte(q)
	for i < len(x.objects) {
		at := bytes.Index(x.hay[x.start[i]:], needle)
		if at < 0 {
			break
		}
		// the object whose line holds the match
		k := sort.Search(len(x.start), func(k int) bool { return x.start[k] > x.start[i]+at }) - 1
		if o := x.objects[k]; objType == "" || o.Type == objType {
			if len(out) == limit {
				return out, true
			}
			out = append(out, o)
		}
		i = k + 1
	}
	return out, false
}

// buildSearchIndex reads every object of a snapshot once, in storage
// order (much faster than type/id order), then sorts.
func buildSearchIndex(ctx context.Context, repo *repository.Repository, snap repository.SnapshotID) (*searchIndex, error) {
	var objs []ObjectSummary
	err := repo.ScanStored(ctx, snap, "", func(t, id string, raw []byte) error {
		o := ObjectSummary{Type: t, ID: id}
		if !isRelation(t) {
			o.readNames(raw)
		}
		objs = append(objs, o)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(objs, func(a, b ObjectSummary) int {
		if c := strings.Compare(a.Type, b.Type); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	x := &searchIndex{objects: objs, start: make([]int, len(objs))}
	for i, o := range objs {
		x.start[i] = len(x.hay)
		// Newlines in names would let a match span two objects.
		line := strings.ReplaceAll(o.ID+"\x00"+o.DisplayName+"\x00"+o.UserPrincipalName+"\x00"+o.Mail, "\n", " ")
		x.hay = append(append(x.hay, strings.ToLower(line)...), '\n')
	}
	return x, nil
}

// snapCache keeps values derived from whole snapshots (search indexes,
// audit logs) for the few snapshots used last. Snapshots are immutable, so
// an entry never goes stale.
type snapCache[T any] struct {
	mu      sync.Mutex
	entries []*cacheEntry[T] // most recent last
	max     int
	build   func(ctx context.Context, repo *repository.Repository, snap repository.SnapshotID) (T, error)
}

type cacheEntry[T any] struct {
	key   string
	ready chan struct{}
	v     T
	err   error
}

// searchIndexes: a 100k-user snapshot's index is about 20 MB.
var searchIndexes = &snapCache[*searchIndex]{max: 4, build: buildSearchIndex}

// has reports whether the snapshot's value is built or being built.
func (c *snapCache[T]) has(repo *repository.Repository, snap repository.SnapshotID) bool {
	key := repo.ID() + "/" + string(snap)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		if e.key == key {
			return true
		}
	}
	return false
}

// get returns the value for a snapshot, building it once however many
// requests ask at the same time. A failed build is not kept.
func (c *snapCache[T]) get(ctx context.Context, repo *repository.Repository, snap repository.SnapshotID) (T, error) {
	key := repo.ID() + "/" + string(snap)
	c.mu.Lock()
	for i, e := range c.entries {
		if e.key == key {
			c.entries = append(append(c.entries[:i:i], c.entries[i+1:]...), e)
			c.mu.Unlock()
			select {
			case <-e.ready:
				return e.v, e.err
			case <-ctx.Done():
				var zero T
				return zero, ctx.Err()
			}
		}
	}
	e := &cacheEntry[T]{key: key, ready: make(chan struct{})}
	c.entries = append(c.entries, e)
	if len(c.entries) > c.max {
		c.entries = c.entries[1:]
	}
	c.mu.Unlock()

	e.v, e.err = c.build(ctx, repo, snap)
	close(e.ready)
	if e.err != nil {
		c.mu.Lock()
		for i, o := range c.entries {
			if o == e {
				c.entries = append(c.entries[:i:i], c.entries[i+1:]...)
				break
			}
		}
		c.mu.Unlock()
	}
	return e.v, e.err
}

// readNames sets the names found among raw's top-level members. It reads
// tokens and skips other values, which is several times cheaper than
// json.Unmarshal on a large object; odd JSON leaves the names empty.
func (o *ObjectSummary) readNames(raw []byte) {
	d := jsontext.NewDecoder(bytes.NewReader(raw))
	if tok, err := d.ReadToken(); err != nil || tok.Kind() != '{' {
		return
	}
	for d.PeekKind() == '"' {
		name, err := d.ReadToken()
		if err != nil {
			return
		}
		var field *string
		switch name.String() {
		case "displayName":
			field = &o.DisplayName
		case "userPrincipalName":
			field = &o.UserPrincipalName
		case "mail":
			field = &o.Mail
		}
		if field == nil || d.PeekKind() != '"' {
			if d.SkipValue() != nil {
				return
			}
			continue
		}
		v, err := d.ReadToken()
		if err != nil {
			return
		}
		*field = v.String()
	}
}
