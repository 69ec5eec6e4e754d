"""The whole PSD history in one sitting: every monthly release since 2006-01 (240 by
default), generated like the harness's series (2.1M rows each, about 1 % of values revised
a month), landed and published cold by one `materia pipeline run`, as a new deployment
starts. Then the published vintages are checked against the data: each release month
holds exactly the values that release revised (all of them for the first), and the
newest vintage of every series is its value in the last release.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from benchmarks import generate, workspace
from benchmarks.figures import Context, Result
from benchmarks.runner import MIB, ChildFailed
from benchmarks.workspace import NotBuilt, Workspace

FIRST = (2006, 1)  # USDA has published PSD every month since; the models start there too
GOALS = (
    "full history: {n} monthly releases, cold, one run ≤ 10 min wall",
    "full history peak RSS ≤ 700 MiB",
    "full history: the vintages are exactly the revised values",
)


def history(ctx: Context) -> Result:
    n = ctx.history
    goals = [g.format(n=n) for g in GOALS]
    res = Result("history", f"2d. The whole history: {n} monthly releases in one pipeline run")
    try:
        workspace.require("server", "extract", "transform", "lakehouse")
        series = generate.build(ctx.rows, n, ctx.cache or generate.DATA_DIR, ctx.source,
                                log=ctx.log, first=FIRST)  # fmt: skip
        first, last = series.releases[0], series.releases[-1]
        with (
            workspace.psd_server(series.root) as srv,
            workspace.workspace(srv.base_url, ctx.scratch) as ws,
        ):
            ctx.log(f"  land and publish {first.label} … {last.label} in one pipeline run")
            p = ws.pipeline(last.as_of, backfill_from=first.label)
            if len(ws.landed_keys()) != n:
                raise ChildFailed(f"the history landed {len(ws.landed_keys())} of {n} releases")
            steps = ws.step_seconds()
            ctx.log("  check the vintages against the data")
            per_month, off_newest = _check(ws, series)
    except (NotBuilt, ChildFailed) as e:
        res.error = str(e)
        res.unmeasured(str(e), *goals)
        return res
    res.figure(
        "releases",
        f"{first.label} … {last.label}, {ctx.rows:,} rows each, zips "
        f"{sum(r.zip_path.stat().st_size for r in series.releases) / MIB:,.0f} MiB in all",
    )
    res.figure("wall (one `materia pipeline run`)", f"{p.wall_s:,.1f} s ({p.wall_s / 60:.1f} min)")
    res.figure(
        "of which: land / transform (the run log's durations)",
        f"{steps.get('extract', 0):,.1f} s / {steps.get('transform', 0):,.1f} s",
    )
    res.figure("per release", f"{p.wall_s / n:.2f} s")
    res.figure("peak RSS", f"{p.peak_rss / MIB:,.0f} MiB")
    expected = {r.label: (r.rows if i == 0 else r.changed) for i, r in enumerate(series.releases)}
    total = sum(per_month.values())
    res.figure("vintage rows", f"{total:,} (expected {sum(expected.values()):,})")
    wrong = [f"{m}: {per_month.get(m, 0):,} rows vs {e:,} revised" for m, e in expected.items()
             if per_month.get(m, 0) != e]  # fmt: skip
    extra = sorted(set(per_month) - set(expected))
    res.goal(goals[0], p.wall_s <= 600, f"{p.wall_s:,.0f} s")
    res.goal(goals[1], p.peak_rss <= 700 * MIB, f"{p.peak_rss / MIB:,.0f} MiB")
    ok = not wrong and not extra and off_newest == 0
    res.goal(
        goals[2],
        ok,
        "every release month holds exactly its revised values; every series' newest vintage "
        f"is its value in {last.label}"
        if ok
        else "; ".join(wrong[:3] + [f"months not released: {extra[:3]}"] * bool(extra)
                       + [f"{off_newest:,} series' newest vintage differs"] * bool(off_newest)),
    )  # fmt: skip
    return res


def _check(ws: Workspace, series: generate.Series) -> tuple[dict[str, int], int]:
    """(vintage rows per release month, series whose newest vintage is not their value in
    the last release), read from the newest publication with DuckDB."""
    import duckdb

    from materia import lakehouse
    from materia.lakehouse import duck

    settings = ws.settings()
    lakehouse.clear_cache()
    pub = lakehouse.current_publication(settings)
    if pub is None or "fct_psd_vintages" not in pub.tables:
        raise ChildFailed("the history published no fct_psd_vintages")
    vintages = duck.scan_sql(pub.tables["fct_psd_vintages"].metadata_location)
    con = duckdb.connect(config={"memory_limit": "2GB"})
    duck.load_extensions(con, settings)
    per_month = {
        f"{m:%Y-%m}": n
        for m, n in con.execute(
            f"SELECT release_month, count(*) FROM {vintages} GROUP BY 1"
        ).fetchall()
    }
    last = series.releases[-1].zip_path
    csv = ws.home / "last-release.csv"
    with zipfile.ZipFile(last) as zf:
        (member,) = zf.namelist()
        with zf.open(member) as src, open(csv, "wb") as out:
            while chunk := src.read(1 << 22):
                out.write(chunk)
    off = con.execute(
        f"""
        WITH newest AS (
            SELECT commodity_code, country_code, market_year, attribute_id,
                   arg_max(value, release_month) AS value
            FROM {vintages} GROUP BY ALL
        ), last AS (
            SELECT Commodity_Code AS commodity_code, Country_Code AS country_code,
                   Market_Year::INT AS market_year, Attribute_ID AS attribute_id,
                   Value::DOUBLE AS value
            FROM read_csv('{_q(csv)}', all_varchar = true, header = true)
        )
        SELECT count(*) FROM newest FULL JOIN last USING (commodity_code, country_code,
            market_year, attribute_id)
        WHERE newest.value IS DISTINCT FROM last.value
        """
    ).fetchone()[0]
    con.close()
    csv.unlink()
    return per_month, off


def _q(path: Path) -> str:
    return str(path).replace("'", "''")
