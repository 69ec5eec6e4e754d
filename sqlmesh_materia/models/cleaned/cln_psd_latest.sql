/* cleaned.cln_psd_latest: the newest value of every PSD series, long form.

The newest release is decided per dataset (materia/sources/psd_datasets.py, via
cleaned.cln_psd_dataset), so no file hides another's rows:
- a primary commodity comes from the newest release among the primary datasets holding it
  (alldata and grains are extracts of the same series; coffee's own release does not hide
  commodities only alldata carries);
- a breakdown dataset keeps its own newest release beside them, with the reporting unit
  (parent_country_code) and commodity (parent_commodity_code) its rows split: EU member
  states under the EU (E4), Russia's spring and winter wheat under its wheat. Its rows
  are never a primary commodity's rows, whatever its release month.
Names, units and the PSD stamp of the release that last revised each value come along.
"Milling Rate (.9999)" is labelled (1000 MT) but is a rate times 10,000: it gets that
unit here. A dataset missing from the registry keeps a NULL dataset_role, which the
audits of serving.fct_psd_latest refuse. */
MODEL (
  name cleaned.cln_psd_latest,
  kind VIEW,
  grain (commodity_code, country_code, market_year, attribute_id),
  description 'Newest landed value per commodity, country, market year and attribute: primary commodities from their newest primary release, breakdowns from their own newest release.'
);

WITH newest AS (
  SELECT
    s.commodity_code,
    s.commodity_description,
    s.country_code,
    s.country_name,
    s.market_year,
    s.attribute_id,
    s.attribute_description,
    s.unit_id,
    s.unit_description,
    s.value,
    s.release_month,
    s.calendar_year,
    s.month,
    s.dataset,
    d.role AS dataset_role,
    d.parent_country_code
  FROM staging.stg_psdalldata__commodity AS s
  LEFT JOIN cleaned.cln_psd_dataset AS d
    ON s.dataset = d.dataset
  WHERE
    s.newest
), primary_release AS (
  SELECT
    commodity_code,
    MAX(release_month) AS release_month
  FROM newest
  WHERE
    dataset_role = 'primary'
  GROUP BY
    commodity_code
)
SELECT
  n.commodity_code,
  n.commodity_description AS commodity_name,
  n.country_code,
  n.country_name,
  n.market_year,
  n.attribute_id,
  n.attribute_description AS attribute_name,
  n.unit_id,
  CASE WHEN n.attribute_id = '182' THEN '(RATE x 10000)' ELSE n.unit_description END AS unit_description,
  n.value,
  n.release_month,
  n.calendar_year,
  n.month,
  n.dataset,
  n.dataset_role,
  CASE WHEN n.dataset_role = 'breakdown' THEN n.parent_country_code END AS parent_country_code,
  CASE WHEN n.dataset_role = 'breakdown' THEN @parent_commodity(n.commodity_code) END AS parent_commodity_code
FROM newest AS n
LEFT JOIN primary_release AS p
  ON n.commodity_code = p.commodity_code
WHERE
  n.dataset_role IS DISTINCT FROM 'primary' OR n.release_month = p.release_month