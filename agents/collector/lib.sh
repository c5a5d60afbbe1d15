# lib.sh: helpers shared by the collector's plugins: JSON encoding (no jq), numbers, small readers.
# POSIX sh; needs only coreutils, sed, grep and awk (all present on a minimal Linux install).
GF_VERSION=1.0.0
GF_PLUGINS=

# awk may be reachable only under its own name (e.g. a Debian host whose /etc/alternatives link is missing):
# find one, and make `awk` in this script call it. GF_AWK is empty when there is none.
GF_AWK=
for _gf_a in awk mawk gawk nawk original-awk; do
  if command -v "$_gf_a" >/dev/null 2>&1; then GF_AWK=$_gf_a; break; fi
done
[ -n "$GF_AWK" ] || ! command -v busybox >/dev/null 2>&1 || GF_AWK="busybox awk"
awk() {
  if [ -z "$GF_AWK" ]; then echo "awk is not installed" >&2; return 127; fi
  command $GF_AWK "$@"
}

# gf_need_awk: end the current plugin with an error when no awk exists.
gf_need_awk() {
  [ -n "$GF_AWK" ] || gf_fail "this plugin needs awk, which is not installed"
}

# The awk function js(s): s as a JSON string literal (quotes, backslashes and every control character escaped).
# Byte-wise under LC_ALL=C, so non-ASCII bytes pass through unchanged.
GF_AWK_JS='
function js(s,    out, i, n, ch) {
  if (!_js_ready) {
    for (i = 1; i < 32; i++) _jsc[sprintf("%c", i)] = sprintf("\\u%04x", i)
    _jsc["\t"] = "\\t"; _jsc["\n"] = "\\n"; _jsc["\r"] = "\\r"; _jsc["\b"] = "\\b"; _jsc["\f"] = "\\f"
    _js_ready = 1
  }
  out = ""; n = length(s)
  for (i = 1; i <= n; i++) {
    ch = substr(s, i, 1)
    if (ch == "\\") out = out "\\\\"
    else if (ch == "\"") out = out "\\\""
    else if (ch in _jsc) out = out _jsc[ch]
    else out = out ch
  }
  return "\"" out "\""
}
function jsn(s) { return s == "" ? "null" : js(s) }
function jnum(v) {
  if (v !~ /^[0-9]+(\.[0-9]+)?$/) return "null"
  sub(/^0+/, "", v)
  if (v == "" || v ~ /^\./) v = "0" v
  return v
}
'

# gf_str VALUE: VALUE as a JSON string literal (multi-line values keep their newlines as \n).
gf_str() {
  if [ -z "$GF_AWK" ]; then # lossy but valid: control characters become spaces
    printf "\"%s\"" "$(printf "%s" "$1" | tr "\000-\037" " " | sed -e "s/\\\\/\\\\\\\\/g" -e "s/\"/\\\\\"/g")"
    return
  fi
  printf '%s' "$1" | awk "$GF_AWK_JS"'
    { buf = (NR > 1 ? buf "\n" : "") $0 }
    END { printf "%s", js(buf) }'
}

# gf_strn VALUE: like gf_str, but null for an empty value.
gf_strn() {
  if [ -z "$1" ]; then printf null; else gf_str "$1"; fi
}

# gf_num VALUE: a JSON number for a plain non-negative integer or decimal, else null (leading zeros dropped).
gf_num() {
  case $1 in
    ""|*[!0-9.]*|*.*.*|.*|*.) printf null; return ;;
  esac
  v=$1
  while :; do case $v in 0[0-9]*) v=${v#0} ;; *) break ;; esac; done
  printf "%s" "$v"
}

# gf_bool VALUE: true for 1/yes/true, false for 0/no/false, else null.
gf_bool() {
  case $1 in 1|yes|true|Y|y) printf true ;; 0|no|false|N|n) printf false ;; *) printf null ;; esac
}

# gf_arr VALUE...: a JSON array of strings.
gf_arr() {
  sep=; printf '['
  for v in "$@"; do printf '%s%s' "$sep" "$(gf_str "$v")"; sep=,; done
  printf ']'
}

# gf_read FILE: the first line of FILE without trailing blanks; empty if unreadable.
gf_read() {
  [ -r "$1" ] || return 0
  head -n 1 "$1" 2>/dev/null | tr -d '\000' | sed 's/[[:space:]]*$//'
}

# gf_fail MESSAGE: end the current plugin with an error (plugins run in a subshell).
gf_fail() {
  printf '%s\n' "$*" >&2
  exit 1
}

# gf_timeout SECONDS CMD...: run CMD under timeout(1) when it exists (df can hang on a dead NFS mount).
gf_timeout() {
  t=$1; shift
  if command -v timeout >/dev/null 2>&1; then timeout "$t" "$@"; else "$@"; fi
}

# gf_has CMD: is CMD on PATH?
gf_has() {
  command -v "$1" >/dev/null 2>&1
}
