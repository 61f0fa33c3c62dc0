#!/bin/sh
# Install Debian's 6.12 kernel image and headers from bookworm-backports, for
# `make check KVER=<6.12 version>`. Idempotent. Prints the installed version.
set -eu

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
SRC=/etc/apt/sources.list.d/rawkv-backports.sources
if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
	$SUDO tee "$SRC" >/dev/null <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
	$SUDO apt-get update -qq
fi
# The generic flavour only, not -rt or -cloud.
pick() { grep -v -e '-rt-amd64$' -e '-cloud-amd64$' -e '-dbg$' -e '-unsigned$' | sort -V | tail -n 1; }
ver=$(ls -d /lib/modules/6.12.*-amd64 2>/dev/null | pick)
if [ -z "$ver" ] || [ ! -d "$ver/build" ]; then
	pkg=$(apt-cache search --names-only '^linux-image-6\.12\.[0-9.+~a-z-]*-amd64$' |
		awk '{print $1}' | pick)
	[ -n "$pkg" ] || { echo "setup-612: no linux-image-6.12 in bookworm-backports" >&2; exit 1; }
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports \
		"$pkg" "$(echo "$pkg" | sed 's/linux-image/linux-headers/')" >&2
	ver=$(ls -d /lib/modules/6.12.*-amd64 | pick)
fi
echo "${ver##*/}"
