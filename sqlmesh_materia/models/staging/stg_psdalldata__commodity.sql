/* staging.stg_psdalldata__commodity: one typed row per value and release month.

Keys are the PSD ids (commodity, country, market year, attribute), never descriptions.
The same row arriving in two datasets of one release month (alldata and coffee) or
twice in one file is one row; when a month holds two archives with different stamps
for a value, the newest stamp wins. Two different values with the same stamp are a real
conflict: both rows stay, and the unique-grain audits downstream refuse them. */
MODEL (
  name staging.stg_psdalldata__commodity,
  kind VIEW,
  grain (commodity_code, country_code, market_year, attribute_id, release_month),
  description 'Typed PSD values per release month, deduplicated across datasets and files.'
);

WITH typed AS (
  SELECT
    HASH(commodity_code, country_code, market_year, attribute_id) AS psd_key,
    commodity_code,
    commodity_description AS commodity_name,
    country_code,
    country_name,
    market_year,
    attribute_id,
    attribute_description AS attribute_name,
    unit_id,
    /* "Milling Rate (.9999)" is labelled (1000 MT) but is a rate times 10,000. */
    CASE WHEN attribute_id = '182' THEN '(RATE x 10000)' ELSE unit_description END AS unit_description,
    value,
    calendar_year,
    month,
    calendar_year * 100 + TRY_CAST(month AS INTEGER) AS stamp,
    release_month,
    dataset,
    vintage_step,
    newest
  FROM raw.psd_alldata
), /* Windows are costly on ~2M rows: only keys that occur more than once go through them. */
duplicated AS (
  SELECT
    psd_key,
    release_month,
    BOOL_OR(newest) AS newest
  FROM typed
  GROUP BY
    psd_key,
    release_month
  HAVING
    COUNT(*) > 1
)
SELECT
  typed.* EXCLUDE (psd_key, stamp)
FROM typed
ANTI JOIN duplicated AS d
  ON typed.psd_key = d.psd_key AND typed.release_month = d.release_month
UNION ALL
SELECT
  dup.* EXCLUDE (psd_key, stamp, newest, any_newest),
  dup.any_newest AS newest
FROM (
  SELECT
    typed.*,
    d.newest AS any_newest
  FROM typed
  JOIN duplicated AS d
    ON typed.psd_key = d.psd_key AND typed.release_month = d.release_month
) AS dup
QUALIFY
  stamp = MAX(stamp) OVER (PARTITION BY psd_key, release_month)
  AND ROW_NUMBER() OVER (PARTITION BY psd_key, release_month, value ORDER BY dataset) = 1
