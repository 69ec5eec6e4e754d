/* serving.fct_psd_vintages: the revision history of every PSD value.

One row each time a value appears or changes: release_month is the landed release in
which that value first appeared, with the PSD stamp. SQLMesh runs this model one
release month at a time, oldest first (batch_size 1; it reads itself, so never two
months at once): each month's values are compared with the newest earlier vintage of
the same series in this very table. So the table grows with revisions, not with
releases: an identical release adds no rows. A late release or a withdrawn one is a
restatement from its month on. The current month is processed while it is still
running (allow_partials): PSD posts a month's release during that month. */
MODEL (
  name serving.fct_psd_vintages,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column release_month,
    batch_size 1
  ),
  interval_unit 'month',
  allow_partials TRUE,
  grain (commodity_code, country_code, market_year, attribute_id, release_month),
  columns (
    commodity_code TEXT,
    country_code TEXT,
    market_year INT,
    attribute_id TEXT,
    unit_id TEXT,
    value DOUBLE,
    release_month DATE,
    calendar_year INT,
    month TEXT
  ),
  audits (
    NOT_NULL(
      columns := (commodity_code, country_code, market_year, attribute_id, value, release_month)
    ),
    unique_grain(
      columns := (commodity_code, country_code, market_year, attribute_id, release_month)
    ),
    no_negative_production
  ),
  description 'PSD value history: a row per (series, release_month) in which the value first appeared or changed.'
);

WITH cur AS (
  SELECT
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
    release_month BETWEEN @start_date AND @end_date
), prior AS (
  SELECT
    commodity_code,
    country_code,
    market_year,
    attribute_id,
    ARG_MAX(value, release_month) AS value
  FROM serving.fct_psd_vintages
  WHERE
    release_month < @start_date
  GROUP BY
    commodity_code,
    country_code,
    market_year,
    attribute_id
)
SELECT
  cur.commodity_code,
  cur.country_code,
  cur.market_year,
  cur.attribute_id,
  cur.unit_id,
  cur.value,
  cur.release_month,
  cur.calendar_year,
  cur.month
FROM cur
LEFT JOIN prior
  ON cur.commodity_code = prior.commodity_code
  AND cur.country_code = prior.country_code
  AND cur.market_year = prior.market_year
  AND cur.attribute_id = prior.attribute_id
WHERE
  prior.value IS DISTINCT FROM cur.value