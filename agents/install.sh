#!/bin/sh
# install.sh: install the gitfleet agent on this host, or into a host's filesystem with --root:
# the collector and report command under /opt/gitfleet-agent, the server URL and agent token in
# /etc/gitfleet-agent/agent.conf (mode 0600), and a schedule: a systemd timer, or cron where there is no systemd.
#
#   sh install.sh --server URL (--token TOKEN | --token-file FILE | GITFLEET_AGENT_TOKEN=...) [options]
#   curl -fsS URL/agents/install.sh | sh -s -- --server URL --token-file FILE [options]
#
# Options:
#   --env ENV --apps A,B     inventory env and apps used when the server adds this host (ignored once it exists)
#   --ip IP                  the address the server should know this host by (default: the route to the server)
#   --interval MINUTES       how often to report (default 15; cron: 1-59 or whole hours up to 24)
#   --scheduler S            systemd, cron or none (default: systemd when it runs, else cron)
#   --root DIR               install into DIR as the host's / (nothing is started)
#   --no-run                 do not send a first report now
set -eu
LC_ALL=C; export LC_ALL

die() { echo "install.sh: $*" >&2; exit 1; }
root= server= token=${GITFLEET_AGENT_TOKEN:-} env= apps= ip= interval=15 scheduler=auto run_now=true
while [ $# -gt 0 ]; do
  case $1 in
    --no-run) run_now=false; shift; continue ;;
    -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  esac
  [ $# -ge 2 ] || die "$1 needs a value (see --help)"
  case $1 in
    --root) root=$2 ;; --server) server=$2 ;; --token) token=$2 ;;
    --token-file) [ -r "$2" ] || die "cannot read $2"; token=$(head -n 1 "$2") ;;
    --env) env=$2 ;; --apps) apps=$2 ;; --ip) ip=$2 ;; --interval) interval=$2 ;; --scheduler) scheduler=$2 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift 2
done

# Validate everything that goes into a config file or a unit file (no quotes, spaces or newlines can slip in).
printf '%s\n' "$server" | grep -Eq '^https?://[][A-Za-z0-9.:_-]+(/[A-Za-z0-9._~/-]*)?$' || die "--server must be an http(s) URL, got '$server'"
[ -n "$token" ] || die "an agent token is required: --token, --token-file or GITFLEET_AGENT_TOKEN (the server's agents.token)"
printf '%s\n' "$token" | grep -Eq '^[A-Za-z0-9._~+/=-]{16,512}$' || die "the agent token must be 16-512 characters of A-Z a-z 0-9 . _ ~ + / = -"
seg='^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$'
[ -z "$env" ] || printf '%s\n' "$env" | grep -Eq "$seg" || die "--env must match $seg"
if [ -n "$apps" ]; then
  old_ifs=$IFS; IFS=,
  for a in $apps; do printf '%s\n' "$a" | grep -Eq "$seg" || die "--apps: each app must match $seg, got '$a'"; done
  IFS=$old_ifs
fi
[ -z "$ip" ] || printf '%s\n' "$ip" | grep -Eq '^([0-9]{1,3}\.){3}[0-9]{1,3}$|^[0-9A-Fa-f:]+$' || die "--ip must be an IP address"
case $interval in ''|*[!0-9]*|0) die "--interval must be a number of minutes (1-1440)" ;; esac
[ "$interval" -le 1440 ] || die "--interval must be at most 1440 minutes"
case $scheduler in auto|systemd|cron|none) ;; *) die "--scheduler must be systemd, cron or none" ;; esac
if [ -n "$root" ]; then
  [ -d "$root" ] || die "--root $root is not a directory"
  root=$(cd "$root" && pwd)
  [ "$root" != / ] || root=
fi
if [ "$scheduler" = auto ]; then
  if [ -d "$root/run/systemd/system" ]; then scheduler=systemd; else scheduler=cron; fi
fi

opt=$root/opt/gitfleet-agent etc=$root/etc/gitfleet-agent
umask 022
mkdir -p "$opt" "$etc" "$root/var/lib/gitfleet-agent"

