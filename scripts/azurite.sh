#!/usr/bin/env bash
# azurite.sh: Azurite (Microsoft's Azure Storage emulator, npm package
# "azurite") for the repository's azblob:// tests.
#
#   scripts/azurite.sh install          install into .tools/ if missing
#   scripts/azurite.sh start [PORT]     install if needed, run the blob service
#                                       on 127.0.0.1:PORT (default 10000) in the
#                                       foreground, data in a temp dir
#   scripts/azurite.sh env [PORT]       print the AZURE_STORAGE_* variables for
#                                       gocloud's azblob:// with Azurite's
#                                       well-known dev account
#
# Tests start their own Azurite on a free port from
# .tools/node_modules/.bin/azurite-blob; they only need `install`.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.tools"
bin="$tools/node_modules/.bin/azurite-blob"
version="${AZURITE_VERSION:-3.37.0}"

install() {
	if [[ -x "$bin" ]]; then
		return 0
	fi
	if ! command -v npm >/dev/null; then
		# A fresh machine may have only Go: bring Node.js from Debian.
		if command -v apt-get >/dev/null && [[ "$(id -u)" == 0 ]]; then
			echo "azurite.sh: installing nodejs and npm with apt-get" >&2
			apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >&2
		fi
		command -v npm >/dev/null || { echo "azurite.sh: npm is required (apt-get install nodejs npm)" >&2; exit 1; }
	fi
	mkdir -p "$tools"
	echo "azurite.sh: installing azurite@$version into $tools" >&2
	npm install --prefix "$tools" --no-audit --no-fund --loglevel=error "azurite@$version" >&2
	[[ -x "$bin" ]] || { echo "azurite.sh: install did not produce $bin" >&2; exit 1; }
}

case "${1:-install}" in
install)
	install
	;;
start)
	install
	port="${2:-10000}"
	data="$(mktemp -d)"
	trap 'rm -rf "$data"' EXIT
	exec "$bin" --silent --skipApiVersionCheck --loose --blobHost 127.0.0.1 --blobPort "$port" --location "$data"
	;;
env)
	port="${2:-10000}"
	# Azurite's documented, public development account; not a secret.
	echo "export AZURE_STORAGE_ACCOUNT=devstoreaccount1"
	echo "export AZURE_STORAGE_KEY=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	echo "export AZURE_STORAGE_PROTOCOL=http"
	echo "export AZURE_STORAGE_IS_LOCAL_EMULATOR=true"
	echo "export AZURE_STORAGE_DOMAIN=127.0.0.1:$port"
	;;
*)
	echo "usage: scripts/azurite.sh install|start [PORT]|env [PORT]" >&2
	exit 2
	;;
esac
