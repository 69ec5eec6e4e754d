#!/bin/sh
# Install (or refresh) the materia supervisor on server IP, from CI or a laptop:
#   pulumi env run beanflows/prod -- sh infra/install_supervisor.sh IP
# Needs SUPERVISOR_SSH_PRIVATE_KEY, SUPERVISOR_ESC_TOKEN, WORKER_SSH_PRIVATE_KEY and
# MATERIA_REPO_URL in the environment, and GITLAB_READ_TOKEN for a private repository;
# they travel over SSH on stdin, never in argv.
set -eu

ip="${1:?usage: install_supervisor.sh IP}"
here=$(cd "$(dirname "$0")" && pwd)
key=$(mktemp)
trap 'rm -f "$key"' EXIT
printf '%s\n' "$SUPERVISOR_SSH_PRIVATE_KEY" >"$key"

remote() { ssh -i "$key" -o StrictHostKeyChecking=accept-new -o ConnectTimeout=10 "root@$ip" "$@"; }

# A new server takes a minute or two to accept SSH.
tries=0
until remote true 2>/dev/null; do
    tries=$((tries + 1))
    [ "$tries" -lt 30 ] || { echo "install: no SSH on $ip" >&2; exit 1; }
    sleep 10
done

echo "install: /etc/materia/env (ESC token, worker key path)"
printf 'PULUMI_ACCESS_TOKEN=%s\nHCLOUD_SSH_PRIVATE_KEY=/var/lib/materia/.ssh/worker\n' \
    "$SUPERVISOR_ESC_TOKEN" |
    remote 'umask 077; mkdir -p /etc/materia; cat > /etc/materia/env'

echo "install: bootstrap"
{
    printf "MATERIA_REPO_URL='%s'\nexport MATERIA_REPO_URL\n" "$MATERIA_REPO_URL"
    printf "GITLAB_READ_TOKEN='%s'\nexport GITLAB_READ_TOKEN\n" "${GITLAB_READ_TOKEN:-}"
    cat "$here/bootstrap_supervisor.sh"
} | remote 'sh -s'

echo "install: worker SSH key"
printf '%s\n' "$WORKER_SSH_PRIVATE_KEY" |
    remote 'install -d -o materia -g materia -m 700 /var/lib/materia/.ssh && umask 077 &&
            cat > /var/lib/materia/.ssh/worker && chown materia:materia /var/lib/materia/.ssh/worker'
echo "install: done; logs: ssh root@$ip journalctl -u materia-supervisor -f"
