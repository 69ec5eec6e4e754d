/* serving.dim_country: PSD countries by code.

One row per country code in the newest data, with its name and whether it is an
aggregate pseudo-country (EU, EU-15, EU-25, USSR) that world sums must leave out. */
MODEL (
  name serving.dim_country,
  kind FULL,
  grain country_code,
  audits (
    NOT_NULL(columns := (country_code, is_aggregate)),
    UNIQUE_VALUES(columns := (country_code))
  ),
  description 'PSD country codes, newest names, and the is_aggregate flag.'
);

SELECT
  country_code,
  MAX(country_name) AS country_name,
  country_code IN @aggregate_countries() AS is_aggregate
FROM serving.fct_psd_latest
GROUP BY
  country_code
