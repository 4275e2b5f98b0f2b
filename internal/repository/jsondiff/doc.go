// Package jsondiff computes a property-level difference between two JSON
// documents: which members were added, removed or changed, addressed by
// JSON Pointer (RFC 6901). Arrays are compared as whole values.
//
// It is pure computation and must not import any other Entravault package.
package jsondiff
