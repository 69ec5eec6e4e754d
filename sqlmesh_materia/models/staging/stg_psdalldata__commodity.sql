/* staging.stg_psdalldata__commodity: one row per value and release month.

Keys are the PSD ids (commodity, country, market year, attribute), never descriptions.
The same row arriving in two archives of one release month (alldata and coffee, or a
file USDA posted twice) is one row: the newest stamp wins, and among rows with that
stamp and the same value the first archive by dataset and etag is kept. Two different
values with the same stamp are a real conflict: both rows stay, and the unique-grain
audits downstream refuse them. A month with a single archive (the usual case) passes
straight through: PSD has one row per key in a file, and the audits downstream refuse a
file that breaks that. A view: every model reading it filters it (a release month, or
the newest archives), and the filter reaches the landed rows. */
MODEL (
  name staging.stg_psdalldata__commodity,
  kind VIEW,
  grain (commodity_code, country_code, market_year, attribute_id, release_month),
  description 'PSD values per release month, deduplicated across the archives of a month.'
);

SELECT
  @STAR(raw.psd_alldata, exclude := [etag, month_archives])
FROM raw.psd_alldata
WHERE
  month_archives = 1 /* month_archives is a constant of each archive: each branch reads only its archives */
UNION ALL
SELECT
  @STAR(raw.psd_alldata, alias := deduplicated, exclude := [etag, month_archives])
FROM (
  SELECT
    @STAR(raw.psd_alldata, alias := stamped, exclude := [newest]),
    any_newest AS newest,
    ROW_NUMBER() OVER (
      PARTITION BY commodity_code, country_code, market_year, attribute_id, release_month, value
      ORDER BY dataset, etag
    ) AS copy
  FROM (
    SELECT
      *,
      BOOL_OR(newest::BOOLEAN) OVER (
        PARTITION BY commodity_code, country_code, market_year, attribute_id, release_month
      ) AS any_newest,
      MAX(calendar_year * 100 + month::INT) OVER (
        PARTITION BY commodity_code, country_code, market_year, attribute_id, release_month
      ) AS newest_stamp
    FROM raw.psd_alldata
    WHERE
      month_archives > 1
  ) AS stamped
  WHERE
    calendar_year * 100 + month::INT = newest_stamp
) AS deduplicated
WHERE
  copy = 1