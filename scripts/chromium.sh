#!/usr/bin/env bash
# chromium.sh: Debian's Chromium for the web console's browser tests
# (internal/devstack/console_test.go, driven with chromedp).
#
#   scripts/chromium.sh install   apt-get install chromium if none is found
#   scripts/chromium.sh path      print the browser's path
set -euo pipefail

find_browser() {
	local b
	for b in "${ENTRAVAULT_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome; do
		if [[ -n "$b" && -x "$b" ]]; then
			echo "$b"
			return 0
		fi
	done
	return 1
}

case "${1:-install}" in
install)
	if find_browser >/dev/null; then
		exit 0
	fi
	if command -v apt-get >/dev/null && [[ "$(id -u)" == 0 ]]; then
		echo "chromium.sh: installing chromium with apt-get" >&2
		apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
	fi
	find_browser >/dev/null || { echo "chromium.sh: Chromium is required (apt-get install chromium)" >&2; exit 1; }
	;;
path)
	find_browser || { echo "chromium.sh: no Chromium found: run scripts/chromium.sh install" >&2; exit 1; }
	;;
*)
	echo "usage: scripts/chromium.sh install|path" >&2
	exit 2
	;;
esac
