/* serving.fct_wasde_vintages: every WASDE projection and estimate, by report month.

One row each time a value appears or changes (or its flag does: a projection becoming an
estimate): release_month is the report in which it first appeared. SQLMesh runs this
model one report month at a time, oldest first (batch_size 1; it reads itself, so never
two months at once), comparing each report's values with the newest earlier vintage of
the same series in this very table, like serving.fct_psd_vintages: a value as of a
report is its newest vintage at or before it, so the path of a projection (US corn
2025/26 production from May to November) is drawn from here. Each report's audits run
on its own rows (staging's of the batch's month): units known and consistent, no
negative quantities, every U.S. balance sheet balancing. */
MODEL (
  name serving.fct_wasde_vintages,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column release_month,
    batch_size 1
  ),
  interval_unit 'month',
  allow_partials TRUE,
  grain (
    report_title,
    commodity,
    region,
    market_year,
    attribute,
    period,
    reliability,
    release_month
  ),
  columns (
    report_title TEXT,
    commodity TEXT,
    region TEXT,
    region_kind TEXT,
    market_year TEXT,
    market_year_start INT,
    attribute TEXT,
    period TEXT,
    reliability TEXT,
    projection TEXT,
    value DOUBLE,
    unit TEXT,
    unit_code TEXT,
    measure TEXT,
    release_month DATE,
    wasde_number INT
  ),
  audits (
    NOT_NULL(
      columns := (
        report_title,
        commodity,
        region,
        market_year,
        attribute,
        period,
        reliability,
        release_month
      )
    ),
    unique_grain(
      columns := (
        report_title,
        commodity,
        region,
        market_year,
        attribute,
        period,
        reliability,
        release_month
      )
    ),
    wasde_unit_known,
    wasde_units_consistent,
    wasde_no_negative_quantities,
    wasde_us_balance
  ),
  description 'WASDE value history: a row per (series, report month) in which the value (or its Proj./Est. flag) first appeared or changed; as of a report = the newest vintage at or before it.'
);

WITH cur AS (
  SELECT
    report_title,
    commodity,
    region,
    region_kind,
    market_year,
    market_year_start,
    attribute,
    period,
    reliability,
    projection,
    value,
    unit,
    unit_code,
    measure,
    release_month,
    wasde_number
  FROM staging.stg_wasde__report
  WHERE
    release_month BETWEEN @start_date AND @end_date
), prior AS (
  SELECT
    report_title,
    commodity,
    region,
    market_year,
    attribute,
    period,
    reliability,
    ARG_MAX(value, release_month) AS value,
    ARG_MAX(projection, release_month) AS projection
  FROM serving.fct_wasde_vintages
  WHERE
    release_month < @start_date
  GROUP BY
    report_title,
    commodity,
    region,
    market_year,
    attribute,
    period,
    reliability
)
SELECT
  cur.report_title,
  cur.commodity,
  cur.region,
  cur.region_kind,
  cur.market_year,
  cur.market_year_start,
  cur.attribute,
  cur.period,
  cur.reliability,
  cur.projection,
  cur.value,
  cur.unit,
  cur.unit_code,
  cur.measure,
  cur.release_month,
  cur.wasde_number
FROM cur
LEFT JOIN prior
  ON cur.report_title = prior.report_title
  AND cur.commodity = prior.commodity
  AND cur.region = prior.region
  AND cur.market_year = prior.market_year
  AND cur.attribute = prior.attribute
  AND cur.period = prior.period
  AND cur.reliability = prior.reliability
WHERE
  prior.report_title IS NULL
  OR prior.value IS DISTINCT FROM cur.value
  OR prior.projection IS DISTINCT FROM cur.projection