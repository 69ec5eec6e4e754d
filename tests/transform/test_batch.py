"""materia.transform.batch: what a transform recomputes, from the landing manifest and the newest
publication only."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from materia.core.errors import MateriaError
from materia.landing.manifest import Landed
from materia.transform import batch

FP = "fingerprint-1"


def L(stem: str, month: str, etag: str = "e") -> Landed:
    y, m = month.split("-")
    item = Landed.parse(f"psd/{stem}/{y}/{m}/{etag}.zip")
    assert item is not None
    return item


def plan(landed, published=None, fp=FP, quarantined=(), allow_shrink=False):
    return batch.plan(
        landed,
        set(quarantined),
        None if published is None else [i.key for i in published],
        None if published is None else FP,
        fp,
        "/landing",
        allow_shrink,
    )


def months(b: batch.Batch) -> list[str]:
    return [f"{s.month:%Y-%m}" for s in b.steps]


def test_nothing_landed_never_publishes():
    with pytest.raises(MateriaError, match="no landed PSD archives under /landing/psd/"):
        plan([])


def test_first_publication_builds_every_release_in_order():
    items = [L("a", "2022-12"), L("a", "2022-06"), L("b", "2022-11")]
    b = plan(items)
    assert b.reason == "first publication"
    assert b.vintages_from == date(2022, 6, 1)
    assert months(b) == ["2022-06", "2022-11", "2022-12"]
    assert [i.key for i in b.newest] == [L("b", "2022-11").key, L("a", "2022-12").key]


def test_covered_inputs_mean_no_run():
    items = [L("a", "2022-06"), L("a", "2022-12")]
    assert plan(items, published=items) is None


def test_a_new_release_recomputes_only_its_month():
    old = [L("a", "2022-06")]
    b = plan([*old, L("a", "2022-12")], published=old)
    assert months(b) == ["2022-12"] and b.vintages_from == date(2022, 12, 1)
    assert b.added == [L("a", "2022-12").key]


def test_a_late_release_recomputes_from_its_month_on():
    old = [L("a", "2022-06"), L("a", "2022-12")]
    b = plan([*old, L("b", "2022-11")], published=old)
    assert months(b) == ["2022-11", "2022-12"]
    # 2022-06 is not recomputed; latest still reads each dataset's newest release.
    assert [i.key for i in b.newest] == [L("b", "2022-11").key, L("a", "2022-12").key]


def test_a_changed_transform_rebuilds_everything():
    items = [L("a", "2022-06"), L("a", "2022-12")]
    b = plan(items, published=items, fp="fingerprint-2")
    assert b.reason == "the transform changed"
    assert months(b) == ["2022-06", "2022-12"]


def test_a_quarantined_release_is_withdrawn_from_its_month_on():
    items = [L("a", "2022-06"), L("a", "2022-12"), L("a", "2023-01")]
    b = plan(items[:2], published=items, quarantined=[items[2].key])
    assert months(b) == [] and b.vintages_from == date(2023, 1, 1)
    assert b.withdrawn_months == {date(2023, 1, 1)}
    assert [i.key for i in b.newest] == [items[1].key]
    b = plan([items[0], items[2]], published=items, quarantined=[items[1].key])
    assert months(b) == ["2023-01"] and b.withdrawn_months == {date(2022, 12, 1)}


def test_a_published_archive_that_vanished_is_a_loss_not_a_change():
    items = [L("a", "2022-06"), L("a", "2022-12")]
    with pytest.raises(MateriaError, match=r"1 published archive\(s\) are no longer landed"):
        plan(items[:1], published=items)
    b = plan(items[:1], published=items, allow_shrink=True)
    assert b.withdrawn_months == {date(2022, 12, 1)}


def test_two_datasets_of_one_month_are_one_step():
    items = [L("a", "2022-12", "x"), L("b", "2022-12", "y")]
    b = plan(items)
    assert len(b.steps) == 1 and len(b.steps[0].archives) == 2
    assert len(b.newest) == 2 and b.superseded == {}


def _at(item: Landed, when: str) -> Landed:
    return replace(item, landed_at=when)


def test_a_same_month_correction_supersedes_the_earlier_download():
    """USDA re-issues a month's file: the newer download is read, from its month on; the
    earlier one stays landed and covered, and the reason says so."""
    jun, dec = L("a", "2022-06"), _at(L("a", "2022-12", "first"), "2022-12-09T12:00:00+00:00")
    fix = _at(L("a", "2022-12", "again"), "2022-12-14T12:00:00+00:00")
    b = plan([jun, dec, fix], published=[jun, dec])
    assert months(b) == ["2022-12"] and b.steps[0].archives == (fix,)
    assert b.newest == [fix] and b.superseded == {dec.key: fix.key}
    assert "same-month correction: a 2022-12 again supersedes first" in b.reason
    assert b.withdrawn_months == set()
    # Covered afterwards: nothing to do. Quarantining the correction brings the first back.
    assert plan([jun, dec, fix], published=[jun, dec, fix]) is None
    b = plan([jun, dec], published=[jun, dec, fix], quarantined=[fix.key])
    assert months(b) == ["2022-12"] and b.steps[0].archives == (dec,)
    # The newer landing wins, whatever the names say.
    older_name_newer_landing = plan([jun, _at(dec, "2023-01-01T00:00:00+00:00"), fix])
    assert older_name_newer_landing.steps[-1].archives[0].key == dec.key


def test_a_release_dated_after_today_is_refused():
    items = [L("a", "2022-12"), L("a", "2031-01")]
    with pytest.raises(
        MateriaError, match=r"dated after today \(2026-03-05\): psd/a/2031/01/e.zip"
    ):
        batch.plan(items, set(), None, None, FP, "/landing", today=date(2026, 3, 5))
    b = batch.plan(
        items[:1] + [L("a", "2026-03")], set(), None, None, FP, "/l", today=date(2026, 3, 5)
    )
    assert months(b) == ["2022-12", "2026-03"]  # this month is not the future
