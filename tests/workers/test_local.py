"""The local provider: workers as temporary directories, runs as local subprocesses."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from materia.core import runlog
from materia.core.errors import MateriaError
from materia.workers.base import InstanceSpec, reap, worker_labels
from materia.workers.providers.local import LocalProvider
from testsupport.psd.fixtures import sample_rows, write_release


def spec(name: str, created: float | None = None) -> InstanceSpec:
    return InstanceSpec(name, "extract", "ccx12", worker_labels("extract", name, now=created))


def test_create_list_destroy_and_reap(tmp_path: Path):
    p = LocalProvider(tmp_path / "workers")
    assert p.list_instances() == []
    a = p.create_instance(spec("materia-extract-a", created=time.time() - 7200))
    b = p.create_instance(spec("materia-extract-b"))
    assert p.wait_for_ssh(a, timeout=1) == a
    assert sorted(i.id for i in p.list_instances()) == [a.id, b.id]
    with pytest.raises(MateriaError, match="already exists"):
        p.create_instance(spec("materia-extract-a"))
    assert [i.id for i in reap(p, ttl_seconds=3600)] == [a.id]
    p.destroy_instance(b.id)
    assert p.list_instances() == [] and list((tmp_path / "workers").iterdir()) == []
    with pytest.raises(MateriaError, match="not a worker name"):
        p.destroy_instance("../etc")


def test_pipeline_on_local_worker_end_to_end(psd_server, cli, materia_env, proc_scanner):
    now = datetime.now(UTC)
    write_release(
        psd_server.root / "archives" / f"{now:%Y}" / f"{now:%m}" / "psd_coffee_csv.zip",
        sample_rows(),
    )
    secret = "ice-local-9b7e2f51c0d4"  # sent along although the extract does not need it
    env = {
        **materia_env,
        "PSD_BASE_URL": psd_server.base_url,
        "PSD_DATASETS": "psd_coffee_csv.zip",
        "ICEBERG_REST_URI": "http://127.0.0.1:9",
        "ICEBERG_TOKEN": secret,
    }
    with proc_scanner([secret]) as scan:
        r = cli("pipeline", "run", "extract", "--on", "local", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    home = Path(materia_env["MATERIA_HOME"])
    landed = list((home / "landing" / "psd" / "psd_coffee_csv").rglob("*.zip"))
    assert len(landed) == 1  # the local worker shares this machine's landing area
    assert "[materia-extract-" in r.stderr and secret not in r.stdout + r.stderr
    assert scan.argv_hits == []
    assert list((home / "workers").iterdir()) == []  # the worker directory is gone
    # One run: the step on the worker reports to it (a result line), it does not log; the
    # worker run's records are its start and its end.
    raw = [
        json.loads(x) for x in (home / "landing" / "runs" / "runs.jsonl").read_text().splitlines()
    ]
    assert [(r["source"], r["status"]) for r in raw] == [("worker", "started"), ("worker", "ok")]
    [rec] = runlog.merged(raw)
    assert (rec["provider"], rec["pipeline"], rec["exit_code"], rec["cost_estimate"]) == (
        "local",
        "extract",
        0,
        0.0,
    )
    assert (rec["source"], rec["status"], rec["parent"]) == ("worker", "ok", None)
    assert "materia-result" not in r.stderr  # consumed, not shown
    assert not list((home / "live-runs").iterdir())
