"""One pipeline run on a fresh worker, which is destroyed whatever happens.

check every precondition (`materia.workers.preflight`: nothing is created when one
fails) → mark the run alive and record its start → reap workers of dead runs and old
ones → create (labelled with the run id and this home's owner id) → wait for SSH → verify the pinned host key → ship this
checkout's tracked files → run `materia pipeline run <name>` there with the secrets sent
as a JSON document on stdin → stream its lines back with a prefix (and into the run's output, kept beside
the run log: `materia.core.runoutput`) → destroy (on success, failure, timeout, Ctrl-C,
SIGTERM and SIGHUP; deletion is retried) → append its record to the run log. A SIGKILL skips all of that: the next tick (or `materia worker reap`) finds
the worker's run dead by its marker (`materia.workers.alive`) and destroys it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from materia.core import runlog, runoutput
from materia.core.errors import MateriaError
from materia.core.secrets import redactor
from materia.core.settings import Settings
from materia.workers import alive, preflight, record, ship, signals
from materia.workers.base import SERVER_TYPES, Instance, Provider, reap
from materia.workers.prices import instance_type
from materia.workers.reaping import reap_dead_runs
from materia.workers.ssh import HostKey, SshTarget, clean_env, pin, wait_until_usable, worker_spec

# The worker's directory for this run; MATERIA_WORKER_ROOT lets a host put it elsewhere.
_DIR = 'd="${MATERIA_WORKER_ROOT:-$HOME/materia-worker}/%s"'
SHIP_SCRIPT = _DIR + ' && mkdir -p "$d/code" && tar -xzf - --no-same-owner -C "$d/code"'
# MATERIA_WORKER_PYTHON: an interpreter whose environment already holds this lockfile's
# dependencies (the local provider, the test stand-in). Otherwise the worker builds its
# own environment from uv.lock, after cloud-init has installed uv.
RUN_SCRIPT = (
    _DIR + ' && cd "$d/code" && if [ -n "${MATERIA_WORKER_PYTHON:-}" ]; then'
    ' py="$MATERIA_WORKER_PYTHON"; else'
    " if command -v cloud-init >/dev/null 2>&1; then cloud-init status --wait >/dev/null || true; fi;"
    ' export PATH="/usr/local/bin:$HOME/.local/bin:$PATH";'
    " uv sync --locked --no-dev --quiet >&2 && py=.venv/bin/python || exit 97; fi;"
    ' PYTHONPATH="$PWD" exec "$py" -m materia.workers.launcher'
)


@dataclass
class RunResult:
    exit_code: int
    instance: Instance | None = None
    timings: dict[str, float] = field(default_factory=dict)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def worker_env(settings: Settings, share_home: bool, run_id: str) -> dict[str, str]:
    """The environment the remote `materia` needs (secrets included, HCLOUD_TOKEN not)."""
    env = settings.to_environ()
    if not share_home:
        del env["MATERIA_HOME"]  # a worker keeps its own
    return env | {
        "MATERIA_PARENT_RUN": run_id,  # the worker's own run-log records point back here
        "MATERIA_WORKER_PROVIDER": "local",  # the worker runs the pipeline itself
        # Its secrets are in this document: it never opens ESC itself (a local worker of
        # a rehearsal, where `pulumi` is logged in, must not read prod's).
        "MATERIA_ESC_ENV": "off",
    }


class _Channel:
    """How commands reach the worker: ssh with a pinned key, or a local shell."""

    def __init__(self, target: SshTarget | None, local_root: Path | None) -> None:
        self.target, self.local_root = target, local_root

    def argv(self, script: str) -> list[str]:
        return self.target.argv(script) if self.target else ["sh", "-c", script]

    def env(self) -> dict[str, str]:
        env = clean_env()
        if self.local_root is not None:
            env["MATERIA_WORKER_ROOT"] = str(self.local_root)
            env["MATERIA_WORKER_PYTHON"] = sys.executable
        return env


def run_on_worker(
    settings: Settings,
    provider: Provider,
    pipeline: str,
    log: Callable[[str], None] = _stderr,
) -> RunResult:
    if pipeline not in SERVER_TYPES:
        raise MateriaError(
            f"pipeline {pipeline!r} cannot run on a worker: use {' or '.join(SERVER_TYPES)}"
        )
    preflight.check(settings, provider, pipeline)  # before anything exists or is billed
    redact = redactor(settings)
    hz = settings.hetzner
    ttl = hz.worker_ttl_minutes * 60
    remote = provider.name != "local"
    run_id = runlog.new_run_id()
    name = f"materia-{pipeline}-{run_id}"
    output = runoutput.Output(settings, run_id)

    def say(line: str) -> None:
        shown = redact(line)
        output.write(shown)
        log(shown)

    result = RunResult(exit_code=1)
    t0 = time.time()
    started = datetime.now(UTC)
    instance: Instance | None = None
    proc: subprocess.Popen[bytes] | None = None
    error: str | None = None
    tail = _Tail(say, redact)

    def mark(step: str) -> None:
        result.timings[step] = round(time.time() - t0, 3)

    try:
        with tempfile.TemporaryDirectory(prefix="materia-run-") as tmp, signals.interrupting():
            try:
                # Alive before any worker exists, so no tick takes our worker for an orphan.
                alive.mark(
                    settings,
                    run_id,
                    pipeline,
                    provider.name,
                    started.isoformat(),
                    settings.parent_run,
                )
                record.append_started(settings, provider.name, pipeline, name, run_id, started)
                code = ship.bundle()
                reap_dead_runs(settings, provider, say)
                reap(provider, ttl, log=say)
                spec, host_key = worker_spec(
                    provider.name, pipeline, run_id, alive.owner_id(settings)
                )
                say(
                    f"worker: creating {provider.name} {spec.server_type} {name} for {pipeline}, code {code.describe}"
                )
                instance = provider.create_instance(spec)
                result.instance = instance
                mark("created")
                instance = provider.wait_for_ssh(instance, float(hz.ssh_timeout_seconds))
                result.instance = instance
                channel = _channel(
                    settings,
                    provider,
                    instance,
                    host_key,
                    Path(tmp),
                    ssh_timeout=hz.ssh_timeout_seconds,
                )
                mark("ready")
                say(f"worker: {name} ready at {instance.host or 'this machine'}, shipping code")
                _ship(channel, run_id, code.data, name)
                mark("shipped")
                doc = {
                    "env": worker_env(settings, share_home=not remote, run_id=run_id),
                    "argv": ["pipeline", "run", pipeline],
                }
                proc = subprocess.Popen(
                    channel.argv(RUN_SCRIPT % run_id),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    env=channel.env(),
                    start_new_session=True,  # our signals are handled here, not by ssh
                )
                result.exit_code = _stream(proc, doc, name, ttl, tail)
                mark("ran")
                if remote and result.exit_code == 255:
                    raise MateriaError(
                        f"worker {name} ({instance.host}): SSH connection failed during the run"
                    )
                say(f"worker: {name} finished with exit code {result.exit_code}")
            except BaseException as e:
                error = (
                    str(e) or type(e).__name__
                    if isinstance(e, KeyboardInterrupt)
                    else redact(str(e))
                )
                raise
            finally:
                with signals.shielded():
                    if proc is not None and proc.poll() is None:
                        proc.kill()
                        proc.wait()
                    _destroy(provider, instance, run_id, say)
                    alive.unmark(settings, run_id)  # only once its worker is gone
                    mark("destroyed")
                    say(
                        "worker: timings (s since start) "
                        + " ".join(f"{k}={v}" for k, v in result.timings.items())
                    )
    finally:
        # Interrupted or failed before the end: no exit code. Else the worker's own error.
        exit_code = result.exit_code if error is None else None
        if error is None and exit_code != 0:
            error = tail.result.get("error") or tail.last_error
        if problem := output.keep():
            log(f"worker: could not keep the run's output: {redact(problem)}")
        rec = record.RunRecord(
            pipeline=pipeline,
            provider=provider.name,
            server_type=instance_type(provider.name, pipeline),
            worker=name,
            started=started,
            ended=datetime.now(UTC),
            exit_code=exit_code,
            error=error,
            timings=result.timings,
            run_id=run_id,
            parent=settings.parent_run,
            rows_published=tail.result.get("rows_published"),
            new_releases=list(tail.result.get("new_releases") or []),
        )
        try:
            runlog.append(settings, rec)
        except Exception as e:  # the run's outcome matters more than its log line
            log(redact(f"worker: could not append to the run log: {type(e).__name__}: {e}"))
    return result


class _Tail:
    """Passes the worker's lines on (redacted), keeping its last `error: …` line and the
    step's result line (`materia.core.runlog.RESULT`), which it does not show."""

    def __init__(self, say: Callable[[str], None], redact: Callable[[str], str]) -> None:
        self.say, self.redact = say, redact
        self.last_error: str | None = None
        self.result: dict = {}

    def __call__(self, line: str) -> None:
        found = runlog.result_of(line)
        if found is not None:
            if found.get("error"):
                found["error"] = self.redact(str(found["error"]))
            self.result = found
            return
        self.last_error = self.redact(runlog.error_line(line) or "") or self.last_error
        self.say(line)


