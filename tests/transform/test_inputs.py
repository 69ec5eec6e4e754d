"""The transform's reader of landed archives (`materia.transform.inputs`, `materia.sources.psd_member`).

An archive that passed the door's check (its record, under the rules in force) is read
as a gzip view of its compressed member, without inflating it to disk; it must give
exactly the rows the inflated, re-checked member gives. Its bytes must still hash to
what it landed with: a landed copy changed since its check is refused, naming it. Any
other archive (no record, a stored member) is inflated with its CRC checked.
"""

from __future__ import annotations

import gzip
import hashlib
import zipfile
from pathlib import Path

import fsspec
import pytest

from materia.core.errors import MateriaError
from materia.core.storage import LandingStore
from materia.landing import manifest as landed
from materia.sources import psd_archive, psd_member
from materia.sources.psd_archive import ArchiveError
from materia.transform import inputs
from testsupport.psd import fixtures as fx

ALL = "psd_alldata_csv"


@pytest.fixture
def store(tmp_path: Path) -> LandingStore:
    return LandingStore(str(tmp_path / "landing"), fsspec.filesystem("file"), tmp_path / "tmp")


def _land(store: LandingStore, rows, month: str, checked: bool) -> landed.Landed:
    """A release landed as the extractor lands it: with its record when `checked`."""
    key = fx.land(store, rows, month, ALL, "e1")
    if checked:
        data = store.read_bytes(key)
        sha = hashlib.sha256(data).hexdigest()
        store.write_bytes(psd_archive.record_key(key), psd_archive.record(len(rows), sha256=sha))
    return landed.Landed.parse(key)


def _rows(run: inputs.Run, store: LandingStore, items) -> list[tuple]:
    loads = [inputs.Load(i, newest=True, month_archives=1) for i in items]
    inputs.load(run, store, loads)
    return run.con.execute(f"SELECT * FROM {inputs.ROWS} ORDER BY ALL").fetchall()


def _step_files(run: inputs.Run) -> list[str]:
    return sorted(p.name for p in run.scratch.glob("step-*/*"))


def test_a_checked_archive_reads_as_a_gzip_view_with_the_rows_of_the_inflated_one(
    local_settings, store
):
    rows06 = fx.sample_rows("2022-06")
    rows12 = fx.revise(rows06, "2022-12")
    checked = [_land(store, rows06, "2022-06", True), _land(store, rows12, "2022-12", True)]
    with inputs.connect(local_settings) as run:
        viewed = _rows(run, store, checked)
        assert _step_files(run) == ["0.csv.gz", "1.csv.gz"]  # nothing inflated to disk
    for item in checked:  # the same archives without their records: inflated, checked
        store.fs.rm(store.url(psd_archive.record_key(item.key)))
    with inputs.connect(local_settings) as run:
        inflated = _rows(run, store, checked)
        assert _step_files(run) == ["0.csv", "1.csv"]
    assert viewed == inflated and len(viewed) == len(rows06) + len(rows12)


def test_a_landed_copy_changed_since_its_check_is_refused_naming_it(local_settings, store):
    item = _land(store, fx.sample_rows("2022-06"), "2022-06", True)
    other = fx.revise(fx.sample_rows("2022-06"), "2022-12", {("0711100", "BR", 2023, "028"): 1.0})
    store.write_bytes(item.key, fx.release_bytes(other, f"{ALL}.zip"))  # a valid zip still
    with inputs.connect(local_settings) as run, pytest.raises(MateriaError) as e:
        _rows(run, store, [item])
    line = str(e.value)
    assert store.url(item.key) in line and "no longer hash" in line and "\n" not in line


def test_the_gzip_view_is_the_member_byte_for_byte(tmp_path: Path):
    zipped = fx.write_release(tmp_path / "psd_alldata_csv.zip", fx.sample_rows("2022-06"))
    view = psd_member.gzip_view(zipped, tmp_path / "v.csv.gz")
    psd_archive.inflate(zipped, tmp_path / "m.csv")
    assert gzip.decompress(view.read_bytes()) == (tmp_path / "m.csv").read_bytes()


def test_a_stored_member_has_no_view_and_a_zip_of_two_members_is_refused(tmp_path: Path):
    stored = tmp_path / "stored.zip"
    with zipfile.ZipFile(stored, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("psd_alldata.csv", fx.HEADER + "\r\n")
    assert psd_member.gzip_view(stored, tmp_path / "s.csv.gz") is None
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.csv", "x")
        zf.writestr("b.csv", "y")
    with pytest.raises(ArchiveError, match="exactly one CSV member"):
        psd_member.gzip_view(two, tmp_path / "t.csv.gz")
