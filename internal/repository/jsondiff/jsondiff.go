package jsondiff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Op says how a property differs.
type Op string

const (
	Added   Op = "added"
	Removed Op = "removed"
	Changed Op = "changed"
)

// Change is one differing property. Old and New are the JSON values
// (absent side nil).
type Change struct {
	Path string          `json:"path"`
	Op   Op              `json:"op"`
	Old  json.RawMessage `json:"old,omitempty"`
	New  json.RawMessage `json:"new,omitempty"`
}

// Diff compares two JSON documents. Objects are compared member by member,
// recursively; anything else (including arrays) as a whole value, ignoring
// formatting and key order. Changes are sorted by path.
func Diff(a, b []byte) ([]Change, error) {
	var va, vb any
	if err := unmarshal(a, &va); err != nil {
		return nil, fmt.Errorf("jsondiff: old: %w", err)
	}
	if err := unmarshal(b, &vb); err != nil {
		return nil, fmt.Errorf("jsondiff: new: %w", err)
	}
	var out []Change
	walk("", va, vb, &out)
	slices.SortFunc(out, func(x, y Change) int { return strings.Compare(x.Path, y.Path) })
	return out, nil
}

func unmarshal(b []byte, v *any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber() // keep numbers exact
	return d.Decode(v)
}

func walk(path string, a, b any, out *[]Change) {
	ma, okA := a.(map[string]any)
	mb, okB := b.(map[string]any)
	if okA && okB {
		for k, va := range ma {
			p := path + "/" + escape(k)
			if vb, ok := mb[k]; ok {
				walk(p, va, vb, out)
			} else {
				*out = append(*out, Change{Path: p, Op: Removed, Old: raw(va)})
			}
		}
		for k, vb := range mb {
			if _, ok := ma[k]; !ok {
				*out = append(*out, Change{Path: path + "/" + escape(k), Op: Added, New: raw(vb)})
			}
		}
		return
	}
	ra, rb := raw(a), raw(b)
	if !bytes.Equal(ra, rb) {
		*out = append(*out, Change{Path: path, Op: Changed, Old: ra, New: rb})
	}
}

// raw re-encodes a decoded value; encoding/json sorts map keys, so equal
// values give equal bytes.
func raw(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

func escape(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}
