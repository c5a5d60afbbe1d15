#!/bin/sh
# collect.sh: run the collector from its source tree (lib.sh, plugins/*.sh, main.sh). The same files concatenated
# in that order make the self-contained script the installer puts on hosts and the server sends over SSH.
here=$(cd "$(dirname "$0")" && pwd) || exit 1
. "$here/lib.sh"
for p in "$here"/plugins/*.sh; do . "$p"; done
. "$here/main.sh"
