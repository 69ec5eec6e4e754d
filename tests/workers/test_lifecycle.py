"""`materia pipeline run extract --on hetzner` end to end, and every way a run can end.

Real parts only: the Hetzner API stand-in (hcloud talks to it over HTTP), servers that
boot as real OpenSSH sshd processes with the host key from their cloud-init, the loopback
PSD Online server, SeaweedFS as R2. Every test ends with zero servers in the API.
"""

from __future__ import annotations

import secrets
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from materia.core import settings as settings_mod
from materia.core.errors import MateriaError
from materia.ops import schedule
from materia.workers.providers.hetzner import HetznerProvider
from materia.workers.run import run_on_worker
from testsupport import run_cli
from testsupport.clouds.worker_runs import (
    DATASET,
    bucket_run_log,
    publish_release,
    start_slow_extract,
)
from testsupport.clouds.worker_runs import local_run_log as run_log

pytestmark = [pytest.mark.ssh, pytest.mark.slow]


@pytest.fixture
def seaweed(worker_seaweed):
    return worker_seaweed


@pytest.fixture
def r2(worker_r2):
    return worker_r2


def in_process_settings(
    cloud, home: Path, psd_base: str, timeout: int = 30
) -> settings_mod.Settings:
    env = cloud.env(home, PSD_BASE_URL=psd_base, PSD_DATASETS=DATASET)
    env["MATERIA_WORKER_SSH_TIMEOUT"] = str(timeout)
    return settings_mod.load(environ=env, dotenv=home / "no.env")


def provider_of(s: settings_mod.Settings) -> HetznerProvider:
    return HetznerProvider(s.hetzner, retry_delay=0.05)


def r2_log(r2, source: str = "worker") -> list[dict]:
    """The run log's records of `source` in the test's bucket."""
    return [r for r in bucket_run_log(r2[1], r2[2]) if r["source"] == source]


# --- end to end -------------------------------------------------------------------------
def test_extract_on_hetzner_end_to_end(
    cloud, psd_server, r2, tmp_path, proc_scanner, scan_files, seaweed
):
    prefix = publish_release(psd_server)
    r2_env, fs, bucket = r2
    iceberg_token = f"ice-{secrets.token_hex(8)}"
    env = cloud.env(
        tmp_path / "home",
        PSD_BASE_URL=psd_server.base_url,
        PSD_DATASETS=DATASET,
        ICEBERG_REST_URI=seaweed.iceberg_uri,
        ICEBERG_TOKEN=iceberg_token,
        **r2_env,
    )
    secret_values = [
        r2_env["R2_ACCESS_KEY"],
        r2_env["R2_SECRET_KEY"],
        iceberg_token,
        cloud.api.token,
    ]
    with proc_scanner(secret_values) as scan:
        t = time.monotonic()
        r = run_cli("pipeline", "run", "extract", "--on", "hetzner", env=env, cwd=tmp_path / "cwd")
        elapsed = time.monotonic() - t
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    # The release landed in SeaweedFS (R2), written by the worker with the sent secrets.
    landed = fs.find(f"{bucket}/{prefix}")
    assert len(landed) == 1 and landed[0].endswith(".zip"), landed
    assert "landed psd/psd_coffee_csv/" in out and "[materia-extract-" in out  # streamed, prefixed
    # Secrets were in the worker's environment, and nowhere else.
    assert {r2_env["R2_SECRET_KEY"].encode(), iceberg_token.encode()} <= scan.remote_env_hits
    assert cloud.api.token.encode() not in scan.remote_env_hits  # the worker never gets it
    assert scan.argv_hits == [] and scan.samples > 0
    for text in (out, cloud.servers.all_logs()):
        assert not [s for s in secret_values if s in text]
    # The worker built its own environment from the shipped lockfile and ran from it.
    assert list(cloud.worker_root.glob("*/code/.venv/bin/python"))
    assert list(cloud.worker_root.glob("*/code/.materia-commit"))
    assert scan_files(cloud.worker_root, secret_values) == []
    # The worker is gone; the run is logged (in R2) with its server type and cost.
    assert cloud.api.snapshot() == []
    log = r2_log(r2)
    assert [(x["pipeline"], x["provider"], x["server_type"], x["exit_code"]) for x in log] == [
        ("extract", "hetzner", "ccx13", 0)
    ]
    assert log[0]["cost_estimate"] > 0 and log[0]["price_table"]
    assert r2_log(r2, source="in-process") == []  # the worker reports to its run instead
    print(f"\nhetzner run via stand-ins: {elapsed:.1f}s wall, timings {log[0]['timings']}")


# --- faults -------------------------------------------------------------------------------
def test_ssh_never_ready_times_out_and_destroys(cloud, psd_server, tmp_path):
    cloud.servers.ready = False
    s = in_process_settings(cloud, tmp_path / "home", psd_server.base_url, timeout=2)
    with pytest.raises(MateriaError, match="SSH not ready after 2s"):
        run_on_worker(s, provider_of(s), "extract", log=lambda _: None)
    assert cloud.api.snapshot() == []
    [rec] = run_log(tmp_path / "home")
    assert rec["exit_code"] is None and "SSH not ready" in rec["error"]


