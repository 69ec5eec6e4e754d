#!/bin/sh
# Turn a fresh Debian server into the materia supervisor. Idempotent: safe to re-run.
# Run as root on the server (infra/install_supervisor.sh does this for you):
#   ssh root@IP 'sh -s' < infra/bootstrap_supervisor.sh
# Optional environment: MATERIA_REPO_URL (git URL to clone), MATERIA_BRANCH (main).
# Secrets are not handled here; /etc/materia/env is written by install_supervisor.sh.
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

# 3. uv and the Pulumi ESC CLI (secrets at each tick), system-wide.
install -d "$bin"
if [ ! -x "$bin/uv" ]; then
    log "installing uv"
    curl -LsSf https://astral.sh/uv/install.sh | env UV_INSTALL_DIR="$bin" UV_NO_MODIFY_PATH=1 sh
fi
if [ ! -x "$bin/esc" ]; then
    log "installing esc"
    scratch=$(mktemp -d)
    curl -fsSL https://get.pulumi.com/esc/install.sh | env HOME="$scratch" sh
    install -m 755 "$scratch/.pulumi/bin/esc" "$bin/esc"
    rm -rf "$scratch"
fi

# 4. The checkout: clone once; later updates are the supervisor's own job.
if [ ! -d "$dir/.git" ]; then
    log "cloning $branch to $dir" # not the URL: it may carry a token
    git clone --quiet --branch "$branch" "$repo_url" "$dir"
fi
chown -R materia:materia "$dir"
log "syncing the environment"
(cd "$dir" && as_materia "$bin/uv" sync --locked --quiet)

# 5. The unit: (re)install when it changed, then enable and start.
install -d "$units"
if ! cmp -s "$dir/supervisor/$unit" "$units/$unit"; then
    log "installing $unit"
    install -m 644 "$dir/supervisor/$unit" "$units/$unit"
    systemctl daemon-reload
fi
systemctl enable --now "$unit"
log "done: journalctl -u $unit -f"
