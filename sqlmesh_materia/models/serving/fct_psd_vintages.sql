/* serving.fct_psd_vintages: the revision history of every PSD value.

One row each time a value appears or changes: release_month is the landed release in
which that value first appeared, with the PSD stamp. Each batch of release months is
compared with the newest earlier vintage in this table (a self-reference, so SQLMesh
runs batches in order), so the table grows with revisions, not with releases: landing
an identical release adds no rows, and a new release never rescans older ones. */
MODEL (
  name serving.fct_psd_vintages,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column release_month
  ),
  allow_partials TRUE,
  grain (commodity_code, country_code, market_year, attribute_id, release_month),
  columns (
    psd_key UBIGINT,
    commodity_code VARCHAR,
    country_code VARCHAR,
    market_year INTEGER,
    attribute_id VARCHAR,
    unit_id VARCHAR,
    value DOUBLE,
    release_month DATE,
    calendar_year INTEGER,
    month VARCHAR
  ),
  audits (
    NOT_NULL(columns := (commodity_code, country_code, market_year, attribute_id, value, release_month)),
    unique_grain(columns := (commodity_code, country_code, market_year, attribute_id, release_month))
  ),
  description 'PSD value history: a row per (key, release_month) in which the value first appeared or changed; psd_key is the staging hash key.'
);

WITH cur AS (
  SELECT
    psd_key,
    commodity_code,
    country_code,
    market_year,
    attribute_id,
    unit_id,
    value,
    release_month,
    calendar_year,
    month
  FROM staging.stg_psdalldata__commodity
  WHERE
    release_month BETWEEN @start_ds AND @end_ds
), prior AS (
  SELECT
    psd_key,
    ARG_MAX(value, release_month) AS value
  FROM serving.fct_psd_vintages
  WHERE
    release_month < @start_ds
  GROUP BY
    psd_key
), months AS (
  SELECT
    COUNT(DISTINCT release_month) AS n
  FROM cur
), /* The usual batch is one release: a hash join with the prior vintage is enough. */
single AS (
  SELECT
    cur.*
  FROM cur
  LEFT JOIN prior
    ON cur.psd_key = prior.psd_key
  WHERE
    (
      SELECT
        n
      FROM months
    ) <= 1
    AND prior.value IS DISTINCT FROM cur.value
), /* Several releases in one batch (first load, restatement): compare in month order. */
several AS (
  SELECT
    cur.*,
    CASE
      WHEN ROW_NUMBER() OVER w = 1
      THEN prior.value
      ELSE LAG(cur.value) OVER w
    END AS previous_value
  FROM cur
  LEFT JOIN prior
    ON cur.psd_key = prior.psd_key
  WHERE
    (
      SELECT
        n
      FROM months
    ) > 1
  WINDOW w AS (PARTITION BY cur.psd_key ORDER BY cur.release_month)
)
/* Both branches carry cur's columns; `several` adds only the comparison column. */
SELECT
  *
FROM single
UNION ALL
SELECT
  * EXCLUDE (previous_value)
FROM several
WHERE
  previous_value IS DISTINCT FROM value
