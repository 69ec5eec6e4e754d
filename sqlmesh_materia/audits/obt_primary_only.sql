AUDIT (
  name obt_primary_only
);

/* The world is the sum of the OBT's rows, so it holds primary rows only: no row of a
   breakdown dataset (an EU member state, Russia's spring wheat) may reach it. Checked
   against serving.fct_psd_latest, a declared dependency of the OBT, so that SQLMesh maps
   it in every environment and an OBT-only change reads it as published. */
SELECT DISTINCT
  o.commodity_code,
  o.country_code,
  o.market_year,
  l.dataset
FROM @this_model AS o
JOIN serving.fct_psd_latest AS l
  ON l.commodity_code = o.commodity_code
  AND l.country_code = o.country_code
  AND l.market_year = o.market_year
WHERE
  l.dataset_role <> 'primary'