#!/usr/bin/env bash
# postgres.sh: PostgreSQL from Debian for the production topology test
# (internal/prodtest), which runs a throwaway cluster of its own.
#
#   scripts/postgres.sh install   apt-get install postgresql if no initdb is found
#   scripts/postgres.sh bindir    print the folder holding initdb and postgres
set -euo pipefail

bindir() {
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [[ -x "$d/initdb" && -x "$d/postgres" ]]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

case "${1:-install}" in
install)
	if bindir >/dev/null; then
		exit 0
	fi
	if command -v apt-get >/dev/null && [[ "$(id -u)" == 0 ]]; then
		echo "postgres.sh: installing postgresql with apt-get" >&2
		apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
	fi
	bindir >/dev/null || { echo "postgres.sh: PostgreSQL is required (apt-get install postgresql)" >&2; exit 1; }
	;;
bindir)
	bindir || { echo "postgres.sh: no PostgreSQL under /usr/lib/postgresql: run scripts/postgres.sh install" >&2; exit 1; }
	;;
*)
	echo "usage: scripts/postgres.sh install|bindir" >&2
	exit 2
	;;
esac
