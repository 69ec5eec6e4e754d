/* staging.stg_psdalldata__commodity: one typed row per value and release.

Keys are the PSD ids (commodity, country, market year, attribute), never descriptions.
The same row arriving in two datasets of one release month (alldata and coffee) or
twice in one file is one row; when a month holds two archives of a dataset with
different stamps, the newest stamp wins. Two different values with the same stamp are
a real conflict and fail the unique-grain audit rather than being guessed. */
MODEL (
  name staging.stg_psdalldata__commodity,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column release_month
  ),
  allow_partials TRUE,
  grain (commodity_code, country_code, market_year, attribute_id, release_month),
  audits (
    NOT_NULL(columns := (commodity_code, country_code, market_year, attribute_id, unit_id, value, release_month)),
    unique_grain(columns := (commodity_code, country_code, market_year, attribute_id, release_month))
  ),
  description 'Typed PSD values per release month, deduplicated on a hash key of the PSD ids; psd_key = hash(commodity_code, country_code, market_year, attribute_id).'
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
    dataset
  FROM raw.psd_alldata
  WHERE
    release_month BETWEEN @start_ds AND @end_ds
), /* Windows are costly on ~2M rows: only keys that occur more than once go through them. */
duplicated AS (
  SELECT
    psd_key,
    release_month
  FROM typed
  GROUP BY
    psd_key,
    release_month
  HAVING
    COUNT(*) > 1
)
SELECT
  typed.psd_key,
  typed.commodity_code,
  typed.commodity_name,
  typed.country_code,
  typed.country_name,
  typed.market_year,
  typed.attribute_id,
  typed.attribute_name,
  typed.unit_id,
  typed.unit_description,
  typed.value,
  typed.calendar_year,
  typed.month,
  typed.release_month,
  typed.dataset
FROM typed
LEFT JOIN duplicated AS d
  ON typed.psd_key = d.psd_key AND typed.release_month = d.release_month
WHERE
  d.psd_key IS NULL
UNION ALL
SELECT
  psd_key,
  commodity_code,
  commodity_name,
  country_code,
  country_name,
  market_year,
  attribute_id,
  attribute_name,
  unit_id,
  unit_description,
  value,
  calendar_year,
  month,
  release_month,
  dataset
FROM (
  SELECT
    typed.*
  FROM typed
  JOIN duplicated AS d
    ON typed.psd_key = d.psd_key AND typed.release_month = d.release_month
) AS dup
QUALIFY
  stamp = MAX(stamp) OVER (PARTITION BY psd_key, release_month)
  AND ROW_NUMBER() OVER (PARTITION BY psd_key, release_month, value ORDER BY dataset) = 1
