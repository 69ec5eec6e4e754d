"""Secrets are redacted where data is written, not only where it is printed: every
secret planted in every error path of a tick (a job's error, a worker's output and
record, a reaping error, the state, the heartbeat, alerts) is found in no file under
MATERIA_HOME and no object of the bucket."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from materia.core import runlog
from materia.core import settings as settings_mod
from materia.core.errors import MateriaError
from materia.core.redact import SECRET_NAMES
from materia.ops import supervisor
from materia.ops.schedule import Schedule, write_state
from testsupport import clean_env, run_cli
from testsupport.ops.alert_receiver import AlertReceiver

pytestmark = [pytest.mark.s3]


def canaries(seaweed) -> dict[str, str]:
    """A distinct value for every secret name (R2's are the stand-in's real keys)."""
    values = {n: f"{n.lower().replace('_', '')}-{uuid.uuid4().hex[:10]}" for n in SECRET_NAMES}
    values["R2_ACCESS_KEY"], values["R2_SECRET_KEY"] = seaweed.access_key, seaweed.secret_key
    return values


def test_no_secret_reaches_a_file_or_the_bucket(tmp_path: Path, seaweed, monkeypatch) -> None:
    bucket = f"redact-{uuid.uuid4().hex[:10]}"
    fs = seaweed.s3fs()
    fs.mkdir(bucket)
    home = tmp_path / "home"
    with AlertReceiver() as rx:
        secrets = canaries(seaweed)
        secrets["MATERIA_NOTIFY"] = f"{rx.url}?token={secrets['MATERIA_NOTIFY']}"
        everything = " ".join(secrets.values())
        env = clean_env(
            home,
            **{**secrets, **seaweed.r2_env(), "R2_BUCKET": bucket},
            # Error messages that name a URL carry the secrets in it: PSD Online refused,
            # and the Hetzner API unreachable (the reaping error of the tick's own record).
            PSD_BASE_URL="http://127.0.0.1:9/" + "/".join(secrets.values()).replace("://", "_"),
            PSD_DATASETS="psd_coffee_csv.zip",
            HCLOUD_ENDPOINT=f"http://127.0.0.1:9/v1/{secrets['HCLOUD_TOKEN']}",
        )
        # 1. A real tick through the CLI: extract on a local worker fails, reaping fails.
        slots = Schedule().latest_slots(datetime.now(UTC))
        done = {
            j: {"slot": str(slots[j]), "ok_slot": str(slots[j]), "status": "ok"}
            for j in ("transform", "report")
        }
        write_state(home / "supervisor" / "state.json", done)
        tick = run_cli("supervisor", "tick", env=env, timeout=300)
        assert tick.returncode == 1, tick.stdout + tick.stderr

        # 2. A job whose error and whose part's record carry every secret (in this process,
        #    whose environment holds the secrets as the CLI's does once ESC is applied).
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        s = settings_mod.load(dotenv=tmp_path / "none")

        def job(name: str, settings_) -> int:
            runlog.append(
                settings_,
                {
                    "source": "worker",
                    "run_id": f"part-{name}",
                    "parent": settings_.parent_run,
                    "pipeline": name,
                    "status": "failed",
                    "error": f"worker said {everything}",
                },
            )
            raise MateriaError(f"{name} failed with {everything}")

        supervisor.tick(s, now=datetime(2030, 1, 2, 4, 0, tzinfo=UTC), runner=job)
        alerts = rx.wait_for(3)

    log = runlog.merged(runlog.read(s))
    # The failures were recorded (else this test proves nothing) ...
    assert any(
        r.get("pipeline") == "tick" and "reaping workers failed" in (r.get("error") or "")
        for r in log
    )
    assert any(
        r.get("source") == "worker"
        and r.get("status") == "failed"
        and "***" in (r.get("error") or "")
        for r in log
    )
    assert any("failed with ***" in (r.get("error") or "") for r in log)
    assert [p for p in fs.find(f"{bucket}/runs/output/")]  # the worker's output was kept
    # ... and no secret is in any file, object or alert.
    needles = {n: v.encode() for n, v in secrets.items()}
    leaks = []
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            leaks += [f"{path}: {n}" for n, v in needles.items() if v in data]
    for key in fs.find(bucket):
        data = fs.cat(key)
        leaks += [f"s3://{key}: {n}" for n, v in needles.items() if v in data]
    leaks += [
        f"alert: {n}" for a in alerts for n, v in needles.items() if v.decode() in json.dumps(a)
    ]
    assert leaks == [], "\n".join(leaks)


def test_health_redacts_records_written_before_redaction_at_write(tmp_path: Path) -> None:
    """The workbench's and the report's "recent failures" come out redacted even from a
    line an older version wrote with the secret in it."""
    token = "hcloud-old-leak-0123456789"
    home = tmp_path / "home"
    path = home / "landing" / "runs" / "runs.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(
        json.dumps(
            {
                "source": "supervisor",
                "run_id": "t",
                "pipeline": "tick",
                "status": "failed",
                "error": f"reaping workers failed: Bearer {token}",
            }
        )
        + "\n"
    )
    s = settings_mod.load(environ=clean_env(home, HCLOUD_TOKEN=token), dotenv=tmp_path / "none")
    [failure] = runlog.health_table(s)["failures"]
    assert failure["error"] == "reaping workers failed: Bearer ***"
