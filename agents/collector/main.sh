# main.sh: the collector's entry point: pinned identity, every plugin (a failing one reports its error), one JSON document.
# Concatenated after lib.sh and plugins/*.sh into one self-contained script (what `sh -s` runs over SSH).

_gf_usage() {
  cat <<'USAGE'
usage: collect.sh [options]    print this host's facts as one JSON document on stdout
  --via agent|ssh|local   how the document travels (reported as collector.via; default local)
  --state-dir DIR         where the identity is kept (default /var/lib/gitfleet-agent)
  --ip IP                 the address the server should know this host by
  --route-to HOST         otherwise: use the source address of the route to HOST (the server)
  --env ENV --apps A,B    inventory env and apps for a host the server does not know yet
  --plugins P,Q           run only these plugins
USAGE
}

_gf_is_uuid() {
  printf '%s\n' "$1" | grep -Eq '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
}

# _gf_new_uuid: a random (version 4) UUID from the kernel, else from /dev/urandom.
_gf_new_uuid() {
  u=$(cat /proc/sys/kernel/random/uuid 2>/dev/null)
  if ! _gf_is_uuid "$u"; then
    h=$(od -An -N16 -tx1 /dev/urandom 2>/dev/null | tr -d ' \n')
    u=$(printf '%s\n' "$h" | sed -n 's/^\(.\{8\}\)\(.\{4\}\).\(.\{3\}\).\(.\{3\}\)\(.\{12\}\)$/\1-\2-4\3-8\4-\5/p')
  fi
  _gf_is_uuid "$u" && printf '%s\n' "$u"
}

# _gf_identity DIR HOSTNAME NOW: load the identity pinned in DIR/identity, creating it on first collection.
# File: line 1 the UUID, then hostname=<hostname when pinned> and created=<time>. Created with link(2), so two
# collectors racing on a new host agree on one identity. Sets GF_ID GF_ID_HOST GF_ID_AT GF_ID_NEW GF_ID_ERR.
_gf_identity() {
  GF_ID= GF_ID_HOST= GF_ID_AT= GF_ID_NEW=false GF_ID_ERR=
  f=$1/identity
  if [ ! -e "$f" ]; then
    if ! mkdir -p "$1" 2>/dev/null; then GF_ID_ERR="cannot create $1"; return 0; fi
    if ! u=$(_gf_new_uuid); then GF_ID_ERR="cannot generate a UUID"; return 0; fi
    t=$f.new.$$
    if ! printf '%s\nhostname=%s\ncreated=%s\n' "$u" "$2" "$3" 2>/dev/null > "$t"; then
      rm -f "$t"; GF_ID_ERR="cannot write $f"; return 0
    fi
    ln "$t" "$f" 2>/dev/null && GF_ID_NEW=true
    rm -f "$t"
  fi
  if [ ! -r "$f" ]; then GF_ID_ERR="cannot read $f"; GF_ID_NEW=false; return 0; fi
  u=$(head -n 1 "$f")
  if ! _gf_is_uuid "$u"; then GF_ID_ERR="$f does not start with a UUID (remove it to pin a new identity)"; GF_ID_NEW=false; return 0; fi
  GF_ID=$u
  GF_ID_HOST=$(sed -n 's/^hostname=//p' "$f" | head -n 1)
  GF_ID_AT=$(sed -n 's/^created=//p' "$f" | head -n 1)
}

# _gf_route_src HOST: the source address this host uses to reach HOST (resolved with getent when not an IP).
_gf_route_src() {
  gf_has ip || return 0
  t=$1
  case $t in *[!0-9a-fA-F.:]*) t=$(getent ahosts "$t" 2>/dev/null | awk 'NR == 1 { print $1 }') ;; esac
  [ -n "$t" ] || return 0
  ip -o route get "$t" 2>/dev/null | sed -n 's/.* src \([^ ]*\).*/\1/p' | head -n 1
}

gf_main() {
  via=local state=/var/lib/gitfleet-agent ip= route_to= env= apps= only=
  while [ $# -gt 0 ]; do
    case $1 in
      -h|--help) _gf_usage; return 0 ;;
      --via|--state-dir|--ip|--route-to|--env|--apps|--plugins)
        [ $# -ge 2 ] || { echo "collect: $1 needs a value" >&2; return 2; }
        case $1 in
          --via) via=$2 ;; --state-dir) state=$2 ;; --ip) ip=$2 ;; --route-to) route_to=$2 ;;
          --env) env=$2 ;; --apps) apps=$2 ;; --plugins) only=$2 ;;
        esac
        shift 2 ;;
      *) echo "collect: unknown option $1 (see --help)" >&2; return 2 ;;
    esac
  done
  case $via in agent|ssh|local) ;; *) echo "collect: --via must be agent, ssh or local" >&2; return 2 ;; esac
  LC_ALL=C; export LC_ALL
  umask 022
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  host=$(uname -n)
  [ -n "$ip" ] || [ -z "$route_to" ] || ip=$(_gf_route_src "$route_to")
  _gf_identity "$state" "$host" "$now"

  printf '{"schema":1,"collector":{"version":%s,"via":%s},"collectedAt":%s,"hostname":%s,"ip":%s,' \
    "$(gf_str "$GF_VERSION")" "$(gf_str "$via")" "$(gf_str "$now")" "$(gf_str "$host")" "$(gf_strn "$ip")"
  if [ -n "$GF_ID" ]; then
    printf '"identity":{"id":%s,"pinnedHostname":%s,"pinnedAt":%s,"new":%s},' \
      "$(gf_str "$GF_ID")" "$(gf_strn "$GF_ID_HOST")" "$(gf_strn "$GF_ID_AT")" "$GF_ID_NEW"
  else
    printf '"identity":null,"identityError":%s,' "$(gf_str "$GF_ID_ERR")"
  fi
  if [ -n "$env" ] || [ -n "$apps" ]; then
    old_ifs=$IFS; IFS=,; set -- $apps; IFS=$old_ifs
    printf '"inventory":{"env":%s,"apps":%s},' "$(gf_strn "$env")" "$(gf_arr "$@")"
  fi

  errf=$(mktemp 2>/dev/null) || errf=/dev/null
  printf '"plugins":{'
  sep=
  for p in $GF_PLUGINS; do
    if [ -n "$only" ]; then case ",$only," in *",$p,"*) ;; *) continue ;; esac; fi
    out=$(plugin_"$p" 2>"$errf" </dev/null)
    rc=$?
    case $rc:$out in
      0:\{*\}) printf '%s%s:{"status":"ok","data":%s}' "$sep" "$(gf_str "$p")" "$out" ;;
      *)
        msg=
        [ "$errf" = /dev/null ] || msg=$(head -c 2000 "$errf" | sed 's/[[:space:]]*$//')
        [ -n "$msg" ] || if [ "$rc" -eq 0 ]; then msg="plugin printed no JSON object"; else msg="plugin exited with status $rc"; fi
        printf '%s%s:{"status":"error","error":%s}' "$sep" "$(gf_str "$p")" "$(gf_str "$msg")" ;;
    esac
    sep=,
  done
  printf '}}\n'
  [ "$errf" = /dev/null ] || rm -f "$errf"
  return 0
}

gf_main "$@"
exit $?
