#!/bin/sh
# Install (or repair) the materia supervisor on server IP, from CI or a laptop, from the
# repository's root:
#   pulumi env run beanflows/prod -- sh infra/install_supervisor.sh IP
# Needs SUPERVISOR_SSH_PRIVATE_KEY, SUPERVISOR_ESC_TOKEN, WORKER_SSH_PRIVATE_KEY and
# MATERIA_REPO_URL in the environment; GITLAB_READ_TOKEN (and GITLAB_READ_USER for a
# deploy token) for a private repository; MATERIA_NOTIFY so that alerts never depend on
# ESC. Secrets travel over SSH on stdin, never in argv. Idempotent: re-run it to repair.
set -eu

ip="${1:?usage: install_supervisor.sh IP}"
here=$(cd "$(dirname "$0")" && pwd)
: "${SUPERVISOR_SSH_PRIVATE_KEY:?is not set (ESC)}" "${SUPERVISOR_ESC_TOKEN:?is not set (ESC)}"
: "${WORKER_SSH_PRIVATE_KEY:?is not set (ESC)}" "${MATERIA_REPO_URL:?is not set (ESC)}"
key=$(mktemp)
trap 'rm -f "$key"' EXIT
printf '%s\n' "$SUPERVISOR_SSH_PRIVATE_KEY" >"$key"

remote() { ssh -i "$key" -o StrictHostKeyChecking=accept-new -o ConnectTimeout=10 "root@$ip" "$@"; }

# A value for /etc/materia/env, read by systemd (EnvironmentFile) and by sh alike.
line() {
    case "$2" in *"'"* | *'
'*)
        echo "install: $1 holds a quote or a newline, which /etc/materia/env cannot" >&2
        exit 1
        ;;
    esac
    printf "%s='%s'\n" "$1" "$2"
}

# A new server takes a minute or two to accept SSH.
tries=0
until remote true 2>/dev/null; do
    tries=$((tries + 1))
    [ "$tries" -lt 30 ] || {
        echo "install: no SSH on $ip" >&2
        exit 1
    }
    sleep 10
done

# The lines this script manages; any other line an operator added (a schedule, a
# timeout) survives a repair. MATERIA_NOTIFY lives here too, so that an alert still goes
# out when ESC cannot be read.
echo "install: /etc/materia/env (ESC token, worker key path, alert destinations)"
# shellcheck disable=SC2016  # expanded on the server
{
    line PULUMI_ACCESS_TOKEN "$SUPERVISOR_ESC_TOKEN"
    line HCLOUD_SSH_PRIVATE_KEY /var/lib/materia/.ssh/worker
    [ -z "${MATERIA_NOTIFY:-}" ] || line MATERIA_NOTIFY "$MATERIA_NOTIFY"
    [ -z "${GITLAB_READ_USER:-}" ] || line GITLAB_READ_USER "$GITLAB_READ_USER"
} | remote 'set -e; umask 077; mkdir -p /etc/materia; f=/etc/materia/env; touch "$f"
    managed="^(PULUMI_ACCESS_TOKEN|HCLOUD_SSH_PRIVATE_KEY|MATERIA_NOTIFY|GITLAB_READ_USER)="
    { grep -Ev "$managed" "$f" || true; cat; } >"$f.new"
    chmod 600 "$f.new" && mv "$f.new" "$f"'

echo "install: bootstrap"
{
    printf "MATERIA_REPO_URL='%s'\nexport MATERIA_REPO_URL\n" "$MATERIA_REPO_URL"
    printf "GITLAB_READ_TOKEN='%s'\nexport GITLAB_READ_TOKEN\n" "${GITLAB_READ_TOKEN:-}"
    printf "GITLAB_READ_USER='%s'\nexport GITLAB_READ_USER\n" "${GITLAB_READ_USER:-}"
    cat "$here/bootstrap_supervisor.sh"
} | remote 'sh -s'

# Its public half beside it: every cloud needs the pair (`.pub`: Scaleway and Oracle
# install it on the worker themselves).
echo "install: worker SSH key (and its .pub)"
# shellcheck disable=SC2016  # expanded on the server
printf '%s\n' "$WORKER_SSH_PRIVATE_KEY" |
    remote 'set -e; install -d -o materia -g materia -m 700 /var/lib/materia/.ssh; umask 077
            k=/var/lib/materia/.ssh/worker; cat >"$k"; ssh-keygen -y -f "$k" >"$k.pub"
            chown materia:materia "$k" "$k.pub"'
echo "install: done; check it as docs/PRODUCTION.md section 5 says (ssh root@$ip materia supervisor check)"
