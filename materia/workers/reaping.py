"""No worker outlives its run: destroy the workers of runs that are over.

A run is over when the run log says it finished, or when it is ours (its worker's
`owner` label is this home's id) and no live process holds its marker
(`materia.workers.alive`): a SIGKILL, an OOM kill or a power cut leaves the worker up,
and the next tick, the next run or `materia worker reap` destroys it at once, without
waiting for the TTL. Works through the Provider Protocol, so every provider has it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from materia.core import runlog
from materia.core.settings import Settings
from materia.workers import alive, record
from materia.workers.base import Instance, Provider, reap_dead
from materia.workers.prices import instance_type


def reap_dead_runs(
    settings: Settings, provider: Provider, log: Callable[[str], None]
) -> list[Instance]:
    """Destroy the workers of runs that are over, and give each run that died without a
    record one in the run log, so it shows as failed; the workers destroyed."""
    records = runlog.merged(runlog.read(settings))
    # Ended: a run's `started` record alone means it may still be running (elsewhere).
    finished = {
        r["run_id"]
        for r in records
        if r.get("source") == "worker" and r.get("run_id") and r.get("status") != runlog.STARTED
    }

    def is_alive(run: str) -> bool | None:
        # Read when deciding, after the listing: a worker listed there was created
        # after its run's marker was written, so a run that just started is seen alive.
        m = alive.marker(settings, run)
        return m.alive() if m is not None else None

    gone = reap_dead(provider, alive.owner_id(settings), is_alive, finished, log)
    for run, m in alive.markers(settings).items():
        # Each provider settles its own runs' markers: another provider's dead run may
        # still have a worker up, which only that provider's pass can see and reap.
        if m.provider != provider.name or m.alive():
            continue
        if run not in finished:
            runlog.append(settings, _died(m, any(i.labels.get("run") == run for i in gone)))
        alive.unmark(settings, run)
    return gone


def _died(m: alive.Marker, reaped: bool) -> dict:
    now = datetime.now(UTC)
    what = (
        f"its {m.provider} worker was reaped"
        if reaped
        else f"no {m.provider} worker of it was found"
    )
    try:
        server_type = instance_type(m.provider, m.pipeline)
    except KeyError:  # an unknown pipeline in an old marker
        server_type = ""
    return record.RunRecord(
        pipeline=m.pipeline,
        provider=m.provider,
        server_type=server_type,
        worker=f"materia-{m.pipeline}-{m.run_id}",
        started=datetime.fromisoformat(m.started) if m.started else now,
        ended=now,
        exit_code=None,
        error=f"run died without finishing (process {m.pid} gone); {what}",
        run_id=m.run_id,
        parent=m.parent,
    ).to_dict()
