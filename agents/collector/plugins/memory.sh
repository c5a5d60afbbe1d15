# memory: physical memory and swap from /proc/meminfo, in bytes.
GF_PLUGINS="$GF_PLUGINS memory"

# _gf_kb FIELD: a /proc/meminfo value in kB (empty if absent).
_gf_kb() {
  sed -n "s/^$1:[[:space:]]*\([0-9][0-9]*\) kB\$/\1/p" /proc/meminfo | head -n 1
}

# _gf_bytes KB: KB * 1024 as a JSON number, or null (shell arithmetic is 64-bit).
_gf_bytes() {
  case $1 in ''|*[!0-9]*) printf null ;; *) printf '%s' "$(( $1 * 1024 ))" ;; esac
}

plugin_memory() {
  [ -r /proc/meminfo ] || gf_fail "/proc/meminfo is not readable"
  total=$(_gf_kb MemTotal)
  [ -n "$total" ] || gf_fail "/proc/meminfo has no MemTotal line"
  printf '{"totalBytes":%s,"availableBytes":%s,"freeBytes":%s,"swapTotalBytes":%s,"swapFreeBytes":%s}' \
    "$(_gf_bytes "$total")" "$(_gf_bytes "$(_gf_kb MemAvailable)")" "$(_gf_bytes "$(_gf_kb MemFree)")" \
    "$(_gf_bytes "$(_gf_kb SwapTotal)")" "$(_gf_bytes "$(_gf_kb SwapFree)")"
}
