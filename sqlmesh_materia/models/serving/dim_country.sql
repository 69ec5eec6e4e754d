/* serving.dim_country: PSD countries by code.

One row per country code in the newest data, with its name from the newest release.
Every code is a reporting unit in its years (the EU and the USSR included). */
MODEL (
  name serving.dim_country,
  kind FULL,
  grain country_code,
  audits (
    NOT_NULL(columns := (
      country_code
    )),
    UNIQUE_VALUES(columns := (
      country_code
    ))
  ),
  description 'PSD country codes and their newest names.'
);

SELECT
  country_code,
  ARG_MAX(country_name, release_month) AS country_name
FROM cleaned.cln_psd_latest
GROUP BY
  country_code