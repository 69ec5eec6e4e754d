"""The collapse guard against a slide: a shrink is measured against the largest of the
recent publications, so many small shrinks cannot add up to a collapse unnoticed."""

from __future__ import annotations

import json

import duckdb
import pytest

from materia import lakehouse as lh
from materia.core.errors import MateriaError
from materia.lakehouse import guard
from materia.lakehouse.publish import Output, publish


def _log(*runs: tuple[str, int, bool]) -> list[dict]:
    """Publication-log rows: one table `t` per run (run_id, rows, shrink allowed?)."""
    return [
        {
            "run_id": run,
            "sequence": i + 1,
            "table_name": "t",
            "row_count": rows,
            "inputs": json.dumps({guard.SHRINK_ALLOWED: ["t"]} if allowed else {}),
        }
        for i, (run, rows, allowed) in enumerate(runs)
    ]


def test_the_baseline_is_the_most_rows_of_the_recent_runs():
    assert guard.baseline(_log(("a", 100, False), ("b", 91, False))) == {"t": (100, "a")}
    runs = [(f"r{i}", 1000 - i, False) for i in range(guard.WINDOW + 5)]
    assert guard.baseline(_log(*runs))["t"] == (1000 - 5, "r5")  # only the last WINDOW
    # An allowed shrink starts over: runs before it no longer count.
    assert guard.baseline(_log(("a", 100, False), ("b", 50, True), ("c", 48, False))) == {
        "t": (50, "b")
    }


def test_five_releases_each_9_percent_smaller_do_not_pass():
    rows = [round(1000 * 0.91**i) for i in range(5)]  # 1000, 910, 828, 754, 686: -31 %..-38 %
    log, refused = [], []
    for i, n in enumerate(rows):
        published = log[-1]["row_count"] if log else None
        plan = guard.Planned(rows={"t": n}, published_rows={"t": published} if published else {})
        plan.baseline = guard.baseline(log)
        try:
            guard.check(plan)
        except MateriaError as e:
            refused.append(str(e))
            continue
        log.append(
            {
                "run_id": f"r{i}",
                "sequence": i + 1,
                "table_name": "t",
                "row_count": n,
                "inputs": "{}",
            }
        )
    assert len(log) == 2  # 1000 and 910 published; every later one refused
    assert (
        "t would shrink by 17% since run r0 (1,000 rows then, 910 published now → 828" in refused[0]
    )
    assert len(refused) == 3


@pytest.fixture(autouse=True)
def _fresh_cache():
    lh.clear_cache()
    yield
    lh.clear_cache()


def _publish(settings, n: int, **kw):
    con = duckdb.connect()
    con.execute("CREATE SCHEMA run")
    con.execute(f"CREATE TABLE run.t AS SELECT range AS k FROM range({n})")
    return publish(settings, "prod", con, [Output("t", "run.t", "k")], {"archives": []}, **kw)


def test_a_slide_is_refused_when_publishing_and_an_allowed_shrink_starts_over(local_settings):
    _publish(local_settings, 1000)
    _publish(local_settings, 910)  # -9 %: passes
    with pytest.raises(MateriaError, match=r"t would shrink by 17% since run \S+ \(1,000 rows then, 910 published now → 828"):  # fmt: skip
        _publish(local_settings, 828)
    done = _publish(local_settings, 828, allow_shrink=True)
    assert done.allowed and "since run" in done.allowed[0]
    assert done.publication.inputs[guard.SHRINK_ALLOWED] == done.allowed
    _publish(local_settings, 800)  # compared with 828 now: -3 %
    assert lh.current_publication(local_settings).tables["t"].rows == 800
