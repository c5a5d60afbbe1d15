#!/usr/bin/env bash
# The tests run half of the transfer corpus against hosts whose rsync is Debian 12's main-archive
# 3.2.7-1+deb12u6 (the 2025 CVE fixes: it rejects the mode-0 entries --delete-missing-args sends).
# This fetches that .deb from the archive and unpacks it under test/.tools/ (not installed system-wide).
set -euo pipefail
ver=3.2.7-1+deb12u6
dest="$(cd "$(dirname "$0")/.." && pwd)/test/.tools/rsync-$ver"
[ -x "$dest/usr/bin/rsync" ] && { echo "test-rsync: $ver present"; exit 0; }
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT; chmod 755 "$tmp"
cd "$tmp"
if ! apt-get download "rsync=$ver" >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  apt-get download "rsync=$ver" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true
fi
deb=$(ls rsync_*.deb)
mkdir -p "$dest.tmp"; dpkg-deb -x "$deb" "$dest.tmp"; rm -rf "$dest"; mv "$dest.tmp" "$dest"
# No pipe into head: under pipefail, rsync killed by SIGPIPE would fail the set-up.
v=$("$dest/usr/bin/rsync" --version); echo "${v%%$'\n'*}"
