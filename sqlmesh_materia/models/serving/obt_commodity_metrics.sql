/* serving.obt_commodity_metrics: one big table of key metrics for analysts.

One row per commodity, country and market year from the newest landed release that
contains the commodity: names, units, release_month, the pivoted key metrics, and
derived ratios. Every PSD country counts toward the world: the EU (E2 to 1998, E4 from
1999) and the USSR (UR to 1986) are the sole reporting units for their members in their
years, so the world is the sum of every row, which reproduces USDA's world totals. Rows of
breakdown datasets (EU member states, Russia's spring and winter wheat) never reach it. */
MODEL (
  name serving.obt_commodity_metrics,
  kind FULL,
  grain (commodity_code, country_code, market_year),
  depends_on (
    serving.fct_psd_latest /* read by the obt_primary_only audit */
  ),
  audits (
    NOT_NULL(columns := (commodity_code, country_code, market_year, release_month)),
    unique_grain(columns := (commodity_code, country_code, market_year)),
    yield_in_range,
    no_negative_production_obt,
    obt_primary_only
  ),
  description 'Newest key metrics per commodity, country and market year with units and derived stocks_to_use, net_exports, production_yoy_pct and share_of_world_production.'
);

SELECT
  p.*,
  p.ending_stocks /* A country's use is what it consumes and exports (at world level use is domestic
     consumption alone: world exports are someone's imports). */ / NULLIF(p.domestic_consumption + p.exports, 0) AS stocks_to_use,
  p.exports - p.imports AS net_exports,
  100.0 * (
    p.production / NULLIF(prev.production, 0) - 1
  ) AS production_yoy_pct,
  p.production / NULLIF(SUM(p.production) OVER (PARTITION BY p.commodity_code, p.market_year), 0) AS share_of_world_production
FROM cleaned.cln_psdalldata__commodity_pivoted AS p
LEFT JOIN cleaned.cln_psdalldata__commodity_pivoted AS prev
  ON prev.commodity_code = p.commodity_code
  AND prev.country_code = p.country_code
  AND prev.market_year = p.market_year - 1