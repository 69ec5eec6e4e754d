AUDIT (
  name breakdown_has_parent
);

/* Every breakdown row splits a reporting unit that the primary data of its release (or a
   newer one) reports: a breakdown row whose parent is missing there would be a country
   the world total leaves out (e.g. a member state in a year it reported on its own). A
   breakdown newer than the primary data (Russia's 2025 file beside a 2022 grains release)
   may hold years the primary data does not have yet; a breakdown without any primary data
   of its commodity is only a breakdown. */
WITH primary_release AS (
  SELECT
    commodity_code,
    MAX(release_month) AS release_month
  FROM @this_model
  WHERE
    dataset_role = 'primary'
  GROUP BY
    commodity_code
)
SELECT
  b.*
FROM @this_model AS b
JOIN primary_release AS r
  ON r.commodity_code = b.parent_commodity_code AND r.release_month >= b.release_month
LEFT JOIN @this_model AS p
  ON p.dataset_role = 'primary'
  AND p.commodity_code = b.parent_commodity_code
  AND p.country_code = b.parent_country_code
  AND p.market_year = b.market_year
  AND p.attribute_id = b.attribute_id
WHERE
  b.dataset_role = 'breakdown' AND p.commodity_code IS NULL