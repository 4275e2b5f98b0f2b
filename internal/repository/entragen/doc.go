// Package entragen generates realistic, deterministic Entra ID user JSON
// (about 4 KB each, shaped like Microsoft Graph /users with $select=*) for
// the repository's tests and benchmarks, and mutates users to simulate
// daily churn.
//
// It must not import other Entravault packages.
package entragen
