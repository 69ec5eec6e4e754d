AUDIT (
  name breakdown_within_parent
);

/* A breakdown's parts never add up to more than the reporting unit they split: for area
   (planted, harvested) and production, the sum over a breakdown dataset's rows of one
   parent (EU member states under E4, spring + winter wheat under Russia's wheat) may not
   exceed the parent's primary value, beyond rounding (half a unit per part). Compared
   only within one release month: a breakdown file is not revised every month, and a 2025
   breakdown against a 2022 parent compares two different estimates. */
WITH parts AS (
  SELECT
    dataset,
    parent_commodity_code,
    parent_country_code,
    market_year,
    attribute_id,
    release_month,
    SUM(value) AS parts_value,
    COUNT(*) AS parts
  FROM @this_model
  WHERE
    dataset_role = 'breakdown' AND attribute_id IN ('001', '004', '028')
  GROUP BY
    dataset,
    parent_commodity_code,
    parent_country_code,
    market_year,
    attribute_id,
    release_month
)
SELECT
  parts.*,
  parent.value AS parent_value
FROM parts
JOIN @this_model AS parent
  ON parent.dataset_role = 'primary'
  AND parent.commodity_code = parts.parent_commodity_code
  AND parent.country_code = parts.parent_country_code
  AND parent.market_year = parts.market_year
  AND parent.attribute_id = parts.attribute_id
  AND parent.release_month = parts.release_month
WHERE
  parts.parts_value > parent.value + 0.5 * parts.parts