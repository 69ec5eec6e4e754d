/* cleaned.cln_psdalldata__commodity_pivoted: key metrics as columns, per release.

One row per commodity, country, market year and release month, with each metric
materia names (see macros/psd_metrics.py, keyed on attribute ids) as a DOUBLE column
next to its unit, e.g. production and production_unit '(1000 60 KG BAGS)'. */
MODEL (
  name cleaned.cln_psdalldata__commodity_pivoted,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column release_month
  ),
  allow_partials TRUE,
  grain (commodity_code, country_code, market_year, release_month),
  audits (
    NOT_NULL(columns := (commodity_code, country_code, market_year, release_month)),
    unique_grain(columns := (commodity_code, country_code, market_year, release_month))
  ),
  description 'PSD key metrics pivoted to snake_case columns with their units, one row per commodity, country, market year and release month.'
);

SELECT
  commodity_code,
  MAX(commodity_name) AS commodity_name,
  country_code,
  MAX(country_name) AS country_name,
  market_year,
  release_month,
  @pivot_metrics()
FROM staging.stg_psdalldata__commodity
WHERE
  release_month BETWEEN @start_ds AND @end_ds
GROUP BY
  commodity_code,
  country_code,
  market_year,
  release_month
