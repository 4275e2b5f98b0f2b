package crypto

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealOpen(t *testing.T) {
	k, _ := Derive(NewDataKey())
	other, _ := Derive(NewDataKey())
	sealed := k.SealRandom([]byte("secret"), []byte("index"))
	cases := []struct {
		name  string
		keys  *Keys
		blob  []byte
		ad    string
		works bool
	}{
		{"right key and ad", k, sealed, "index", true},
		{"other key", other, sealed, "index", false},
		{"other ad", k, sealed, "snapshot", false},
		{"flipped bit", k, flip(sealed, 15), "index", false},
		{"truncated", k, sealed[:10], "index", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.keys.OpenRandom(c.blob, []byte(c.ad))
			if c.works != (err == nil) || (c.works && !bytes.Equal(got, []byte("secret"))) {
				t.Fatalf("OpenRandom = %q, %v", got, err)
			}
			if !c.works && !errors.Is(err, ErrAuth) {
				t.Fatalf("err = %v, want ErrAuth", err)
			}
		})
	}
	if bytes.Contains(sealed, []byte("secret")) {
		t.Fatal("plaintext visible in ciphertext")
	}
}

func TestNamesAreKeyed(t *testing.T) {
	a, _ := Derive(NewDataKey())
	b, _ := Derive(NewDataKey())
	if a.Name([]byte("x")) == b.Name([]byte("x")) || a.Name([]byte("x")) != a.Name([]byte("x")) {
		t.Fatal("names must be deterministic per key and differ across keys")
	}
	if _, err := Derive([]byte("short")); err == nil {
		t.Fatal("short key accepted")
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 1
	return c
}
