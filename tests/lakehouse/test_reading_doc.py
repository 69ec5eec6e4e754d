"""docs/READING.md: the convention for outside readers, run as written against a real
published run (pyiceberg on the embedded catalog, DuckDB on the REST catalog)."""

from __future__ import annotations

import re
import string
from pathlib import Path

import duckdb

from materia.core.storage import LandingStore
from materia.lakehouse import duck
from materia.transform import run as transform
from testsupport.psd import fixtures as fx

DOC = Path(__file__).resolve().parents[2] / "docs" / "READING.md"


def _block(lang: str) -> str:
    (code,) = re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), re.S)
    return code


def _publish_two_runs(settings, env: str) -> None:
    store = LandingStore.from_settings(settings)
    r06 = fx.sample_rows("2022-06")
    for month, rows in (("2022-06", r06), ("2022-12", fx.revise(r06, "2022-12"))):
        data = fx.release_bytes(rows, "psd_alldata_csv.zip")
        store.write_bytes(f"psd/psd_alldata_csv/{month.replace('-', '/')}/e.zip", data)
        transform.run(settings, env=env)


def _br_2023(rows) -> list[float]:
    return [
        r["production"]
        for r in rows
        if (r["commodity_code"], r["country_code"], r["market_year"]) == ("0711100", "BR", 2023)
    ]


def test_the_pyiceberg_example_reads_the_newest_run(local_settings):
    _publish_two_runs(local_settings, "prod")
    lake = local_settings.lakehouse_dir
    properties = {
        "type": "sql",
        "uri": f"sqlite:///{lake / 'catalog.db'}",
        "warehouse": f"file://{lake / 'warehouse'}",
    }
    scope: dict = {"properties": properties}
    exec(_block("python"), scope)
    assert _br_2023(scope["obt"].to_pylist()) == [62600.0]


def test_the_duckdb_example_reads_the_newest_run(r2_settings, seaweed):
    env = "dev_reading_doc"
    _publish_two_runs(r2_settings, env)
    client_id, client_secret = seaweed.credential.split(":")
    sql = (
        string.Template(_block("sql"))
        .substitute(
            CLIENT_ID=client_id,
            CLIENT_SECRET=client_secret,
            ENDPOINT=seaweed.iceberg_uri,
            WAREHOUSE=seaweed.warehouse,
        )
        .replace("lake.serving.", f"lake.serving__{env}.")
    )
    con = duckdb.connect()
    duck.load_extensions(con, r2_settings)  # the extensions, and the bucket's S3 secret
    *setup, query = [s for s in sql.split(";\n") if s.strip()]
    for statement in setup:
        con.execute(statement)
    cur = con.execute(query)
    names = [d[0] for d in cur.description]
    assert _br_2023([dict(zip(names, row, strict=True)) for row in cur.fetchall()]) == [62600.0]
