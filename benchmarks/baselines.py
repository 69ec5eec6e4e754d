"""The two baselines materia is measured against, each run as its own child process.

- floor: what one DuckDB statement needs. Unzip the CSV member to a temporary file with
  zipfile, then one `CREATE TABLE … AS SELECT` pivots it straight to a wide table of the
  latest values (a single release holds one row per key, so it is the latest) with the
  same metrics and units as `obt_commodity_metrics`, persisted in a DuckDB file.
- pandas: what analysts write. `read_csv` on the zip (pandas unzips it) with codes as
  strings, then `pivot_table` of the same metrics (values only, no unit columns);
  nothing written (both kinder to pandas).

Both print one JSON line: the wide table's row count, so the harness can check that the
baselines computed the same thing.

Run: `python -m benchmarks.baselines floor|pandas <zip>`.
"""

from __future__ import annotations

import json
import sys
import tempfile
import zipfile
from pathlib import Path

# attribute_id -> the OBT's metric name (docs/CONTRACTS.md)
METRICS = {
    "004": "area_harvested",
    "184": "yield",
    "020": "beginning_stocks",
    "028": "production",
    "057": "imports",
    "086": "total_supply",
    "088": "exports",
    "125": "domestic_consumption",
    "130": "feed_consumption",
    "176": "ending_stocks",
    "178": "total_distribution",
}
CODE_COLUMNS = ("Commodity_Code", "Country_Code", "Month", "Attribute_ID", "Unit_ID")


def floor_sql(csv: str) -> str:
    cols = ",\n".join(
        f"  any_value(Value) FILTER (WHERE Attribute_ID = '{a}') AS \"{m}\",\n"
        f"  any_value(Unit_Description) FILTER (WHERE Attribute_ID = '{a}') AS \"{m}_unit\""
        for a, m in METRICS.items()
    )
    types = ", ".join(f"'{c}': 'VARCHAR'" for c in CODE_COLUMNS)
    ids = ", ".join(f"'{a}'" for a in METRICS)
    return f"""
CREATE TABLE latest_wide AS
SELECT
  Commodity_Code AS commodity_code, any_value(Commodity_Description) AS commodity_name,
  Country_Code AS country_code, any_value(Country_Name) AS country_name,
  Market_Year AS market_year,
{cols}
FROM read_csv('{csv}', header = true, types = {{{types}}})
WHERE Attribute_ID IN ({ids})
GROUP BY Commodity_Code, Country_Code, Market_Year
"""


def floor(zip_path: Path) -> int:
    import duckdb

    with tempfile.TemporaryDirectory(prefix="materia-floor-") as td:
        with zipfile.ZipFile(zip_path) as zf:
            (member,) = zf.namelist()
            csv = zf.extract(member, td)
        con = duckdb.connect(str(Path(td) / "floor.duckdb"))
        con.execute(floor_sql(csv))
        rows = con.execute("SELECT count(*) FROM latest_wide").fetchone()[0]
        con.close()
    return rows


def pandas(zip_path: Path) -> int:
    import pandas as pd

    # keep_default_na=False: otherwise Namibia's country code "NA" becomes NaN and its
    # rows vanish from the pivot (the baselines must compute the same table).
    df = pd.read_csv(zip_path, dtype={c: str for c in CODE_COLUMNS}, keep_default_na=False)
    df = df[df["Attribute_ID"].isin(list(METRICS))]
    wide = df.pivot_table(
        index=["Commodity_Code", "Country_Code", "Market_Year"],
        columns="Attribute_ID",
        values="Value",
        aggfunc="first",
    ).rename(columns=METRICS)
    return len(wide)


BASELINES = {"floor": floor, "pandas": pandas}


if __name__ == "__main__":
    name, path = sys.argv[1], Path(sys.argv[2])
    print(json.dumps({"baseline": name, "rows": BASELINES[name](path)}))
