/* serving.dim_attribute: PSD attributes by id.

One row per attribute id in the newest data, with the label from the newest release
(labels drift, e.g. cotton 142 "USE Dom. Consumption" became "Domestic Use") and the
metric column name materia pivots it to, NULL when it is not a key metric. */
MODEL (
  name serving.dim_attribute,
  kind FULL,
  grain attribute_id,
  audits (
    NOT_NULL(columns := (
      attribute_id
    )),
    UNIQUE_VALUES(columns := (
      attribute_id
    ))
  ),
  description 'PSD attribute ids, newest labels, and the metric column each maps to.'
);

SELECT
  attribute_id,
  ARG_MAX(attribute_name, release_month) AS attribute_name,
  @metric_name(attribute_id) AS metric_name
FROM cleaned.cln_psd_latest
GROUP BY
  attribute_id