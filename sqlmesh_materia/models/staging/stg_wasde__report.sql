/* staging.stg_wasde__report: one row per WASDE value and report month, typed and with its
unit normalized.

The series key is the report table, commodity, region, market year, attribute, period
(Annual, or a quarter I-IV) and reliability statistic, with empty text for the parts a
line has none of (the reliability tables have no market year), so keys compare as plain
text. unit_code, unit_label and measure (quantity, area, yield, price, ratio, count) come
from materia/sources/wasde_units.py: every spelling of a unit USDA prints maps to one code, and a
few lines USDA labels with their table's quantity unit get their real one (cotton's farm
price is in cents per pound). A unit the mapping lacks stays NULL, which the audit
wasde_unit_known refuses, naming it. projection is 'Proj.', 'Est.' or '' however USDA
printed the flag. region_kind says whether a region is a country or a group (World,
Major Exporters, ...): WASDE prints both side by side, and no region is ever summed. A
view: every model reading it filters it (a report month, or the newest report). */
MODEL (
  name staging.stg_wasde__report,
  kind VIEW,
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
  description 'WASDE values per report month: typed, series key without NULLs, unit normalized (unit_code, unit_label, measure), projection flag, region_kind (country or aggregate).'
);

SELECT
  r.dataset,
  r.release_month,
  r.newest,
  r.wasde_number::INT AS wasde_number,
  r.release_date,
  r.report_title,
  r.commodity,
  r.region,
  CASE WHEN aggregates.region IS NULL THEN 'country' ELSE 'aggregate' END AS region_kind,
  COALESCE(TRIM(r.market_year), '') AS market_year,
  SUBSTRING(NULLIF(TRIM(r.market_year), ''), 1, 4)::INT AS market_year_start,
  r.annual_quarter_flag AS period,
  COALESCE(TRIM(r.reliability_projection), '') AS reliability,
  r.attribute,
  CASE
    WHEN r.proj_est_flag LIKE '%Proj.%'
    THEN 'Proj.'
    WHEN r.proj_est_flag LIKE '%Est.%'
    THEN 'Est.'
    ELSE ''
  END AS projection,
  r.value,
  r.unit,
  COALESCE(fixes.unit_code, units.unit_code) AS unit_code,
  COALESCE(fixes.unit_label, units.unit_label) AS unit_label,
  COALESCE(fixes.measure, units.measure) AS measure
FROM raw.wasde_report AS r
LEFT JOIN @wasde_unit_fixes() /* AS fixes (attribute, unit, ...) */
  ON fixes.attribute = r.attribute AND fixes.unit = r.unit
LEFT JOIN @wasde_units() /* AS units (unit, ...) */
  ON units.unit = r.unit
LEFT JOIN @wasde_aggregates() /* AS aggregates (region) */
  ON aggregates.region = r.region