# network: interfaces with MAC, state, MTU and addresses; the default route. ip(8) when present, else /sys and /proc.
GF_PLUGINS="$GF_PLUGINS network"

# _gf_net_ip: interfaces from `ip -o link` and `ip -o addr` (one line per link / per address).
_gf_net_ip() {
  { ip -o link show 2>/dev/null | sed 's/^/L /'; ip -o addr show 2>/dev/null | sed 's/^/A /'; } | awk "$GF_AWK_JS"'
    $1 == "L" {
      name = $3; sub(/:$/, "", name); sub(/@.*/, "", name)
      n++; order[n] = name; mtu[name] = ""; state[name] = ""; mac[name] = ""; addrs[name] = ""
      for (i = 4; i < NF; i++) {
        if ($i == "mtu") mtu[name] = $(i + 1)
        else if ($i == "state") state[name] = $(i + 1)
        else if ($i ~ /^link\//) { if ($i != "link/none") mac[name] = $(i + 1); ltype[name] = substr($i, 6) }
      }
      next
    }
    $1 == "A" && ($4 == "inet" || $4 == "inet6") {
      name = $3; sub(/@.*/, "", name)
      split($5, a, "/"); scope = ""
      for (i = 6; i < NF; i++) if ($i == "scope") scope = $(i + 1)
      e = "{\"family\":" js($4 == "inet" ? "ipv4" : "ipv6") ",\"address\":" js(a[1]) ",\"prefix\":" jnum(a[2]) ",\"scope\":" jsn(scope) "}"
      addrs[name] = addrs[name] (addrs[name] == "" ? "" : ",") e
    }
    END {
      sep = ""
      for (i = 1; i <= n; i++) {
        k = order[i]
        printf "%s{\"name\":%s,\"mac\":%s,\"type\":%s,\"state\":%s,\"mtu\":%s,\"addresses\":[%s]}", sep, js(k), jsn(mac[k]), jsn(ltype[k]), jsn(state[k]), jnum(mtu[k]), addrs[k]
        sep = ","
      }
    }'
}

# _gf_net_sys: interfaces from /sys/class/net, IPv6 addresses from /proc/net/if_inet6 (no per-interface IPv4 without ip(8)).
_gf_net_sys() {
  sep=
  for d in /sys/class/net/*; do
    [ -e "$d" ] || continue
    n=${d##*/}
    v6=$(awk -v ifn="$n" "$GF_AWK_JS"'
      function hex(s,    i, v) { v = 0; s = tolower(s); for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1; return v }
      $6 == ifn {
        a = ""; for (i = 0; i < 8; i++) a = a (i ? ":" : "") substr($1, i * 4 + 1, 4)
        printf "%s{\"family\":\"ipv6\",\"address\":%s,\"prefix\":%d,\"scope\":null}", sep, js(a), hex($3)
        sep = ","
      }' /proc/net/if_inet6 2>/dev/null)
    printf '%s{"name":%s,"mac":%s,"type":null,"state":%s,"mtu":%s,"addresses":[%s]}' "$sep" "$(gf_str "$n")" \
      "$(gf_strn "$(gf_read "$d/address")")" "$(gf_strn "$(gf_read "$d/operstate" | tr 'a-z' 'A-Z')")" "$(gf_num "$(gf_read "$d/mtu")")" "$v6"
    sep=,
  done
}

# _gf_ipv4_local: local IPv4 addresses from /proc/net/fib_trie (the "/32 host LOCAL" entries).
_gf_ipv4_local() {
  awk '/\|--/ { a = $2 } /\/32 host LOCAL/ { if (!seen[a]++) print a }' /proc/net/fib_trie 2>/dev/null
}

plugin_network() {
  gf_need_awk
  if gf_has ip && ip -o link show >/dev/null 2>&1; then
    src=ip; ifaces=$(_gf_net_ip)
    set -- $(ip -o route show default 2>/dev/null | head -n 1)
    gw= dev=
    while [ $# -gt 1 ]; do
      case $1 in via) gw=$2 ;; dev) dev=$2 ;; esac
      shift
    done
    printf '{"source":"%s","interfaces":[%s],"defaultRoute":{"gateway":%s,"interface":%s}}' "$src" "$ifaces" "$(gf_strn "$gw")" "$(gf_strn "$dev")"
  elif [ -d /sys/class/net ]; then
    v4=$(_gf_ipv4_local)
    set -- $v4
    printf '{"source":"sysfs","interfaces":[%s],"ipv4Local":%s,"defaultRoute":null}' "$(_gf_net_sys)" "$(gf_arr "$@")"
  else
    gf_fail "no network information: neither ip(8) nor /sys/class/net is available"
  fi
}
