# basic: host name, operating system (os-release), kernel, architecture, uptime and load.
GF_PLUGINS="$GF_PLUGINS basic"

# _gf_osr KEY FILE: one os-release value, quotes and shell escapes removed.
_gf_osr() {
  sed -n "s/^$1=//p" "$2" | head -n 1 | sed -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'\$/\1/" -e 's/\\\(.\)/\1/g'
}

plugin_basic() {
  osr=/etc/os-release
  [ -r "$osr" ] || osr=/usr/lib/os-release
  os_id= os_ver= os_name= os_pretty= os_codename=
  if [ -r "$osr" ]; then
    os_id=$(_gf_osr ID "$osr"); os_ver=$(_gf_osr VERSION_ID "$osr"); os_name=$(_gf_osr NAME "$osr")
    os_pretty=$(_gf_osr PRETTY_NAME "$osr"); os_codename=$(_gf_osr VERSION_CODENAME "$osr")
  fi
  up=$(cut -d' ' -f1 /proc/uptime 2>/dev/null); up=${up%%.*}
  btime=$(sed -n 's/^btime //p' /proc/stat 2>/dev/null)
  load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
  set -- $load
  loads="$(gf_num "${1:-}"),$(gf_num "${2:-}"),$(gf_num "${3:-}")"
  [ -n "$load" ] || loads=
  printf '{"hostname":%s,"os":{"id":%s,"versionId":%s,"name":%s,"prettyName":%s,"codename":%s},' \
    "$(gf_str "$(uname -n)")" "$(gf_strn "$os_id")" "$(gf_strn "$os_ver")" "$(gf_strn "$os_name")" \
    "$(gf_strn "$os_pretty")" "$(gf_strn "$os_codename")"
  printf '"kernel":{"name":%s,"release":%s,"version":%s},"arch":%s,"uptimeSeconds":%s,"bootTime":%s,"loadAverage":[%s]}' \
    "$(gf_str "$(uname -s)")" "$(gf_str "$(uname -r)")" "$(gf_str "$(uname -v)")" "$(gf_str "$(uname -m)")" \
    "$(gf_num "$up")" "$(gf_num "$btime")" "$loads"
}
