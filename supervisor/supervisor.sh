#!/bin/sh
# materia supervisor: pull, verify, tick, sleep, forever. Kept tiny so it never needs to
# change: what runs and when lives in the repo (`materia supervisor tick`) and arrives
# with the next pull. A failed update keeps the last good commit; a failed tick is
# logged and the loop goes on. Logs go to stdout (journald).
set -u

interval="${MATERIA_SUPERVISOR_INTERVAL:-900}"     # seconds between ticks
iterations="${MATERIA_SUPERVISOR_ITERATIONS:-0}"   # 0 = forever; tests set a limit
branch="${MATERIA_SUPERVISOR_BRANCH:-main}"
cd "${MATERIA_REPO:-/opt/materia}" || exit 1

log() { echo "supervisor: $*"; }
sleeper=""
trap 'log "stopping"; [ -n "$sleeper" ] && kill "$sleeper" 2>/dev/null; exit 0' TERM INT

good=$(git rev-parse HEAD) || exit 1
n=0
log "starting at $good"
while :; do
    if git fetch --quiet origin "$branch"; then
        new=$(git rev-parse FETCH_HEAD)
        if [ "$new" != "$good" ]; then
            log "updating $good -> $new"
            if git merge --ff-only --quiet FETCH_HEAD && uv sync --locked --quiet &&
                uv run materia supervisor tick --dry-run; then
                good=$new
                log "now at $good"
            else
                # Not kept: back to the last good commit. The next iteration tries again,
                # so a transient failure (network, ESC) heals by itself.
                log "update to $new failed; staying on $good"
                git reset --hard --quiet "$good"
                uv sync --locked --quiet || log "re-sync of $good failed"
            fi
        fi
    else
        log "fetch failed; staying on $good"
    fi

    uv run materia supervisor tick || log "tick failed (exit $?)"

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
