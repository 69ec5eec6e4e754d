/* serving.fct_wasde_latest: the newest WASDE report, every value as USDA printed it.

staging.stg_wasde__report of the newest landed report: the tables as WASDE prints them
(three market years of each U.S. balance sheet, the season-average farm price, world
and regional supply and use), with the normalized unit beside USDA's text. Regions are
countries and groups side by side (region_kind): never sum them. The previous report's
values are serving.fct_wasde_vintages as of the month before. A unit nobody mapped
(unit_code NULL) is refused by fct_wasde_vintages' audit wasde_unit_known, which names it. */
MODEL (
  name serving.fct_wasde_latest,
  kind VIEW,
  grain (report_title, commodity, region, market_year, attribute, period, reliability),
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
      columns := (report_title, commodity, region, market_year, attribute, period, reliability)
    )
  ),
  description 'The newest landed WASDE report: one row per table, commodity, region, market year, attribute, period and reliability statistic, with value, USDA''s unit and its normalized unit_code/unit_label/measure, projection flag, region_kind, release_month and release_date.'
);

SELECT
  dataset,
  release_month,
  wasde_number,
  release_date,
  report_title,
  commodity,
  region,
  region_kind,
  market_year,
  market_year_start,
  period,
  reliability,
  attribute,
  projection,
  value,
  unit,
  unit_code,
  unit_label,
  measure
FROM staging.stg_wasde__report
WHERE
  newest