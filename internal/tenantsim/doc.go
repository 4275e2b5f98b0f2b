// Package tenantsim runs the tenant simulator: a deterministic synthetic
// Entra tenant (package model) served as Microsoft Graph v1.0 over plain
// HTTP (package graphapi) and as Entra sign-in over HTTPS (package entra),
// plus a control API under /_sim/ on the Graph listener for tests and demos.
//
// Use New + Start for a long-running simulator (`entravault simulate`,
// `entravault dev`) and NewTest in tests. The demo credentials (tenant id,
// app client ids, secrets and certificate paths, admin accounts and their
// passwords, the CA path) are written to DataDir/tenant.json and served at
// GET /_sim/credentials: the simulator is a loopback development tool and
// its control API has no authentication.
//
// This package must not import msgraph-sdk-go: the SDK belongs to
// internal/graph and to tests.
package tenantsim
