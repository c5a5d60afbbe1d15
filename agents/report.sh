#!/bin/sh
# report.sh: the agent's scheduled command: collect this host's facts and POST them to the gitfleet server.
# Reads /etc/gitfleet-agent/agent.conf (written by install.sh). Uses curl, else wget; the token never appears in argv.
#   report.sh [--splay SECONDS] [--print]     --print: show the document instead of sending it
set -u
conf=${GITFLEET_AGENT_CONF:-/etc/gitfleet-agent/agent.conf}
dir=${GITFLEET_AGENT_DIR:-/opt/gitfleet-agent}
splay=0 print=false
die() { echo "gitfleet-agent: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case $1 in
    --splay) [ $# -ge 2 ] || die "--splay needs a number of seconds"; splay=$2; shift 2 ;;
    --print) print=true; shift ;;
    *) die "unknown option $1 (usage: report.sh [--splay SECONDS] [--print])" ;;
  esac
done
case $splay in ''|*[!0-9]*) die "--splay must be a number of seconds" ;; esac

[ -r "$conf" ] || die "cannot read $conf (install with agents/install.sh)"
GITFLEET_SERVER= GITFLEET_AGENT_TOKEN= GITFLEET_ENV= GITFLEET_APPS= GITFLEET_IP= GITFLEET_STATE_DIR=
. "$conf"
[ -n "$GITFLEET_SERVER" ] || die "GITFLEET_SERVER is not set in $conf"
[ -n "$GITFLEET_AGENT_TOKEN" ] || $print || die "GITFLEET_AGENT_TOKEN is not set in $conf"

# Spread the fleet's reports over a window instead of all at the same second.
if [ "$splay" -gt 0 ]; then
  r=$(od -An -N2 -tu2 /dev/urandom 2>/dev/null | tr -d ' ')
  sleep $(( ${r:-0} % (splay + 1) ))
fi

tmp=$(mktemp -d) || die "cannot create a temporary directory"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

# The address the server should know us by: configured, else the source address of our route to the server.
srv=${GITFLEET_SERVER#*://}; srv=${srv%%/*}
case $srv in \[*) srv=${srv#\[}; srv=${srv%%\]*} ;; *) srv=${srv%:*} ;; esac
set -- --via agent
if [ -n "$GITFLEET_IP" ]; then set -- "$@" --ip "$GITFLEET_IP"; else set -- "$@" --route-to "$srv"; fi
[ -z "$GITFLEET_ENV" ] || set -- "$@" --env "$GITFLEET_ENV"
[ -z "$GITFLEET_APPS" ] || set -- "$@" --apps "$GITFLEET_APPS"
[ -z "$GITFLEET_STATE_DIR" ] || set -- "$@" --state-dir "$GITFLEET_STATE_DIR"
sh "$dir/collect.sh" "$@" > "$tmp/report.json" || die "the collector failed (exit $?)"
if $print; then cat "$tmp/report.json"; exit 0; fi

url=${GITFLEET_SERVER%/}/api/v1/agents/report
if command -v curl >/dev/null 2>&1; then
  printf 'header = "Authorization: Bearer %s"\n' "$GITFLEET_AGENT_TOKEN" > "$tmp/curl.conf"
  code=$(curl -sS -K "$tmp/curl.conf" -H 'Content-Type: application/json' --data-binary "@$tmp/report.json" \
    --connect-timeout 10 --max-time 60 -o "$tmp/response" -w '%{http_code}' "$url") || die "cannot reach $url (curl exit $?)"
  case $code in
    2??) echo "gitfleet-agent: reported to $url: $(cat "$tmp/response")" ;;
    *) die "server refused the report (HTTP $code): $(head -c 500 "$tmp/response")" ;;
  esac
elif command -v wget >/dev/null 2>&1; then
  # GNU wget reads the header from a private wgetrc; BusyBox wget ignores WGETRC and is answered 401.
  printf 'header = Authorization: Bearer %s\n' "$GITFLEET_AGENT_TOKEN" > "$tmp/wgetrc"
  WGETRC=$tmp/wgetrc wget -q -O "$tmp/response" --header 'Content-Type: application/json' \
    --post-file "$tmp/report.json" --timeout 60 --tries 1 "$url" \
    || die "the report to $url failed (wget exit $?; 8 = the server refused it, e.g. a wrong token)"
  echo "gitfleet-agent: reported to $url: $(cat "$tmp/response")"
else
  die "neither curl nor wget is installed: install one of them to report to $url"
fi
