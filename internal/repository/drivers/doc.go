// Package drivers links the gocloud.dev blob and secrets drivers the
// repository can run on in production: azblob://, s3://, gs:// buckets and
// azurekeyvault://, awskms://, gcpkms://, hashivault:// keepers (file://,
// mem:// and base64key:// come with package repository itself).
//
// Import it for side effects from binaries only (cmd/entravault), so tests
// and small packages do not link the cloud SDKs. hashivault:// is its own
// module, gocloud.dev/secrets/hashivault v0.45.0 (Vault's transit engine;
// VAULT_SERVER_URL and VAULT_SERVER_TOKEN configure it).
package drivers

import (
	_ "gocloud.dev/blob/azureblob"
	_ "gocloud.dev/blob/gcsblob"
	_ "gocloud.dev/blob/s3blob"
	_ "gocloud.dev/secrets/awskms"
	_ "gocloud.dev/secrets/azurekeyvault"
	_ "gocloud.dev/secrets/gcpkms"
	_ "gocloud.dev/secrets/hashivault"
)
