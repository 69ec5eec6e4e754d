AUDIT (
  name yield_in_range
);

/* Yields are physical: 0..100 MT/HA (real max about 20), 0..10,000 KG/HA (cotton lint
   about 2,500). Anything else is a unit or parsing error. */
SELECT
  *
FROM @this_model
WHERE
  yield < 0
  OR (
    yield_unit = '(MT/HA)' AND yield > 100
  )
  OR (
    yield_unit = '(KG/HA)' AND yield > 10000
  )