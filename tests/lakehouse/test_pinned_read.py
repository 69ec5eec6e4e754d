"""Readers read every table of one publication: `lakehouse.pin` holds a run while others
are published; `read_table` per table follows the newest one each call."""

from __future__ import annotations

import duckdb
import pytest

from materia import lakehouse as lh
from materia.core.errors import MateriaError
from materia.lakehouse.publish import Output, publish

TABLES = ("prices", "volumes")


def _publish(settings, run: int) -> str:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA r")
    for t in TABLES:
        con.execute(f"CREATE TABLE r.{t} AS SELECT {run} AS run, range AS k FROM range({run + 9})")
    outputs = [Output(t, f"r.{t}", "k") for t in TABLES]
    return publish(settings, "prod", con, outputs, {"archives": []}).publication.run_id


@pytest.fixture(autouse=True)
def _fresh_cache():
    lh.clear_cache()
    yield
    lh.clear_cache()


def test_a_pinned_publication_reads_every_table_from_its_run(local_settings):
    first = _publish(local_settings, 1)
    pinned = lh.pin(local_settings)
    assert pinned.run_id == first and pinned.tables == sorted(TABLES)
    prices = pinned.read_table("prices")
    second = _publish(local_settings, 2)  # a publish between two reads
    volumes = pinned.read_table("volumes", columns=["run"], where="k < 3")
    assert set(prices["run"]) == set(volumes["run"]) == {1}
    # Reading table by table follows the newest run: the mix the pin prevents.
    assert set(lh.read_table("volumes", settings=local_settings)["run"]) == {2}
    assert lh.pin(local_settings).run_id == second


def test_pinning_before_any_publication_says_what_to_run(local_settings):
    with pytest.raises(MateriaError, match="nothing published in serving .*materia pipeline run"):
        lh.pin(local_settings)
    _publish(local_settings, 1)
    with pytest.raises(MateriaError, match="no published table serving.nope"):
        lh.pin(local_settings).read_table("nope")
