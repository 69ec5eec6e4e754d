"""`materia pipeline run extract --on scaleway|ovh|oracle` end to end, SIGTERM mid-run,
and `materia worker list|destroy|reap` across every configured provider.

Real parts only: each vendor's SDK talking HTTP to its stand-in, servers booting as real
sshd processes with the host key from their cloud-init, the PSD Online stand-in,
SeaweedFS as R2. Every test ends with nothing left that a cloud would bill.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from materia.workers import prices
from testsupport import run_cli
from testsupport.clouds.worker_runs import (
    DATASET,
    bucket_run_log,
    publish_release,
    start_slow_extract,
)

pytestmark = [pytest.mark.ssh, pytest.mark.slow]
CLOUDS = ("scaleway", "ovh", "oracle")


@pytest.mark.parametrize("name", CLOUDS)
def test_extract_end_to_end(
    clouds, psd_server, worker_r2, tmp_path, proc_scanner, scan_files, name: str
):
    cloud = clouds.start(name)
    cloud.api.delete_failures = 2  # the worker's deletion fails twice, then succeeds
    prefix = publish_release(psd_server)
    r2_env, fs, bucket = worker_r2
    env = clouds.env(
        tmp_path / "home", name, PSD_BASE_URL=psd_server.base_url, PSD_DATASETS=DATASET, **r2_env
    )
    secret_values = [r2_env["R2_SECRET_KEY"], *cloud.secrets]
    with proc_scanner(secret_values) as scan:
        t = time.monotonic()
        r = run_cli("pipeline", "run", "extract", "--on", name, env=env, cwd=tmp_path / "cwd")
        elapsed = time.monotonic() - t
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    landed = fs.find(f"{bucket}/{prefix}")
    assert len(landed) == 1 and landed[0].endswith(".zip"), landed
    assert "landed psd/psd_coffee_csv/" in out and f"destroyed {name} worker" in out
    # The deletion was retried, and nothing is left that the cloud would bill.
    assert out.count("failed (") >= 2 and "retrying" in out
    assert clouds.billed()[name] == [] and clouds.servers.running == {}
    # R2's secret reached the worker on the SSH channel; the cloud's never left home.
    assert r2_env["R2_SECRET_KEY"].encode() in scan.remote_env_hits
    assert not {s.encode() for s in cloud.secrets} & scan.remote_env_hits
    assert scan.argv_hits == [] and scan.samples > 0
    for text in (out, clouds.servers.all_logs()):
        assert not [s for s in secret_values if s in text]
    assert scan_files(clouds.worker_root, secret_values) == []
    [rec] = bucket_run_log(fs, bucket)
    table = prices.price_table(name)
    assert (rec["provider"], rec["server_type"], rec["exit_code"]) == (
        name,
        table.classes["extract"],
        0,
    )
    assert rec["cost_estimate"] > 0 and rec["currency"] == table.currency
    print(f"\n{name} run via stand-ins: {elapsed:.1f}s wall, timings {rec['timings']}")


@pytest.mark.parametrize("name", CLOUDS)
def test_sigterm_mid_run_destroys_the_worker(clouds, psd_server, worker_r2, tmp_path, name):
    clouds.start(name)
    r2_env, fs, bucket = worker_r2
    env = clouds.env(
        tmp_path / "home", name, PSD_BASE_URL=psd_server.base_url, PSD_DATASETS=DATASET, **r2_env
    )
    proc = start_slow_extract(psd_server, name, env, tmp_path / "cwd")
    assert len(clouds.billed()[name]) >= 1
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode != 0, out + err
    assert f"destroyed {name} worker" in err
    assert clouds.billed()[name] == [] and clouds.servers.running == {}
    [rec] = bucket_run_log(fs, bucket)
    assert (rec["provider"], rec["exit_code"], rec["error"]) == (
        name,
        None,
        "Terminated by SIGTERM",
    )


def test_worker_commands_cover_every_configured_provider(clouds, tmp_path: Path):
    clouds.servers.ready = False  # only the APIs matter here
    for name in CLOUDS:
        clouds.start(name)
    env = clouds.env(tmp_path / "home")
    cwd = tmp_path / "cwd"

    def cli(*args: str):
        return run_cli("worker", *args, env=env, cwd=cwd)

    ids = {}
    for name in CLOUDS:
        r = cli("create", "extract", "--on", name)
        assert r.returncode == 0, r.stderr
        ids[name] = r.stdout.split("\t", 1)[0]
    r = cli("list")
    assert r.returncode == 0, r.stderr
    rows = [line.split("\t") for line in r.stdout.splitlines()]
    assert sorted((row[0], row[1]) for row in rows) == sorted(ids.items())
    r = cli("destroy", ids["oracle"])  # found on whichever provider has it
    assert (r.returncode, r.stdout.strip()) == (0, f"destroyed {ids['oracle']} on oracle")
    r = cli("reap", "--ttl-minutes", "0")
    assert r.returncode == 0 and "reaped 2 worker(s)" in r.stdout, r.stderr
    assert clouds.billed() == {name: [] for name in CLOUDS}
    # One provider's API failing does not hide or spare the others' workers.
    cli("create", "extract", "--on", "scaleway")
    clouds["ovh"].api.server_errors = 100
    r = cli("list")
    assert r.returncode == 1 and r.stdout.startswith("scaleway\t")
    assert "error: ovh: OVH API" in r.stderr
    r = cli("reap", "--ttl-minutes", "0")
    assert r.returncode == 1 and "reaped 1 worker(s), but ovh:" in r.stderr
    assert clouds.billed()["scaleway"] == []
