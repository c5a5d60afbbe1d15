#!/usr/bin/env bash
# Kept for old instructions: installs what gitfleet needs (system packages; with --test also openssh-server,
# pssh, iproute2 and procps for the test fleet and benchmark; Node >= 24; npm packages; the build).
# scripts/setup.sh does the work.
set -euo pipefail
exec bash "$(dirname "$0")/setup.sh" install "$@"
