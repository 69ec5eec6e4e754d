AUDIT (
  name obt_primary_only
);

/* The world is the sum of the OBT's rows, so it holds primary rows only: no row of a
   breakdown dataset (an EU member state, Russia's spring wheat) may reach it. */
SELECT DISTINCT
  o.commodity_code,
  o.country_code,
  o.market_year,
  l.dataset
FROM @this_model AS o
JOIN cleaned.cln_psd_latest AS l
  ON l.commodity_code = o.commodity_code
  AND l.country_code = o.country_code
  AND l.market_year = o.market_year
WHERE
  l.dataset_role <> 'primary'