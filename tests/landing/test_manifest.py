"""materia.landing.manifest and `materia landing`: the manifest, and quarantine that moves an
archive aside (locally and on S3), keeps why, and can be undone."""

from __future__ import annotations

import hashlib
import json

import pytest

from materia.core import settings
from materia.core.errors import MateriaError
from materia.core.storage import LandingStore
from materia.landing import manifest as landed
from testsupport.psd import fixtures as fx

KEY = "psd/psd_coffee_csv/2022/12/abc.zip"


def _land(store: LandingStore, tmp_path, key: str = KEY, release: str = "2022-12") -> bytes:
    path = fx.write_release(tmp_path / "r.zip", fx.sample_rows(release))
    store.write_bytes(key, path.read_bytes())
    return path.read_bytes()


@pytest.mark.parametrize("where", ["local", "s3"])
def test_quarantine_moves_the_archive_aside_and_restore_brings_it_back(where, request, tmp_path):
    s = request.getfixturevalue("local_settings" if where == "local" else "r2_settings")
    store = LandingStore.from_settings(s)
    body = _land(store, tmp_path)
    other = "psd/psd_coffee_csv/2022/06/def.zip"
    _land(store, tmp_path, other, "2022-06")
    store.write_bytes("psd/README.txt", b"not an archive")
    assert [i.key for i in landed.manifest(store)] == [other, KEY]

    landed.quarantine(store, KEY, reason="negative production, USDA to correct")
    assert [i.key for i in landed.manifest(store)] == [other]
    assert store.read_bytes(f"quarantine/{KEY}") == body  # kept byte for byte
    (q,) = landed.quarantined(store)
    assert (q.key, q.reason) == (KEY, "negative production, USDA to correct") and q.at
    with pytest.raises(MateriaError, match="already quarantined"):
        landed.quarantine(store, KEY)

    landed.restore(store, f"quarantine/{KEY}")  # either spelling of the key
    assert [i.key for i in landed.manifest(store)] == [other, KEY]
    assert landed.quarantined(store) == []


def test_a_move_interrupted_after_the_copy_counts_as_quarantined(local_settings, tmp_path):
    store = LandingStore.from_settings(local_settings)
    _land(store, tmp_path)
    store.copy(KEY, f"quarantine/{KEY}")  # the delete never happened
    assert landed.manifest(store) == []


def test_bad_keys_are_one_clear_line(local_settings):
    store = LandingStore.from_settings(local_settings)
    for bad in ("psd/coffee.zip", "psd/../2022/12/x.zip", "psd/psd_coffee_csv/../../x/2022/12/x.zip", "quarantine/../psd/a/2022/12/x.zip", "psd/a/2022/12/..zip"):  # fmt: skip
        with pytest.raises(MateriaError, match="is not a landing key"):
            landed.quarantine(store, bad)
        with pytest.raises(MateriaError, match="is not a landing key"):
            landed.restore(store, bad)
    with pytest.raises(MateriaError, match="leaves the landing root"):
        store.url("psd/../../etc/passwd")
    with pytest.raises(MateriaError, match="no landed archive"):
        landed.quarantine(store, KEY)
    with pytest.raises(MateriaError, match="is not quarantined"):
        landed.restore(store, KEY)


def test_cli_lists_and_quarantines(cli, materia_env, tmp_path):
    store = LandingStore.from_settings(settings.load(materia_env, dotenv=tmp_path / "no"))
    _land(store, tmp_path)
    done = cli("landing", "quarantine", KEY, "--reason", "bad values")
    assert done.returncode == 0, done.stderr
    out = cli("landing", "list").stdout
    assert "# landed: 0 archive(s)" in out
    assert "# quarantined: 1 archive(s)" in out and KEY in out and "bad values" in out
    assert cli("landing", "restore", KEY).returncode == 0
    assert f"{KEY}\t2022-12\t" in cli("landing", "list").stdout


def test_a_landed_copy_of_quarantined_content_is_held(local_settings, tmp_path):
    """Quarantine is by content: the same bytes under another key stay out of use."""
    store = LandingStore.from_settings(local_settings)
    data = _land(store, tmp_path, "psd/psd_coffee_csv/2022/12/old-etag.zip")
    landed.quarantine(store, "psd/psd_coffee_csv/2022/12/old-etag.zip")
    copy = f"psd/psd_coffee_csv/2022/12/{landed.content_id(hashlib.sha256(data).hexdigest())}.zip"
    store.write_bytes(copy, data)
    found = landed.scan(store)
    assert found.held == {copy: "psd/psd_coffee_csv/2022/12/old-etag.zip"}
    assert found.usable == [] and landed.manifest(store) == []
    assert found.withheld == {copy, "psd/psd_coffee_csv/2022/12/old-etag.zip"}


def test_an_old_key_s_content_is_hashed_once_and_recorded(local_settings, tmp_path):
    store = LandingStore.from_settings(local_settings)
    data = _land(store, tmp_path, "psd/psd_coffee_csv/2022/12/80b4d8a3f7d7d81_0.zip")
    item = landed.Landed.parse("psd/psd_coffee_csv/2022/12/80b4d8a3f7d7d81_0.zip")
    assert item.content is None
    sha = hashlib.sha256(data).hexdigest()
    assert landed.identify(store, item).content == f"sha256-{sha[:32]}"
    assert landed.facts(store, item.key)["sha256"] == sha
    store.write_bytes(item.key, b"changed")  # the record, not the bytes, answers from now on
    assert landed.identify(store, item).content == f"sha256-{sha[:32]}"


def test_the_newer_landing_of_a_month_supersedes(tmp_path, cli, materia_env):
    from materia.sources import psd_archive

    store = LandingStore.from_settings(settings.load(materia_env, dotenv=tmp_path / "no"))
    first, again = "psd/psd_coffee_csv/2022/12/zzz-first.zip", "psd/psd_coffee_csv/2022/12/aaa-again.zip"  # fmt: skip
    _land(store, tmp_path, first)
    _land(store, tmp_path, again, "2022-06")  # other bytes
    for key, at in ((first, "2022-12-09T12:00:00+00:00"), (again, "2022-12-14T12:00:00+00:00")):
        store.write_bytes(psd_archive.record_key(key), json.dumps({"landed_at": at}).encode())
    found = landed.scan(store)
    assert landed.superseded(found.usable) == {first: again}  # by landing time, not by name
    out = cli("landing", "list").stdout
    assert f"{first}\t2022-12\t" in out and f"superseded by {again}" in out
