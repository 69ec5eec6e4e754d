AUDIT (
  name no_negative_production
);

/* Production (attribute 028) is never negative in PSD; a negative value is bad input.
   The id is compared as a number, so no spelling of it ('28', ' 028') slips past. */
SELECT
  *
FROM @this_model
WHERE
  TRY_CAST(TRIM(attribute_id) AS INT) = 28 AND value < 0