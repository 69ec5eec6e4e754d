"""materia.batch: what a transform recomputes, from the landing manifest and the newest
publication only."""

from __future__ import annotations

from datetime import date

import pytest

from materia import batch
from materia.errors import MateriaError
from materia.landed import Landed

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


def test_two_archives_of_one_month_are_one_step():
    items = [L("a", "2022-12", "x"), L("b", "2022-12", "y"), L("a", "2022-12", "z")]
    b = plan(items)
    assert len(b.steps) == 1 and len(b.steps[0].archives) == 3
    assert len(b.newest) == 3  # a's two archives of its newest month, and b's
