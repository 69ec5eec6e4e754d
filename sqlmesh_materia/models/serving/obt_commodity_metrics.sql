/* serving.obt_commodity_metrics: one big table of key metrics for analysts.

One row per commodity, country and market year from the newest landed release that
contains the commodity: names, units, release_month, the pivoted key metrics, and
derived ratios. World shares sum only real countries: aggregate pseudo-countries
(EU, EU-15, EU-25, USSR) are flagged is_aggregate and left out of the denominator. */
MODEL (
  name serving.obt_commodity_metrics,
  kind FULL,
  grain (commodity_code, country_code, market_year),
  audits (
    NOT_NULL(columns := (commodity_code, country_code, market_year, release_month)),
    unique_grain(columns := (commodity_code, country_code, market_year)),
    yield_in_range,
    no_negative_production_obt
  ),
  description 'Newest key metrics per commodity, country and market year with units and derived stocks_to_use, net_exports, production_yoy_pct and share_of_world_production.'
);

WITH newest AS (
  SELECT
    commodity_code,
    MAX(release_month) AS release_month
  FROM cleaned.cln_psdalldata__commodity_pivoted
  GROUP BY
    commodity_code
), base AS (
  SELECT
    p.commodity_code,
    p.commodity_name,
    p.country_code,
    p.country_name,
    p.country_code IN @aggregate_countries() AS is_aggregate,
    p.market_year,
    p.release_month,
    @metric_columns(p)
  FROM cleaned.cln_psdalldata__commodity_pivoted AS p
  JOIN newest
    ON p.commodity_code = newest.commodity_code AND p.release_month = newest.release_month
)
SELECT
  *,
  ending_stocks / NULLIF(domestic_consumption + exports, 0) AS stocks_to_use,
  exports - imports AS net_exports,
  100.0 * (
    production / NULLIF(
      LAG(production) OVER (PARTITION BY commodity_code, country_code ORDER BY market_year),
      0
    ) - 1
  ) AS production_yoy_pct,
  CASE
    WHEN NOT is_aggregate
    THEN production / NULLIF(
      SUM(production) FILTER (WHERE NOT is_aggregate) OVER (PARTITION BY commodity_code, market_year),
      0
    )
  END AS share_of_world_production
FROM base
