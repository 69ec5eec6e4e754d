AUDIT (
  name units_consistent_per_attribute
);

/* Each attribute of a commodity comes in one unit: a second unit means a unit change
   nobody has reconciled (e.g. production switching from 1000 MT to 1000 MT CWE). Codes
   are compared as numbers, so '28' and '028' are one attribute, '8' and '08' one unit. */
SELECT
  MIN(commodity_code) AS commodity_code,
  MIN(attribute_id) AS attribute_id,
  COUNT(DISTINCT TRY_CAST(TRIM(unit_id) AS INT)) AS units
FROM @this_model
GROUP BY
  TRY_CAST(TRIM(commodity_code) AS BIGINT),
  TRY_CAST(TRIM(attribute_id) AS INT)
HAVING
  COUNT(DISTINCT TRY_CAST(TRIM(unit_id) AS INT)) > 1