def test_remote_failure_returns_its_exit_code(cloud, psd_server, tmp_path):
    lines: list[str] = []
    s = in_process_settings(cloud, tmp_path / "home", psd_server.base_url)  # no release served
    result = run_on_worker(s, provider_of(s), "extract", log=lines.append)
    assert result.exit_code == 1
    assert any("error: no release of psd_coffee_csv.zip" in x for x in lines), lines
    assert cloud.api.snapshot() == []
    [rec] = run_log(tmp_path / "home")
    assert rec["exit_code"] == 1 and rec["error"].startswith("no release of psd_coffee_csv.zip")


def test_delete_answering_500_twice_is_retried(cloud, psd_server, tmp_path):
    publish_release(psd_server)
    cloud.api.delete_failures = 2
    s = in_process_settings(cloud, tmp_path / "home", psd_server.base_url)
    assert run_on_worker(s, provider_of(s), "extract", log=lambda _: None).exit_code == 0
    assert [st for m, _, st in cloud.api.calls if m == "DELETE"] == [500, 500, 200]
    assert cloud.api.snapshot() == []


def _start_slow_run(cloud, psd_server, r2, tmp_path, *argv: str, **extra: str):
    """A CLI run (default `pipeline run extract --on hetzner`) whose worker is
    mid-download: the PSD stand-in dribbles the body."""
    env = cloud.env(
        tmp_path / "home", PSD_BASE_URL=psd_server.base_url, PSD_DATASETS=DATASET, **r2[0], **extra
    )
    proc = start_slow_extract(psd_server, "hetzner", env, tmp_path / "cwd", argv=argv or None)
    assert len(cloud.api.snapshot()) == 1
    return proc, env


def test_sigint_mid_run_destroys_the_worker(cloud, psd_server, r2, tmp_path):
    proc, _ = _start_slow_run(cloud, psd_server, r2, tmp_path)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, out + err
    assert "destroyed hetzner worker" in err
    assert cloud.api.snapshot() == []
    assert cloud.servers.running == {}  # its sshd and sessions ended with it
    [rec] = r2_log(r2)
    assert (rec["exit_code"], rec["error"]) == (None, "KeyboardInterrupt")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_sigterm_or_sighup_mid_run_destroys_the_worker(sig, cloud, psd_server, r2, tmp_path):
    proc, _ = _start_slow_run(cloud, psd_server, r2, tmp_path)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode != 0, out + err
    assert "destroyed hetzner worker" in err
    assert cloud.api.snapshot() == []
    [rec] = r2_log(r2)
    assert (rec["exit_code"], rec["error"]) == (None, f"Terminated by {sig.name}")
    assert not list((tmp_path / "home" / "live-runs").iterdir())


def test_sigkill_of_a_running_pipeline_then_the_next_tick_leaves_no_server(
    cloud, psd_server, r2, tmp_path
):
    """The supervisor's tick runs extract on Hetzner and is SIGKILLed (no clean-up can
    run, as with `timeout -k` or the OOM killer); the next tick destroys the worker."""
    home = tmp_path / "home"
    slots = schedule.Schedule().latest_slots(datetime.now(UTC))
    seeded = {
        job: {"slot": str(slots[job]), "ok_slot": str(slots[job]), "status": "ok"}
        for job in ("transform", "report")
    }
    schedule.write_state(home / "supervisor" / "state.json", seeded)  # only extract is due
    proc, env = _start_slow_run(
        cloud, psd_server, r2, tmp_path, "supervisor", "tick", MATERIA_WORKER_PROVIDER="hetzner"
    )
    proc.kill()
    proc.communicate(timeout=60)
    [orphan] = cloud.api.snapshot()
    run_id = orphan["labels"]["run"]
    assert orphan["labels"]["owner"] == (home / "owner-id").read_text().strip()

    nxt = run_cli("supervisor", "tick", env=env, cwd=tmp_path / "cwd")
    assert nxt.returncode == 0, nxt.stdout + nxt.stderr
    assert cloud.api.snapshot() == []
    assert cloud.servers.running == {}
    assert f"reaped hetzner worker {orphan['name']} (run {run_id})" in nxt.stdout
    assert "nothing due" in nxt.stdout  # the killed attempt is retried after the backoff
    log = r2_log(r2, source="worker") + r2_log(r2, source="supervisor")
    died = next(r for r in log if r.get("run_id") == run_id)
    assert died["exit_code"] is None and "run died without finishing" in died["error"]
    assert died["error"].endswith("its hetzner worker was reaped")  # what it reaped, where
    job = next(r for r in log if r["pipeline"] == "extract" and r["source"] == "supervisor")
    assert job["status"] == "failed" and "did not finish" in job["error"]
    assert died["parent"] == job["run_id"]
