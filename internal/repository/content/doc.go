// Package content computes content ids: the SHA-256 of an object's RFC 8785
// canonical JSON form, so that key order or whitespace alone never counts as
// a change.
//
// It knows nothing about storage, packs or encryption and must not import
// any other repository package.
package content
