package drivers_test

import (
	"context"
	"strings"
	"testing"

	"gocloud.dev/secrets"

	_ "github.com/entravault/entravault/internal/repository/drivers"
)

// TestKeeperSchemesRegistered: every keeper scheme the config accepts has
// a driver linked into the binary (opening fails on missing credentials,
// never on an unknown scheme).
func TestKeeperSchemesRegistered(t *testing.T) {
	for _, u := range []string{"awskms://alias/x?region=us-east-1", "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k",
		"azurekeyvault://v.vault.azure.net/keys/k", "hashivault://mykey"} {
		k, err := secrets.OpenKeeper(context.Background(), u)
		if err != nil && strings.Contains(err.Error(), "no driver registered") {
			t.Errorf("%s: %v", u, err)
		}
		if k != nil {
			k.Close()
		}
	}
}
