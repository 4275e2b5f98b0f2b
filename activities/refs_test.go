package activities

import "testing"

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
	v, ok := storedRefs(s.encode())
	again := newRefSet()
	if !ok || again.add(v) != nil || string(again.encode()) != want {
		t.Fatalf("round trip: %s", again.encode())
	}
	for _, bad := range []string{`[{"id":"a"`, `"text"`, `[{"id":`, ``} {
		if err := newRefSet().add([]byte(bad)); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}
