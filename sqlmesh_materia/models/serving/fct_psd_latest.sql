/* serving.fct_psd_latest: the newest value of every PSD series, long form, as published.

cleaned.cln_psd_latest with its audits: one row per series, one unit per attribute, no
negative production, every dataset registered; breakdown rows (dataset_role 'breakdown')
never exceed the parent they split and always have one, and no union reports beside its
members. The world is the sum of the primary rows (dataset_role 'primary') only. */
MODEL (
  name serving.fct_psd_latest,
  kind VIEW,
  grain (commodity_code, country_code, market_year, attribute_id),
  audits (
    NOT_NULL(
      columns := (
        commodity_code,
        country_code,
        market_year,
        attribute_id,
        unit_id,
        value,
        release_month,
        dataset,
        dataset_role
      )
    ),
    unique_grain(columns := (commodity_code, country_code, market_year, attribute_id)),
    units_consistent_per_attribute,
    no_negative_production,
    breakdown_within_parent,
    breakdown_has_parent,
    no_member_beside_union
  ),
  description 'Newest landed value per commodity, country, market year and attribute, with names, unit, release_month, PSD stamp, dataset and its role: sum only dataset_role = ''primary'' rows into a world; breakdown rows name the parent_country_code and parent_commodity_code they split.'
);

SELECT
  *
FROM cleaned.cln_psd_latest