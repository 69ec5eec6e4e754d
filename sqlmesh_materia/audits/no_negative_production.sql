AUDIT (
  name no_negative_production
);

/* Production (attribute 028) is never negative in PSD; a negative value is bad input. */
SELECT
  *
FROM @this_model
WHERE
  attribute_id = '028' AND value < 0