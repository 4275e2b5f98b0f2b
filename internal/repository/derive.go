package repository

// deriveLabel starts every DeriveKey input. The repository's own keyed
// hashes all start with other labels ("index", "snapshot", "pack",
// "nonce", "entravault key check v1"), so no blob name, nonce or key check
// ever equals a derived key.
const deriveLabel = "entravault derived key v1\x00"

// DeriveKey returns a 32-byte key for purpose (e.g. "entravault apikey
// records v1"), derived from the repository's data key: an HMAC-SHA256 under
// the key the data key's HKDF gives for keyed hashes. Only a process that
// could unwrap the data key with the keeper can compute it; the data key
// itself, and every key the repository uses, stay private. The same
// repository and purpose always give the same key, also after the data key
// is re-wrapped; different purposes give independent keys.
func (r *Repository) DeriveKey(purpose string) []byte {
	return r.keys.MAC([]byte(deriveLabel), []byte(purpose))
}
