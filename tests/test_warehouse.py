"""materia.warehouse: the warehouse file taken and returned under a lock, locally and on
S3 (SeaweedFS on loopback), and `materia transform` in prod mode end to end against it:
landing on S3, Iceberg through the REST catalog, a concurrent second run refused.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from materia import settings as settings_mod
from materia import transform, warehouse
from materia.errors import MateriaError
from materia.storage import LandingStore

ENV_NAMES = ("MATERIA_ENV", "R2_ENDPOINT", "R2_BUCKET", "R2_ACCESS_KEY", "R2_SECRET_KEY")


def _settings(home: Path, monkeypatch: pytest.MonkeyPatch, **extra: str):
    for name in (*ENV_NAMES, "ICEBERG_REST_URI", "ICEBERG_WAREHOUSE", "ICEBERG_CREDENTIAL"):
        monkeypatch.delenv(name, raising=False)
    env = {"MATERIA_HOME": str(home), **extra}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return settings_mod.load(env, dotenv=home / "no.env")


@pytest.fixture
def local(tmp_path, monkeypatch):
    return _settings(tmp_path / "home", monkeypatch)


@pytest.fixture
def on_s3(seaweed, tmp_path, monkeypatch):
    """Settings whose R2 bucket is a fresh bucket on the session's SeaweedFS."""
    bucket = f"wh-{uuid.uuid4().hex[:10]}"
    seaweed.s3fs().mkdir(bucket)
    env = {**seaweed.r2_env(), "R2_BUCKET": bucket}
    return _settings(tmp_path / "home", monkeypatch, **env)


def _lock_cases(s) -> None:
    first = warehouse.acquire(s, "worker-a")
    with pytest.raises(MateriaError, match="locked by worker-a until .*nothing was changed"):
        warehouse.acquire(s, "worker-b")
    warehouse.release(s, warehouse.Lock("worker-b", first.expires))  # not the owner: no-op
    with pytest.raises(MateriaError, match="worker-a"):
        warehouse.acquire(s, "worker-b")
    warehouse.release(s, first)
    second = warehouse.acquire(s, "worker-b")
    warehouse.release(s, second)
    # A crashed worker's lock expires and is taken over.
    warehouse.acquire(s, "crashed", ttl=timedelta(seconds=-1))
    taken = warehouse.acquire(s, "worker-c")
    assert taken.owner == "worker-c"
    warehouse.release(s, taken)


def test_local_lock_refuses_a_second_holder_and_expires(local):
    _lock_cases(local)


def test_s3_lock_refuses_a_second_holder_and_expires(on_s3):
    _lock_cases(on_s3)


def test_s3_warehouse_is_returned_only_after_success(on_s3):
    store = LandingStore.from_settings(on_s3)
    with warehouse.taken(on_s3, owner="run-1") as path:
        assert not path.exists()  # nothing stored yet
        path.write_bytes(b"version 1")
    assert store.read_bytes(warehouse.OBJECT) == b"version 1"
    assert not store.exists(warehouse.LOCK)

    with pytest.raises(RuntimeError), warehouse.taken(on_s3, owner="run-2") as path:
        assert path.read_bytes() == b"version 1"  # downloaded
        path.write_bytes(b"half-written")
        raise RuntimeError("transform failed")
    assert store.read_bytes(warehouse.OBJECT) == b"version 1"
    assert not store.exists(warehouse.LOCK)
    assert not on_s3.warehouse_path.exists()  # the failed local copy is discarded


def test_state_round_trips_locally_and_on_s3(local, on_s3):
    for s in (local, on_s3):
        assert warehouse.read_state(s, "prod") == {}
        warehouse.write_state(s, "prod", {"fingerprint": "abc"})
        assert warehouse.read_state(s, "prod") == {"fingerprint": "abc"}
        assert warehouse.read_state(s, "dev_x") == {}


def test_prod_transform_against_seaweed(seaweed, shared_psd_dir, tmp_path, monkeypatch):
    """Landing on S3, warehouse under the lock on S3, Iceberg through the REST catalog."""
    bucket = f"prod-{uuid.uuid4().hex[:10]}"
    seaweed.s3fs().mkdir(bucket)
    env = {**seaweed.r2_env(), "R2_BUCKET": bucket, **seaweed.iceberg_env(), "MATERIA_ENV": "prod"}
    s = _settings(tmp_path / "home", monkeypatch, **env)
    store = LandingStore.from_settings(s)
    src = shared_psd_dir / "archives" / "2022" / "06" / "psd_coffee_csv.zip"
    store.write_bytes("psd/psd_coffee_csv/2022/06/e06.zip", src.read_bytes())

    result = transform.run(s, "prod")
    assert result.published["obt_commodity_metrics"] is not None
    assert store.exists(warehouse.OBJECT) and not store.exists(warehouse.LOCK)
    cat = seaweed.catalog()
    rows = cat.load_table(("serving", "fct_psd_vintages")).scan().to_arrow().to_pylist()
    br = [
        r["value"]
        for r in rows
        if (r["commodity_code"], r["country_code"], r["market_year"], r["attribute_id"])
        == ("0711100", "BR", 2023, "028")
    ]
    assert br == [64300.0]
    stored = store.read_bytes(warehouse.OBJECT)
    snaps = {
        t[-1]: cat.load_table(t).current_snapshot().snapshot_id for t in cat.list_tables("serving")
    }

    # A second run while another worker holds the lock refuses and changes nothing.
    src12 = shared_psd_dir / "archives" / "2022" / "12" / "psd_coffee_csv.zip"
    store.write_bytes("psd/psd_coffee_csv/2022/12/e12.zip", src12.read_bytes())
    other = warehouse.acquire(s, "other-worker")
    try:
        with pytest.raises(MateriaError, match="locked by other-worker"):
            transform.run(s, "prod")
    finally:
        warehouse.release(s, other)
    assert store.read_bytes(warehouse.OBJECT) == stored
    assert {
        t[-1]: cat.load_table(t).current_snapshot().snapshot_id for t in cat.list_tables("serving")
    } == snaps
