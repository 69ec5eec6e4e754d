/* serving.fct_psd_latest: the newest value of every PSD series, long form.

For each commodity, the rows of the newest landed release that contains it (a release
of one dataset, e.g. coffee, does not hide commodities only alldata carries), every
attribute, with names, units and the PSD stamp (calendar_year, month) of the release
that last revised the value. A view: materializing ~2M rows on every release costs more
than reading them at publish. Its cost follows the newest release, not the history: the
newest month per commodity comes from the pivoted table (about 14x fewer rows than
staging), and DuckDB's join filter then skips staging's row groups of older months. */
MODEL (
  name serving.fct_psd_latest,
  kind VIEW,
  grain (commodity_code, country_code, market_year, attribute_id),
  audits (
    NOT_NULL(columns := (commodity_code, country_code, market_year, attribute_id, unit_id, value, release_month)),
    unique_grain(columns := (commodity_code, country_code, market_year, attribute_id)),
    units_consistent_per_attribute,
    no_negative_production
  ),
  description 'Newest landed value per commodity, country, market year and attribute, with names, unit, release_month and PSD stamp.'
);

WITH newest AS (
  SELECT
    commodity_code,
    MAX(release_month) AS release_month
  FROM cleaned.cln_psdalldata__commodity_pivoted
  GROUP BY
    commodity_code
)
SELECT
  s.commodity_code,
  s.commodity_name,
  s.country_code,
  s.country_name,
  s.market_year,
  s.attribute_id,
  s.attribute_name,
  s.unit_id,
  s.unit_description,
  s.value,
  s.release_month,
  s.calendar_year,
  s.month
FROM staging.stg_psdalldata__commodity AS s
JOIN newest
  ON s.commodity_code = newest.commodity_code AND s.release_month = newest.release_month
