"""materia.workbench.envdiff: a dev environment against prod, from each one's newest publication."""

from __future__ import annotations

import polars as pl
import pytest

from materia.workbench import data as wd
from materia.workbench import envdiff
from testsupport.lakehouse import fixture as fx

published = fx.published
KEY = list(envdiff.KEY)


def test_metric_differences_name_each_changed_value_and_missing_row(published):
    prod = wd.open_workbench(published).table(wd.OBT)
    us_corn = (pl.col("commodity_code") == fx.CORN) & (pl.col("country_code") == "US")
    dev = prod.with_columns(
        pl.when(us_corn & (pl.col("market_year") == 2022))
        .then(pl.col("production") + 1000)
        .otherwise(pl.col("production"))
        .alias("production")
    ).filter(~((pl.col("country_code") == "UR") & (pl.col("market_year") == 1986)))
    d = envdiff.metric_differences(dev, prod)
    assert d.filter(status="only in prod").select(KEY).rows() == [(fx.WHEAT, "UR", 1986)]
    changed = d.filter(status="changed")
    assert changed.select(*KEY, "metric").rows() == [(fx.CORN, "US", 2022, "production")]
    assert changed["dev"][0] - changed["prod"][0] == 1000
    assert envdiff.metric_differences(prod, prod).height == 0
    diff = envdiff.EnvDiff("dev_x", "prod", pl.DataFrame(), d)
    assert diff.summary == "dev_x vs prod: 1 changed, 1 only in prod."


@pytest.mark.slow
def test_a_dev_environment_planned_from_the_same_landing_matches_prod(published):
    """What the notebook's dev panel does: plan dev_<user>, publish, compare with prod."""
    from materia.transform import run as transform

    transform.run(published, "dev_pytest")
    envs = wd.envs(published)
    assert envs[0] == "prod" and "dev_pytest" in envs
    diff = envdiff.compare_envs(published, "dev_pytest")
    counts = diff.row_counts
    assert wd.OBT in counts["table"].to_list() and wd.VINTAGES in counts["table"].to_list()
    assert (counts["prod"] == counts["dev_pytest"]).all() and counts["prod"].min() > 0
    assert diff.differences.height == 0
    assert diff.summary == "dev_pytest matches prod: no key or metric differs."
