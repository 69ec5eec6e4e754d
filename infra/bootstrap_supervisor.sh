#!/bin/sh
# Turn a fresh Debian server into the materia supervisor. Idempotent: safe to re-run.
# Run as root on the server (infra/install_supervisor.sh does this for you):
#   ssh root@IP 'sh -s' < infra/bootstrap_supervisor.sh
# Optional environment: MATERIA_REPO_URL (git URL to clone, no token in it),
# MATERIA_BRANCH (main), GITLAB_READ_TOKEN and GITLAB_READ_USER (for a private
# repository: git gets them from a credential helper that reads these variables, so the
# token never lands in .git/config, a URL or a command line). /etc/materia/env is
# written by install_supervisor.sh. It also installs /usr/local/bin/materia, which runs
# `materia …` as the service does (`ssh root@IP materia supervisor check`).
# BOOTSTRAP_ROOT prefixes every path (tests run the script inside a directory).
set -eu

repo_url="${MATERIA_REPO_URL:-https://gitlab.com/beanflows/materia.git}"
branch="${MATERIA_BRANCH:-main}"
root="${BOOTSTRAP_ROOT:-}"
dir="$root/opt/materia"
state="$root/var/lib/materia"
bin="$root/usr/local/bin"
units="$root/etc/systemd/system"
unit=materia-supervisor.service

log() { echo "bootstrap: $*"; }
as_materia() { runuser -u materia -- env HOME="$state" UV_CACHE_DIR="$state/uv-cache" "$@"; }

# 1. Packages, only when something is missing.
if ! command -v git >/dev/null || ! command -v curl >/dev/null; then
    log "installing git and curl"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        git curl ca-certificates >/dev/null
fi

# 2. A system user that owns the checkout and the state directory.
if ! id materia >/dev/null 2>&1; then
    log "creating user materia"
    useradd --system --home-dir /var/lib/materia --shell /usr/sbin/nologin materia
fi
install -d -o materia -g materia -m 750 "$state" "$state/home"
install -d -o root -g materia -m 750 "$root/etc/materia"

# 3. uv and the Pulumi CLI (`pulumi env open`: secrets at each tick; the standalone
#    `esc` CLI is retired), system-wide.
install -d "$bin"
if [ ! -x "$bin/uv" ]; then
    log "installing uv"
    curl -LsSf https://astral.sh/uv/install.sh | env UV_INSTALL_DIR="$bin" UV_NO_MODIFY_PATH=1 sh
fi
if [ ! -x "$bin/pulumi" ]; then
    log "installing pulumi"
    scratch=$(mktemp -d)
    curl -fsSL https://get.pulumi.com | env HOME="$scratch" sh
    install -m 755 "$scratch/.pulumi/bin/pulumi" "$bin/pulumi"
    rm -rf "$scratch"
fi

# 4. The checkout: clone once; later updates are the supervisor's own job (it asks
#    `materia secrets git-credential` for the token the same way).
if [ ! -d "$dir/.git" ]; then
    log "cloning $branch to $dir"
    # shellcheck disable=SC2016  # expanded by the helper's shell, not here
    GIT_TERMINAL_PROMPT=0 git -c credential.helper= \
        -c 'credential.helper=!f() { test "$1" = get && test -n "${GITLAB_READ_TOKEN:-}" && printf "username=%s\npassword=%s\n" "${GITLAB_READ_USER:-oauth2}" "$GITLAB_READ_TOKEN"; }; f' \
        clone --quiet --branch "$branch" "$repo_url" "$dir"
fi
chown -R materia:materia "$dir"
log "syncing the environment"
(cd "$dir" && as_materia "$bin/uv" sync --locked --quiet)

# 5. `materia …` for the operator, as the service runs it; then the unit: (re)install
#    when it changed, enable and start.
install -m 755 "$dir/supervisor/materia.sh" "$bin/materia"
install -d "$units"
if ! cmp -s "$dir/supervisor/$unit" "$units/$unit"; then
    log "installing $unit"
    install -m 644 "$dir/supervisor/$unit" "$units/$unit"
    systemctl daemon-reload
fi
systemctl enable --now "$unit"
log "done: journalctl -u $unit -f"
