package content

import (
	"errors"
	"testing"
)

func TestSumCanonical(t *testing.T) {
	base := mustSum(t, `{"a":1,"b":[true,null,"x"]}`)
	cases := []struct {
		name string
		raw  string
		same bool
	}{
		{"identical", `{"a":1,"b":[true,null,"x"]}`, true},
		{"key order", `{"b":[true,null,"x"],"a":1}`, true},
		{"whitespace", "{ \"a\" : 1 ,\n \"b\" : [ true , null , \"x\" ] }", true},
		{"number form", `{"a":1.0,"b":[true,null,"x"]}`, true},
		{"escaped ascii", `{"\u0061":1,"b":[true,null,"x"]}`, true},
		{"value change", `{"a":2,"b":[true,null,"x"]}`, false},
		{"array order", `{"a":1,"b":[null,true,"x"]}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := mustSum(t, c.raw); (got == base) != c.same {
				t.Fatalf("same = %v, want %v", got == base, c.same)
			}
		})
	}
}

func TestSumInvalid(t *testing.T) {
	for _, raw := range []string{``, `{`, `{"a":1}x`, `{"a":1,"a":2}`} {
		if _, err := Sum([]byte(raw)); !errors.Is(err, ErrInvalidJSON) {
			t.Errorf("Sum(%q) err = %v, want ErrInvalidJSON", raw, err)
		}
	}
}

func TestSumLeavesInputAlone(t *testing.T) {
	raw := []byte(`{ "b":1, "a":2 }`)
	orig := string(raw)
	mustSum(t, string(raw))
	if _, err := Sum(raw); err != nil || string(raw) != orig {
		t.Fatalf("input modified: %q", raw)
	}
}

func TestParse(t *testing.T) {
	id := SumBytes([]byte("x"))
	got, err := Parse(id.String())
	if err != nil || got != id {
		t.Fatalf("Parse(String()) = %v, %v", got, err)
	}
	if _, err := Parse("abc"); err == nil {
		t.Fatal("short id accepted")
	}
}

func mustSum(t *testing.T, raw string) ID {
	t.Helper()
	id, err := Sum([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func BenchmarkSum(b *testing.B) {
	raw := []byte(`{"id":"4f3c2a1e-1111-2222-3333-444455556666","displayName":"Ada Lovelace","mail":"ada@contoso.com","assignedPlans":[{"service":"exchange","capabilityStatus":"Enabled"},{"service":"SharePoint","capabilityStatus":"Enabled"}],"accountEnabled":true}`)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := Sum(raw); err != nil {
			b.Fatal(err)
		}
	}
}
