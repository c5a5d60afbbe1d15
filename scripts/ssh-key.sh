#!/usr/bin/env bash
# Create the SSH key gitfleet deploys with (if missing) and print how to authorise it on hosts.
#   scripts/ssh-key.sh [IDENTITY_FILE]        default: ./data/ssh/id_ed25519 (deploy.ssh.identityFile's default)
#   scripts/ssh-key.sh --scan HOST... [--known-hosts FILE]
#       add the hosts' current keys to gitfleet's known_hosts (check the fingerprints it prints!)
set -euo pipefail
key=./data/ssh/id_ed25519
known=./data/ssh/known_hosts
if [ "${1:-}" = "--scan" ]; then
  shift; hosts=()
  while [ $# -gt 0 ]; do
    case "$1" in --known-hosts) known=$2; shift 2 ;; *) hosts+=("$1"); shift ;; esac
  done
  mkdir -p "$(dirname "$known")"; touch "$known"; chmod 600 "$known"
  for h in "${hosts[@]}"; do
    ssh-keyscan -T 5 -t ed25519,ecdsa,rsa "$h" 2>/dev/null | tee -a "$known" | ssh-keygen -lf - || echo "scan failed: $h" >&2
  done
  echo "Added to $known. Compare the fingerprints above with the hosts' own (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on each host)."
  exit 0
fi
[ $# -gt 0 ] && key=$1
if [ ! -f "$key" ]; then
  mkdir -p "$(dirname "$key")"; chmod 700 "$(dirname "$key")"
  ssh-keygen -q -t ed25519 -N '' -C "gitfleet@$(hostname)" -f "$key"
  echo "Created $key"
fi
pub=$(cat "$key.pub")
cat <<TXT
gitfleet's public key:

  $pub

Authorise it on every host for the deploy user (deploy.ssh.user, default root), e.g.:

  ssh-copy-id -i $key.pub root@HOST
  # or on the host:  mkdir -p ~/.ssh && echo '$pub' >> ~/.ssh/authorized_keys && chmod 600 ~/.ssh/authorized_keys

Then record the hosts' keys in gitfleet's known_hosts (deploy.ssh.hostKeyPolicy: strict, the default):

  scripts/ssh-key.sh --scan HOST1 HOST2 ...

or set deploy.ssh.hostKeyPolicy: accept-new to trust each host's key on first contact.
TXT
