"""The benchmark harness on tiny data: generator format, RSS measurement, one smoke run.

No timing assertions: the figures of a smoke run mean nothing; what is checked is that
the harness builds real PSD-format data, measures the right process, and writes every
section of RESULTS.md with a status for every goal.
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb
import pytest

from benchmarks import generate, runner

LINE = re.compile(
    rb'^\d{7},"[^"]*",[A-Z0-9]{2},"[^"]*",\d{4},\d{4},\d{2},\d{3},"[^"]*",\d{2},"[^"]*",-?\d+\.\d{4}$'
)
REPO = Path(__file__).resolve().parents[2]


def _rows(zip_path: Path) -> dict[tuple, tuple[bytes, bytes]]:
    """key -> (stamp, value), after checking every line of the file."""
    with zipfile.ZipFile(zip_path) as zf:
        assert zf.namelist() == [generate.MEMBER]
        data = zf.read(generate.MEMBER)
    assert data.endswith(b"\r\n")
    lines = data.split(b"\r\n")[:-1]
    assert lines[0] == generate.HEADER.encode()
    out = {}
    for line in lines[1:]:
        assert LINE.match(line), line
        f = re.findall(rb'"[^"]*"|[^,]+', line)
        assert len(f[1]) - 2 <= 30 and len(f[3]) - 2 <= 30, line
        key = (f[0], f[2], f[4], f[7])
        assert key not in out, f"duplicate key {key}"
        out[key] = (f[5] + f[6], f[11])
    return out


def test_series_is_psd_format_with_revisions(tmp_path):
    series = generate.build(3000, 3, tmp_path, "synthetic", log=lambda _: None)
    assert [r.label for r in series.releases] == ["2022-12", "2023-01", "2023-02"]
    prev = None
    for rel in series.releases:
        assert rel.zip_path == series.root / "archives" / f"{rel.year}" / f"{rel.month:02d}" / generate.DATASET  # fmt: skip
        rows = _rows(rel.zip_path)
        assert len(rows) == rel.rows == 3000
        stamps = {s for s, _ in rows.values()}
        assert max(stamps) == f"{rel.year}{rel.month:02d}".encode()  # newest stamp = release
        assert any(s.endswith(b"00") for s in stamps)  # pre-tracking history
        if prev is not None:
            assert rows.keys() == prev.keys()
            changed = [k for k in rows if rows[k][1] != prev[k][1]]
            restamped = [k for k in rows if rows[k][1] == prev[k][1] and rows[k][0] != prev[k][0]]
            assert len(changed) == rel.changed > 0
            assert len(restamped) == rel.restamped > 0
            assert all(rows[k][0] == max(stamps) for k in changed)  # each revision re-stamped
            assert 0.003 < rel.changed / rel.rows < 0.03  # about 1 %
        prev = rows
    # Cached: a second build reuses the files.
    mtime = series.releases[0].zip_path.stat().st_mtime_ns
    again = generate.build(3000, 3, tmp_path, "synthetic", log=lambda _: None)
    assert again.releases == series.releases
    assert series.releases[0].zip_path.stat().st_mtime_ns == mtime


def test_scale_recodes_whole_copies_with_unique_codes():
    con = duckdb.connect()
    con.execute(
        """CREATE TABLE src AS SELECT
             CASE WHEN i % 2 = 0 THEN '0440000' ELSE '0711100' END AS Commodity_Code,
             CASE WHEN i % 2 = 0 THEN 'Corn' ELSE 'Commodity name of thirty chars' END
               AS Commodity_Description,
             'US' AS Country_Code, 'United States' AS Country_Name,
             (1960 + i)::VARCHAR AS Market_Year, '028' AS Attribute_ID
           FROM range(100) r(i)"""
    )
    generate._scale(con, 250)
    n, codes, longest = con.execute(
        "SELECT count(*), count(DISTINCT Commodity_Code), max(length(Commodity_Description)) FROM rel"
    ).fetchone()
    # 2 real codes, a whole copy of both, then one whole series (50 rows) of the third copy
    assert (n, codes) == (250, 5)
    assert longest <= 30
    keys = con.execute(
        "SELECT count(DISTINCT (Commodity_Code, Country_Code, Market_Year, Attribute_ID)) FROM rel"
    ).fetchone()[0]
    assert keys == 250
    assert con.execute("SELECT count(*) FROM rel WHERE Commodity_Code = '0440000'").fetchone()[0] == 50  # fmt: skip


def test_peak_rss_is_the_commands_own_not_the_harness():
    ballast = bytearray(300 * 2**20)  # a big harness must not inflate its children
    ballast[::4096] = b"x" * len(ballast[::4096])
    small = runner.run(["true"])
    big = runner.run([sys.executable, "-c", "x = bytearray(200 * 2**20); x[::4096] = b'y' * len(x[::4096])"])  # fmt: skip
    assert small.peak_rss < 50 * runner.MIB
    assert big.peak_rss >= 200 * runner.MIB
    with pytest.raises(runner.ChildFailed, match="probe exited 3: boom"):
        runner.run(
            [sys.executable, "-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"],
            what="probe",
        )
    del ballast


@pytest.mark.slow
def test_smoke_run_writes_every_section(tmp_path):
    out = tmp_path / "RESULTS.md"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]  # 1 when anything went unmeasured
    text = out.read_text()
    for needle in ("- CPU:", "- cores:", "- RAM:", "duckdb 1.5.5", "sqlmesh", "pyiceberg",
                   "polars", "marimo", "- date:", "mode: smoke", "## Closing note"):  # fmt: skip
        assert needle in text, needle
    for title in ("## 1. One full-size release", "## 2. Cost growth", "## 2b. Cold backfill",
                  "## 2c. Prod state", "## 2d. The whole history", "## 3. Nightly run",
                  "## 4. Extract", "## 5. Notebook", "## 6. SQLMesh"):  # fmt: skip
        assert title in text, title
    goals = [ln for ln in text.splitlines() if ln.startswith("| ") and "| **" in ln]
    assert len(goals) >= 16, goals
    # Every goal was measured: MET or NOT MET, never NOT MEASURED (that fails the run).
    assert all(re.search(r"\| \*\*(MET|NOT MET)\*\* \|", g) for g in goals), goals
    assert "Not measured:" not in text
    # Both baselines always run, on the same zip, and compute the same wide table.
    agree = re.search(r"baselines agree \(wide rows floor / pandas\) \| ([\d,]+) / ([\d,]+)", text)
    assert agree and agree.group(1) == agree.group(2) != "0"
    assert re.search(r"floor: unzip \+ one DuckDB statement, wall \| [\d.]+ s", text)
