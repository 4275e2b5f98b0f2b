// Package prodtest holds the production topology test: every part of the
// docker/compose.yaml stack runs as its own OS process on this machine,
// without Docker, and the test drives the product through the REST API
// only.
//
//   - PostgreSQL (Debian's package, `make tools` installs it): a throwaway
//     cluster in a temp folder on a free port, run as the postgres user.
//   - A Temporal server built from the pinned go.temporal.io/server, on that
//     PostgreSQL; its schema is created by the server's own SQL tool
//     (temporal-sql-tool) from the schemas embedded in the module, the
//     "default" namespace and Entravault's search attributes registered as
//     compose's temporal-admin-tools does.
//   - Azurite for the snapshot bucket (azblob://).
//   - The tenant simulator (`entravault simulate`).
//   - One `entravault api` and two `entravault worker` processes, with the
//     command, flags and ENTRAVAULT_* environment read from compose.yaml;
//     what must differ on one machine is overridden in one place
//     (localOverrides), so the test shows it.
//
// The test lives in _test files only; this file documents the package.
package prodtest
