#!/bin/sh
# materia supervisor: pull, verify, tick, sleep, forever. Kept tiny so it never needs to
# change: what runs and when lives in the repo (`materia supervisor tick`) and arrives
# with the next pull. A new commit is adopted only when `materia supervisor check`
# passes (CI green on it, or the fast tests here; compile, import, SQLMesh load + tests,
# the loop's own commands, dry run): an alert says what vouched for it. Otherwise the
# last good commit stays, and an alert with the failing step's line says so once per
# rejected commit; a commit whose CI still runs (exit 75) is simply asked about again.
# Every external command has a timeout, so nothing can hang the loop. Logs go to stdout
# (journald).
set -u

interval="${MATERIA_SUPERVISOR_INTERVAL:-900}"     # seconds between ticks
iterations="${MATERIA_SUPERVISOR_ITERATIONS:-0}"   # 0 = forever; tests set a limit
branch="${MATERIA_SUPERVISOR_BRANCH:-main}"
fetch_timeout="${MATERIA_FETCH_TIMEOUT:-120}"
sync_timeout="${MATERIA_SYNC_TIMEOUT:-900}"
check_timeout="${MATERIA_CHECK_TIMEOUT:-1800}"  # the fast tests run when CI cannot say
tick_timeout="${MATERIA_TICK_TIMEOUT:-21600}"      # = the tick lock's TTL (6 h)
cd "${MATERIA_REPO:-/opt/materia}" || exit 1
state="${MATERIA_HOME:-.materia}/supervisor"
mkdir -p "$state"

log() { echo "supervisor: $*"; }
out="$state/step.out"   # the last step's output, for the line an alert quotes
# The step's own explanation: materia's `error: …` line, else its last line.
why() { grep -E '^(error|check): ' "$out" | tail -n 1 | grep . || tail -n 1 "$out"; }
alert() { bounded 120 uv run --no-sync --quiet materia supervisor alert "$@" || log "alert failed"; }
# SIGTERM first; SIGKILL a minute later if it does not stop (the next tick reaps).
bounded() { limit=$1; shift; timeout -k 60 "$limit" "$@"; }
sleeper=""
trap 'log "stopping"; [ -n "$sleeper" ] && kill "$sleeper" 2>/dev/null; exit 0' TERM INT

# A private repository: git asks materia for GITLAB_READ_TOKEN (from ESC or the
# environment) through a pipe, so the token is never in a file, a URL or a command line.
fetch() {
    GIT_TERMINAL_PROMPT=0 bounded "$fetch_timeout" git \
        -c credential.helper= \
        -c 'credential.helper=!f() { uv run --no-sync --quiet materia secrets git-credential "$@"; }; f' \
        fetch --quiet origin "$branch"
}

sync_env() { bounded "$sync_timeout" uv sync --locked --quiet; }
# Run a step with its output in $out (and in the journal); its exit status.
step() { "$@" >"$out" 2>&1; rc=$?; cat "$out"; return "$rc"; }

# The last adopted commit survives restarts: a commit merged but not yet checked when
# the service stopped is not taken for good.
good=$(cat "$state/last-good" 2>/dev/null || git rev-parse HEAD) || exit 1
if [ "$(git rev-parse HEAD)" != "$good" ]; then
    log "back to the last good commit $good"
    if ! { git reset --hard --quiet "$good" && sync_env; }; then log "restoring $good failed"; fi
fi
echo "$good" >"$state/last-good"
rejected=""
n=0
log "starting at $good"
while :; do
    if fetch; then
        new=$(git rev-parse FETCH_HEAD)
        if [ "$new" != "$good" ]; then
            log "updating $good -> $new"
            rc=0
            if ! step git merge --ff-only --quiet FETCH_HEAD; then
                rc=1 reason="git merge --ff-only failed: $(why)"
            elif ! step sync_env; then
                rc=1 reason="uv sync failed: $(why)"
            else
                step bounded "$check_timeout" uv run --no-sync materia supervisor check || rc=$?
                reason=$(why)
            fi
            if [ "$rc" -eq 0 ]; then
                good=$new
                echo "$good" >"$state/last-good"
                log "now at $good"
                alert --info "adopted commit $good: ${reason#check: }"
            else
                # Not adopted: back to the last good commit. The next iteration tries
                # again, so a transient failure (network, ESC, CI still running) heals.
                log "update to $new failed; staying on $good"
                git reset --hard --quiet "$good"
                sync_env || log "re-sync of $good failed"
                if [ "$rc" -eq 75 ]; then
                    log "commit $new cannot be judged yet ($reason); asking again next time"
                elif [ "$new" != "$rejected" ]; then
                    rejected=$new
                    alert "commit $new was not adopted: $reason; still running $good"
                fi
            fi
        fi
    else
        log "fetch failed (exit $?); staying on $good"
    fi

    bounded "$tick_timeout" uv run --no-sync materia supervisor tick || log "tick failed (exit $?)"

    n=$((n + 1))
    if [ "$iterations" -gt 0 ] && [ "$n" -ge "$iterations" ]; then
        log "done after $n iterations"
        exit 0
    fi
    # Sleep in the background so SIGTERM is handled at once.
    sleep "$interval" &
    sleeper=$!
    wait "$sleeper"
    sleeper=""
done
