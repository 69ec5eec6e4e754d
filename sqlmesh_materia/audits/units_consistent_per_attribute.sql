AUDIT (
  name units_consistent_per_attribute
);

/* Each attribute of a commodity comes in one unit: a second unit means a unit change
   nobody has reconciled (e.g. production switching from 1000 MT to 1000 MT CWE). */
SELECT
  commodity_code,
  attribute_id,
  COUNT(DISTINCT unit_id) AS units
FROM @this_model
GROUP BY
  commodity_code,
  attribute_id
HAVING
  COUNT(DISTINCT unit_id) > 1