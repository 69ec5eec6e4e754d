/* staging.stg_psdalldata__commodity: one typed row per value and release month.

Keys are the PSD ids (commodity, country, market year, attribute), never descriptions.
The same row arriving in two archives of one release month (alldata and coffee, or a
file USDA posted twice) is one row; when their stamps differ, the newest stamp wins.
Two different values with the same stamp are a real conflict: both rows stay, and the
unique-grain audits downstream refuse them. A month with a single archive (the usual
case) skips the comparison: PSD has one row per key in a file, and the audits
downstream refuse a file that breaks that. */
MODEL (
  name staging.stg_psdalldata__commodity,
  kind VIEW,
  grain (commodity_code, country_code, market_year, attribute_id, release_month),
  description 'Typed PSD values per release month, deduplicated across the archives of a month.'
);

WITH typed AS (
  SELECT
    commodity_code,
    commodity_description AS commodity_name,
    country_code,
    country_name,
    market_year,
    attribute_id,
    attribute_description AS attribute_name,
    unit_id,
    CASE WHEN attribute_id = '182' THEN '(RATE x 10000)' ELSE unit_description END AS unit_description, /* "Milling Rate (.9999)" is labelled (1000 MT) but is a rate times 10,000. */
    value,
    calendar_year,
    month,
    release_month,
    dataset,
    etag,
    vintage_step,
    newest
  FROM raw.psd_alldata
), shared_months AS (
  SELECT
    release_month
  FROM typed
  GROUP BY
    release_month
  HAVING
    COUNT(DISTINCT (dataset, etag)) > 1
), shared AS (
  SELECT
    *,
    BOOL_OR(newest::BOOLEAN) OVER key AS any_newest
  FROM typed
  WHERE
    release_month IN (
      SELECT
        release_month
      FROM shared_months
    )
  WINDOW key AS (
    PARTITION BY commodity_code, country_code, market_year, attribute_id, release_month
  )
  QUALIFY
    calendar_year * 100 + TRY_CAST(month AS INT) = MAX(calendar_year * 100 + TRY_CAST(month AS INT)) OVER key
    AND ROW_NUMBER() OVER (
      PARTITION BY commodity_code, country_code, market_year, attribute_id, release_month, value
      ORDER BY dataset, etag
    ) = 1
)
SELECT
  *
  EXCLUDE (etag)
FROM typed
WHERE
  NOT release_month IN (
    SELECT
      release_month
    FROM shared_months
  )
UNION ALL BY NAME
SELECT
  *
  EXCLUDE (etag, newest, any_newest),
  any_newest AS newest
FROM shared