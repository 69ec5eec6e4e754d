/* The pivoted production column is never negative. */
AUDIT (
  name no_negative_production_obt
);

SELECT
  *
FROM @this_model
WHERE
  production < 0
