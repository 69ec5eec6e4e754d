/* serving.fct_psd_vintages: the revision history of every PSD value.

One row each time a value appears or changes: release_month is the landed release in
which that value first appeared, with the PSD stamp. This model computes the rows of
the release months of one step of a run (usually the one new release), each compared
with the value before it (materia_input.vintage_prior for the first, the step's own
earlier months after that); `materia transform` appends them to the published table,
replacing only the months it recomputed. So history grows with revisions, not releases:
an identical release adds no rows. */
MODEL (
  name serving.fct_psd_vintages,
  kind FULL,
  grain (commodity_code, country_code, market_year, attribute_id, release_month),
  audits (
    NOT_NULL(
      columns := (commodity_code, country_code, market_year, attribute_id, value, release_month)
    ),
    unique_grain(
      columns := (commodity_code, country_code, market_year, attribute_id, release_month)
    ),
    no_negative_production
  ),
  description 'PSD value history: a row per (series, release_month) in which the value first appeared or changed.'
);

WITH cur AS NOT MATERIALIZED (
  SELECT
    commodity_code,
    country_code,
    market_year,
    attribute_id,
    unit_id,
    value,
    release_month,
    calendar_year,
    month
  FROM staging.stg_psdalldata__commodity
  WHERE
    vintage_step
), months AS NOT MATERIALIZED (
  SELECT
    COUNT(DISTINCT release_month) AS n
  FROM cur
), single /* The usual step is one release: a hash join with the prior value is enough. */ AS (
  SELECT
    cur.*
  FROM cur
  LEFT JOIN materia_input.vintage_prior AS prior
    ON cur.commodity_code = prior.commodity_code
    AND cur.country_code = prior.country_code
    AND cur.market_year = prior.market_year
    AND cur.attribute_id = prior.attribute_id
  WHERE
    (
      SELECT
        n
      FROM months
    ) <= 1 AND prior.value IS DISTINCT FROM cur.value
), several /* Several releases in one step: the prior value, then each month in order.
   Built from a union, not a second join, so that it costs nothing in the usual step. */ AS (
  SELECT
    *,
    LAG(value) OVER (
      PARTITION BY commodity_code, country_code, market_year, attribute_id
      ORDER BY is_prior DESC, release_month
    ) AS previous_value
  FROM (
    SELECT
      commodity_code,
      country_code,
      market_year,
      attribute_id,
      value,
      TRUE AS is_prior
    FROM materia_input.vintage_prior
    WHERE
      (
        SELECT
          n
        FROM months
      ) > 1
    UNION ALL BY NAME
    SELECT
      *,
      FALSE AS is_prior
    FROM cur
    WHERE
      (
        SELECT
          n
        FROM months
      ) > 1
  )
)
SELECT
  *
FROM single
UNION ALL BY NAME
SELECT
  *
  EXCLUDE (previous_value, is_prior)
FROM several
WHERE
  NOT is_prior AND previous_value IS DISTINCT FROM value