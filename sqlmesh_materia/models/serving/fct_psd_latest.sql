/* serving.fct_psd_latest: the newest value of every PSD series, long form, as published.

cleaned.cln_psd_latest with its audits: one row per series, one unit per attribute, no
negative production. */
MODEL (
  name serving.fct_psd_latest,
  kind VIEW,
  grain (commodity_code, country_code, market_year, attribute_id),
  audits (
    NOT_NULL(
      columns := (
        commodity_code,
        country_code,
        market_year,
        attribute_id,
        unit_id,
        value,
        release_month
      )
    ),
    unique_grain(columns := (commodity_code, country_code, market_year, attribute_id)),
    units_consistent_per_attribute,
    no_negative_production
  ),
  description 'Newest landed value per commodity, country, market year and attribute, with names, unit, release_month and PSD stamp.'
);

SELECT
  *
FROM cleaned.cln_psd_latest