#!/usr/bin/env bash
# Install the system packages gitfleet needs on Debian/Ubuntu: rsync and the OpenSSH client (service),
# plus, with --test, openssh-server, pssh (parallel-rsync baseline) and iproute2 for the test fleet and benchmark.
set -euo pipefail
pkgs=(rsync openssh-client git tar ca-certificates)
[ "${1:-}" = "--test" ] && pkgs+=(openssh-server pssh iproute2 procps)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
fetch_test_rsync() { [ "${1:-}" != "--test" ] || bash "$(dirname "$0")/test-rsync.sh"; }
if [ ${#missing[@]} -eq 0 ]; then echo "install-deps: all present (${pkgs[*]})"; fetch_test_rsync "${1:-}"; exit 0; fi
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fetch_test_rsync "${1:-}"
