AUDIT (
  name wasde_no_negative_quantities
);

/* No quantity, area, yield or price of a WASDE report is negative, but for USDA's
   balancing lines (materia/wasde_tables.RESIDUALS: unaccounted, loss, miscellaneous,
   feed and residual), which absorb the statistical discrepancy. The reliability tables'
   statistics (differences) are left out. */
SELECT
  report_title,
  commodity,
  region,
  market_year,
  attribute,
  value,
  unit,
  release_month
FROM staging.stg_wasde__report
WHERE
  release_month BETWEEN @start_ds AND @end_ds
  AND measure IN ('quantity', 'area', 'yield', 'price')
  AND reliability = ''
  AND value < 0
  AND NOT attribute IN @wasde_residuals()