package jsondiff

import (
	"reflect"
	"testing"
)

func TestDiff(t *testing.T) {
	cases := []struct {
		name string
		a, b string
		want []Change
	}{
		{"equal despite order and spacing", `{"a":1,"b":{"c":2}}`, `{ "b": {"c":2}, "a": 1 }`, nil},
		{"changed leaf", `{"a":1,"b":{"c":2}}`, `{"a":1,"b":{"c":3}}`,
			[]Change{{Path: "/b/c", Op: Changed, Old: []byte("2"), New: []byte("3")}}},
		{"added and removed", `{"a":1}`, `{"b":true}`,
			[]Change{{Path: "/a", Op: Removed, Old: []byte("1")}, {Path: "/b", Op: Added, New: []byte("true")}}},
		{"array is one value", `{"x":[1,2]}`, `{"x":[2,1]}`,
			[]Change{{Path: "/x", Op: Changed, Old: []byte("[1,2]"), New: []byte("[2,1]")}}},
		{"pointer escaping", `{"a/b~":1}`, `{"a/b~":2}`,
			[]Change{{Path: "/a~1b~0", Op: Changed, Old: []byte("1"), New: []byte("2")}}},
		{"big numbers exact", `{"n":12345678901234567890}`, `{"n":12345678901234567891}`,
			[]Change{{Path: "/n", Op: Changed, Old: []byte("12345678901234567890"), New: []byte("12345678901234567891")}}},
		{"type change", `{"a":{"b":1}}`, `{"a":"s"}`,
			[]Change{{Path: "/a", Op: Changed, Old: []byte(`{"b":1}`), New: []byte(`"s"`)}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Diff([]byte(c.a), []byte(c.b))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 && len(c.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Diff = %s\nwant %s", fmtChanges(got), fmtChanges(c.want))
			}
		})
	}
	if _, err := Diff([]byte(`{`), []byte(`{}`)); err == nil {
		t.Fatal("invalid JSON accepted")
	}
}

func fmtChanges(cs []Change) string {
	s := ""
	for _, c := range cs {
		s += c.Path + " " + string(c.Op) + " " + string(c.Old) + "→" + string(c.New) + "; "
	}
	return s
}
