/* serving.dim_commodity: PSD commodities by code.

One row per commodity code in the newest data, with the name from its newest release
(names can change between releases; codes do not). */
MODEL (
  name serving.dim_commodity,
  kind FULL,
  grain commodity_code,
  audits (
    NOT_NULL(columns := (
      commodity_code
    )),
    UNIQUE_VALUES(columns := (
      commodity_code
    ))
  ),
  description 'PSD commodity codes and their newest names.'
);

SELECT
  commodity_code,
  ARG_MAX(commodity_name, release_month) AS commodity_name
FROM cleaned.cln_psd_latest
GROUP BY
  commodity_code