"""The two checks a run passes before it may publish, each shown to hold where a
plausible shortcut would break it (issue 21's mutation list):

- every batch is audited, not only the last release step: a negative production in a
  middle month is refused although the last month is clean (run the audits only on the
  final step and that value is published);
- the lock is checked right before the commit: a run that lost its lock then publishes
  nothing (skip that check and it publishes, the other holder's work notwithstanding).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from materia.core import failpoints, locks
from materia.core.errors import MateriaError
from materia.transform import run as transform
from testsupport.lakehouse import published
from testsupport.psd import fixtures as fx

ALL = "psd_alldata_csv"
BR23 = ("0711100", "BR", 2023, "028")


def _land(home: Path, rows, month: str, etag: str = "e") -> str:
    return fx.land(home, rows, month, ALL, etag)


def _state(home: Path):
    cat = published.local_catalog(home)
    return published.newest_run(cat), published.read_all(cat)


def test_a_negative_value_in_a_middle_month_is_refused(local_settings):
    home = local_settings.home
    r06 = fx.sample_rows("2022-06")
    _land(home, r06, "2022-06")
    assert not transform.run(local_settings).skipped
    before = _state(home)
    bad = fx.revise(r06, "2022-09", {BR23: -5.0})  # a middle month, negative production
    key = _land(home, bad, "2022-09", "bad")
    _land(home, fx.revise(bad, "2022-12", {BR23: 62600.0}), "2022-12")  # the last is clean
    with pytest.raises(MateriaError) as refused:
        transform.run(local_settings)
    line = str(refused.value)
    assert "audit no_negative_production failed on serving.fct_psd_vintages: 1 row(s)" in line
    assert key in line and "release_month=2022-09-01" in line
    assert "nothing was published" in line and "\n" not in line
    assert _state(home) == before


def test_a_run_that_lost_its_lock_before_the_commit_publishes_nothing(local_settings, monkeypatch):
    home = local_settings.home
    r06 = fx.sample_rows("2022-06")
    _land(home, r06, "2022-06")
    transform.run(local_settings)
    before = _state(home)
    _land(home, fx.revise(r06, "2022-12", {BR23: 61000.0}), "2022-12")

    held: list[locks.Held] = []
    real_hold = locks.hold

    @contextlib.contextmanager
    def hold(lock, what, say=None):
        with real_hold(lock, what, say=say or (lambda m: None)) as h:
            held.append(h)
            yield h

    real_hit = failpoints.hit

    def hit(name: str) -> None:
        if name == "publish:before-commit":  # everything staged: now another run takes it
            held[-1].lost.set()
        real_hit(name)

    monkeypatch.setattr(locks, "hold", hold)
    monkeypatch.setattr(failpoints, "hit", hit)
    with pytest.raises(MateriaError, match="lost the lock .* stopped before changing anything"):
        transform.run(local_settings)
    assert _state(home) == before
