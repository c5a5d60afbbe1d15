# board: system manufacturer, model and serial (DMI, or the device tree on ARM), when readable.
# Serial numbers are facts, never identities: VMs of one image often share them.
GF_PLUGINS="$GF_PLUGINS board"

plugin_board() {
  virt=
  gf_has systemd-detect-virt && virt=$(systemd-detect-virt 2>/dev/null)
  d=/sys/class/dmi/id
  if [ -d "$d" ]; then
    unreadable=
    for f in product_serial product_uuid board_serial chassis_serial; do
      [ -e "$d/$f" ] && [ ! -r "$d/$f" ] && unreadable="$unreadable $f"
    done
    set -- $unreadable
    printf '{"source":"dmi","manufacturer":%s,"model":%s,"version":%s,"serial":%s,"uuid":%s,' \
      "$(gf_strn "$(gf_read "$d/sys_vendor")")" "$(gf_strn "$(gf_read "$d/product_name")")" \
      "$(gf_strn "$(gf_read "$d/product_version")")" "$(gf_strn "$(gf_read "$d/product_serial")")" \
      "$(gf_strn "$(gf_read "$d/product_uuid")")"
    printf '"board":{"manufacturer":%s,"model":%s,"serial":%s},"chassisType":%s,"bios":{"vendor":%s,"version":%s,"date":%s},"virtualization":%s,"unreadable":%s}' \
      "$(gf_strn "$(gf_read "$d/board_vendor")")" "$(gf_strn "$(gf_read "$d/board_name")")" "$(gf_strn "$(gf_read "$d/board_serial")")" \
      "$(gf_num "$(gf_read "$d/chassis_type")")" "$(gf_strn "$(gf_read "$d/bios_vendor")")" \
      "$(gf_strn "$(gf_read "$d/bios_version")")" "$(gf_strn "$(gf_read "$d/bios_date")")" "$(gf_strn "$virt")" "$(gf_arr "$@")"
  elif [ -r /proc/device-tree/model ]; then
    dt=/proc/device-tree
    printf '{"source":"device-tree","manufacturer":null,"model":%s,"version":null,"serial":%s,"uuid":null,"board":null,"chassisType":null,"bios":null,"virtualization":%s,"unreadable":[]}' \
      "$(gf_strn "$(tr -d '\000' < "$dt/model")")" "$(gf_strn "$(tr -d '\000' < "$dt/serial-number" 2>/dev/null)")" "$(gf_strn "$virt")"
  else
    gf_fail "no board information readable: /sys/class/dmi/id and /proc/device-tree/model are missing"
  fi
}
