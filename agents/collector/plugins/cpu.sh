# cpu: processor model and vendor, logical CPUs (installed and available to us), sockets and physical cores.
GF_PLUGINS="$GF_PLUGINS cpu"

plugin_cpu() {
  [ -r /proc/cpuinfo ] || gf_fail "/proc/cpuinfo is not readable"
  info=/proc/cpuinfo
  # x86 "model name"; ARM "Processor"/"Model"/"Hardware"; POWER "cpu"; s390 "processor 0: ..." is left as null.
  model=$(sed -n -e 's/^model name[[:space:]]*:[[:space:]]*//p' "$info" | head -n 1)
  [ -n "$model" ] || model=$(sed -n -e 's/^Processor[[:space:]]*:[[:space:]]*//p' -e 's/^Model[[:space:]]*:[[:space:]]*//p' \
    -e 's/^Hardware[[:space:]]*:[[:space:]]*//p' -e 's/^cpu[[:space:]]*:[[:space:]]*//p' "$info" | head -n 1)
  vendor=$(sed -n 's/^vendor_id[[:space:]]*:[[:space:]]*//p' "$info" | head -n 1)
  logical=$(nproc --all 2>/dev/null) || logical=
  [ -n "$logical" ] || logical=$(grep -c '^processor' "$info")
  available=$(nproc 2>/dev/null) || available=
  mhz=$(sed -n 's/^cpu MHz[[:space:]]*:[[:space:]]*//p' "$info" | head -n 1)
  # Sockets and physical cores from distinct "physical id" and ("physical id", "core id") pairs, where the kernel lists them.
  topo=
  [ -z "$GF_AWK" ] || topo=$(awk -F': *' '
    /^physical id/ { p = $2; s[p] = 1 }
    /^core id/ { c[p " " $2] = 1 }
    END { ns = 0; for (k in s) ns++; nc = 0; for (k in c) nc++; print ns, nc }' "$info")
  set -- $topo
  sockets=${1:-0}; cores=${2:-0}
  [ "$sockets" -gt 0 ] 2>/dev/null || sockets=
  [ "$cores" -gt 0 ] 2>/dev/null || cores=
  virt=false
  grep -q '^flags.* hypervisor' "$info" && virt=true
  printf '{"model":%s,"vendor":%s,"arch":%s,"cores":%s,"available":%s,"sockets":%s,"physicalCores":%s,"mhz":%s,"hypervisor":%s}' \
    "$(gf_strn "$model")" "$(gf_strn "$vendor")" "$(gf_str "$(uname -m)")" "$(gf_num "$logical")" "$(gf_num "$available")" \
    "$(gf_num "$sockets")" "$(gf_num "$cores")" "$(gf_num "$mhz")" "$virt"
}
