# disks: block devices (name, size, model, rotational) and mounted filesystems (device, type, sizes, usage).
GF_PLUGINS="$GF_PLUGINS disks"

# Filesystem types that hold no data of their own: left out of "filesystems".
GF_PSEUDO_FS="proc sysfs devtmpfs devpts tmpfs ramfs cgroup cgroup2 securityfs pstore debugfs tracefs mqueue hugetlbfs configfs fusectl binfmt_misc autofs bpf nsfs rpc_pipefs efivarfs squashfs selinuxfs fuse.lxcfs fuse.gvfsd-fuse"

# _gf_devices_sysfs: whole disks from /sys/block (loop, ram and zram devices and empty drives left out).
_gf_devices_sysfs() {
  sep=
  for d in /sys/block/*; do
    [ -e "$d/size" ] || continue
    n=${d##*/}
    case $n in loop*|ram*|zram*|fd*) continue ;; esac
    sectors=$(gf_read "$d/size")
    case $sectors in ''|*[!0-9]*|0) continue ;; esac
    printf '%s{"name":%s,"sizeBytes":%s,"model":%s,"vendor":%s,"serial":%s,"rotational":%s,"removable":%s}' "$sep" \
      "$(gf_str "$n")" "$(( sectors * 512 ))" "$(gf_strn "$(gf_read "$d/device/model")")" \
      "$(gf_strn "$(gf_read "$d/device/vendor")")" "$(gf_strn "$(gf_read "$d/device/serial")")" \
      "$(gf_bool "$(gf_read "$d/queue/rotational")")" "$(gf_bool "$(gf_read "$d/removable")")"
    sep=,
  done
}

# _gf_devices_proc: whole disks from /proc/partitions when /sys is not mounted: an entry is a partition
# when another entry's name is a prefix of it (sda1 of sda, nvme0n1p1 of nvme0n1).
_gf_devices_proc() {
  awk "$GF_AWK_JS"'
    NR > 2 && NF == 4 && $4 !~ /^(loop|ram|zram|fd)/ { n++; name[n] = $4; kb[n] = $3 }
    END {
      sep = ""
      for (i = 1; i <= n; i++) {
        part = 0
        for (j = 1; j <= n; j++) if (j != i && length(name[j]) < length(name[i]) && index(name[i], name[j]) == 1) part = 1
        if (part || kb[i] == 0) continue
        printf "%s{\"name\":%s,\"sizeBytes\":%s,\"model\":null,\"vendor\":null,\"serial\":null,\"rotational\":null,\"removable\":null}", sep, js(name[i]), sprintf("%.0f", kb[i] * 1024)
        sep = ","
      }
    }' /proc/partitions
}

# _gf_filesystems: df -P -k (POSIX output, kB) joined with /proc/mounts for the type and read-only flag.
_gf_filesystems() {
  gf_timeout 15 df -P -k 2>/dev/null | awk -v pseudo=" $GF_PSEUDO_FS " "$GF_AWK_JS"'
    function unoct(s) { gsub(/\\040/, " ", s); gsub(/\\011/, "\t", s); gsub(/\\012/, "\n", s); gsub(/\\134/, "\\", s); return s }
    BEGIN {
      while ((getline line < "/proc/mounts") > 0) {
        split(line, f, " ")
        m = unoct(f[2]); type[m] = f[3]; ro[m] = (("," f[4] ",") ~ /,ro,/) ? "true" : "false"
      }
      sep = ""
    }
    NR == 1 { next }
    NF >= 6 && $2 ~ /^[0-9]+$/ {
      mnt = $6; for (i = 7; i <= NF; i++) mnt = mnt " " $i
      t = (mnt in type) ? type[mnt] : ""
      if (t != "" && index(pseudo, " " t " ")) next
      if (seen[mnt]++) next
      printf "%s{\"device\":%s,\"mountpoint\":%s,\"type\":%s,\"readOnly\":%s,\"sizeBytes\":%s,\"usedBytes\":%s,\"availableBytes\":%s}", sep, js($1), js(mnt), jsn(t), ((mnt in ro) ? ro[mnt] : "null"), sprintf("%.0f", $2 * 1024), sprintf("%.0f", $3 * 1024), sprintf("%.0f", $4 * 1024)
      sep = ","
    }'
}

plugin_disks() {
  gf_need_awk
  if [ -d /sys/block ] && [ -n "$(ls /sys/block 2>/dev/null)" ]; then
    src=sysfs; devices=$(_gf_devices_sysfs)
  elif [ -r /proc/partitions ]; then
    src=proc; devices=$(_gf_devices_proc)
  else
    gf_fail "no block device information: neither /sys/block nor /proc/partitions is readable"
  fi
  printf '{"source":"%s","devices":[%s],"filesystems":[%s]}' "$src" "$devices" "$(_gf_filesystems)"
}
