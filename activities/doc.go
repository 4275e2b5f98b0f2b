// Package activities holds every piece of I/O the workflows need: consent
// verification and scope backups through Microsoft Graph, snapshot writes
// and retention through the repository.
//
// Activities are methods on structs whose clients are injected by package
// worker. Graph is reached through the narrow Graph interface, so this
// package (and the workflow tests that reference it) does not link the
// msgraph SDK. Inputs and results are small: ids, cursors, counts, never
// tenant data, and never secrets.
package activities
