// Package crypto holds the repository's symmetric keys: a random 256-bit data
// key from which HKDF derives an AES-256-GCM key and an HMAC-SHA256 key used
// for content-derived, unguessable blob names.
//
// Wrapping the data key (gocloud.dev/secrets) is the caller's job. This
// package must not import storage or any other repository package.
package crypto
