/* cleaned.cln_wasde_psd: WASDE's figures beside PSD's, where both report the same month.

For each commodity WASDE and PSD both hold (materia/wasde_tables.PSD_MATCHES: wheat,
corn, rice, soybeans and their meal and oil, cotton), PSD's newest release (from
serving.fct_psd_latest) against the WASDE report of that same month (as of that month in
serving.fct_wasde_vintages; nothing when no report of that month is landed): world and
U.S. production and ending stocks, and domestic use, in PSD's unit. WASDE prints
million tons with two decimals (world tables) or million bushels (U.S. tables, converted
with USDA's bushel weights), PSD thousand tons, so each pair may differ by half of
WASDE's printed precision plus half of PSD's (tolerance). World domestic use follows
the trade-gap rule: PSD's is the plain sum over countries, WASDE's world domestic total
folds in the gap between world exports and imports, so PSD's equals WASDE's minus
(exports - imports), three rounded figures. The audit wasde_agrees_with_psd refuses any
pair further apart than that, naming both values. */
MODEL (
  name cleaned.cln_wasde_psd,
  kind VIEW,
  grain (psd_commodity_code, report_title, region, market_year, attribute, release_month),
  audits (
    wasde_agrees_with_psd
  ),
  description 'WASDE figures (world and U.S. production, ending stocks, domestic use) beside PSD''s of the same month, in PSD''s unit, with the rounding tolerance: PSD''s newest release per commodity against the WASDE report of that month.'
);

WITH psd AS (
  SELECT
    commodity_code,
    market_year,
    attribute_id,
    release_month,
    'World' AS region,
    SUM(value) AS value
  FROM serving.fct_psd_latest
  WHERE
    dataset_role = 'primary' AND attribute_id IN ('028', '125', '176')
  GROUP BY
    commodity_code,
    market_year,
    attribute_id,
    release_month
  UNION ALL
  SELECT
    commodity_code,
    market_year,
    attribute_id,
    release_month,
    'United States' AS region,
    value
  FROM serving.fct_psd_latest
  WHERE
    dataset_role = 'primary'
    AND country_code = 'US'
    AND attribute_id IN ('028', '125', '176')
), months AS (
  /* PSD months that have a WASDE report of their own */
  SELECT DISTINCT
    p.release_month
  FROM psd AS p
  JOIN serving.fct_wasde_vintages AS v
    ON v.release_month = p.release_month
), wasde AS (
  /* each figure as of that report: its newest vintage at or before the month */
  SELECT
    v.report_title,
    v.commodity,
    v.region,
    v.market_year,
    v.market_year_start,
    v.attribute,
    months.release_month,
    ARG_MAX(v.value, v.release_month) AS value,
    ARG_MAX(v.unit_code, v.release_month) AS unit_code
  FROM serving.fct_wasde_vintages AS v
  JOIN months
    ON v.release_month <= months.release_month
  WHERE
    v.region IN ('World', 'United States')
    AND v.period = 'Annual'
    AND v.reliability = ''
  GROUP BY
    v.report_title,
    v.commodity,
    v.region,
    v.market_year,
    v.market_year_start,
    v.attribute,
    months.release_month
), trade AS (
  SELECT
    report_title,
    commodity,
    region,
    market_year,
    release_month,
    MAX(CASE WHEN attribute = 'Exports' THEN value END) AS exports,
    MAX(CASE WHEN attribute = 'Imports' THEN value END) AS imports
  FROM wasde
  GROUP BY
    report_title,
    commodity,
    region,
    market_year,
    release_month
), matched AS (
  SELECT
    matches.psd_commodity_code,
    matches.psd_attribute_id,
    w.report_title,
    w.commodity,
    w.region,
    w.market_year,
    w.market_year_start,
    w.attribute,
    w.release_month,
    w.value AS wasde_value,
    w.unit_code AS wasde_unit,
    CASE
      WHEN matches.psd_attribute_id = '125' AND w.region = 'World'
      THEN (
        w.value - (
          t.exports - t.imports
        )
      ) * matches.factor
      ELSE w.value * matches.factor
    END AS wasde_in_psd_unit,
    CASE
      WHEN matches.psd_attribute_id = '125' AND w.region = 'World'
      THEN 3 * matches.half_unit + 0.5
      ELSE matches.half_unit + 0.5
    END AS tolerance
  FROM wasde AS w
  JOIN @wasde_psd_matches() /* AS matches (report_title, commodity, region, attribute, ...) */
    ON matches.report_title = w.report_title
    AND matches.commodity = w.commodity
    AND matches.region = w.region
    AND matches.attribute = w.attribute
  LEFT JOIN trade AS t
    ON t.report_title = w.report_title
    AND t.commodity = w.commodity
    AND t.region = w.region
    AND t.market_year = w.market_year
    AND t.release_month = w.release_month
)
SELECT
  m.commodity,
  m.region,
  m.market_year,
  m.attribute,
  p.value AS psd_value,
  m.wasde_in_psd_unit,
  m.wasde_value,
  m.wasde_unit,
  m.release_month,
  m.wasde_in_psd_unit - p.value AS difference,
  m.tolerance,
  m.psd_commodity_code,
  m.psd_attribute_id,
  m.report_title
FROM matched AS m
JOIN psd AS p
  ON p.commodity_code = m.psd_commodity_code
  AND p.attribute_id = m.psd_attribute_id
  AND p.region = m.region
  AND p.market_year = m.market_year_start
  AND p.release_month = m.release_month
WHERE
  NOT m.wasde_in_psd_unit IS NULL