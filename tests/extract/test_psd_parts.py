"""The extractor's small parts, in process: months, keys, archive verification."""

from __future__ import annotations

import pytest

from materia.core.errors import MateriaError
from materia.extract import psd
from testsupport import clean_env, run_cli
from testsupport.psd import fixtures as pf
from testsupport.psd.server import PsdServer


def test_months_to_probe():
    assert psd.months_to_probe((2023, 2)) == [(2023, 2), (2023, 1), (2022, 12), (2022, 11)]
    assert psd.months_to_probe((2022, 12), (2022, 10)) == [(2022, 12), (2022, 11), (2022, 10)]
    assert psd.months_to_probe((2022, 12), (2022, 12)) == [(2022, 12)]


@pytest.mark.parametrize(
    ("etag", "safe"),
    [
        ('"f22816b5f1"', "f22816b5f1"),
        ('W/"abc"', "abc"),
        ('"80b4d8a3f7d7d81:0"', "80b4d8a3f7d7d81_0"),
        ('"a/../b"', "a_.._b"),
    ],
)
def test_an_etag_as_keys_landed_before_content_keys_spell_it(etag, safe):
    assert psd.safe_etag(etag) == safe
    with pytest.raises(ValueError):
        psd.safe_etag('""')


def test_the_landing_key_is_the_content():
    digest = "f22816b5f1abbbe5" + "0" * 48
    key = psd.landing_key("psd_alldata_csv.zip", (2022, 6), digest)
    assert key == f"psd/psd_alldata_csv/2022/06/sha256-{digest[:32]}.zip"


def test_release_url():
    assert psd.release_url("http://h/d/", "x.zip", (2022, 6)) == "http://h/d/archives/2022/06/x.zip"


def test_verify_archive(tmp_path):
    good = pf.write_release(tmp_path / "psd_coffee_csv.zip", pf.sample_rows())
    rows = pf.sample_rows()
    assert psd.verify_archive(good, (2022, 12), tmp_path / "scratch") == len(rows)
    faults = {
        "CRC check failed": pf.corrupt_zip(good, tmp_path / "c.zip"),
        "not a readable zip": pf.truncated_zip(good, tmp_path / "t.zip"),
        "PSD header": pf.wrong_header_zip(tmp_path / "w" / "psd_coffee_csv.zip"),
        "exactly one CSV member": pf.two_member_zip(tmp_path / "2.zip", pf.sample_rows()),
    }
    for message, path in faults.items():
        with pytest.raises(MateriaError, match=message):
            psd.verify_archive(path, (2022, 12), tmp_path / "scratch")


def test_weak_and_iis_style_etags_still_spare_the_download(tmp_path):
    pf.archive_layout(tmp_path / "site", {"2022-06": pf.sample_rows()})
    with PsdServer(tmp_path / "site", etag_format=lambda d: f'W/"{d[:12]}:0"') as srv:
        env = clean_env(tmp_path / "home", PSD_BASE_URL=srv.base_url)
        args = ("extract", "psd", "--dataset", "psd_coffee_csv.zip", "--as-of", "2022-06-01")
        assert run_cli(*args, env=env).returncode == 0
        (key,) = [p.name for p in (tmp_path / "home/landing").rglob("*.zip")]
        assert key.startswith("sha256-")
        srv.clear()
        again = run_cli(*args, env=env)
        assert again.returncode == 0 and "unchanged" in again.stdout
        assert srv.body_bytes() == 0
