"""Bounds and honest words at the door: a zip bomb is refused before it is inflated, a
full disk or an I/O error says it is the machine's fault (never a reason to quarantine a
good archive), an invalid byte is named in the archive, and nothing lands meanwhile."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
from pathlib import Path

import pytest

from materia.sources import psd_archive
from testsupport import cli_command
from testsupport.psd import fixtures as pf

COFFEE = "psd_coffee_csv.zip"
ARGS = ("extract", "psd", "--dataset", COFFEE, "--as-of", "2022-12-31")


def _one_line(proc) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def _nothing_landed(home: Path) -> None:
    assert not (home / "landing" / "psd").exists()


def _tmp_bytes(home: Path) -> int:
    return sum(p.stat().st_size for p in (home / "tmp").rglob("*") if p.is_file())


@pytest.fixture
def env(psd_server, materia_env) -> dict:
    return {**materia_env, "PSD_BASE_URL": psd_server.base_url}


def test_a_zip_bomb_is_refused_before_it_inflates(psd_server, env, cli, tmp_path):
    """2 MB that inflate to 2 GiB: refused from the zip's own directory, before a byte of
    the CSV is written (the check used to write 2 GB to tmp and use 4.3 GB of memory)."""
    bomb = pf.zip_bomb(psd_server.root / "archives/2022/12" / COFFEE)
    assert bomb.stat().st_size < 3 * 2**20
    line = _one_line(cli(*ARGS, env=env))
    assert "would inflate to 2,147,483,648 bytes, more than 100 times the zip" in line
    assert "nothing landed" in line
    _nothing_landed(Path(env["MATERIA_HOME"]))
    assert _tmp_bytes(Path(env["MATERIA_HOME"])) == 0
    dest = tmp_path / "member.csv"
    with pytest.raises(psd_archive.ArchiveError, match="refused before inflating"):
        psd_archive.inflate(bomb, dest)
    assert not dest.exists()


def test_an_invalid_byte_is_refused_at_the_door(psd_server, env, cli):
    lines = [r.line().encode() for r in pf.sample_rows("2022-12")]
    lines[3] = lines[3].replace(b'"Brazil"', b'"Br\xe4zil"')
    data = pf.HEADER.encode() + b"\r\n" + b"".join(x + b"\r\n" for x in lines)
    pf.write_raw(psd_server.root / "archives/2022/12" / COFFEE, data)
    line = _one_line(cli(*ARGS, env=env))
    assert psd_server.url("2022-12", COFFEE) in line
    assert "line 5: byte 0xe4 in Country_Name is not printable ASCII; nothing landed" in line
    _nothing_landed(Path(env["MATERIA_HOME"]))


def test_a_full_disk_is_the_machine_s_fault(tmp_path):
    """ENOSPC (here from /dev/full) while inflating: never an ArchiveError."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    good = pf.write_release(tmp_path / COFFEE, pf.sample_rows("2022-12"))
    with pytest.raises(psd_archive.NotTheArchive) as err:
        psd_archive.inflate(good, Path("/dev/full"))
    text = str(err.value)
    assert "the disk is full" in text and "No space left on device" in text
    assert "not the archive's: do not quarantine it" in text
    assert not isinstance(err.value, psd_archive.ArchiveError)


def _big_release(root: Path) -> Path:
    """About 60 kB of zip that inflates to about 700 kB of CSV."""
    return pf.write_release(root / "archives/2022/12" / COFFEE, pf.large_rows(5_000))


def _limit_files(limit: int):
    def apply() -> None:  # in the child: writes past `limit` fail with EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.parametrize(
    ("limit", "where"),
    [(16 * 1024, "writing the download to"), (300 * 1024, "materia-check-")],
    ids=["while-downloading", "while-inflating"],
)
def test_a_write_error_says_so_and_never_suggests_quarantine(psd_server, env, limit, where):
    _big_release(psd_server.root)
    home = Path(env["MATERIA_HOME"])
    proc = subprocess.run(
        cli_command(*ARGS),
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_limit_files(limit),
    )
    line = _one_line(proc)
    assert where in line and "File too large" in line, line
    assert "the machine's fault, not the archive's: do not quarantine it" in line
    assert "line " not in line.split("failed:")[0]  # no line of the archive is blamed
    assert psd_server.count("GET") == 1  # not retried: the disk, not the network
    _nothing_landed(home)


def test_a_full_disk_under_tmp_says_so(psd_server, env, tmp_path):
    """A real ENOSPC: MATERIA_HOME/tmp on a 256 kB tmpfs (needs mount rights)."""
    _big_release(psd_server.root)
    home = Path(env["MATERIA_HOME"])
    tmp = home / "tmp"
    tmp.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(tmp)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        proc = subprocess.run(
            cli_command(*ARGS), env=env, cwd=home, capture_output=True, text=True, timeout=300
        )
        line = _one_line(proc)
        assert "the disk is full" in line and "No space left on device" in line, line
        assert "do not quarantine it" in line
        assert list(tmp.iterdir()) == []  # the partial files removed
    finally:
        subprocess.run(["umount", str(tmp)], check=True)
    _nothing_landed(home)
    os.rmdir(tmp)
