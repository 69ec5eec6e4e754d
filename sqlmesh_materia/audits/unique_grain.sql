AUDIT (
  name unique_grain
);

/* The grain columns are unique: each combination that appears more than once, with how
   often (a plain GROUP BY: every engine runs it as it is). */
SELECT
  @EACH(@columns, c -> c),
  COUNT(*) AS copies
FROM @this_model
GROUP BY
  @EACH(@columns, c -> c)
HAVING
  COUNT(*) > 1