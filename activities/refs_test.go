package activities

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"
)

func TestRefSetFoldsDeltaSlicesAndEncodesSorted(t *testing.T) {
	s := newRefSet()
	steps := []string{
		`[{"@odata.type":"#microsoft.graph.user","id":"b"},{"@odata.type":"#microsoft.graph.group","id":"a","extra":{"x":[1,2]}}]`,
		`[{"@odata.type":"#microsoft.graph.user","id":"c"},{"id":"b","@removed":{"reason":"deleted"}},{"@odata.type":"#microsoft.graph.user"},7]`,
		`{"@odata.context":"x","@odata.type":"#microsoft.graph.user","id":"d"}`, // a lone object, as /manager returns
		// GUIDs are kept as bytes, other forms as strings; all sort together.
		`[{"@odata.type":"#microsoft.graph.user","id":"0e5b1c7a-93f4-4c1e-9a64-8d2f8f1b7c01"},{"@odata.type":"#microsoft.graph.device","id":"0E5B1C7A-93F4-4C1E-9A64-8D2F8F1B7C02"}]`,
	}
	for _, raw := range steps {
		if err := s.add([]byte(raw)); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
	}
	want := `{"value":[{"@odata.type":"#microsoft.graph.device","id":"0E5B1C7A-93F4-4C1E-9A64-8D2F8F1B7C02"},{"@odata.type":"#microsoft.graph.user","id":"0e5b1c7a-93f4-4c1e-9a64-8d2f8f1b7c01"},{"@odata.type":"#microsoft.graph.group","id":"a"},{"@odata.type":"#microsoft.graph.user","id":"c"},{"@odata.type":"#microsoft.graph.user","id":"d"}]}`
	if got := string(s.encode()); got != want {
		t.Fatalf("encode:\n got %s\nwant %s", got, want)
	}
	// The stored form reads back to the same set.
	again := newRefSet()
	if err := again.addStored(bytes.NewReader(s.encode())); err != nil || string(again.encode()) != want {
		t.Fatalf("round trip: %s (%v)", again.encode(), err)
	}
	for _, bad := range []string{`{"value":[{"id":"a"}]`, `[]`, `{"value":7}`} {
		if err := newRefSet().addStored(strings.NewReader(bad)); err == nil {
			t.Errorf("stored %q: want an error", bad)
		}
	}
	for _, bad := range []string{`[{"id":"a"`, `"text"`, `[{"id":`, ``} {
		if err := newRefSet().add([]byte(bad)); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

// A large list is written in parts that join to encode's bytes;
// a member joining changes one part, and the parts read back as a stream.
func TestRefSetEncodesLargeListsInContentDefinedParts(t *testing.T) {
	s := newRefSet()
	for i := range 40000 {
		s.put("#microsoft.graph.user", fmt.Sprintf("%08x-0000-4000-8000-%012x", i*2654435761%(1<<32), i))
	}
	partsOf := func() []string {
		var out []string
		if err := s.encodeParts(defaultPartRefs, func(p []byte) error {
			if n := strings.Count(string(p), `"id"`); n > 4*defaultPartRefs {
				t.Fatalf("part of %d references", n)
			}
			out = append(out, string(p))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	before := partsOf()
	if got := strings.Join(before, ""); got != string(s.encode()) {
		t.Fatal("parts do not join to the whole list")
	}
	if len(before) < 4 {
		t.Fatalf("%d parts for %d bytes", len(before), len(s.encode()))
	}
	s.put("#microsoft.graph.user", "7fffffff-0000-4000-8000-000000000000")
	after := partsOf()
	old := map[string]bool{}
	for _, p := range before {
		old[p] = true
	}
	fresh := 0
	for _, p := range after {
		if !old[p] {
			fresh++
		}
	}
	if fresh != 1 {
		t.Fatalf("one member joining changed %d of %d parts", fresh, len(after))
	}
	again := newRefSet()
	if err := again.addStored(iotest.OneByteReader(strings.NewReader(strings.Join(after, "")))); err != nil || again.len() != s.len() {
		t.Fatalf("read back %d of %d (%v)", again.len(), s.len(), err)
	}
}
