package activities

import (
	"testing"
)

func TestSplitJoinMerge(t *testing.T) {
	tests := []struct {
		name   string
		prev   string
		update string
		want   string
	}{
		{"update replaces in place", `{"id":"1","a":1,"b":"x"}`, `{"id":"1","b":"y"}`, `{"id":"1","a":1,"b":"y"}`},
		{"new property appended", `{"id":"1","a":1}`, `{"id":"1","c":[1,2]}`, `{"id":"1","a":1,"c":[1,2]}`},
		{"null kept as sent", `{"id":"1","a":1}`, `{"id":"1","a":null}`, `{"id":"1","a":null}`},
		{"escaped names and values", `{"id":"1","x\"y":"é\u00e9"}`, `{"id":"1"}`, `{"id":"1","x\"y":"é\u00e9"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prev, err := splitObject([]byte(tc.prev))
			if err != nil {
				t.Fatal(err)
			}
			up, err := splitObject([]byte(tc.update))
			if err != nil {
				t.Fatal(err)
			}
			once := joinObject(mergeObject(prev, up))
			if string(once) != tc.want {
				t.Errorf("merge = %s, want %s", once, tc.want)
			}
			// A replayed update changes nothing.
			again, _ := splitObject(once)
			if twice := joinObject(mergeObject(again, up)); string(twice) != tc.want {
				t.Errorf("replayed merge = %s, want %s", twice, tc.want)
			}
		})
	}
}

func TestParsePageRejectsDamagedBodies(t *testing.T) {
	good := `{"@odata.context":"x","value":[{"id":"1"},{"id":"2","n":{"a":[1]}}],"@odata.nextLink":"http://n"}`
	p, err := parsePage([]byte(good))
	if err != nil || len(p.Value) != 2 || p.NextLink != "http://n" || string(p.Value[1]) != `{"id":"2","n":{"a":[1]}}` {
		t.Fatalf("parsePage = %+v, %v", p, err)
	}
	for _, tc := range []struct{ name, body string }{
		{"truncated", good[:len(good)/2]},
		{"invalid", `{"value":[{"id":` + "\x00" + `}`},
		{"empty", ``},
		{"not an object", `[1]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := parsePage([]byte(tc.body)); err == nil {
				t.Error("parsePage accepted a damaged body")
			}
			if _, err := splitObject([]byte(tc.body)); err == nil {
				t.Error("splitObject accepted a damaged body")
			}
		})
	}
}
