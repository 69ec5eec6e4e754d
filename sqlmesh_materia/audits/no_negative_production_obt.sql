AUDIT (
  name no_negative_production_obt
);

/* The pivoted production column is never negative. */
SELECT
  *
FROM @this_model
WHERE
  production < 0