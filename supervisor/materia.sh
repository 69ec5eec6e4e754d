#!/bin/sh
# `materia …` on the supervisor's server, exactly as the service runs it: user materia,
# the unit's environment (its Environment= lines, then /etc/materia/env) and the
# checkout's Python environment. infra/bootstrap_supervisor.sh installs it as
# /usr/local/bin/materia, so an operator (as root) runs
#   ssh root@IP materia supervisor check        ssh root@IP materia runs
set -eu
unit=/etc/systemd/system/materia-supervisor.service
[ -r "$unit" ] || {
    echo "materia: $unit is not installed (infra/bootstrap_supervisor.sh)" >&2
    exit 1
}
# runuser is in /sbin, which the unit's PATH leaves out.
runuser=$(PATH="$PATH:/usr/sbin:/sbin" command -v runuser)
set -a
# The unit's Environment=NAME=value lines (single words), as systemd would set them.
eval "$(sed -n "s/^Environment=\([A-Za-z_][A-Za-z0-9_]*\)=\([^' ]*\)$/\1='\2'/p" "$unit")"
# shellcheck disable=SC1091  # written by infra/install_supervisor.sh
[ ! -r /etc/materia/env ] || . /etc/materia/env
set +a
cd "${MATERIA_REPO:-/opt/materia}"
exec "$runuser" -u materia -m -- uv run --no-sync --quiet materia "$@"
