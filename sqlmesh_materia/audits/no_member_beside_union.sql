AUDIT (
  name no_member_beside_union
);

/* Primary rows sum to USDA's world only because a union and its members never both report
   a non-zero value of a commodity in a year (the EU, E4, and its member states:
   materia/psd_datasets.UNIONS). A member beside its union is a double count: a breakdown
   file registered as primary, say. */
SELECT
  m.commodity_code,
  m.country_code,
  u.country_code AS union_code,
  m.market_year,
  m.dataset
FROM @this_model AS m
JOIN @union_members() /* AS unions (union_code, member_code) */
  ON m.country_code = unions.member_code
JOIN @this_model AS u
  ON u.country_code = unions.union_code
  AND u.commodity_code = m.commodity_code
  AND u.market_year = m.market_year
  AND u.attribute_id = m.attribute_id
WHERE
  m.dataset_role = 'primary'
  AND u.dataset_role = 'primary'
  AND m.value <> 0
  AND u.value <> 0