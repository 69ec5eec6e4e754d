"""The landing store: the same small interface over a local folder and S3 (SeaweedFS)."""

from __future__ import annotations

import uuid

import pytest

from materia.core.settings import load
from materia.core.storage import LandingStore

KEY = "psd/psd_coffee_csv/2022/06/abc.zip"


@pytest.fixture
def local_store(tmp_path):
    return LandingStore.from_settings(
        load(environ={"MATERIA_HOME": str(tmp_path)}, dotenv=tmp_path / "x")
    )


@pytest.fixture
def s3_store(seaweed, tmp_path):
    bucket = f"storage-{uuid.uuid4().hex[:12]}"
    seaweed.s3fs().mkdir(bucket)
    env = {**seaweed.r2_env(), "R2_BUCKET": bucket, "MATERIA_HOME": str(tmp_path)}
    return LandingStore.from_settings(load(environ=env, dotenv=tmp_path / "x"))


def _exercise(store: LandingStore) -> None:
    assert not store.exists(KEY) and store.list("psd") == []
    with store.temp_file(suffix=".zip") as tmp:
        tmp.write_bytes(b"PK-data")
        store.put_file(tmp, KEY)
    assert store.exists(KEY) and store.read_bytes(KEY) == b"PK-data" and store.size(KEY) == 7
    store.write_bytes("psd/other/x.bin", b"x")
    assert store.list("psd") == ["psd/other/x.bin", KEY]
    with store.open(KEY) as f:
        assert f.read(2) == b"PK"
    store.append_jsonl("runs/runs.jsonl", {"a": 1})
    store.append_jsonl("runs/runs.jsonl", {"b": 2})
    assert store.read_jsonl("runs/runs.jsonl") == [{"a": 1}, {"b": 2}]
    store.delete("psd/other/x.bin")
    assert store.list("psd") == [KEY]


def test_local_store(local_store, tmp_path):
    _exercise(local_store)
    assert (tmp_path / "landing" / KEY).read_bytes() == b"PK-data"
    assert local_store.url(KEY) == str(tmp_path / "landing" / KEY)
    assert list((tmp_path / "tmp").iterdir()) == []  # temp files never linger


def test_temp_file_removed_on_error(local_store, tmp_path):
    with pytest.raises(RuntimeError), local_store.temp_file() as tmp:
        tmp.write_bytes(b"partial")
        raise RuntimeError("boom")
    assert not tmp.exists()
    assert local_store.list() == []


@pytest.mark.s3
def test_s3_store(s3_store, seaweed):
    assert s3_store.is_s3 and s3_store.url(KEY).startswith("s3://storage-")
    _exercise(s3_store)
    assert seaweed.secret_key not in repr(s3_store)
