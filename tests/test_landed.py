"""materia.landed and `materia landing`: the manifest, and quarantine that moves an
archive aside (locally and on S3), keeps why, and can be undone."""

from __future__ import annotations

import pytest

from materia import landed
from materia.errors import MateriaError
from materia.storage import LandingStore
from testsupport import psd_fixtures as fx

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
    from materia import settings

    store = LandingStore.from_settings(settings.load(materia_env, dotenv=tmp_path / "no"))
    _land(store, tmp_path)
    done = cli("landing", "quarantine", KEY, "--reason", "bad values")
    assert done.returncode == 0, done.stderr
    out = cli("landing", "list").stdout
    assert "# landed: 0 archive(s)" in out
    assert "# quarantined: 1 archive(s)" in out and KEY in out and "bad values" in out
    assert cli("landing", "restore", KEY).returncode == 0
    assert f"{KEY}\t2022-12\t" in cli("landing", "list").stdout
