/* staging.stg_psdalldata__commodity: one row per value and release month.

Keys are the PSD ids (commodity, country, market year, attribute), never descriptions.
The same row arriving in two archives of one release month (alldata and coffee, or a
file USDA posted twice) is one row; when their stamps differ, the newest stamp wins.
Two different values with the same stamp are a real conflict: both rows stay, and the
unique-grain audits downstream refuse them. A month with a single archive (the usual
case) passes straight through: PSD has one row per key in a file, and the audits
downstream refuse a file that breaks that. */
MODEL (
  name staging.stg_psdalldata__commodity,
  kind FULL,
  grain (commodity_code, country_code, market_year, attribute_id, release_month),
  description 'PSD values per release month, deduplicated across the archives of a month.'
);

/* month_archives is a constant of each archive: each branch reads only its archives. */
SELECT
  *
  EXCLUDE (etag, month_archives)
FROM raw.psd_alldata
WHERE
  month_archives = 1
UNION ALL BY NAME
SELECT
  *
  EXCLUDE (etag, month_archives, newest),
  BOOL_OR(newest::BOOLEAN) OVER key AS newest
FROM raw.psd_alldata
WHERE
  month_archives > 1
WINDOW key AS (
  PARTITION BY commodity_code, country_code, market_year, attribute_id, release_month
)
QUALIFY
  calendar_year * 100 + TRY_CAST(month AS INT) = MAX(calendar_year * 100 + TRY_CAST(month AS INT)) OVER key
  AND ROW_NUMBER() OVER (
    PARTITION BY commodity_code, country_code, market_year, attribute_id, release_month, value
    ORDER BY dataset, etag
  ) = 1