# The collector as one file: from the source tree beside this script, else downloaded from the server.
here=
case $0 in */install.sh) here=$(cd "$(dirname "$0")" && pwd) ;; esac
fetch() { # URL FILE
  if command -v curl >/dev/null 2>&1; then curl -fsS --max-time 60 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then wget -q -O "$2" "$1"
  else die "neither curl nor wget is installed: the agent needs one of them"; fi
}
if [ -n "$here" ] && [ -f "$here/collector/main.sh" ]; then
  { echo '#!/bin/sh'; echo '# gitfleet collector: lib.sh, plugins/*.sh and main.sh in one file.'
    cat "$here/collector/lib.sh" "$here"/collector/plugins/*.sh "$here/collector/main.sh"; } > "$opt/collect.sh.new"
  cp "$here/report.sh" "$opt/report.sh.new"
else
  fetch "${server%/}/agents/collector.sh" "$opt/collect.sh.new" || die "cannot download the collector from $server"
  fetch "${server%/}/agents/report.sh" "$opt/report.sh.new" || die "cannot download report.sh from $server"
fi
chmod 0755 "$opt/collect.sh.new" "$opt/report.sh.new"
mv -f "$opt/collect.sh.new" "$opt/collect.sh"
mv -f "$opt/report.sh.new" "$opt/report.sh"

(umask 077 && cat > "$etc/agent.conf.new" <<CONF
# gitfleet agent configuration (written by install.sh; read by /opt/gitfleet-agent/report.sh)
GITFLEET_SERVER='$server'
GITFLEET_AGENT_TOKEN='$token'
GITFLEET_ENV='$env'
GITFLEET_APPS='$apps'
GITFLEET_IP='$ip'
CONF
)
mv -f "$etc/agent.conf.new" "$etc/agent.conf"

cmd=/opt/gitfleet-agent/report.sh
case $scheduler in
  systemd)
    mkdir -p "$root/etc/systemd/system"
    cat > "$root/etc/systemd/system/gitfleet-agent.service" <<UNIT
[Unit]
Description=gitfleet agent: report this host's facts to the gitfleet server
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=$cmd
Nice=10
IOSchedulingClass=idle
UNIT
    cat > "$root/etc/systemd/system/gitfleet-agent.timer" <<UNIT
[Unit]
Description=gitfleet agent report every $interval minutes

[Timer]
OnBootSec=2min
OnUnitActiveSec=${interval}min
RandomizedDelaySec=60
Persistent=true

[Install]
WantedBy=timers.target
UNIT
    rm -f "$root/etc/cron.d/gitfleet-agent"
    if [ -z "$root" ]; then
      systemctl daemon-reload && systemctl enable --now gitfleet-agent.timer || die "systemctl could not enable gitfleet-agent.timer"
    fi
    ;;
  cron)
    if [ "$interval" -lt 60 ]; then spec="*/$interval * * * *"
    elif [ $(( interval % 60 )) -eq 0 ] && [ "$interval" -le 1440 ]; then
      h=$(( interval / 60 )); m=$(( $(od -An -N1 -tu1 /dev/urandom | tr -d ' ') % 60 ))
      if [ "$h" -eq 24 ]; then spec="$m 3 * * *"; else spec="$m */$h * * *"; fi
    else die "cron can run every 1-59 minutes or every whole number of hours: --interval $interval does not fit"; fi
    log='>/dev/null 2>&1'
    [ ! -x "$root/usr/bin/logger" ] && [ ! -x "$root/bin/logger" ] || log='2>&1 | logger -t gitfleet-agent'
    mkdir -p "$root/etc/cron.d"
    printf '# gitfleet agent: report this host'"'"'s facts (written by install.sh)\nSHELL=/bin/sh\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n%s root %s --splay 30 %s\n' \
      "$spec" "$cmd" "$log" > "$root/etc/cron.d/gitfleet-agent"
    chmod 0644 "$root/etc/cron.d/gitfleet-agent"
    if [ -z "$root" ] && ! command -v cron >/dev/null 2>&1 && ! command -v crond >/dev/null 2>&1; then
      echo "install.sh: warning: no cron daemon found; /etc/cron.d/gitfleet-agent will not run until cron is installed" >&2
    fi
    ;;
  none) ;;
esac

echo "install.sh: gitfleet agent installed${root:+ into $root} (schedule: $scheduler, every $interval min, server $server)"
if [ -z "$root" ] && $run_now; then
  "$cmd" || die "the first report failed (see above); the schedule will retry"
fi
