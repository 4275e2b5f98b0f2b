#!/usr/bin/env bash
# bench-repo.sh: the snapshot repository's benchmarks (docs/benchmarks.md,
# section "Snapshot repository").
#
#   1. Go benchmarks: ingest of new and unchanged users, 30 days of churn.
#   2. benchtool: USERS users, DAYS daily snapshots at CHURN daily churn, into
#      an fsynced file:// repository and, side by side, into restic (Debian
#      package, installed with apt-get if missing) backing up the same data
#      exported as one JSON file per user.
#
# Environment: USERS (100000), DAYS (30), CHURN (0.01), WORK (temp dir),
# SKIP_RESTIC=1, SKIP_GO_BENCH=1.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
users="${USERS:-100000}"
days="${DAYS:-30}"
churn="${CHURN:-0.01}"
work="${WORK:-$(mktemp -d)}"

if [[ "${SKIP_GO_BENCH:-}" != 1 ]]; then
	echo "== go benchmarks (internal/repository)" >&2
	go test -run '^$' -bench 'Ingest|Churn' -benchtime 3x ./internal/repository/
	go test -run '^$' -bench . ./internal/repository/content/
fi

restic=""
if [[ "${SKIP_RESTIC:-}" != 1 ]]; then
	if ! command -v restic >/dev/null; then
		echo "== installing restic (apt-get)" >&2
		apt-get install -y -qq restic >/dev/null || { apt-get update -qq && apt-get install -y -qq restic >/dev/null; }
	fi
	restic="$(command -v restic)"
	echo "== $("$restic" version)" >&2
fi

echo "== benchtool: $users users, $days days, churn $churn, work dir $work" >&2
go build -o "$work/benchtool" ./internal/repository/benchtool
"$work/benchtool" --users "$users" --days "$days" --churn "$churn" --work "$work" --restic "$restic"
echo "== nproc $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
if [[ -z "${WORK:-}" ]]; then
	rm -rf "$work"
fi