def _stream(
    proc: subprocess.Popen[bytes], doc: dict, name: str, ttl: int, say: Callable[[str], None]
) -> int:
    """Send the run document, relay the worker's lines, return its exit code (TTL-bounded)."""
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(doc).encode())
    proc.stdin.close()
    timed_out = threading.Event()

    def expire() -> None:
        timed_out.set()
        proc.kill()

    watchdog = threading.Timer(ttl, expire)
    watchdog.daemon = True
    watchdog.start()
    try:
        for raw in proc.stdout:
            say(f"[{name}] {raw.decode(errors='replace').rstrip()}")
        code = proc.wait()
    finally:
        watchdog.cancel()
    if timed_out.is_set():
        raise MateriaError(f"worker {name}: run exceeded the worker TTL of {ttl // 60} min")
    return code


def _channel(
    settings: Settings,
    provider: Provider,
    instance: Instance,
    host_key: HostKey | None,
    tmp: Path,
    ssh_timeout: float,
) -> _Channel:
    if host_key is None:
        workdir = getattr(provider, "workdir", None)
        if workdir is None:
            raise MateriaError(
                f"provider {provider.name} gives no SSH host key and no local directory"
            )
        return _Channel(None, workdir(instance))
    key = settings.hetzner.ssh_private_key
    if key is None or not key.is_file():
        raise MateriaError(
            "MATERIA_WORKER_SSH_KEY (or HCLOUD_SSH_PRIVATE_KEY) must name the worker SSH "
            f"private key file (got {key})"
        )
    if not instance.host:
        raise MateriaError(f"worker {instance.name} has no public IPv4 address")
    alias = f"materia-worker-{instance.id}"
    known = tmp / "known_hosts"
    pin(known, alias, host_key)
    user = instance.ssh_user or settings.hetzner.ssh_user
    target = SshTarget(instance.host, instance.port, user, key, known, alias)
    wait_until_usable(
        target, time.monotonic() + ssh_timeout, f"worker {instance.name} ({instance.host})"
    )
    return _Channel(target, None)


def _ship(channel: _Channel, run_id: str, data: bytes, name: str) -> None:
    r = subprocess.run(
        channel.argv(SHIP_SCRIPT % run_id),
        input=data,
        capture_output=True,
        env=channel.env(),
        timeout=600,
        start_new_session=True,
    )
    if r.returncode != 0:
        tail = r.stderr.decode(errors="replace").strip().splitlines()[-1:] or [
            f"exit {r.returncode}"
        ]
        raise MateriaError(f"worker {name}: shipping the code failed: {tail[0]}")


def _destroy(
    provider: Provider, instance: Instance | None, run_id: str, say: Callable[[str], None]
) -> None:
    """Destroy the run's worker; found by its run label if creation was interrupted."""
    if instance is not None:
        ids = [instance.id]
    else:
        try:
            ids = [i.id for i in provider.list_instances() if i.labels.get("run") == run_id]
        except MateriaError as e:
            say(f"worker: could not look for a half-created worker of run {run_id}: {e}")
            return
    for iid in ids:
        provider.destroy_instance(iid)
        say(f"worker: destroyed {provider.name} worker {iid}")
