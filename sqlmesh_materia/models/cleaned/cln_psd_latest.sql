/* cleaned.cln_psd_latest: the newest value of every PSD series, long form.

For each commodity, the rows of the newest landed release that contains it, among the
newest release of each dataset (a release of one dataset, e.g. coffee, does not hide
commodities only alldata carries), with names, units and the PSD stamp of the release
that last revised each value. "Milling Rate (.9999)" is labelled (1000 MT) but is a
rate times 10,000: it gets that unit here. */
MODEL (
  name cleaned.cln_psd_latest,
  kind VIEW,
  grain (commodity_code, country_code, market_year, attribute_id),
  description 'Newest landed value per commodity, country, market year and attribute.'
);

WITH newest AS (
  SELECT
    commodity_code,
    MAX(release_month) AS release_month
  FROM staging.stg_psdalldata__commodity
  WHERE
    newest
  GROUP BY
    commodity_code
)
SELECT
  s.commodity_code,
  s.commodity_description AS commodity_name,
  s.country_code,
  s.country_name,
  s.market_year,
  s.attribute_id,
  s.attribute_description AS attribute_name,
  s.unit_id,
  CASE WHEN s.attribute_id = '182' THEN '(RATE x 10000)' ELSE s.unit_description END AS unit_description,
  s.value,
  s.release_month,
  s.calendar_year,
  s.month
FROM staging.stg_psdalldata__commodity AS s
JOIN newest
  ON s.commodity_code = newest.commodity_code
  AND s.release_month = newest.release_month
WHERE
  s.newest