/* cleaned.cln_psdalldata__commodity_pivoted: the newest key metrics as columns.

One row per commodity, country and market year of the primary datasets' rows of
cleaned.cln_psd_latest (breakdown rows never enter it: its rows sum to the world), with each
metric materia names (macros/psd_metrics.py, keyed on attribute ids) as a DOUBLE column
next to its unit, e.g. production and production_unit '(1000 60 KG BAGS)'. */
MODEL (
  name cleaned.cln_psdalldata__commodity_pivoted,
  kind FULL,
  grain (commodity_code, country_code, market_year),
  audits (
    NOT_NULL(columns := (commodity_code, country_code, market_year, release_month)),
    unique_grain(columns := (commodity_code, country_code, market_year))
  ),
  description 'Newest PSD key metrics pivoted to snake_case columns with their units, one row per commodity, country and market year.'
);

SELECT
  commodity_code,
  MAX(commodity_name) AS commodity_name,
  country_code,
  MAX(country_name) AS country_name,
  market_year,
  MAX(release_month) AS release_month,
  @pivot_metrics()
FROM cleaned.cln_psd_latest
WHERE
  attribute_id IN @metric_ids() AND dataset_role = 'primary'
GROUP BY
  commodity_code,
  country_code,
  market_year