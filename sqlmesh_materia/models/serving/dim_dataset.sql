/* serving.dim_dataset: the PSD Online datasets and how their rows add up.

One row per registered file (materia/sources/psd_datasets.py): primary files sum to USDA's world;
a breakdown splits one reporting unit (parent_country_code) into parts that are never
summed into a world. Readers join fct_psd_latest.dataset to it. */
MODEL (
  name serving.dim_dataset,
  kind FULL,
  grain dataset,
  audits (
    NOT_NULL(columns := (dataset, file, role)),
    UNIQUE_VALUES(columns := (
      dataset
    ))
  ),
  description 'Registered PSD Online datasets: landing stem, file, title, role (primary or breakdown) and the reporting unit a breakdown splits.'
);

SELECT
  dataset,
  file,
  title,
  role,
  parent_country_code
FROM cleaned.cln_psd_dataset