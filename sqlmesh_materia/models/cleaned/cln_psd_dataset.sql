/* cleaned.cln_psd_dataset: every PSD Online file materia knows, and how its rows add up.

Rendered from the dataset registry (materia/sources/psd_datasets.py, macro @dataset_registry):
dataset is the landing stem the raw rows carry; role is 'primary' (its countries sum to
USDA's world) or 'breakdown' (the parts of one reporting unit, parent_country_code, that
never enter a world total). */
MODEL (
  name cleaned.cln_psd_dataset,
  kind VIEW,
  grain dataset,
  description 'Registered PSD Online datasets: landing stem, file, title, role (primary or breakdown) and the reporting unit a breakdown splits.'
);

SELECT
  dataset,
  file,
  title,
  role,
  parent_country_code
FROM @dataset_registry()