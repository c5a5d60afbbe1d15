#!/usr/bin/env bash
# Local test fleet: each simulated host is a real sshd on its own loopback address,
# inside its own mount namespace and chroot, so a push to one host lands only in its
# own filesystem. Used by the tests and the benchmark; handy for demos.
#
#   scripts/fleet.sh up   DIR COUNT [BASE]   start COUNT hosts (BASE like 127.1.5, default 127.0.1)
#   scripts/fleet.sh down DIR                stop them and remove their mounts
#   scripts/fleet.sh start-host DIR IP       (re)start one host that was stopped
#   scripts/fleet.sh stop-host DIR IP        stop one host (it stays configured)
#   scripts/fleet.sh pause-host DIR IP       freeze every process of a host (a hung machine)
#   scripts/fleet.sh resume-host DIR IP      thaw it
#
# DIR gets: id_ed25519(.pub) the client key authorised on every host, known_hosts,
# hosts.txt (one IP a line), and hosts/<ip>/root (the host's filesystem).
# Needs root (unshare/chroot/mount) and openssh-server + rsync installed.
set -euo pipefail

die() { echo "fleet: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (it uses unshare, mount and chroot)"
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: fleet.sh up|down|start-host|stop-host DIR ..."
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)

make_root() { # $1 = ip: a minimal root filesystem for one host
  local ip=$1 r="$dir/hosts/$1/root"
  mkdir -p "$r"/{usr,dev,proc,etc/ssh,root/.ssh,tmp,var/log,var/tmp,run/sshd,home,opt,srv}
  for l in bin lib lib64 sbin; do [ -L "$r/$l" ] || ln -s "usr/$l" "$r/$l"; done
  chmod 1777 "$r/tmp" "$r/var/tmp"; chmod 700 "$r/root" "$r/root/.ssh"
  for f in passwd group shadow gshadow nsswitch.conf hosts localtime; do
    [ -e "/etc/$f" ] && cp -L "/etc/$f" "$r/etc/$f"
  done
  echo "host-${ip//./-}" > "$r/etc/hostname"
  [ -f "$r/etc/ssh/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C "$ip" -f "$r/etc/ssh/ssh_host_ed25519_key"
  cp "$dir/id_ed25519.pub" "$r/root/.ssh/authorized_keys"; chmod 600 "$r/root/.ssh/authorized_keys"
  cat > "$r/etc/ssh/sshd_config" <<CFG
ListenAddress $ip:22
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PidFile /run/sshd.pid
AuthorizedKeysFile /root/.ssh/authorized_keys
MaxStartups 200:30:400
MaxSessions 50
LogLevel VERBOSE
Subsystem sftp /usr/lib/openssh/sftp-server
CFG
}

start_host() { # $1 = ip
  local ip=$1 h="$dir/hosts/$1" r="$dir/hosts/$1/root"
  [ -d "$r" ] || die "no such host $ip"
  if [ -f "$h/pid" ] && kill -0 "$(cat "$h/pid")" 2>/dev/null; then return 0; fi
  # New mount namespace (private propagation): the bind mounts vanish with it.
  setsid unshare --mount --uts --propagation private -- sh -c '
    r=$1; ip=$2
    mount --bind /usr "$r/usr" && mount -o remount,bind,ro "$r/usr"
    mount --bind /dev "$r/dev"
    mount -t proc proc "$r/proc"
    hostname "$(cat "$r/etc/hostname")"
    exec chroot "$r" /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config
  ' sh "$r" "$ip" >>"$h/sshd.log" 2>&1 < /dev/null &
  echo $! > "$h/pid"
}

wait_host() { # $1 = ip: until sshd accepts TCP
  local i
  for i in $(seq 1 100); do
    (exec 3<>"/dev/tcp/$1/22") 2>/dev/null && return 0
    sleep 0.1
  done
  die "host $1 did not start: $(tail -5 "$dir/hosts/$1/sshd.log")"
}

stop_host() {
  local h="$dir/hosts/$1"
  if [ -f "$h/pid" ]; then
    local pid; pid=$(cat "$h/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$h/pid"
  fi
  # Everything still running inside the host (open SSH sessions, their shells) goes too,
  # as when a machine goes down.
  signal_host "$1" KILL
}

signal_host() { # $1 = ip, $2 = signal: every process whose root is the host's root
  local r="$dir/hosts/$1/root" p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$r" ] && kill "-$2" "${p##*/}" 2>/dev/null
  done
  return 0
}

case "$cmd" in
  up)
    count=${3:-3}; base=${4:-127.0.1}
    [ -f "$dir/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C gitfleet-test -f "$dir/id_ed25519"
    : > "$dir/hosts.txt"; : > "$dir/known_hosts"
    for i in $(seq 1 "$count"); do
      ip="$base.$i"; make_root "$ip"
      if ! { [ -f "$dir/hosts/$ip/pid" ] && kill -0 "$(cat "$dir/hosts/$ip/pid")" 2>/dev/null; }; then
        (exec 3<>"/dev/tcp/$ip/22") 2>/dev/null && die "$ip:22 is already in use by another process (a fleet left running?)"
      fi
      start_host "$ip"; echo "$ip" >> "$dir/hosts.txt"
      echo "$ip $(cut -d' ' -f1,2 "$dir/hosts/$ip/root/etc/ssh/ssh_host_ed25519_key.pub")" >> "$dir/known_hosts"
    done
    while read -r ip; do wait_host "$ip"; done < "$dir/hosts.txt"
    echo "fleet: $count hosts up in $dir"
    ;;
  down)
    # One pass over /proc for the whole fleet (per-host scans are slow with hundreds of hosts).
    for f in "$dir"/hosts/*/pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; rm -f "$f"; done
    for pass in 1 2; do # twice: a listener may fork a session while the first pass runs
      for p in /proc/[0-9]*; do
        case "$(readlink "$p/root" 2>/dev/null)" in "$dir"/hosts/*) kill -9 "${p##*/}" 2>/dev/null ;; esac
      done
      [ "$pass" = 1 ] && sleep 0.2
    done
    true
    ;;
  start-host) start_host "$3"; wait_host "$3" ;;
  stop-host) stop_host "$3" ;;
  pause-host) signal_host "$3" STOP ;;
  resume-host) signal_host "$3" CONT ;;
  *) die "unknown command $cmd" ;;
esac
