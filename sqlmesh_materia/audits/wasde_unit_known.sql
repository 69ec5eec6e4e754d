AUDIT (
  name wasde_unit_known
);

/* Every unit of a WASDE report is one materia/sources/wasde_units.py knows: USDA writes units as
   free text, so a new spelling (or a new unit) stops the run, naming it, until someone
   maps it; nothing is guessed. Checked on the report months of the batch. */
SELECT DISTINCT
  report_title,
  commodity,
  attribute,
  unit,
  release_month
FROM staging.stg_wasde__report
WHERE
  release_month BETWEEN @start_ds AND @end_ds AND unit_code IS NULL