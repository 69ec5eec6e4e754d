AUDIT (
  name wasde_units_consistent
);

/* Within a report, each attribute of a table and commodity comes in one unit (once
   normalized: "Million 480-lb. Bales" and "Million 480 Pound Bales" are one): a second
   unit is a change nobody has reconciled. A reliability statistic has its own unit
   (percent, years, or the quantity's). */
SELECT
  report_title,
  commodity,
  attribute,
  reliability,
  COUNT(DISTINCT unit_code) AS units,
  MIN(unit) AS one_unit,
  MAX(unit) AS other_unit,
  release_month
FROM staging.stg_wasde__report
WHERE
  release_month BETWEEN @start_ds AND @end_ds
GROUP BY
  report_title,
  commodity,
  attribute,
  reliability,
  release_month
HAVING
  COUNT(DISTINCT unit_code) > 1