"""materia.workbench.data against a publication on S3 (SeaweedFS standing in for R2 and
the R2 Data Catalog): DuckDB reads the published snapshots with the R2 key pair."""

from __future__ import annotations

import pytest

from materia import lakehouse
from materia.workbench import analysis as an
from materia.workbench import data as wd
from testsupport.lakehouse import fixture as fx


@pytest.mark.s3
@pytest.mark.slow
def test_a_publication_on_r2_reads_like_a_local_one(seaweed, tmp_path):
    s = fx.build(tmp_path / "home", {**seaweed.r2_env(), **seaweed.iceberg_env()})
    pub = lakehouse.current_publication(s)
    assert pub is not None
    assert all(t.metadata_location.startswith("s3://") for t in pub.tables.values())
    wb = wd.open_workbench(s)
    corn = wb.commodity("Corn")
    expected = sum(v["028"] for (c, _, y), v in fx.sheets().items() if (c, y) == (fx.CORN, 2022))
    assert an.world(corn).filter(market_year=2022)["production"][0] == expected
    assert corn.previous_release.isoformat() == "2022-10-01"
    assert wb.changes().height > 0
    assert not (tmp_path / "home" / "lakehouse").exists()  # nothing went to a local catalog
