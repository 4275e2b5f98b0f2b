package pack

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/entravault/entravault/internal/repository/content"
	"github.com/entravault/entravault/internal/repository/crypto"
)

func keys(t *testing.T) *crypto.Keys {
	t.Helper()
	k, err := crypto.Derive(crypto.NewDataKey())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func build(t *testing.T, k *crypto.Keys) (string, []byte, [][]byte) {
	t.Helper()
	b := NewBuilder(k, 0)
	var blobs [][]byte
	for g := range 3 {
		var plain []byte
		var items []Item
		for i := range 10 {
			blob := []byte(fmt.Sprintf(`{"group":%d,"i":%d,"pad":"%s"}`, g, i, bytes.Repeat([]byte("x"), i*10)))
			items = append(items, Item{ID: content.SumBytes(blob), Kind: KindObject, Offset: uint32(len(plain)), Length: uint32(len(blob))})
			plain = append(plain, blob...)
			blobs = append(blobs, blob)
		}
		b.AddGroup(plain, items)
	}
	name, data, _ := b.Seal()
	return name, data, blobs
}

func TestRoundTrip(t *testing.T) {
	k := keys(t)
	name, data, blobs := build(t, k)
	h, err := ReadHeader(k, name, data)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Groups) != 3 || len(h.Entries) != len(blobs) {
		t.Fatalf("header: %d groups, %d entries", len(h.Groups), len(h.Entries))
	}
	for i, e := range h.Entries {
		g := h.Groups[e.Group]
		plain, err := OpenGroup(k, name, e.Group, g, data[g.Off:g.Off+g.Len])
		if err != nil {
			t.Fatal(err)
		}
		if got := plain[e.Offset : e.Offset+e.Length]; !bytes.Equal(got, blobs[i]) {
			t.Fatalf("entry %d = %q", i, got)
		}
	}
	// same content, same name: the pack is content-addressed
	if name2, data2, _ := build(t, k); name2 != name || !bytes.Equal(data2, data) {
		t.Fatal("identical content gave a different pack")
	}
}

func TestTamper(t *testing.T) {
	k := keys(t)
	name, data, _ := build(t, k)
	h, _ := ReadHeader(k, name, data)
	g := h.Groups[1]
	cases := []struct {
		name   string
		mutate func(d []byte) []byte
		check  func(d []byte) error
	}{
		{"flip in group", func(d []byte) []byte { d[g.Off+3] ^= 1; return d }, func(d []byte) error {
			_, err := OpenGroup(k, name, 1, g, d[g.Off:g.Off+g.Len])
			return err
		}},
		{"group moved to another index", func(d []byte) []byte { return d }, func(d []byte) error {
			_, err := OpenGroup(k, name, 0, g, d[g.Off:g.Off+g.Len])
			return err
		}},
		{"group under another pack name", func(d []byte) []byte { return d }, func(d []byte) error {
			other := "0" + name[1:]
			if other == name { // random keys: 1 name in 16 starts with 0
				other = "1" + name[1:]
			}
			_, err := OpenGroup(k, other, 1, g, d[g.Off:g.Off+g.Len])
			return err
		}},
		{"flip in header", func(d []byte) []byte { d[len(d)-TrailerSize-5] ^= 1; return d }, func(d []byte) error {
			_, err := ReadHeader(k, name, d)
			return err
		}},
		{"truncated", func(d []byte) []byte { return d[:len(d)-1] }, func(d []byte) error {
			_, err := ReadHeader(k, name, d)
			return err
		}},
		{"wrong key", func(d []byte) []byte { return d }, func(d []byte) error {
			_, err := ReadHeader(keys(t), name, d)
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := c.mutate(append([]byte(nil), data...))
			if err := c.check(d); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestDelta(t *testing.T) {
	cases := []struct{ name, base, target string }{
		{"middle change", `{"a":1,"title":"Engineer","z":2}`, `{"a":1,"title":"Senior Engineer","z":2}`},
		{"identical", `{"a":1}`, `{"a":1}`},
		{"prefix only", `{"a":1}`, `{"a":1,"b":2}`},
		{"totally different", `abc`, `xyz123`},
		{"empty base", ``, `{"a":1}`},
		{"shrink", `{"a":"long value"}`, `{"a":"v"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := EncodeDelta([]byte(c.base), []byte(c.target))
			got, err := ApplyDelta([]byte(c.base), d)
			if err != nil || string(got) != c.target {
				t.Fatalf("ApplyDelta = %q, %v", got, err)
			}
		})
	}
	if _, err := ApplyDelta([]byte("ab"), EncodeDelta([]byte("abcdef"), []byte("abXdef"))); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("delta on the wrong base: err = %v, want ErrCorrupt", err)
	}
}
