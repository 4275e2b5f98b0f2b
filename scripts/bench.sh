#!/usr/bin/env bash
# bench.sh: every benchmark behind docs/benchmarks.md, one section each.
# `make bench` runs it. Numbers vary with machine load: compare like with
# like (benchstat), never assert them in tests.
#
# Environment: QUICK=1 skips the long repository-vs-restic comparison.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

section() { printf '\n== %s\n' "$*"; }

section "API authentication (internal/auth)"
go test -run '^$' -bench . -benchmem ./internal/auth/

section "Simulated Entra sign-in (internal/tenantsim/entra)"
go test -run '^$' -bench . -benchmem ./internal/tenantsim/entra/

section "Tenant simulator (internal/tenantsim/...)"
go test -run '^$' -bench . -benchmem -benchtime 3x ./internal/tenantsim/graphapi/ ./internal/tenantsim/model/

section "Graph backup (activities)"
# Includes the peak-RSS benchmarks (BackupUsersRSS, BackupTenantRSS: 500k
# users, 100k groups, 5k administrative units, full and incremental, the
# simulator in a child process): about 10 minutes.
go test -run '^$' -bench 'Backup|ActivityLog' -benchmem -benchtime 1x ./activities/

section "Restore (activities)"
# Apply: 10,000 soft-deleted and 1,000 hard-deleted users of a 12k-user
# tenant against the write budget scaled to 3,000 per 15 s; plan: a
# 100k-user tenant after 1% and 10% tampering. About 6 minutes in all.
go test -run '^$' -bench 'BenchmarkRestore' -benchmem -benchtime 1x ./activities/

section "Scale-out: 20 connectors' first backups, one worker process then two (internal/devstack)"
go test -run '^$' -bench BenchmarkScaleOut -benchtime 1x ./internal/devstack/

section "Connector listing, 1,000 connectors on the embedded server (internal/devstack)"
go test -run '^$' -bench BenchmarkListConnectors -benchtime 20x ./internal/devstack/

section "Snapshot repository (internal/repository), with restic side by side"
if [[ "${QUICK:-}" == 1 ]]; then
	SKIP_RESTIC=1 USERS=20000 DAYS=5 scripts/bench-repo.sh
else
	scripts/bench-repo.sh
fi
